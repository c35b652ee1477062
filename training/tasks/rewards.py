"""Reward terms of IsaacLab's velocity tasks (isaaclab_velocity.md section 5.1), batched in numpy.

Each term maps a `StepState` (one policy step of N envs) to [N] values before weighting; the env
adds weight * value * control_dt. Joint subsets arrive as index arrays (`joint_ids`), resolved
once from the table's name patterns by `resolve_params`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.errors import UserError

COMMAND_MOVING_M_S = 0.1  # air-time terms only reward steps while ||c_xy|| exceeds this


@dataclass
class StepState:
    """What the reward terms read, for N envs with J joints and F feet (policy joint order)."""

    lin_vel_b: np.ndarray  # [N, 3] root linear velocity, base frame (m/s)
    ang_vel_b: np.ndarray  # [N, 3] root angular velocity, base frame (rad/s)
    lin_vel_w: np.ndarray  # [N, 3] root linear velocity, world frame
    ang_vel_w: np.ndarray  # [N, 3] root angular velocity, world frame
    yaw: np.ndarray  # [N] heading (rad)
    projected_gravity: np.ndarray  # [N, 3]
    commands: np.ndarray  # [N, 3] (vx, vy, wz), base frame
    joint_pos: np.ndarray  # [N, J] (rad)
    joint_vel: np.ndarray  # [N, J] (rad/s)
    joint_acc: np.ndarray  # [N, J] (rad/s^2)
    torques: np.ndarray  # [N, J] applied (clipped) motor torque (N m)
    actions: np.ndarray  # [N, J] raw policy actions of this step
    last_actions: np.ndarray  # [N, J] raw policy actions of the previous step
    default_joint_pos: np.ndarray  # [J]
    soft_lo: np.ndarray  # [J] soft position limits
    soft_hi: np.ndarray  # [J]
    foot_in_contact_hist: np.ndarray  # [N, H, F] bool, contact in each recent physics step
    foot_vel_w: np.ndarray  # [N, F, 3] world linear velocity of each foot
    air_time: np.ndarray  # [N, F] current air time (s), 0 while in contact
    contact_time: np.ndarray  # [N, F] current contact time (s), 0 while in the air
    last_air_time: np.ndarray  # [N, F] length of the latest completed air phase (s)
    terminated: np.ndarray  # [N] bool, ended this step by a non-time-out term
    control_dt: float


def _exp_tracking(error_sq: np.ndarray, std: float) -> np.ndarray:
    return np.exp(-error_sq / std**2)


def track_lin_vel_xy_exp(s: StepState, std: float) -> np.ndarray:
    err = np.sum((s.commands[:, :2] - s.lin_vel_b[:, :2]) ** 2, axis=1)
    return _exp_tracking(err, std)


def track_ang_vel_z_exp(s: StepState, std: float) -> np.ndarray:
    return _exp_tracking((s.commands[:, 2] - s.ang_vel_b[:, 2]) ** 2, std)


def track_lin_vel_xy_yaw_frame_exp(s: StepState, std: float) -> np.ndarray:
    # World velocity rotated by -yaw only: tracking ignores pitch and roll of the base.
    c, si = np.cos(s.yaw), np.sin(s.yaw)
    vx = c * s.lin_vel_w[:, 0] + si * s.lin_vel_w[:, 1]
    vy = -si * s.lin_vel_w[:, 0] + c * s.lin_vel_w[:, 1]
    err = (s.commands[:, 0] - vx) ** 2 + (s.commands[:, 1] - vy) ** 2
    return _exp_tracking(err, std)


def track_ang_vel_z_world_exp(s: StepState, std: float) -> np.ndarray:
    return _exp_tracking((s.commands[:, 2] - s.ang_vel_w[:, 2]) ** 2, std)


def lin_vel_z_l2(s: StepState) -> np.ndarray:
    return s.lin_vel_b[:, 2] ** 2


def ang_vel_xy_l2(s: StepState) -> np.ndarray:
    return np.sum(s.ang_vel_b[:, :2] ** 2, axis=1)


def joint_torques_l2(s: StepState, joint_ids: np.ndarray | None = None) -> np.ndarray:
    return np.sum(_cols(s.torques, joint_ids) ** 2, axis=1)


def joint_acc_l2(s: StepState, joint_ids: np.ndarray | None = None) -> np.ndarray:
    return np.sum(_cols(s.joint_acc, joint_ids) ** 2, axis=1)


def action_rate_l2(s: StepState) -> np.ndarray:
    return np.sum((s.actions - s.last_actions) ** 2, axis=1)


def flat_orientation_l2(s: StepState) -> np.ndarray:
    return np.sum(s.projected_gravity[:, :2] ** 2, axis=1)


def joint_pos_limits(s: StepState, joint_ids: np.ndarray | None = None) -> np.ndarray:
    q = _cols(s.joint_pos, joint_ids)
    lo, hi = _cols(s.soft_lo[None], joint_ids), _cols(s.soft_hi[None], joint_ids)
    return np.sum(np.maximum(lo - q, 0.0) + np.maximum(q - hi, 0.0), axis=1)


def joint_deviation_l1(s: StepState, joint_ids: np.ndarray | None = None) -> np.ndarray:
    dev = _cols(s.joint_pos, joint_ids) - _cols(s.default_joint_pos[None], joint_ids)
    return np.sum(np.abs(dev), axis=1)


def is_terminated(s: StepState) -> np.ndarray:
    return s.terminated.astype(np.float64)


def feet_air_time(s: StepState, threshold: float) -> np.ndarray:
    # First contact: touched down within the last policy step (contact time in (0, dt]).
    first = (s.contact_time > 0.0) & (s.contact_time < s.control_dt + 1e-8)
    reward = np.sum((s.last_air_time - threshold) * first, axis=1)
    return reward * _moving(s)


def feet_air_time_positive_biped(s: StepState, threshold: float) -> np.ndarray:
    in_contact = s.contact_time > 0.0
    in_mode_time = np.where(in_contact, s.contact_time, s.air_time)
    single_stance = np.sum(in_contact, axis=1) == 1
    reward = np.min(np.where(single_stance[:, None], in_mode_time, 0.0), axis=1)
    return np.minimum(reward, threshold) * _moving(s)


def feet_slide(s: StepState) -> np.ndarray:
    contact = np.any(s.foot_in_contact_hist, axis=1)  # [N, F] over the history window
    speed = np.linalg.norm(s.foot_vel_w[:, :, :2], axis=-1)
    return np.sum(speed * contact, axis=1)


def _moving(s: StepState) -> np.ndarray:
    return np.linalg.norm(s.commands[:, :2], axis=1) > COMMAND_MOVING_M_S


def _cols(x: np.ndarray, ids: np.ndarray | None) -> np.ndarray:
    return x if ids is None else x[:, ids]


TERMS: dict[str, Callable[..., np.ndarray]] = {
    f.__name__: f
    for f in (
        track_lin_vel_xy_exp,
        track_ang_vel_z_exp,
        track_lin_vel_xy_yaw_frame_exp,
        track_ang_vel_z_world_exp,
        lin_vel_z_l2,
        ang_vel_xy_l2,
        joint_torques_l2,
        joint_acc_l2,
        action_rate_l2,
        flat_orientation_l2,
        joint_pos_limits,
        joint_deviation_l1,
        is_terminated,
        feet_air_time,
        feet_air_time_positive_biped,
        feet_slide,
    )
}


def resolve_params(term: str, params: dict[str, Any], joint_names: Sequence[str]) -> dict:
    """Term kwargs with a "joints" pattern list replaced by `joint_ids` (regex full match)."""
    if term not in TERMS:
        raise UserError(f"unknown reward term {term!r}; known terms: {', '.join(sorted(TERMS))}")
    out = dict(params)
    patterns = out.pop("joints", None)
    if patterns is not None:
        patterns = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        ids = [i for i, n in enumerate(joint_names) if any(re.fullmatch(p, n) for p in patterns)]
        if not ids:
            raise UserError(f"reward term {term!r}: joints {patterns} match none of {joint_names}")
        out["joint_ids"] = np.array(ids, dtype=np.int64)
    return out
