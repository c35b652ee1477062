"""Actor and critic observations, built only from the policy contract's term lists.

Per term, IsaacLab's order: value -> noise (uniform, additive) -> clip -> scale. The actor's
sensed terms can be delayed by a per-env number of policy steps (observation latency); the
command and the policy's own last action are never delayed, as on the robot.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from robots.contract import ObsTerm, PolicyContract
from training.tasks.config import ObsCfg

# IsaacLab's additive uniform noise half-widths per term (isaaclab_velocity.md section 3).
NOISE = {
    "base_lin_vel": 0.1,
    "base_ang_vel": 0.2,
    "projected_gravity": 0.05,
    "joint_pos": 0.01,
    "joint_vel": 1.5,
    "height_scan": 0.1,
}
UNDELAYED = ("velocity_commands", "actions")  # known to the policy itself, never stale

# Height-scan grid (IsaacLab GridPattern 1.6 m x 1.0 m at 0.1 m, x varying fastest).
SCAN_X_M = np.linspace(-0.8, 0.8, 17)
SCAN_Y_M = np.linspace(-0.5, 0.5, 11)
SCAN_OFFSET_M = 0.5  # IsaacLab height_scan subtracts 0.5 m: a level base 0.5 m up reads 0


def scan_points(pos: np.ndarray, yaw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World x, y [N, 187] of the yaw-aligned scan grid around pos [N, 3]."""
    gx, gy = np.meshgrid(SCAN_X_M, SCAN_Y_M)  # [11, 17]: x fastest when flattened
    gx, gy = gx.reshape(-1), gy.reshape(-1)
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    return pos[:, 0:1] + c * gx - s * gy, pos[:, 1:2] + s * gx + c * gy


class ObservationBuilder:
    """Turns a dict of raw term values into the flat actor / critic vectors of the contract."""

    def __init__(
        self,
        contract: PolicyContract,
        cfg: ObsCfg,
        num_envs: int,
        max_delay: int,
        rng: np.random.Generator,
    ) -> None:
        self.contract = contract
        self.cfg = cfg
        self.rng = rng
        self.actor_terms = contract.obs_terms
        self.critic_terms = contract.critic_terms
        self.delay = np.zeros(num_envs, dtype=np.int64)
        # Ring of raw actor vectors, newest at index 0: [max_delay + 1, N, obs_dim].
        self.history = np.zeros((max_delay + 1, num_envs, contract.obs_dim))
        self.delayed_cols = np.concatenate(
            [np.full(t.dim, t.name not in UNDELAYED) for t in self.actor_terms]
        )
        self.actor_noise = self._noise_widths(self.actor_terms, cfg.noise)
        self.critic_noise = self._noise_widths(self.critic_terms, cfg.noise and cfg.noise_critic)
        self.actor_clip, self.actor_scale = _clip_scale(self.actor_terms)
        self.critic_clip, self.critic_scale = _clip_scale(self.critic_terms)

    def _noise_widths(self, terms: tuple[ObsTerm, ...], enabled: bool) -> np.ndarray | None:
        if not enabled:
            return None
        return np.concatenate(
            [np.full(t.dim, NOISE.get(t.name, 0.0) * self.cfg.noise_scale) for t in terms]
        )

    def reset(self, ids: np.ndarray, values: Mapping[str, np.ndarray], delay: np.ndarray) -> None:
        """Fill the history of envs `ids` with their current values (no stale past episode)."""
        raw = _concat(self.actor_terms, values)[ids]
        self.history[:, ids] = raw[None]
        self.delay[ids] = delay

    def actor(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """[N, obs_dim] actor observation; pushes the current values into the latency ring."""
        raw = _concat(self.actor_terms, values)
        if len(self.history) > 1:
            self.history = np.roll(self.history, 1, axis=0)
            self.history[0] = raw
            stale = self.history[self.delay, np.arange(raw.shape[0])]
            raw = np.where(self.delayed_cols, stale, raw)
        return self._process(raw, self.actor_noise, self.actor_clip, self.actor_scale)

    def critic(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """[N, critic_obs_dim] critic observation (privileged terms, no latency)."""
        raw = _concat(self.critic_terms, values)
        return self._process(raw, self.critic_noise, self.critic_clip, self.critic_scale)

    def _process(
        self, raw: np.ndarray, noise: np.ndarray | None, clip: np.ndarray, scale: np.ndarray
    ) -> np.ndarray:
        if noise is not None:
            raw = raw + noise * self.rng.uniform(-1.0, 1.0, size=raw.shape)
        return np.clip(raw, -clip, clip) * scale


def _concat(terms: tuple[ObsTerm, ...], values: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([values[t.name] for t in terms], axis=1)


def _clip_scale(terms: tuple[ObsTerm, ...]) -> tuple[np.ndarray, np.ndarray]:
    clip = np.concatenate([np.full(t.dim, np.inf if t.clip is None else t.clip) for t in terms])
    scale = np.concatenate([np.full(t.dim, t.scale) for t in terms])
    return clip, scale
