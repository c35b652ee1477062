"""What every command-line tool shares: user mistakes become one sentence and exit code 2; the
one entry point of every package's benchmarks."""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Callable, TypeVar  # not collections.abc: F's bound is evaluated, 3.8 too

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
    return importlib.import_module(benchmarks[argv[0]]).main(argv[1:])


def add_set_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """The repeatable `--set KEY=VALUE` config override, collected into `args.overrides`."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help_text
    )
