"""Guards and watchdogs, table-driven with made-up clocks."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from deploy.config import SafetyCfg
from safety import (
    Cause,
    MotorHealth,
    MotorThresholds,
    PolicyDeadline,
    StateWatchdog,
    finite_action,
    finite_obs,
    foreign_publisher,
    tilt,
)

MS = 1_000_000  # ns


def _gravity(roll_deg: float, pitch_deg: float) -> np.ndarray:
    r, p = math.radians(roll_deg), math.radians(pitch_deg)
    return np.array([math.sin(p), -math.sin(r) * math.cos(p), -math.cos(r) * math.cos(p)])


@pytest.mark.parametrize(
    ("roll", "pitch", "expected"),
    [
        (0, 0, None),
        (59, 0, None),
        (0, -59, None),
        (61, 0, Cause.TILT),
        (-61, 0, Cause.TILT),
        (0, 61, Cause.TILT),
        (180, 0, Cause.TILT),  # upside down
        (40, 40, None),
    ],
)
def test_tilt_at_60_degrees(roll, pitch, expected):
    assert tilt(_gravity(roll, pitch), math.radians(60)) is expected


def test_tilt_threshold_is_configurable_and_degenerate_vectors_trip():
    assert tilt(_gravity(35, 0), max_tilt_rad=math.radians(30)) is Cause.TILT
    assert tilt(np.zeros(3), math.radians(60)) is Cause.NONFINITE_STATE
    assert tilt(np.array([0.0, np.nan, -1.0]), math.radians(60)) is Cause.NONFINITE_STATE


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_finite_guards(bad):
    x = np.zeros(45, dtype=np.float32)
    assert finite_obs(x) is None and finite_action(x) is None
    x[7] = bad
    assert finite_obs(x) is Cause.NONFINITE_OBS
    assert finite_action(x) is Cause.NONFINITE_ACTION


def test_state_watchdog_hold_then_damp():
    w = StateWatchdog(hold_after_s=0.003, damp_after_s=0.006)
    assert w.check(0) is Cause.STALE_STATE  # nothing received yet
    w.observe(tick=10, recv_ns=0)
    assert w.check(2 * MS) is None
    assert w.check(4 * MS) is Cause.STATE_HOLD
    assert w.check(7 * MS) is Cause.STALE_STATE
    w.observe(tick=11, recv_ns=8 * MS)
    assert w.check(9 * MS) is None
    assert w.age_ns(9 * MS) == 1 * MS


def test_state_watchdog_frozen_tick_counts_as_stale():
    w = StateWatchdog(hold_after_s=0.003, damp_after_s=0.006)
    w.observe(5, 0)
    for t in range(1, 8):
        w.observe(5, t * MS)  # messages keep coming, tick frozen
    assert w.check(7 * MS) is Cause.TICK_STALLED


def test_state_watchdog_tick_backwards_trips_and_wrap_does_not():
    w = StateWatchdog(0.003, 0.006)
    w.observe(2**32 - 1, 0)
    assert w.observe(0, 1 * MS) is None  # u32 wrap is an advance
    assert w.check(1 * MS) is None
    assert w.observe(100, 2 * MS) is None  # a jump forward is fine
    assert w.observe(50, 3 * MS) is Cause.TICK_BACKWARDS
    assert w.check(3 * MS) is Cause.TICK_BACKWARDS  # latched


def test_policy_deadline_reuse_once_then_stale():
    d = PolicyDeadline(period_s=0.020, grace_s=0.002)
    assert d.check(21 * MS, 0) is None
    assert d.check(23 * MS, 0) is Cause.DEADLINE_MISS
    assert d.check(30 * MS, 0) is Cause.DEADLINE_MISS
    assert d.misses == 1  # one late output counts once
    assert d.check(43 * MS, 0) is Cause.POLICY_STALE
    assert d.check(70 * MS, 45 * MS) is Cause.DEADLINE_MISS
    assert d.misses == 2


def test_foreign_publisher_counts_writers_beyond_the_tolerated():
    assert foreign_publisher(0) is None
    assert foreign_publisher(1) is Cause.FOREIGN_PUBLISHER  # rt/lowcmd: nobody but us
    assert foreign_publisher(1, tolerated=1) is None  # rt/lowstate: the robot
    assert foreign_publisher(2, tolerated=1) is Cause.FOREIGN_PUBLISHER


def _thresholds(**changes) -> MotorThresholds:
    """The deploy defaults (SafetyCfg, the one place they live) with `changes`."""
    return dataclasses.replace(SafetyCfg().motor_thresholds(), **changes)


@pytest.mark.parametrize(
    ("temperature", "battery", "expected"),
    [(40.0, 28.0, None), (95.0, 28.0, Cause.OVER_TEMPERATURE), (40.0, 21.0, Cause.LOW_BATTERY)],
)
def test_motor_temperature_and_battery(temperature, battery, expected):
    h = MotorHealth(_thresholds(max_temperature_c=90.0, min_battery_v=22.0))
    temps = np.full(12, 30.0)
    temps[4] = temperature
    assert h.check(0, np.zeros(12), temps, battery) is expected


def test_motor_lost_counter_burst_trips_within_window():
    h = MotorHealth(_thresholds(max_lost_per_window=20, lost_window_s=1.0))
    temps = np.full(12, 30.0)
    lost = np.zeros(12, dtype=np.int64)
    assert h.check(0, lost, temps, 28.0) is None
    lost[3] = 15
    assert h.check(100 * MS, lost, temps, 28.0) is None
    lost[3] = 21
    assert h.check(200 * MS, lost, temps, 28.0) is Cause.MOTOR_LOST
    h2 = MotorHealth(_thresholds(max_lost_per_window=20, lost_window_s=1.0))
    h2.check(0, np.zeros(12), temps, 28.0)
    slow = np.zeros(12)
    for k in range(1, 6):  # 10 lost per 1.1 s: a slow trickle is tolerated
        slow[0] = 10 * k
        assert h2.check(k * 1100 * MS, slow, temps, 28.0) is None
