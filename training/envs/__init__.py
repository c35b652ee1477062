"""Environment backends. `mujoco`: the built-in one (model building, batched stepping, terrain)."""
