"""Plumbing every layer shares and no robot fact: the config loader, the user-error type and the
CLI wrapper that turns it into one sentence, atomic file writes, Python 3.8 compatibility shims
and the machine description benchmarks report.

Imports nothing of this project's other packages (numpy, pyyaml and the standard library only),
so it runs on the robot beside `robots/`.
"""
