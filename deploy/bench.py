"""`python -m deploy.bench <name>`: deploy-side benchmarks (timings only, no assertions).

Each benchmark lives in its own module under deploy/benchmarks/ and registers here by name with
the function that runs it: `main(argv) -> int`. Output: a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> "module:function"; imported lazily so one benchmark's dependencies never load another's
BENCHMARKS: dict[str, str] = {
    "io": "deploy.benchmarks.io:main",
    "fidelity": "deploy.benchmarks.fidelity:main",
    "loop": "deploy.benchmarks.loop:main",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m deploy.bench", description=__doc__)
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="benchmark to run")
    args, rest = parser.parse_known_args(argv)
    module, function = BENCHMARKS[args.name].split(":")
    return getattr(importlib.import_module(module), function)(rest)


if __name__ == "__main__":
    raise SystemExit(main())
