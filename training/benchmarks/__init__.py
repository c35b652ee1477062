"""Benchmark implementations behind `python -m training.bench`."""
