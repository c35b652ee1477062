"""STAND interpolation from the measured pose, and the POLICY blend-in from the stand targets."""

from __future__ import annotations

import numpy as np


class StandTrajectory:
    """Straight line in joint space from `start` to `goal`, no joint faster than `speed_rad_s`.

    Starts from the *measured* pose (never from an assumed one), so the first target is where the
    robot is.
    """

    def __init__(
        self, start_q: np.ndarray, goal_q: np.ndarray, speed_rad_s: float, min_s: float
    ) -> None:
        self.start = np.array(start_q, dtype=np.float64)
        self.goal = np.array(goal_q, dtype=np.float64)
        span = float(np.max(np.abs(self.goal - self.start))) if self.start.size else 0.0
        self.duration_s = max(min_s, span / speed_rad_s)
        self._out = np.empty_like(self.start)

    def targets(self, t_s: float) -> np.ndarray:
        """Targets `t_s` after the start (held at the goal afterwards)."""
        # 0 s: already at the goal with motion.stand_min_s = 0
        a = 1.0 if self.duration_s <= 0 else min(max(t_s / self.duration_s, 0.0), 1.0)
        np.multiply(self.goal - self.start, a, out=self._out)
        self._out += self.start
        return self._out

    def done(self, t_s: float) -> bool:
        return t_s >= self.duration_s


def blend(stand: np.ndarray, policy: np.ndarray, t_s: float, blend_s: float) -> np.ndarray:
    """(1 - a) stand + a policy, a ramping 0 -> 1 over `blend_s` (a new array)."""
    a = 1.0 if blend_s <= 0 else min(max(t_s / blend_s, 0.0), 1.0)
    return stand + a * (policy - stand)
