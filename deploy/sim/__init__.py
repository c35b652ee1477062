"""`genpo-sim`: a MuJoCo Go2 / H1 that speaks the Unitree low-level DDS protocol.

The only deploy code allowed to import mujoco. Start it with `python -m deploy.sim --robot go2`
(or the `genpo-sim` entry point), or from Python/tests with `deploy.sim.launch.SimProcess`.
"""

# SimModel.reset's start poses; here, not in model.py, so the CLI offers them before mujoco loads.
START_POSES = ("standing", "lying")
