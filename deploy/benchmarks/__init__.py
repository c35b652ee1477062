"""Benchmarks run through `python -m deploy.bench <name>` (registry in deploy/bench.py)."""
