"""Frame helpers on (w, x, y, z) quaternions (MuJoCo's and Unitree's IMU convention), numpy only.

The one place training, evaluation and deploy turn a root orientation into what a policy reads.
Functions taking `[..., 4]` work for one state ([4]) and for a batch ([N, 4]); the batched forms
are written out component-wise, several times faster than building rotation matrices. The
one-state helpers below them use Python floats: arithmetic on numpy scalars is several times
slower, and the daemon calls them every tick.
"""

from __future__ import annotations

import math

import numpy as np


def projected_gravity(quat_wxyz: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Unit gravity (0, 0, -1) in the body frame: [..., 4] -> [..., 3] (about (0, 0, -1) upright).

    -(third row of R), R body->world, of the normalised quaternion (an IMU's is not exactly
    unit). Written into `out` when given, so the per-tick path allocates no array.
    """
    if out is None:
        out = np.empty((*np.shape(quat_wxyz)[:-1], 3))
    if np.ndim(quat_wxyz) == 1:
        w, x, y, z = quat_wxyz.tolist()
        norm = math.sqrt(w * w + x * x + y * y + z * z)
        w, x, y, z = w / norm, x / norm, y / norm, z / norm
    else:
        unit = quat_wxyz / np.sqrt(np.sum(quat_wxyz * quat_wxyz, axis=-1, keepdims=True))
        w, x, y, z = unit[..., 0], unit[..., 1], unit[..., 2], unit[..., 3]
    out[..., 0] = -2.0 * (x * z - w * y)
    out[..., 1] = -2.0 * (y * z + w * x)
    out[..., 2] = -(1.0 - 2.0 * (x * x + y * y))
    return out


def rotate_inverse(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """World vectors in the body frame, R(quat)^T v: quat [..., 4], vec [..., 3] -> [..., 3]."""
    w = quat[..., 0:1]
    u = -quat[..., 1:4]  # conjugate: rotating by q^-1
    t = 2.0 * np.cross(u, vec)
    return vec + w * t + np.cross(u, t)


def rotate(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Body vectors in the world frame, R(quat) v: quat [..., 4], vec [..., 3] -> [..., 3]."""
    w = quat[..., 0:1]
    u = quat[..., 1:4]
    t = 2.0 * np.cross(u, vec)
    return vec + w * t + np.cross(u, t)


def yaw_of(quat: np.ndarray) -> np.ndarray:
    """Heading (rad) of the body x axis projected on the ground plane: [..., 4] -> [...]."""
    w, x, y, z = quat[..., 0], quat[..., 1], quat[..., 2], quat[..., 3]
    return np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def from_yaw(yaw: np.ndarray) -> np.ndarray:
    """Quaternion of a pure rotation about world z: [...] -> [..., 4]."""
    half = 0.5 * np.asarray(yaw)
    zeros = np.zeros_like(half)
    return np.stack([np.cos(half), zeros, zeros, np.sin(half)], axis=-1)


def wrap_to_pi(angle: np.ndarray) -> np.ndarray:
    """Angles mapped into [-pi, pi)."""
    return (angle + np.pi) % (2.0 * np.pi) - np.pi


# ----- one state, Python floats (the daemon's per-tick IMU handling) -----------------------


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of (w, x, y, z) quaternions."""
    aw, ax, ay, az = a.tolist() if isinstance(a, np.ndarray) else a
    bw, bx, by, bz = b.tolist() if isinstance(b, np.ndarray) else b
    return np.array(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ]
    )


def axis_angle_quat(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Quaternion of a rotation by `angle_rad` about the unit vector `axis`."""
    half = 0.5 * angle_rad
    return np.concatenate(([math.cos(half)], math.sin(half) * np.asarray(axis, dtype=np.float64)))


def axis_angle_matrix(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotation matrix of `angle_rad` about the unit vector `axis` (Rodrigues)."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + math.sin(angle_rad) * k + (1.0 - math.cos(angle_rad)) * (k @ k)


def rotate_about_axis(
    axis: tuple[float, float, float], angle_rad: float, v: list[float]
) -> list[float]:
    """`v` rotated by `angle_rad` about the unit vector `axis`: axis_angle_matrix(axis, angle) @ v
    (Rodrigues), in Python floats for the per-tick path."""
    kx, ky, kz = axis
    vx, vy, vz = v
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    along = (kx * vx + ky * vy + kz * vz) * (1.0 - c)
    return [
        vx * c + (ky * vz - kz * vy) * s + kx * along,
        vy * c + (kz * vx - kx * vz) * s + ky * along,
        vz * c + (kx * vy - ky * vx) * s + kz * along,
    ]


def quat_to_rpy(q: np.ndarray) -> np.ndarray:
    """Roll, pitch, yaw (rad, ZYX intrinsic) of a (w, x, y, z) quaternion."""
    w, x, y, z = q.tolist()
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2.0 * (w * y - z * x))))
    yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    return np.array([roll, pitch, yaw])
