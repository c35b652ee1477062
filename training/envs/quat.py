"""Batched rotation helpers on MuJoCo's (w, x, y, z) quaternions, numpy only.

Written out component-wise: for [N, 4] inputs this is several times faster than building
rotation matrices, and the task logic runs every policy step for every environment.
"""

from __future__ import annotations

import numpy as np


def rotate_inverse(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Express world vectors in the body frame: R(quat)^T v. quat [N, 4], vec [N, 3] -> [N, 3]."""
    w = quat[:, 0:1]
    u = -quat[:, 1:4]  # conjugate: rotating by q^-1
    t = 2.0 * np.cross(u, vec)
    return vec + w * t + np.cross(u, t)


def rotate(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Express body vectors in the world frame: R(quat) v. quat [N, 4], vec [N, 3] -> [N, 3]."""
    w = quat[:, 0:1]
    u = quat[:, 1:4]
    t = 2.0 * np.cross(u, vec)
    return vec + w * t + np.cross(u, t)


def projected_gravity(quat: np.ndarray) -> np.ndarray:
    """Unit gravity (0, 0, -1) in the body frame: [N, 4] -> [N, 3] (about (0, 0, -1) upright)."""
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    # Third row of R^T negated, expanded so no cross products are needed.
    return np.stack(
        [-2.0 * (x * z - w * y), -2.0 * (y * z + w * x), -(1.0 - 2.0 * (x * x + y * y))], axis=-1
    )


def yaw_of(quat: np.ndarray) -> np.ndarray:
    """Heading angle (rad) of the body x axis projected on the ground plane: [N, 4] -> [N]."""
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    return np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def from_yaw(yaw: np.ndarray) -> np.ndarray:
    """Quaternion of a pure rotation about world z: [N] -> [N, 4]."""
    half = 0.5 * yaw
    zeros = np.zeros_like(half)
    return np.stack([np.cos(half), zeros, zeros, np.sin(half)], axis=-1)


def wrap_to_pi(angle: np.ndarray) -> np.ndarray:
    """Angles mapped into [-pi, pi)."""
    return (angle + np.pi) % (2.0 * np.pi) - np.pi
