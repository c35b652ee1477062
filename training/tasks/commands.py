"""IsaacLab's UniformVelocityCommand "base_velocity": resampling, heading control, standing envs."""

from __future__ import annotations

import numpy as np

from robots.contract import heading_rate
from training.tasks.config import CommandCfg


class VelocityCommand:
    """(vx, vy, wz) base-frame commands [N, 3], resampled every `resampling_time_s`."""

    def __init__(
        self,
        cfg: CommandCfg,
        robot_ranges: tuple[tuple[float, float], ...],
        num_envs: int,
        rng: np.random.Generator,
    ) -> None:
        self.cfg = cfg
        self.rng = rng
        ranges = (cfg.lin_vel_x, cfg.lin_vel_y, cfg.ang_vel_z)
        self.ranges = np.array(
            [r if r is not None else robot_ranges[i] for i, r in enumerate(ranges)]
        )
        self.command = np.zeros((num_envs, 3))
        self.heading_target = np.zeros(num_envs)
        self.is_heading_env = np.zeros(num_envs, dtype=bool)
        self.is_standing_env = np.zeros(num_envs, dtype=bool)
        self.time_left_s = np.zeros(num_envs)

    def resample(self, ids: np.ndarray) -> None:
        """Draw new commands for envs `ids` (also done at every reset)."""
        n = len(ids)
        if n == 0:
            return
        lo, hi = self.ranges[:, 0], self.ranges[:, 1]
        self.command[ids] = lo + (hi - lo) * self.rng.uniform(size=(n, 3))
        self.heading_target[ids] = self.rng.uniform(*self.cfg.heading, size=n)
        self.is_heading_env[ids] = self.cfg.heading_command & (
            self.rng.uniform(size=n) <= self.cfg.rel_heading_envs
        )
        self.is_standing_env[ids] = self.rng.uniform(size=n) <= self.cfg.rel_standing_envs
        self.time_left_s[ids] = self.rng.uniform(*self.cfg.resampling_time_s, size=n)

    def step(self, dt_s: float, yaw: np.ndarray) -> None:
        """Advance timers (resampling the due envs), then apply heading control and standing."""
        self.time_left_s -= dt_s
        self.resample(np.flatnonzero(self.time_left_s <= 0.0))
        self.update(yaw)

    def update(self, yaw: np.ndarray) -> None:
        """Heading envs: wz = clip(k * wrap(heading - yaw)); standing envs: all zero."""
        wz = heading_rate(
            self.heading_target, yaw, self.cfg.heading_control_stiffness, tuple(self.ranges[2])
        )
        self.command[:, 2] = np.where(self.is_heading_env, wz, self.command[:, 2])
        self.command[self.is_standing_env] = 0.0
