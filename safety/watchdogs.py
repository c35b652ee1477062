"""Watchdogs: LowState age and tick, policy deadlines, foreign writers, motor health.

Pure and synchronous: every check takes the current time (`now_ns`, from one monotonic clock)
as an argument, so tests drive them with made-up clocks and the daemon with time.monotonic_ns().
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safety.causes import Cause

_TICK_MODULUS = 1 << 32  # LowState.tick is a u32 that wraps after ~49 days at 1 kHz


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


class StateWatchdog:
    """LowState freshness: the time since a message with an *advancing* tick arrived.

    A message repeating the last tick does not refresh (a frozen publisher looks the same as a
    silent one); a tick jumping backwards trips at once. Age above `hold_after_s` holds the last
    safe targets (STATE_HOLD), above `damp_after_s` trips (STALE_STATE, or TICK_STALLED when
    messages kept arriving with a frozen tick).
    """

    def __init__(self, hold_after_s: float, damp_after_s: float) -> None:
        if not 0 < hold_after_s <= damp_after_s:
            raise ValueError("need 0 < hold_after_s <= damp_after_s")
        self.hold_after_ns = _ns(hold_after_s)
        self.damp_after_ns = _ns(damp_after_s)
        self.last_tick: int | None = None
        self.fresh_ns: int | None = None  # arrival of the last message whose tick advanced
        self.last_recv_ns: int | None = None
        self.backwards = False

    def observe(self, tick: int, recv_ns: int) -> Cause | None:
        """Feed one received LowState; TICK_BACKWARDS when its tick went back."""
        self.last_recv_ns = recv_ns
        if self.last_tick is not None:
            step = (tick - self.last_tick) % _TICK_MODULUS
            if step == 0:
                return None
            if step >= _TICK_MODULUS // 2:
                self.backwards = True
                return Cause.TICK_BACKWARDS
        self.last_tick = tick
        self.fresh_ns = recv_ns
        return None

    def age_ns(self, now_ns: int) -> int | None:
        """Nanoseconds since the last fresh LowState; None before the first one."""
        return None if self.fresh_ns is None else now_ns - self.fresh_ns

    def check(self, now_ns: int) -> Cause | None:
        """None when fresh, STATE_HOLD when briefly late, a trip cause when stale."""
        if self.backwards:
            return Cause.TICK_BACKWARDS
        age = self.age_ns(now_ns)
        if age is None or age > self.damp_after_ns:
            stalled = self.last_recv_ns is not None and self.last_recv_ns > (self.fresh_ns or 0)
            return Cause.TICK_STALLED if stalled else Cause.STALE_STATE
        return Cause.STATE_HOLD if age > self.hold_after_ns else None


class PolicyDeadline:
    """Policy output age in the motor loop: reuse the last target once, then damp.

    Output k is due one control period after output k-1. Late by up to one more period: the last
    target is reused (DEADLINE_MISS, counted once per late output); later still: POLICY_STALE.
    """

    def __init__(self, period_s: float, grace_s: float) -> None:
        self.period_ns = _ns(period_s)
        self.grace_ns = _ns(grace_s)
        self.misses = 0
        self._late_output_ns: int | None = None

    def check(self, now_ns: int, output_ns: int) -> Cause | None:
        """`output_ns`: when the latest policy output was published."""
        age = now_ns - output_ns
        if age <= self.period_ns + self.grace_ns:
            return None
        if age <= 2 * self.period_ns + self.grace_ns:
            if self._late_output_ns != output_ns:
                self._late_output_ns = output_ns
                self.misses += 1
            return Cause.DEADLINE_MISS
        return Cause.POLICY_STALE


def foreign_publisher(other_writers: int, tolerated: int = 0) -> Cause | None:
    """FOREIGN_PUBLISHER when a topic has more writers besides ours than it tolerates: rt/lowcmd
    none (sport mode, a second daemon), rt/lowstate one (the robot; a second is a sim or replay
    left running)."""
    return Cause.FOREIGN_PUBLISHER if other_writers > tolerated else None


@dataclass(frozen=True)
class MotorThresholds:
    """Motor and battery limits; a reading beyond any of them trips. No defaults here: the
    deploy settings (deploy.config.SafetyCfg) hold them, once."""

    max_lost_per_window: int  # increase of the summed `lost` counters within one window
    lost_window_s: float
    max_temperature_c: float
    min_battery_v: float


class MotorHealth:
    """Lost-frame counters, motor temperatures and battery voltage against MotorThresholds."""

    def __init__(self, limits: MotorThresholds) -> None:
        self.limits = limits
        self._window_start_ns: int | None = None
        self._lost_at_start = 0

    def check(
        self, now_ns: int, lost: np.ndarray, temperature_c: np.ndarray, battery_v: float
    ) -> Cause | None:
        if not (np.all(np.isfinite(temperature_c)) and np.isfinite(battery_v)):
            return Cause.NONFINITE_STATE
        if float(np.max(temperature_c)) > self.limits.max_temperature_c:
            return Cause.OVER_TEMPERATURE
        if battery_v < self.limits.min_battery_v:
            return Cause.LOW_BATTERY
        return self._lost(now_ns, int(np.sum(lost, dtype=np.int64)))

    def _lost(self, now_ns: int, total: int) -> Cause | None:
        window_ns = _ns(self.limits.lost_window_s)
        if self._window_start_ns is None or now_ns - self._window_start_ns > window_ns:
            self._window_start_ns, self._lost_at_start = now_ns, total
            return None
        if total - self._lost_at_start > self.limits.max_lost_per_window:
            return Cause.MOTOR_LOST
        return None
