"""`python -m training.bench <name> [options]`: training-side benchmarks; `NAME --help` for options.

Each benchmark is a module under training/benchmarks/ with `main(argv) -> int` that prints a
table, then one JSON line; register it here by name (common.cli.run_benchmark runs it).
"""

from __future__ import annotations

import sys

from common.cli import run_benchmark

BENCHMARKS: dict[str, str] = {
    "algos": "training.benchmarks.algos",
    "env": "training.benchmarks.env",
    "genpo-update": "training.benchmarks.genpo_update",
}


def main(argv: list[str] | None = None) -> int:
    return run_benchmark("python -m training.bench", BENCHMARKS, argv)


if __name__ == "__main__":
    sys.exit(main())
