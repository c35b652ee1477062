"""The robot side: Unitree low-level I/O, the deploy daemon and the MuJoCo sim bridge.

Never imports torch, training or export; mujoco only inside `deploy.sim`.
"""
