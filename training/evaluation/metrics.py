"""Velocity-tracking scores of an evaluation, accumulated over the live steps of each episode.

Errors and kernels are read from the env's own reward inputs (`VelocityEnv.last_step_state`),
so they measure exactly what the task's tracking rewards measure, in the same frames: Go2's
terms use base-frame velocities, H1's the yaw frame and the world yaw rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from robots.contract import STEADY_SETTLE_S
from training.tasks import rewards as rw
from training.tasks.config import TaskCfg

WALK_TRACKING_FRACTION = 0.8  # performance.md: tracking reward >= 80 % of its maximum
WALK_PROTOCOL_DURATION_S = 20.0  # ... and no falls over a 20 s episode with random commands


@dataclass(frozen=True)
class TrackingTerm:
    weight: float
    fn: Callable[..., np.ndarray]
    params: dict


def tracking_terms(cfg: TaskCfg, joint_names: tuple[str, ...]) -> list[TrackingTerm]:
    """The task's velocity-tracking reward terms (term names starting with 'track_')."""
    return [
        TrackingTerm(t.weight, rw.TERMS[t.term], rw.resolve_params(t.term, t.kwargs, joint_names))
        for t in cfg.rewards
        if t.term.startswith("track_") and t.weight != 0.0
    ]


def measured_velocity(state: rw.StepState, cfg: TaskCfg) -> np.ndarray:
    """[N, 3] (vx, vy, wz) in the frames the task's tracking terms compare with the command."""
    terms = {t.term for t in cfg.rewards}
    if "track_lin_vel_xy_yaw_frame_exp" in terms:
        c, s = np.cos(state.yaw), np.sin(state.yaw)
        vx = c * state.lin_vel_w[:, 0] + s * state.lin_vel_w[:, 1]
        vy = -s * state.lin_vel_w[:, 0] + c * state.lin_vel_w[:, 1]
    else:
        vx, vy = state.lin_vel_b[:, 0], state.lin_vel_b[:, 1]
    world_yaw = "track_ang_vel_z_world_exp" in terms
    wz = state.ang_vel_w[:, 2] if world_yaw else state.ang_vel_b[:, 2]
    return np.stack([vx, vy, wz], axis=1)


class EpisodeMetrics:
    """Sums over live env-steps; `add` once per policy step, `result` at the end."""

    def __init__(self, cfg: TaskCfg, joint_names: tuple[str, ...], num_envs: int) -> None:
        self.cfg = cfg
        self.terms = tracking_terms(cfg, joint_names)
        self.sq_error = np.zeros(3)
        self.kernel_sums = np.zeros(num_envs)  # per episode: its tracking fraction x its steps
        self.returns = np.zeros(num_envs)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self.fell = np.zeros(num_envs, dtype=bool)
        self.sim_failed = np.zeros(num_envs, dtype=bool)
        self.settle_steps = math.ceil(STEADY_SETTLE_S / cfg.control_dt - 1e-9)
        self.steady_vx_sum = 0.0
        self.steady_steps = 0

    def add(
        self,
        state: rw.StepState,
        reward: np.ndarray,
        live: np.ndarray,
        terminated: np.ndarray,
        sim_failed: np.ndarray,
    ) -> None:
        """One step; `live` [N] marks envs still in their first episode (all arrays [N])."""
        measured = measured_velocity(state, self.cfg)
        error = state.commands - measured
        steady = live & (self.lengths >= self.settle_steps)
        self.steady_vx_sum += float(np.sum(measured[steady, 0]))
        self.steady_steps += int(steady.sum())
        self.sq_error += np.sum(error[live] ** 2, axis=0)
        self.kernel_sums += np.where(live, self._tracking_fraction(state), 0.0)
        self.returns += np.where(live, reward, 0.0)
        self.lengths += live
        self.fell |= live & terminated
        self.sim_failed |= live & sim_failed

    def _tracking_fraction(self, state: rw.StepState) -> np.ndarray:
        """[N] weighted mean of the tracking kernels: 1 when every command is met exactly."""
        total = sum(t.weight * t.fn(state, **t.params) for t in self.terms)
        return total / sum(t.weight for t in self.terms)

    def result(self, control_dt: float, duration_s: float, random_commands: bool) -> dict:
        live_steps = int(self.lengths.sum())
        rmse = np.sqrt(self.sq_error / max(live_steps, 1))
        fraction = float(self.kernel_sums.sum()) / max(live_steps, 1)
        falls = int(self.fell.sum())
        protocol = random_commands and duration_s >= WALK_PROTOCOL_DURATION_S - 1e-9
        walks = fraction >= WALK_TRACKING_FRACTION and falls == 0
        return {
            "rmse_vx": float(rmse[0]),
            "rmse_vy": float(rmse[1]),
            "rmse_wz": float(rmse[2]),
            "rmse_combined": float(math.sqrt(np.sum(rmse**2))),
            "tracking_reward_fraction": float(fraction),
            # mean forward speed after STEADY_SETTLE_S: the speed a constant command settles at
            "steady_vx_m_s": self.steady_vx_sum / max(self.steady_steps, 1),
            "falls": falls,
            "fall_free_episodes": int((~self.fell).sum()),
            "sim_failures": int(self.sim_failed.sum()),
            "mean_return": float(self.returns.mean()),
            "mean_episode_length_s": float(self.lengths.mean() * control_dt),
            "mean_episode_length_steps": float(self.lengths.mean()),
            # performance.md's verdict only under its own protocol; null otherwise.
            "walks": bool(walks) if protocol else None,
        }
