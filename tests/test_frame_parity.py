"""Training and deploy compute projected gravity separately (batched numpy vs. the allocation-free
hot path of the 500 Hz loop); a disagreement would be a silent sim-to-real gap."""

from __future__ import annotations

import numpy as np

from deploy.observation import projected_gravity as deploy_gravity
from training.envs.quat import projected_gravity as train_gravity
from training.envs.quat import rotate_inverse


def test_projected_gravity_agrees_between_training_and_deploy() -> None:
    quats = np.random.default_rng(0).normal(size=(200, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    batched = train_gravity(quats)
    out = np.empty(3)
    for q, expected in zip(quats, batched, strict=True):
        assert np.allclose(deploy_gravity(q, out), expected, atol=1e-12)
    # Both equal the world gravity direction expressed in the body frame.
    down = np.tile([0.0, 0.0, -1.0], (len(quats), 1))
    assert np.allclose(batched, rotate_inverse(quats, down), atol=1e-12)
