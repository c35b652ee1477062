"""Stateless guards: NaN/Inf on observations and actions, tilt / fall from projected gravity."""

from __future__ import annotations

import math

import numpy as np

from safety.causes import Cause


def finite_obs(obs: np.ndarray) -> Cause | None:
    """NONFINITE_OBS when any observation entry is NaN or Inf."""
    return None if np.all(np.isfinite(obs)) else Cause.NONFINITE_OBS


def finite_action(action: np.ndarray) -> Cause | None:
    """NONFINITE_ACTION when any action entry is NaN or Inf."""
    return None if np.all(np.isfinite(action)) else Cause.NONFINITE_ACTION


def roll_pitch_rad(gravity_b: np.ndarray) -> tuple[float, float]:
    """Roll and pitch magnitudes (rad) from the gravity direction in the base frame.

    Upright gravity_b = (0, 0, -1). For roll r, pitch p: g = (sin p, -sin r cos p, -cos r cos p),
    so |pitch| = asin(|gx| / |g|) and |roll| = atan2(|gy|, -gz) (> 90 deg when upside down).
    """
    gx, gy, gz = (float(v) for v in gravity_b[:3])
    norm = math.sqrt(gx * gx + gy * gy + gz * gz)
    pitch = math.asin(min(1.0, abs(gx) / norm))
    roll = math.atan2(abs(gy), -gz)
    return roll, pitch


def tilt(gravity_b: np.ndarray, max_tilt_rad: float) -> Cause | None:
    """TILT when roll or pitch exceeds `max_tilt_rad` (deploy: safety.max_tilt_deg);
    NONFINITE_STATE for a degenerate vector."""
    g = np.asarray(gravity_b, dtype=np.float64)
    if g.shape[0] < 3 or not np.all(np.isfinite(g[:3])):
        return Cause.NONFINITE_STATE
    if float(np.dot(g[:3], g[:3])) < 1e-6:  # no gravity direction: the IMU reading is broken
        return Cause.NONFINITE_STATE
    roll, pitch = roll_pitch_rad(g)
    return Cause.TILT if max(roll, pitch) > max_tilt_rad else None
