"""Benchmarks run through `python -m training.bench <name>` (registry in training/bench.py)."""
