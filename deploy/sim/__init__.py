"""`genpo-sim`: a MuJoCo Go2 / H1 that speaks the Unitree low-level DDS protocol.

The only deploy code allowed to import mujoco. Start it with `python -m deploy.sim --robot go2`
(or the `genpo-sim` entry point), or from Python/tests with `deploy.sim.launch.SimProcess`.
"""

# menagerie: the model file's contact solver (Go2: elliptic cone, impratio 100); training: the
# training backend's defaults (pyramidal, impratio 1, 10 iterations), for sim-to-sim checks that
# separate the contact model from the rest of the deploy path (README, sim-to-sim fidelity).
# Here, not in deploy.sim.model, so that callers need not import mujoco to name them.
CONTACT_MODELS = ("menagerie", "training")
