"""`python -m deploy.bench <name> [options]`: deploy-side benchmarks; `NAME --help` for options.

Each benchmark is a module under deploy/benchmarks/ with `main(argv) -> int` that prints a
table, then one JSON line; register it here by name (common.cli.run_benchmark runs it).
Timings only, no assertions.
"""

from __future__ import annotations

import sys

from common.cli import run_benchmark

BENCHMARKS: dict[str, str] = {
    "fidelity": "deploy.benchmarks.fidelity",
    "io": "deploy.benchmarks.io",
    "loop": "deploy.benchmarks.loop",
}


def main(argv: list[str] | None = None) -> int:
    return run_benchmark("python -m deploy.bench", BENCHMARKS, argv)


if __name__ == "__main__":
    sys.exit(main())
