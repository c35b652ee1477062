"""IsaacLab's velocity-tracking MDP on the built-in MuJoCo backend, as a VecEnv.

Step order follows `ManagerBasedRLEnv.step`: actions -> `decimation` physics steps (PD inside
MuJoCo) -> episode counter -> terminations -> rewards (x control_dt) -> reset of finished envs
(curriculum first, then state, then commands) -> command update -> pushes -> observations.
Task logic is numpy on [N, ...] arrays; torch appears only at the VecEnv boundary.
"""

from __future__ import annotations

import numpy as np
import torch

from common.errors import UserError
from robots import frames, get_robot
from robots.observations import ObservedState
from training.envs.backend import MujocoBackend
from training.envs.model import compile_model
from training.envs.terrain import Terrain
from training.envs.vec_env import VecEnv
from training.tasks import rewards as rw
from training.tasks import task_contract
from training.tasks.commands import VelocityCommand
from training.tasks.config import TaskCfg, target_range
from training.tasks.contacts import ContactTimers
from training.tasks.env_state import env_state, load_env_state
from training.tasks.observations import SCAN_OFFSET_M, TrainingObservations, scan_points
from training.tasks.resets import ResetSampler

CONTACT_HISTORY = 3  # IsaacLab's contact sensor keeps the last 3 physics steps


class VelocityEnv(VecEnv):
    """N envs of one velocity-tracking task (config: TaskCfg)."""

    physics = "mujoco"

    def __init__(self, cfg: TaskCfg, num_envs: int, seed: int = 0, device: str = "cpu") -> None:
        self.cfg = cfg
        self.num_envs = num_envs
        self.seed = seed
        self.device = torch.device(device)
        self.robot = get_robot(cfg.robot)
        self.control_dt = cfg.control_dt
        self.sim_dt = cfg.sim.sim_dt
        self.decimation = cfg.sim.decimation
        self.max_episode_length = cfg.max_episode_length
        self.contract = task_contract(cfg)
        self.num_actions = self.contract.num_actions
        self.rng = np.random.default_rng(seed)
        rough = cfg.terrain.kind == "rough"
        self.terrain = Terrain(cfg.terrain, self.rng) if rough else None
        compiled = compile_model(self.robot, cfg.sim.model, self.sim_dt, self.terrain)
        self.backend = MujocoBackend(compiled, num_envs, self.decimation, cfg.sim.num_threads)
        self._init_joint_constants()
        self._init_rewards()
        self.commands = VelocityCommand(cfg.commands, self.robot.command_ranges, num_envs, self.rng)
        self.resets = ResetSampler(cfg, self.robot, compiled, self.terrain, num_envs, self.rng)
        dr = cfg.domain_rand
        self.obs = TrainingObservations(
            self.contract, cfg.observations, num_envs, dr.obs_latency_policy_steps[1], self.rng
        )
        self.timers = ContactTimers(num_envs, len(compiled.foot_force_adr), self.sim_dt)
        self.link_contact_s = np.zeros(num_envs)  # unbroken ground contact of a merged link
        max_lag = -(-dr.action_latency_physics_steps[1] // self.decimation)  # ceil
        self.target_history = np.tile(self.default_q, (max_lag + 1, num_envs, 1))
        self.action_latency = np.zeros(num_envs, dtype=np.int64)
        self.actions = np.zeros((num_envs, self.num_actions))
        self.last_actions = np.zeros_like(self.actions)
        self.episode_length_buf = np.zeros(num_envs, dtype=np.int64)
        self.episode_sums = {t.label: np.zeros(num_envs) for t in self._reward_table}
        self.push_time_left_s = self._push_intervals(num_envs)
        self.last_step_state: rw.StepState | None = None  # what the last step's rewards read
        self._randomise_startup()
        self.reset()

    # ----- setup ----------------------------------------------------------------------------

    def _init_joint_constants(self) -> None:
        names = self.robot.policy_joint_names
        self.default_q = self.robot.values("default_q_rad", names)
        self.soft_lo, self.soft_hi = self.robot.soft_limits(names)
        self.target_range = target_range(self.robot, self.cfg.sim.target_range_factor, names)
        joint = self.cfg.scan_yaw_joint
        self._scan_yaw_col = names.index(joint) if joint else None

    def _init_rewards(self) -> None:
        names = self.robot.policy_joint_names
        self._reward_table = [t for t in self.cfg.rewards if t.weight != 0.0]
        labels = [t.label for t in self._reward_table]
        if len(set(labels)) != len(labels):
            raise UserError(
                f"reward table of {self.cfg.robot}: give repeated terms a name ({labels})"
            )
        self._reward_fns = [
            (t.label, t.weight, rw.TERMS[t.term], rw.resolve_params(t.term, t.kwargs, names))
            for t in self._reward_table
        ]

    def _randomise_startup(self) -> None:
        dr, n, b = self.cfg.domain_rand, self.num_envs, self.backend
        b.set_friction(self.rng.uniform(*dr.friction, size=n))
        if dr.added_base_mass_kg is not None:
            delta = self.rng.uniform(*dr.added_base_mass_kg, size=n)
            b.add_body_mass(b.compiled.base_body_id, delta)
        if dr.motor_gain_scale != (1.0, 1.0):
            b.scale_gains(self.rng.uniform(*dr.motor_gain_scale, size=(n, self.num_actions)))
        b.apply_model_changes()

    def _push_intervals(self, n: int) -> np.ndarray:
        interval = self.cfg.domain_rand.push_interval_s
        return np.full(n, np.inf) if interval is None else self.rng.uniform(*interval, size=n)

    # ----- VecEnv ---------------------------------------------------------------------------

    def get_observations(self) -> dict[str, torch.Tensor]:
        return self._obs_dict

    def reset(self) -> dict[str, torch.Tensor]:
        all_ids = np.arange(self.num_envs)
        self._reset_envs(all_ids, curriculum=False)
        self.commands.update(self._yaw())
        self._obs_dict = self.compute_observations()
        return self._obs_dict

    def step(
        self, actions: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict]:
        self.last_actions = self.actions
        self.actions = actions.detach().to("cpu", torch.float64).numpy().copy()
        self.backend.step(self._substep_targets())
        foot_forces = self.backend.contact_forces("feet")
        self.timers.update(foot_forces > self.cfg.contact_threshold_n)
        self.episode_length_buf += 1
        base_hit = self.backend.contact_forces("base")[:, -CONTACT_HISTORY:]
        base_contact = (base_hit > self.cfg.contact_threshold_n).any(axis=(1, 2))
        too_low = self._base_too_low()
        resting = self._link_resting()
        terminated = base_contact | too_low | resting | self.backend.failed
        time_outs = (self.episode_length_buf >= self.max_episode_length) & ~terminated
        state = self._step_state(foot_forces, terminated)
        self.last_step_state = state
        reward = self._rewards(state)
        dones = terminated | time_outs
        ids = np.flatnonzero(dones)
        episode = self._episode_log(ids, terminated, too_low, resting) if len(ids) else {}
        self._reset_envs(ids, curriculum=True)
        self.commands.step(self.control_dt, self._yaw())
        self._push()
        self._obs_dict = self.compute_observations()
        extras = {"time_outs": self._tensor(time_outs), "episode": episode}
        return self._obs_dict, self._tensor(reward, torch.float32), self._tensor(dones), extras

    def state_dict(self) -> dict:
        """Exact-resume state (training/tasks/env_state.py); restore into an env built alike."""
        return env_state(self)

    def load_state_dict(self, state: dict) -> None:
        load_env_state(self, state)

    # ----- step pieces ----------------------------------------------------------------------

    def _substep_targets(self) -> np.ndarray:
        """[N, decimation, J] joint targets per physics step, delayed by the action latency."""
        targets = self.contract.action.targets(self.actions)
        if self.target_range is not None:
            targets = np.clip(targets, *self.target_range)
        if len(self.target_history) == 1 and not self.action_latency.any():
            return np.broadcast_to(
                targets[:, None], (self.num_envs, self.decimation, targets.shape[1])
            )
        self.target_history = np.roll(self.target_history, 1, axis=0)
        self.target_history[0] = targets
        lag = physics_step_lags(self.action_latency, self.decimation)
        return self.target_history[lag, np.arange(self.num_envs)[:, None]]

    def _step_state(self, foot_forces: np.ndarray, terminated: np.ndarray) -> rw.StepState:
        b = self.backend
        q = b.root_quat
        ang_vel_b = b.root_ang_vel_b.copy()
        lin_vel_w = b.root_lin_vel_w.copy()
        return rw.StepState(
            lin_vel_b=frames.rotate_inverse(q, lin_vel_w),
            ang_vel_b=ang_vel_b,
            lin_vel_w=lin_vel_w,
            ang_vel_w=frames.rotate(q, ang_vel_b),
            yaw=frames.yaw_of(q),
            projected_gravity=frames.projected_gravity(q),
            commands=self.commands.command.copy(),
            joint_pos=b.joint_pos,
            joint_vel=b.joint_vel,
            joint_acc=b.joint_acc,
            torques=b.torques,
            actions=self.actions,
            last_actions=self.last_actions,
            default_joint_pos=self.default_q,
            soft_lo=self.soft_lo,
            soft_hi=self.soft_hi,
            foot_in_contact_hist=foot_forces[:, -CONTACT_HISTORY:] > self.cfg.contact_threshold_n,
            foot_vel_w=b.foot_vel_w(),
            air_time=self.timers.air_time,
            contact_time=self.timers.contact_time,
            last_air_time=self.timers.last_air_time,
            terminated=terminated,
            control_dt=self.control_dt,
        )

    def _rewards(self, state: rw.StepState) -> np.ndarray:
        total = np.zeros(self.num_envs)
        for term, weight, fn, params in self._reward_fns:
            value = fn(state, **params) * (weight * self.control_dt)
            self.episode_sums[term] += value
            total += value
        return total

    def _base_too_low(self) -> np.ndarray:
        """[N] root closer to the ground under it than `min_base_height_m` (False when unset)."""
        if self.cfg.min_base_height_m is None:
            return np.zeros(self.num_envs, dtype=bool)
        pos = self.backend.root_pos
        ground = 0.0 if self.terrain is None else self.terrain.height_at(pos[:, 0], pos[:, 1])
        return pos[:, 2] - ground < self.cfg.min_base_height_m

    def _link_resting(self) -> np.ndarray:
        """[N] a merged link in ground contact for `link_rest_fall_s` (False when unset)."""
        if self.cfg.link_rest_fall_s is None or not self.robot.merged_links:
            return np.zeros(self.num_envs, dtype=bool)
        hit = self.backend.contact_forces("links") > self.cfg.contact_threshold_n
        touching = hit.any(axis=(1, 2))
        self.link_contact_s = np.where(touching, self.link_contact_s + self.control_dt, 0.0)
        return self.link_contact_s >= self.cfg.link_rest_fall_s - 1e-9

    def _episode_log(
        self, ids: np.ndarray, terminated: np.ndarray, too_low: np.ndarray, resting: np.ndarray
    ) -> dict[str, float]:
        """Per-term episode sums averaged over the ending envs, per second (IsaacLab's log)."""
        out = {
            f"rew_{term}": float(np.mean(sums[ids]) / self.cfg.sim.episode_length_s)
            for term, sums in self.episode_sums.items()
        }
        out["termination_base_contact"] = float(np.mean(terminated[ids]))
        if self.cfg.min_base_height_m is not None:
            out["termination_base_height"] = float(np.mean(too_low[ids]))
        if self.cfg.link_rest_fall_s is not None:
            out["termination_link_rest"] = float(np.mean(resting[ids]))
        if self.terrain is not None:
            levels = self.resets.levels
            out["terrain_level"] = float(np.mean(levels))
            kinds = np.asarray(self.terrain.col_types)[self.resets.cols]
            for kind in dict.fromkeys(kinds.tolist()):  # the mean level of each type
                out[f"terrain_level_{kind}"] = float(np.mean(levels[kinds == kind]))
        return out

    def _reset_envs(self, ids: np.ndarray, curriculum: bool) -> None:
        if len(ids) == 0:
            return
        if curriculum and self.terrain is not None and self.cfg.terrain.curriculum:
            self.resets.update_levels(ids, self.backend.root_pos[ids], self.commands.command[ids])
        qpos, qvel = self.resets.sample_states(ids)
        self.backend.reset(ids, qpos, qvel)
        self.backend.clear_sensors(ids)
        self.timers.reset(ids)
        self.link_contact_s[ids] = 0.0
        self.actions[ids] = 0.0
        self.last_actions[ids] = 0.0
        self.target_history[:, ids] = self.default_q
        self.episode_length_buf[ids] = 0
        for sums in self.episode_sums.values():
            sums[ids] = 0.0
        dr = self.cfg.domain_rand
        lo, hi = dr.action_latency_physics_steps
        self.action_latency[ids] = self.rng.integers(lo, hi + 1, size=len(ids))
        self.commands.resample(ids)
        lo, hi = dr.obs_latency_policy_steps
        self.obs.reset(ids, self._observed_state(), self.rng.integers(lo, hi + 1, size=len(ids)))

    def _push(self) -> None:
        self.push_time_left_s -= self.control_dt
        due = np.flatnonzero(self.push_time_left_s <= 0.0)
        if len(due) == 0:
            return
        v = self.cfg.domain_rand.push_vel_xy_m_s
        self.backend.qvel[due, 0:2] += self.rng.uniform(-v, v, size=(len(due), 2))
        self.push_time_left_s[due] = self._push_intervals(len(due))

    # ----- observations ---------------------------------------------------------------------

    def _yaw(self) -> np.ndarray:
        return frames.yaw_of(self.backend.root_quat)

    def _observed_state(self) -> ObservedState:
        """The batched state every contract term is computed from (robots/observations.py)."""
        b = self.backend
        return ObservedState(
            quat_wxyz=b.root_quat,
            gyro_rad_s=b.root_ang_vel_b,
            command=self.commands.command,
            q_rad=b.joint_pos,
            dq_rad_s=b.joint_vel,
            last_action=self.actions,
            lin_vel_b_m_s=frames.rotate_inverse(b.root_quat, b.root_lin_vel_w),
            height_scan_m=None if self.terrain is None else self._height_scan(),
        )

    def _height_scan(self) -> np.ndarray:
        """[N, 187] scanner height above the ground under each ray, minus 0.5 m."""
        pos = self.backend.root_pos
        yaw = frames.yaw_of(self.backend.root_quat)
        if self._scan_yaw_col is not None:
            yaw = yaw + self.backend.joint_pos[:, self._scan_yaw_col]
        x, y = scan_points(pos, yaw)
        return pos[:, 2:3] - self.terrain.height_at(x, y) - SCAN_OFFSET_M

    def compute_observations(self) -> dict[str, torch.Tensor]:
        """Observations of the current state (also what get_observations returns next)."""
        state = self._observed_state()
        return {
            "policy": self._tensor(self.obs.actor(state), torch.float32),
            "critic": self._tensor(self.obs.critic(state), torch.float32),
        }

    def _tensor(self, x: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(x))
        return t.to(device=self.device, dtype=dtype or t.dtype)


def physics_step_lags(latency: np.ndarray, decimation: int) -> np.ndarray:
    """[N, decimation] age in policy steps of the target each physics step applies.

    A target sent at physics step 0 becomes active `latency` physics steps later, so physics
    step s still applies the one sent ceil((latency - s) / decimation) policy steps ago.
    """
    s = np.arange(decimation)
    return np.maximum(-((s[None] - latency[:, None]) // decimation), 0)
