"""The daemon's observation: parsed LowState arrays + command + last action -> the policy's input.

A thin per-tick wrapper over the contract's term table (robots/observations.py), the same
computation the training environment runs on a batch: term order and dims from the artifact's
contract, then per term clip -> scale (training adds noise before the clip, deploy has none),
then the contract's frame history (ObservationHistory, as training stacks it). A run enters
POLICY once (DAMP absorbs), so the first build is the phase's first frame and fills every slot,
as an episode start does in training; the last action starts at zero there too.
Unknown or undeployable terms are refused at construction, before anything moves.
"""

from __future__ import annotations

import numpy as np

from robots.contract import PolicyContract
from robots.observations import ObservationHistory, ObservationLayout, ObservedState


class ObservationBuilder:
    """Writes the observation into a caller-owned float32 buffer (the runtime's bound input).

    `build(quat, gyro, command, q, dq, last_action, out)`: quat (w, x, y, z) and gyro (rad/s) of
    the root body; command (vx, vy, wz); q, dq, last_action in policy joint order. Allocates no
    array per call: one state record is refilled, and each term writes into a bound view.
    """

    def __init__(self, contract: PolicyContract) -> None:
        self.contract = contract
        self.layout = ObservationLayout(contract, deployable_only=True)
        self._raw = np.zeros(self.layout.dim)
        self._parts = [(compute, self._raw[cols]) for compute, cols in self.layout.parts]
        none = np.zeros(0)
        self._state = ObservedState(none, none, none, none, none, none)
        self.history = ObservationHistory(contract.history_frames, self.layout.dim)

    def build(
        self,
        quat_wxyz: np.ndarray,
        gyro_rad_s: np.ndarray,
        command: np.ndarray,
        q_rad: np.ndarray,
        dq_rad_s: np.ndarray,
        last_action: np.ndarray,
        out: np.ndarray,
    ) -> np.ndarray:
        """Fill `out` [obs_dim] (float32) and return it."""
        s = self._state
        s.quat_wxyz, s.gyro_rad_s, s.command = quat_wxyz, gyro_rad_s, command
        s.q_rad, s.dq_rad_s, s.last_action = q_rad, dq_rad_s, last_action
        default_q = self.layout.default_q
        for compute, columns in self._parts:
            compute(s, default_q, columns)
        self.layout.clip_scale(self._raw, out=self._raw)
        out[:] = self.history.push(self._raw)
        return out
