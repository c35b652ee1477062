"""Policy evaluation in the MuJoCo backend (the pieces behind `genpo-eval`, training/eval.py)."""
