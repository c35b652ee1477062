"""robots/frames.py against a rotation-matrix reference, for one state and for a batch."""

from __future__ import annotations

import math

import numpy as np

from robots import frames


def _matrix(q: np.ndarray) -> np.ndarray:
    """Body -> world rotation matrix of a unit (w, x, y, z) quaternion (textbook form)."""
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _quats(n: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def test_batched_rotations_match_the_matrix() -> None:
    quats = _quats(100)
    vecs = np.random.default_rng(1).normal(size=(100, 3))
    mats = np.stack([_matrix(q) for q in quats])
    np.testing.assert_allclose(frames.rotate(quats, vecs), np.einsum("nij,nj->ni", mats, vecs),
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(
        frames.rotate_inverse(quats, vecs), np.einsum("nji,nj->ni", mats, vecs), atol=1e-12
    )
    down = np.tile([0.0, 0.0, -1.0], (100, 1))
    np.testing.assert_allclose(frames.projected_gravity(quats), np.einsum("nji,nj->ni", mats, down),
                               atol=1e-12)  # fmt: skip
    heading = np.arctan2(mats[:, 1, 0], mats[:, 0, 0])
    np.testing.assert_allclose(frames.yaw_of(quats), heading, atol=1e-12)


def test_one_state_equals_the_batch_row_and_writes_into_out() -> None:
    quats = _quats(20, seed=2)
    batched = frames.projected_gravity(quats)
    out = np.empty(3)
    for q, row in zip(quats, batched):
        got = frames.projected_gravity(q, out)
        assert got is out
        np.testing.assert_allclose(out, row, atol=1e-15)


def test_projected_gravity_normalises_a_non_unit_quaternion() -> None:
    half = math.radians(90) / 2
    roll = np.array([math.cos(half), math.sin(half), 0.0, 0.0])  # roll +90 deg about x
    np.testing.assert_allclose(frames.projected_gravity(3.0 * roll), [0.0, -1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(
        frames.projected_gravity(np.stack([3.0 * roll, 0.5 * roll])), [[0, -1, 0]] * 2, atol=1e-12
    )


def test_one_state_helpers_match_the_matrix() -> None:
    axis = np.array([0.0, 0.6, 0.8])
    q = frames.quat_mul(frames.axis_angle_quat([0, 0, 1], 0.3), frames.axis_angle_quat(axis, 0.7))
    yaw_turn = _matrix(frames.axis_angle_quat([0, 0, 1], 0.3))
    np.testing.assert_allclose(
        _matrix(q), yaw_turn @ frames.axis_angle_matrix(axis, 0.7), atol=1e-12
    )
    v = [0.3, -1.0, 2.0]
    np.testing.assert_allclose(
        frames.rotate_about_axis(tuple(axis), 0.7, v), frames.axis_angle_matrix(axis, 0.7) @ v,
        atol=1e-12,
    )  # fmt: skip
    roll, pitch, yaw = frames.quat_to_rpy(q)
    rz, ry, rx = (
        frames.axis_angle_matrix(np.eye(3)[i], a) for i, a in ((2, yaw), (1, pitch), (0, roll))
    )
    np.testing.assert_allclose(rz @ ry @ rx, _matrix(q), atol=1e-12)


def test_from_yaw_and_wrap() -> None:
    yaw = np.array([-3.0, 0.0, 1.0, 3.0])
    np.testing.assert_allclose(frames.yaw_of(frames.from_yaw(yaw)), yaw, atol=1e-12)
    np.testing.assert_allclose(frames.wrap_to_pi(np.array([3 * math.pi / 2, -3 * math.pi / 2])),
                               [-math.pi / 2, math.pi / 2])  # fmt: skip
