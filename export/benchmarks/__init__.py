"""Benchmarks run through `python -m export.bench <name>` (registry in export/bench.py)."""
