"""Environments the runner trains on: the VecEnv contract (vec_env.py), the built-in MuJoCo
backend (model building, batched stepping, terrain), the IsaacLab adapter and a toy task."""
