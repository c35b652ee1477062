"""genpo-sim --contact: the model file's contact solver, or the training backend's (no DDS)."""

from __future__ import annotations

import mujoco

from deploy.sim.model import SimModel
from robots import GO2
from training.envs.model import ModelCfg


def test_contact_training_takes_the_training_backends_solver() -> None:
    menagerie = SimModel(GO2).model.opt
    training = SimModel(GO2, contact="training").model.opt
    cfg = ModelCfg()
    # Menagerie's Go2 file asks for an elliptic cone with impratio 100 (its go2.xml)
    assert menagerie.cone == mujoco.mjtCone.mjCONE_ELLIPTIC and menagerie.impratio == 100.0
    assert training.cone == mujoco.mjtCone.mjCONE_PYRAMIDAL and cfg.cone == "pyramidal"
    assert (training.impratio, training.iterations, training.ls_iterations) == (
        cfg.impratio, cfg.iterations, cfg.ls_iterations,
    )  # fmt: skip
    # the deploy sim's own timestep stays (2 ms: one physics step per LowState)
    assert training.timestep == menagerie.timestep == 0.002
