"""A fixed command schedule that stands in for the env's random UniformVelocityCommand.

It has the interface VelocityEnv uses (`command`, `resample`, `step`, `update`), so the env
builds observations and rewards from it exactly as from the random commands.
"""

from __future__ import annotations

import numpy as np

SEGMENT_FRACTION = 0.5  # each moving segment commands half the trained maximum
SEGMENTS = (  # name, (vx, vy, wz) as fractions of the upper end of each trained range
    ("forward", (1.0, 0.0, 0.0)),
    ("turn", (0.0, 0.0, 1.0)),
    ("sideways", (0.0, 1.0, 0.0)),
    ("stop", (0.0, 0.0, 0.0)),
)


def schedule(
    ranges: tuple[tuple[float, float], ...], duration_s: float
) -> list[tuple[str, float, np.ndarray]]:
    """(name, start time s, command [3]) per segment, equal lengths over `duration_s`.

    Segments the robot was never trained for (H1 has no sideways range) are left out, and every
    command is clipped into the trained ranges.
    """
    lo, hi = np.array(ranges, dtype=np.float64).T
    kept = []
    for name, unit in SEGMENTS:
        command = np.clip(SEGMENT_FRACTION * hi * np.array(unit), lo, hi)
        if name == "stop" or np.any(command != 0.0):
            kept.append((name, command))
    length = duration_s / len(kept)
    return [(name, i * length, command) for i, (name, command) in enumerate(kept)]


class ScriptedCommand:
    """Commands [N, 3] following `schedule` from each env's episode start."""

    def __init__(self, segments: list[tuple[str, float, np.ndarray]], num_envs: int) -> None:
        self.starts = np.array([start for _, start, _ in segments])
        self.commands = np.stack([command for _, _, command in segments])
        self.elapsed_s = np.zeros(num_envs)
        self.command = np.zeros((num_envs, 3))
        self._apply()

    def resample(self, ids: np.ndarray) -> None:
        """An env that resets starts the script over."""
        self.elapsed_s[ids] = 0.0
        self._apply()

    def step(self, dt_s: float, yaw: np.ndarray) -> None:
        self.elapsed_s += dt_s
        self._apply()

    def update(self, yaw: np.ndarray) -> None:
        """No heading control: the script gives the yaw rate itself."""

    def _apply(self) -> None:
        # A tolerance keeps float round-off of the accumulated time from delaying a segment.
        segment = np.searchsorted(self.starts, self.elapsed_s + 1e-9, side="right") - 1
        self.command[:] = self.commands[segment]
