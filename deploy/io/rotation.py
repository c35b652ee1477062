"""Small quaternion / rotation helpers (w, x, y, z convention, as Unitree's IMU reports)."""

from __future__ import annotations

import math

import numpy as np


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of (w, x, y, z) quaternions."""
    # Python floats: arithmetic on numpy scalars is several times slower (a per-tick path)
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
    w, x, y, z = q.tolist()  # Python floats: math on numpy scalars is several times slower
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2.0 * (w * y - z * x))))
    yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    return np.array([roll, pitch, yaw])
