"""Reset states (IsaacLab's reset_base / reset_robot_joints events) and the terrain curriculum."""

from __future__ import annotations

import numpy as np

from common.errors import UserError
from robots import frames
from robots.spec import RobotSpec
from training.envs.model import CompiledModel
from training.envs.terrain import Terrain
from training.tasks.config import TaskCfg


class ResetSampler:
    """Draws initial MuJoCo states; on rough terrain owns each env's level, column and origin."""

    def __init__(
        self,
        cfg: TaskCfg,
        robot: RobotSpec,
        compiled: CompiledModel,
        terrain: Terrain | None,
        num_envs: int,
        rng: np.random.Generator,
    ) -> None:
        self.cfg = cfg.domain_rand
        self.terrain = terrain
        self.episode_length_s = cfg.sim.episode_length_s
        self.rng = rng
        self.qpos0 = compiled.model.qpos0.copy()
        self.nv = compiled.model.nv
        self.qpos_adr = compiled.qpos_adr
        self.dof_adr = compiled.dof_adr
        names = robot.policy_joint_names
        self.default_q = robot.values("default_q_rad", names)
        self.soft_lo, self.soft_hi = robot.soft_limits(names)
        self.init_height_m = robot.init_base_height_m
        self.origins = np.zeros((num_envs, 3))
        if terrain is not None:
            tc = terrain.cfg
            if not 0 <= tc.min_init_level <= tc.max_init_level < tc.num_rows:
                raise UserError(
                    f"terrain levels {tc.min_init_level}..{tc.max_init_level} are not a range "
                    f"within the terrain's {tc.num_rows} rows"
                )
            self.levels = rng.integers(tc.min_init_level, tc.max_init_level + 1, size=num_envs)
            # Env i -> column floor(i / (N / num_cols)): each type gets an equal share of envs.
            self.cols = np.arange(num_envs) * tc.num_cols // num_envs
            self.origins = terrain.origins[self.levels, self.cols].copy()

    def update_levels(self, ids: np.ndarray, root_pos: np.ndarray, command: np.ndarray) -> None:
        """terrain_levels_vel: up after walking half a tile, down after under half the command."""
        tc = self.terrain.cfg
        distance = np.linalg.norm(root_pos[:, :2] - self.origins[ids, :2], axis=1)
        up = distance > tc.size_m / 2
        down = (
            distance < np.linalg.norm(command[:, :2], axis=1) * self.episode_length_s * 0.5
        ) & ~up
        levels = self.levels[ids] + up.astype(np.int64) - down.astype(np.int64)
        # Solving the hardest row sends an env to a random row, so every level stays populated.
        beyond = levels >= tc.num_rows
        levels[beyond] = self.rng.integers(0, tc.num_rows, size=int(beyond.sum()))
        self.levels[ids] = np.maximum(levels, 0)
        self.origins[ids] = self.terrain.origins[self.levels[ids], self.cols[ids]]

    def sample_states(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full qpos [n, nq] and qvel [n, nv] for envs `ids`."""
        n, c = len(ids), self.cfg
        qpos = np.tile(self.qpos0, (n, 1))
        qvel = np.zeros((n, self.nv))
        offset = self.rng.uniform(-c.reset_pose_xy_m, c.reset_pose_xy_m, size=(n, 2))
        qpos[:, 0:2] = self.origins[ids, :2] + offset
        qpos[:, 2] = self.origins[ids, 2] + self.init_height_m
        qpos[:, 3:7] = frames.from_yaw(self.rng.uniform(-c.reset_yaw_rad, c.reset_yaw_rad, size=n))
        qvel[:, 0:6] = self.rng.uniform(-c.reset_velocity, c.reset_velocity, size=(n, 6))
        scale = self.rng.uniform(*c.reset_joint_scale, size=(n, len(self.default_q)))
        qpos[:, self.qpos_adr] = np.clip(self.default_q * scale, self.soft_lo, self.soft_hi)
        return qpos, qvel
