"""Actor and critic observations of the training environment: noise and latency on top of the
contract's term table.

Terms, their computation from a (batched) robot state, noise half-widths, clips and scales all
come from robots/observations.py, the code the deploy daemon runs too. Here, per term, IsaacLab's
order: value -> noise (uniform, additive) -> clip -> scale. The actor's sensed terms can be
delayed by a per-env number of policy steps (observation latency); terms the table marks
undelayed (the command, the policy's own last action) never are, as on the robot.
"""

from __future__ import annotations

import numpy as np

from robots.contract import PolicyContract
from robots.observations import ObservationHistory, ObservationLayout, ObservedState
from training.tasks.config import ObsCfg

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


class TrainingObservations:
    """Turns a batched robot state into the flat actor / critic vectors of the contract."""

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
        self.actor_layout = ObservationLayout(contract)
        self.critic_layout = ObservationLayout(contract, critic=True)
        self.delay = np.zeros(num_envs, dtype=np.int64)
        # Ring of raw actor vectors, newest at index 0: [max_delay + 1, N, obs_dim].
        self.history = np.zeros((max_delay + 1, num_envs, contract.frame_dim))
        self.actor_noise = self._noise_widths(self.actor_layout, cfg.noise)
        # The actor's frames after noise, clip and scale, as IsaacLab stacks its group history.
        self.frames = ObservationHistory(contract.history_frames, contract.frame_dim, (num_envs,))
        self.critic_noise = self._noise_widths(self.critic_layout, cfg.noise and cfg.noise_critic)

    def _noise_widths(self, layout: ObservationLayout, enabled: bool) -> np.ndarray | None:
        return layout.noise * self.cfg.noise_scale if enabled else None

    def reset(self, ids: np.ndarray, state: ObservedState, delay: np.ndarray) -> None:
        """Fill the history of envs `ids` with their current values (no stale past episode)."""
        raw = _raw(self.actor_layout, state)[ids]
        self.history[:, ids] = raw[None]
        self.delay[ids] = delay
        self.frames.restart(ids)

    def actor(self, state: ObservedState) -> np.ndarray:
        """[N, obs_dim] actor observation (history_frames frames, oldest first); pushes the
        current values into the latency ring and the frame history."""
        raw = _raw(self.actor_layout, state)
        if len(self.history) > 1:
            self.history = np.roll(self.history, 1, axis=0)
            self.history[0] = raw
            stale = self.history[self.delay, np.arange(raw.shape[0])]
            raw = np.where(self.actor_layout.delayed, stale, raw)
        frame = self._process(raw, self.actor_noise, self.actor_layout)
        return self.frames.push(frame).copy()

    def critic(self, state: ObservedState) -> np.ndarray:
        """[N, critic_obs_dim] critic observation (privileged terms, no latency)."""
        raw = _raw(self.critic_layout, state)
        return self._process(raw, self.critic_noise, self.critic_layout)

    def _process(
        self, raw: np.ndarray, noise: np.ndarray | None, layout: ObservationLayout
    ) -> np.ndarray:
        if noise is not None:
            raw = raw + noise * self.rng.uniform(-1.0, 1.0, size=raw.shape)
        return layout.clip_scale(raw)


def _raw(layout: ObservationLayout, state: ObservedState) -> np.ndarray:
    """[N, dim] raw term values of a batched state."""
    return layout.compute(state, np.empty((len(state.q_rad), layout.dim)))
