"""What every command-line tool shares: user mistakes become one sentence and exit code 2; the
one entry point of every package's benchmarks, their argument checks and the one sentence of a
child tool that refused its arguments."""

from __future__ import annotations

import argparse
import functools
import importlib
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Callable, NoReturn, TypeVar  # not collections.abc: F's bound is evaluated, 3.8

from common.errors import UserError

F = TypeVar("F", bound=Callable[..., "int | None"])

EXIT_USER_ERROR = 2
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process ended by SIGPIPE


def user_errors_exit(prog: str) -> Callable[[F], F]:
    """Decorate a CLI `main`: a UserError prints `prog: error: message` and returns exit code 2;
    a reader that closed our stdout (`genpo-eval ... | head`) ends it quietly with 141, as SIGPIPE
    would (whatever `main` had to do on its way out, damping included, ran as it unwound)."""

    def wrap(main: F) -> F:
        @functools.wraps(main)
        def run(*args: object, **kwargs: object) -> int | None:
            try:
                return main(*args, **kwargs)
            except UserError as exc:
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return EXIT_USER_ERROR
            except BrokenPipeError:
                # Python would report the unflushable stdout again at exit: point it elsewhere.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return EXIT_BROKEN_PIPE

        return run  # type: ignore[return-value]

    return wrap


def run_benchmark(
    prog: str, benchmarks: Mapping[str, str], argv: Sequence[str] | None = None
) -> int:
    """`prog <name> [options]`: every package's `python -m <package>.bench` entry point.

    `benchmarks` maps a name to its module under `<package>/benchmarks/`; the module's
    `main(argv) -> int` parses the options, prints a table and then one JSON line. Modules are
    imported only when chosen, so one benchmark's dependencies never load another's.
    Whatever the module raises as a UserError (its BenchmarkParser's argument errors included)
    becomes one sentence, `prog name: error: ...`, and exit code 2.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    names = ", ".join(sorted(benchmarks))
    if argv[:1] in (["-h"], ["--help"]):
        print(f"usage: {prog} {{{names}}} [options]; `{prog} NAME --help`: a benchmark's options")
        return 0
    if not argv or argv[0] not in benchmarks:
        what = f"unknown benchmark {argv[0]!r}" if argv else "no benchmark named"
        print(f"{prog}: error: {what}; choose one of {names}", file=sys.stderr)
        return EXIT_USER_ERROR
    main = importlib.import_module(benchmarks[argv[0]]).main
    return user_errors_exit(f"{prog} {argv[0]}")(main)(argv[1:])


class BenchmarkParser(argparse.ArgumentParser):
    """A benchmark's options: a mistake is a UserError, so `run_benchmark` reports it in one
    sentence (argparse alone prints the usage lines too). `--help` is unchanged."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see --help)")


def bounded_int(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """argparse `type`: a whole number in [low, high] (either bound may be open)."""
    if low is not None and high is not None:
        rule = f"a whole number from {low} to {high}"
    elif low is not None:
        rule = f"a whole number of at least {low}"
    else:
        rule = "a whole number" if high is None else f"a whole number of at most {high}"

    def parse(text: str) -> int:
        wrong = argparse.ArgumentTypeError(f"expected {rule}, got {text!r}")
        try:
            value = int(text)
        except ValueError:
            raise wrong from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise wrong
        return value

    return parse


positive_int = bounded_int(1)
nonnegative_int = bounded_int(0)


def check_seed(seed: int | None, option: str = "--seed") -> None:
    """UserError unless `seed` is None or a whole number >= 0 (numpy's generators refuse a
    negative one with a traceback). For CLIs that report mistakes as one sentence, not argparse's
    usage lines."""
    if seed is not None and seed < 0:
        raise UserError(f"{option} must be 0 or more, got {seed}")


def positive_float(text: str) -> float:
    """argparse `type`: a finite number above 0 (seconds, minutes)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def fraction(text: str) -> float:
    """argparse `type`: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def int_list(low: int | None = None, unique: bool = True) -> Callable[[str], list[int]]:
    """argparse `type`: comma-separated whole numbers, each at least `low` (and, `unique`, none
    repeated: seeds)."""
    one = bounded_int(low)
    rule = "comma-separated whole numbers" + ("" if low is None else f" of at least {low}")
    rule += ", none repeated" if unique else ""

    def parse(text: str) -> list[int]:
        try:
            values = [one(part) for part in text.split(",")]
        except argparse.ArgumentTypeError:
            values = []
        if not values or (unique and len(set(values)) != len(values)):
            raise argparse.ArgumentTypeError(f"expected {rule}, got {text!r}")
        return values

    return parse


_ERROR_LINE = re.compile(r"^(?P<prog>\S[^:]*): error: (?P<sentence>\S.*)$")


def refusal(returncode: int, stderr: str) -> str | None:
    """The sentence of a child tool that refused its arguments (exit code 2 and a last
    `prog: error: sentence` line, as user_errors_exit and argparse print), else None."""
    if returncode != EXIT_USER_ERROR:
        return None
    lines = [m for m in map(_ERROR_LINE.match, stderr.splitlines()) if m]
    return f"{lines[-1]['prog']} refused: {lines[-1]['sentence']}" if lines else None


def add_set_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """The repeatable `--set KEY=VALUE` config override, collected into `args.overrides`."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help_text
    )
