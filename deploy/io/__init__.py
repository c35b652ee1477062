"""Robot I/O over the Unitree low-level protocol (CycloneDDS): commands, state, remote, channels.

Torch-free and mujoco-free: this package runs on the robot's onboard computer.
"""
