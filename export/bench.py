"""`python -m export.bench <name> [options]`: export-side benchmarks; `NAME --help` for options.

Each benchmark is a module under export/benchmarks/ with `main(argv) -> int` that prints a
table, then one JSON line; register it here by name (common.cli.run_benchmark runs it).
"""

from __future__ import annotations

import sys

from common.cli import run_benchmark

BENCHMARKS: dict[str, str] = {
    "latency": "export.benchmarks.latency",
}


def main(argv: list[str] | None = None) -> int:
    return run_benchmark("python -m export.bench", BENCHMARKS, argv)


if __name__ == "__main__":
    sys.exit(main())
