"""Per-foot air and contact timers, advanced every physics step (IsaacLab's air time)."""

from __future__ import annotations

import numpy as np


class ContactTimers:
    """current air / contact time and the length of the last completed air phase, [N, F] (s)."""

    def __init__(self, num_envs: int, num_feet: int, sim_dt: float) -> None:
        self.sim_dt = sim_dt
        self.air_time = np.zeros((num_envs, num_feet))
        self.contact_time = np.zeros((num_envs, num_feet))
        self.last_air_time = np.zeros((num_envs, num_feet))

    def update(self, in_contact: np.ndarray) -> None:
        """Advance by in_contact [N, decimation, F] (bool), one physics step at a time."""
        dt = self.sim_dt
        for s in range(in_contact.shape[1]):
            contact = in_contact[:, s]
            touchdown = contact & (self.air_time > 0.0)
            self.last_air_time = np.where(touchdown, self.air_time + dt, self.last_air_time)
            self.air_time = np.where(contact, 0.0, self.air_time + dt)
            self.contact_time = np.where(contact, self.contact_time + dt, 0.0)

    def reset(self, ids: np.ndarray) -> None:
        self.air_time[ids] = 0.0
        self.contact_time[ids] = 0.0
        self.last_air_time[ids] = 0.0
