"""One benchmark convention for every package: `python -m <package>.bench <name> [options]`,
each benchmark a module in <package>/benchmarks/ with `main(argv) -> int` (common.cli)."""

from __future__ import annotations

import importlib
import re

import pytest

from tests.conftest import REPO

PACKAGES = ("training", "export", "deploy")


def _bench(package: str):
    return importlib.import_module(f"{package}.bench")


def test_the_packages_have_one_bench_entry_each_and_no_other() -> None:
    found = sorted(
        p.relative_to(REPO).as_posix()
        for top in ("robots", "safety", *PACKAGES)
        for p in (REPO / top).rglob("bench*.py")
    )
    assert found == sorted(f"{package}/bench.py" for package in PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_benchmark_module_is_registered(package: str) -> None:
    modules = {
        f"{package}.benchmarks.{p.stem}"
        for p in (REPO / package / "benchmarks").glob("*.py")
        if re.search(r"^def main\(", p.read_text(), re.MULTILINE)
    }
    assert modules and set(_bench(package).BENCHMARKS.values()) == modules


@pytest.mark.parametrize(
    ("package", "name"),
    [(package, name) for package in PACKAGES for name in sorted(_bench(package).BENCHMARKS)],
)
def test_each_benchmark_explains_its_options(
    package: str, name: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as info:
        _bench(package).main([name, "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m {package}.bench {name} ")


@pytest.mark.parametrize("package", PACKAGES)
def test_help_lists_the_names_and_a_missing_name_exits_2(
    package: str, capsys: pytest.CaptureFixture
) -> None:
    names = ", ".join(sorted(_bench(package).BENCHMARKS))
    assert _bench(package).main(["--help"]) == 0
    assert f"usage: python -m {package}.bench {{{names}}}" in capsys.readouterr().out
    assert _bench(package).main([]) == 2
    err = capsys.readouterr().err
    assert err == f"python -m {package}.bench: error: no benchmark named; choose one of {names}\n"
