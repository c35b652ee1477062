"""Benchmarks: `python -m training.bench <name> [options]`; `--help` after a name for its options.

Each benchmark is its own module under training/benchmarks/ exposing `main(argv) -> None`;
register it in BENCHMARKS (imported lazily, so one benchmark's imports never slow another).
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS: dict[str, str] = {
    "algos": "training.benchmarks.algos",
    "env": "training.envs.bench",
    "genpo-update": "training.benchmarks.genpo_update",
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHMARKS:
        names = ", ".join(sorted(BENCHMARKS))
        print(f"usage: python -m training.bench {{{names}}} [options]", file=sys.stderr)
        raise SystemExit(2)
    importlib.import_module(BENCHMARKS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    main()
