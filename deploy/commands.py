"""Velocity commands: from the remote's sticks (deadband, slew limit, training ranges) or fixed.

Sticks -> (vx, vy, wz) = (ly, -lx, -rx) (robots.md: wireless remote), scaled so full stick is
the edge of the training range in that direction, then slew-limited per second.

A fixed walking command with wz = 0 (`--cmd vx,vy,0`) holds the heading the robot has when the
POLICY blend-in ends (when the policy alone drives it, and H1's hoist lets go): from then on wz
comes from the IMU yaw through training's heading law (robots.contract `heading_rate`), as the
policies were trained (every training command is a heading target), so the robot walks straight
instead of drifting at the policy's residual yaw rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from common.compat import zip_strict
from common.errors import UserError
from robots.contract import HEADING_STIFFNESS, heading_rate
from robots.frames import yaw_of


def _ranges(ranges: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([r[0] for r in ranges], dtype=np.float64)
    hi = np.array([r[1] for r in ranges], dtype=np.float64)
    return lo, hi


class StickCommand:
    """Stateful stick -> command mapping; `update(lx, ly, rx, dt_s)` returns the command [3]."""

    def __init__(
        self, ranges: Sequence[tuple[float, float]], deadband: float, slew_per_s: float
    ) -> None:
        self.lo, self.hi = _ranges(ranges)
        self.deadband = deadband
        self.slew_per_s = slew_per_s
        self.command = np.zeros(3)
        self._wanted = np.zeros(3)

    def _axis(self, stick: float, i: int) -> float:
        """Deadband, then full stick = range edge; a range that excludes the sign gives 0."""
        if not np.isfinite(stick) or abs(stick) < self.deadband:
            return 0.0
        mag = (min(abs(stick), 1.0) - self.deadband) / (1.0 - self.deadband)
        edge = self.hi[i] if stick > 0 else -self.lo[i]
        return float(np.sign(stick) * mag * max(edge, 0.0))

    def update(self, lx: float, ly: float, rx: float, dt_s: float) -> np.ndarray:
        w = self._wanted
        w[0], w[1], w[2] = self._axis(ly, 0), self._axis(-lx, 1), self._axis(-rx, 2)
        np.clip(w, self.lo, self.hi, out=w)
        step = self.slew_per_s * dt_s
        self.command += np.clip(w - self.command, -step, step)
        return self.command


def fixed_command(text: str, ranges: Sequence[tuple[float, float]]) -> np.ndarray:
    """`--cmd vx,vy,wz` parsed and checked against the training ranges (outside: UserError)."""
    try:
        values = np.array([float(v) for v in text.split(",")], dtype=np.float64)
    except ValueError:
        raise UserError(f"--cmd {text!r} must be three numbers vx,vy,wz") from None
    if values.shape != (3,) or not np.all(np.isfinite(values)):
        raise UserError(f"--cmd {text!r} must be three finite numbers vx,vy,wz")
    lo, hi = _ranges(ranges)
    if np.any(values < lo) or np.any(values > hi):
        spans = ", ".join(f"[{a:g}, {b:g}]" for a, b in zip_strict(lo, hi))
        raise UserError(
            f"--cmd {text} is outside the policy's training ranges (vx, vy, wz in {spans})"
        )
    return values


class FixedCommand:
    """A fixed command; with `hold_heading`, wz = 0 and a non-zero (vx, vy), `update(quat, True)`
    turns the robot back to the heading of its first such call (before it: wz = 0)."""

    def __init__(
        self,
        command: np.ndarray,
        wz_range: tuple[float, float],
        hold_heading: bool = True,
        stiffness: float = HEADING_STIFFNESS,
    ) -> None:
        self.command = np.array(command, dtype=np.float64)
        self.wz_range = wz_range
        self.stiffness = stiffness
        self.holds = bool(hold_heading and self.command[2] == 0 and np.any(self.command[:2]))
        self.heading_rad: float | None = None

    def update(self, quat_wxyz: np.ndarray, steer: bool = True) -> np.ndarray:
        if self.holds and steer:
            yaw = float(yaw_of(quat_wxyz))
            if self.heading_rad is None:
                self.heading_rad = yaw
            self.command[2] = heading_rate(self.heading_rad, yaw, self.stiffness, self.wz_range)
        return self.command
