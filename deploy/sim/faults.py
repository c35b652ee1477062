"""Fault injection on the LowState stream: latency + jitter, drops, freeze, corrupted CRC.

Decisions only; the bridge applies them. Every fault is observable from the client side (the
tests check each one that way).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from math import inf

import numpy as np

from safety.envelope import within


@dataclass(frozen=True)
class FaultConfig:
    """LowState faults; all off by default."""

    latency_ms: float = 0.0  # added delay between sensing and publishing
    jitter_ms: float = 0.0  # uniform +- jitter on that delay (never below zero, order kept)
    drop_rate: float = 0.0  # probability a LowState is not published
    freeze_after_s: float | None = None  # run time after which LowState stops changing
    bad_crc_rate: float = 0.0  # probability a published LowState carries a wrong CRC
    seed: int = 0

    def __post_init__(self) -> None:
        """ValueError naming the first value out of range; NaN and inf are out of every range."""
        for name in ("drop_rate", "bad_crc_rate"):
            value = getattr(self, name)
            if not within(value, 0.0, 1.0):
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        times = {"latency_ms": self.latency_ms, "jitter_ms": self.jitter_ms}
        if self.freeze_after_s is not None:
            times["freeze_after_s"] = self.freeze_after_s
        for name, value in times.items():
            if not within(value, 0.0, inf):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


class DelayLine:
    """Holds sensed states until their (jittered) publish time; FIFO, like one DDS link."""

    def __init__(self, faults: FaultConfig) -> None:
        self._faults = faults
        self._rng = np.random.default_rng(faults.seed)
        self._queue: deque[tuple[float, object]] = deque()
        self._last_due_s = 0.0

    def push(self, now_s: float, item: object) -> None:
        delay_s = self._faults.latency_ms * 1e-3
        if self._faults.jitter_ms > 0.0:
            delay_s += self._rng.uniform(-1.0, 1.0) * self._faults.jitter_ms * 1e-3
        due_s = max(now_s + max(delay_s, 0.0), self._last_due_s)
        self._last_due_s = due_s
        self._queue.append((due_s, item))

    def pop_due(self, now_s: float) -> list[object]:
        out = []
        while self._queue and self._queue[0][0] <= now_s:
            out.append(self._queue.popleft()[1])
        return out

    def drop(self) -> bool:
        return self._faults.drop_rate > 0.0 and self._rng.random() < self._faults.drop_rate

    def corrupt(self) -> bool:
        return self._faults.bad_crc_rate > 0.0 and self._rng.random() < self._faults.bad_crc_rate
