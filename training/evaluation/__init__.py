"""Policy evaluation in the MuJoCo backend: the `genpo-eval` CLI (cli.py) and what it runs."""
