"""Observation builder: parsed LowState arrays + command + last action -> the policy's input.

Follows the artifact's contract exactly: term order, dims, then per term clip -> scale (IsaacLab
order; training adds noise before the clip, deploy has none). Unknown or undeployable terms are
refused at construction, before anything moves.
"""

from __future__ import annotations

import numpy as np

from robots.contract import PolicyContract
from robots.errors import UserError


def projected_gravity(quat_wxyz: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Unit gravity (0, 0, -1) in the body frame of a (w, x, y, z) quaternion, into `out` [3].

    -(third row of R), with R body->world; the same formula the training backend uses.
    """
    w, x, y, z = quat_wxyz / np.sqrt(np.dot(quat_wxyz, quat_wxyz))
    out[0] = -2.0 * (x * z - w * y)
    out[1] = -2.0 * (y * z + w * x)
    out[2] = -(1.0 - 2.0 * (x * x + y * y))
    return out


class ObservationBuilder:
    """Writes the observation into a caller-owned float32 buffer (the runtime's bound input).

    `build(quat, gyro, command, q, dq, last_action, out)`: quat (w, x, y, z) and gyro (rad/s) of
    the root body; command (vx, vy, wz); q, dq, last_action in policy joint order.
    """

    def __init__(self, contract: PolicyContract) -> None:
        n = contract.num_actions
        self.contract = contract
        self.default_q = np.asarray(contract.action.offset, dtype=np.float64)
        self._gravity = np.zeros(3)
        dims = {
            "base_ang_vel": 3,
            "projected_gravity": 3,
            "velocity_commands": len(contract.command_names),
            "joint_pos": n,
            "joint_vel": n,
            "actions": n,
        }
        self._raw = np.zeros(contract.obs_dim)
        self._slices: list[tuple[str, slice]] = []
        start = 0
        for term in contract.obs_terms:
            if term.name not in dims:
                raise UserError(
                    f"the policy reads observation term {term.name!r}, which the robot cannot "
                    f"provide; deployable terms: {', '.join(dims)}"
                )
            if term.dim != dims[term.name]:
                raise UserError(
                    f"observation term {term.name!r} has {term.dim} values in the policy "
                    f"contract but {dims[term.name]} on this robot"
                )
            self._slices.append((term.name, slice(start, start + term.dim)))
            start += term.dim
        self._clip = np.concatenate(
            [np.full(t.dim, np.inf if t.clip is None else t.clip) for t in contract.obs_terms]
        )
        self._scale = np.concatenate([np.full(t.dim, t.scale) for t in contract.obs_terms])

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
        raw = self._raw
        for name, sl in self._slices:
            if name == "base_ang_vel":
                raw[sl] = gyro_rad_s
            elif name == "projected_gravity":
                raw[sl] = projected_gravity(quat_wxyz, self._gravity)
            elif name == "velocity_commands":
                raw[sl] = command
            elif name == "joint_pos":
                np.subtract(q_rad, self.default_q, out=raw[sl])
            elif name == "joint_vel":
                raw[sl] = dq_rad_s
            else:  # "actions": the raw policy output of the previous tick
                raw[sl] = last_action
        np.clip(raw, -self._clip, self._clip, out=raw)
        raw *= self._scale
        out[:] = raw
        return out
