"""Loop metrics: preallocated sample buffers filled by the loops, summarised off the hot path."""

from __future__ import annotations

from typing import Any

import numpy as np


class Samples:
    """A fixed-capacity buffer of float samples (oldest overwritten once full); `add` allocates
    nothing, so the loops can call it every tick."""

    def __init__(self, capacity: int) -> None:
        self._buf = np.zeros(capacity)
        self._n = 0

    def add(self, value: float) -> None:
        self._buf[self._n % self._buf.shape[0]] = value
        self._n += 1

    @property
    def count(self) -> int:
        return self._n

    def values(self) -> np.ndarray:
        return self._buf[: min(self._n, self._buf.shape[0])].copy()

    def summary(self) -> dict[str, float | None]:
        """p50 / p99 / max (None when empty), rounded to 0.1."""
        v = self.values()
        if v.size == 0:
            return {"p50": None, "p99": None, "max": None}
        p50, p99 = np.percentile(v, [50, 99])
        return {
            "p50": round(float(p50), 1),
            "p99": round(float(p99), 1),
            "max": round(float(v.max()), 1),
        }


class LoopMetrics:
    """What the daemon reports: periodically and as the final JSON line."""

    def __init__(self, command_hz: float, capacity_s: float = 600.0) -> None:
        n_cmd = int(command_hz * capacity_s)
        self.cmd_jitter_us = Samples(n_cmd)  # |LowCmd period - nominal|
        self.inference_us = Samples(n_cmd // 5)
        self.state_to_cmd_us = Samples(n_cmd // 5)  # policy tick start -> LowCmd written
        self.state_age_us = Samples(n_cmd // 5)  # LowState age when the policy read it
        self.policy_ticks = 0
        self.deadline_misses = 0
        self.states_visited: list[str] = []
        self.safety_events: list[str] = []
        self.sim: dict[str, float | None] = {}

    def visit(self, mode: str) -> None:
        if not self.states_visited or self.states_visited[-1] != mode:
            self.states_visited.append(mode)

    def event(self, cause: str) -> None:
        """A safety trip; repeated identical causes in a row are listed once."""
        if not self.safety_events or self.safety_events[-1] != cause:
            self.safety_events.append(cause)

    def line(self) -> str:
        """One human-readable status line."""
        j, i = self.cmd_jitter_us.summary(), self.inference_us.summary()
        s, a = self.state_to_cmd_us.summary(), self.state_age_us.summary()
        return (
            f"mode {self.states_visited[-1] if self.states_visited else '-'} | "
            f"policy ticks {self.policy_ticks}, deadline misses {self.deadline_misses} | "
            f"cmd jitter p99 {j['p99']} us | inference p50 {i['p50']} p99 {i['p99']} max "
            f"{i['max']} us | LowState age at inference p99 {a['p99']} us | "
            f"state->cmd p99 {s['p99']} us"
        )

    def final(self, fell: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "states_visited": list(self.states_visited),
            "safety_events": list(self.safety_events),
            "policy_ticks": self.policy_ticks,
            "deadline_misses": self.deadline_misses,
            "cmd_period_jitter_us": self.cmd_jitter_us.summary(),
            "inference_us": self.inference_us.summary(),
            "state_to_cmd_us": self.state_to_cmd_us.summary(),
            "fell": fell,
        }
        out.update(self.sim)
        return out
