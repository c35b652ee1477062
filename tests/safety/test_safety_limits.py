"""Table-driven tests of the target pipeline pieces (hand-computed expectations in comments)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from robots import GO2, H1
from safety import Cause, joint_limits, safe_targets, torque_estimate
from safety.limits import clamp_targets, rate_limit, sanitize_prev, torque_limit

# the hand-computed cases below use IsaacLab's soft range (0.9 of the physical one)
LIM = joint_limits(GO2, command_dt_s=0.002, range_factor=GO2.soft_limit_factor)
LO, HI = GO2.soft_limits()
DEFAULT = GO2.values("default_q_rad")
ZERO = np.zeros(12)


def test_the_default_target_range_is_the_physical_range():
    # FL_calf is policy index 8: physical [-2.7227, -0.83776]; its soft upper limit, -0.932, is
    # where the shipped Go2 policies put their knee targets at push-off (safety/limits.py)
    lim = joint_limits(GO2, command_dt_s=0.002)
    np.testing.assert_allclose(lim.q_lo_rad, GO2.values("q_min_rad"), rtol=0, atol=1e-12)
    np.testing.assert_allclose(lim.q_hi_rad, GO2.values("q_max_rad"), rtol=0, atol=1e-12)
    t = DEFAULT.copy()
    t[8] = -0.9
    out, moved = clamp_targets(t, lim)
    assert out[8] == -0.9 and not moved
    out, moved = clamp_targets(t, LIM)
    assert out[8] == pytest.approx(-0.9320, abs=1e-4) and moved


def test_soft_limits_are_inside_hard_limits_by_the_factor():
    # FL_hip is policy index 0: hard +-1.0472, soft = +-0.9 * 1.0472 = +-0.94248
    assert LIM.q_lo_rad[0] == pytest.approx(-0.94248)
    assert LIM.q_hi_rad[0] == pytest.approx(0.94248)
    # Go2 velocity limit 30 rad/s over a 2 ms tick: 0.06 rad per tick
    assert LIM.max_step_rad == pytest.approx(np.full(12, 0.06))


@pytest.mark.parametrize(
    ("wanted", "expected", "moved"),
    [
        (0.5, 0.5, False),
        (2.0, 0.94248, True),
        (-5.0, -0.94248, True),
    ],
)
def test_clamp_to_soft_limits(wanted, expected, moved):
    t = DEFAULT.copy()
    t[0] = wanted
    out, flag = clamp_targets(t, LIM)
    assert out[0] == pytest.approx(expected, abs=1e-5)
    assert flag is moved


@pytest.mark.parametrize(
    ("prev", "wanted", "expected", "limited"),
    [
        (0.0, 0.05, 0.05, False),  # within one 0.06 rad step
        (0.0, 0.5, 0.06, True),  # capped at +0.06
        (0.3, -0.5, 0.24, True),  # capped at 0.3 - 0.06
    ],
)
def test_rate_limit_per_tick(prev, wanted, expected, limited):
    p, t = DEFAULT.copy(), DEFAULT.copy()
    p[0], t[0] = prev, wanted
    out, flag = rate_limit(t, p, LIM)
    assert out[0] == pytest.approx(expected)
    assert flag is limited


@pytest.mark.parametrize(
    ("q", "dq", "wanted", "expected"),
    [
        # kp 25, kd 0.5, tau 23.7: |25 (t - q) - 0.5 dq| <= 23.7
        (0.0, 0.0, 0.5, 0.5),  # 12.5 N m: fits
        (0.0, 0.0, 0.9, 0.9),  # 22.5 N m: fits (0.9 < 23.7 / 25 = 0.948)
        (-0.5, 0.0, 0.9, -0.5 + 0.948),  # 35 N m wanted: shrunk to q + 23.7 / 25
        (0.0, 20.0, -0.9, 0.4 - 0.948),  # centre q + kd dq / kp = 0.4; window 0.4 +- 0.948
    ],
)
def test_torque_limit_shrinks_target(q, dq, wanted, expected):
    qv, dqv, t = DEFAULT.copy(), ZERO.copy(), DEFAULT.copy()
    qv[0], dqv[0], t[0] = q, dq, wanted
    wide = dataclasses.replace(LIM, max_step_rad=np.full(12, 10.0))  # the rate window is wide
    out, _, infeasible = torque_limit(t, qv, dqv, DEFAULT, wide)
    assert not infeasible
    assert out[0] == pytest.approx(min(expected, LIM.q_hi_rad[0]), abs=1e-6)
    assert abs(torque_estimate(out, qv, dqv, LIM)[0]) <= LIM.tau_max_nm[0]


def test_h1_arm_racing_into_its_limit_is_torque_infeasible_and_minimises_torque():
    lim = joint_limits(H1, command_dt_s=0.002, range_factor=H1.soft_limit_factor)
    i = H1.policy_joint_names.index("left_shoulder_yaw")  # kp 40, kd 10, tau 18
    q, dq = H1.values("default_q_rad"), np.zeros(19)
    q[i], dq[i] = 4.1, 20.0
    # zero-torque target q + kd dq / kp = 4.1 + 5 = 9.1, far beyond the soft limit 4.1625 + 18 / 40
    out, causes = safe_targets(q.copy(), q, dq, q, lim)
    assert Cause.TORQUE_INFEASIBLE in causes and Cause.TORQUE_INFEASIBLE.is_trip
    # the soft-limited target nearest 9.1 that the rate limit allows this tick
    assert out[i] == pytest.approx(min(lim.q_hi_rad[i], q[i] + lim.max_step_rad[i]))
    assert lim.q_hi_rad[i] == pytest.approx(4.1625)


def test_fast_arm_far_from_limits_is_feasible_by_leading_the_target():
    lim = joint_limits(H1, command_dt_s=0.002, range_factor=H1.soft_limit_factor)
    i = H1.policy_joint_names.index("left_shoulder_yaw")
    q, dq = H1.values("default_q_rad"), np.zeros(19)
    dq[i] = 5.0  # kd * dq = 50 N m > 18, but q* = q + 1.25 +- 0.45 cancels it
    out, causes = safe_targets(q.copy(), q, dq, q, lim)
    assert Cause.TORQUE_INFEASIBLE not in causes and Cause.TORQUE_LIMITED in causes
    # the rate limit wins: the target leads by one max_step per tick until the torque fits
    assert out[i] == pytest.approx(q[i] + lim.max_step_rad[i])
    ticks = int(np.ceil((1.25 - 0.45) / lim.max_step_rad[i])) + 1
    for _ in range(ticks):
        out, causes = safe_targets(q.copy(), q, dq, out, lim)
    assert abs(torque_estimate(out, q, dq, lim)[i]) <= lim.tau_max_nm[i]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_action_holds_previous_targets(bad):
    t = DEFAULT.copy()
    t[3] = bad
    prev = DEFAULT + 0.01
    out, causes = safe_targets(t, DEFAULT, ZERO, prev, LIM)
    assert causes[0] is Cause.NONFINITE_ACTION
    np.testing.assert_array_equal(out, prev)


@pytest.mark.parametrize(
    ("q_value", "dq_value", "cause"),
    [
        (np.nan, 0.0, Cause.NONFINITE_STATE),
        (0.0, np.inf, Cause.NONFINITE_STATE),
        (3.0, 0.0, Cause.STATE_OUT_OF_RANGE),  # FL_hip beyond its 1.0472 hard limit
        (0.0, 100.0, Cause.STATE_OUT_OF_RANGE),  # 100 rad/s > 1.5 x 30
    ],
)
def test_unphysical_state_trips_and_keeps_targets_inside_soft_limits(q_value, dq_value, cause):
    q, dq = DEFAULT.copy(), ZERO.copy()
    q[0], dq[0] = q_value, dq_value
    out, causes = safe_targets(DEFAULT + 10.0, q, dq, DEFAULT, LIM)
    assert cause in causes and cause.is_trip
    assert np.all(out >= LO) and np.all(out <= HI)


def test_sanitize_prev_falls_back_to_measured_then_middle():
    prev = DEFAULT.copy()
    prev[0], prev[1] = np.nan, np.inf
    q = DEFAULT.copy()
    q[1] = np.nan
    out = sanitize_prev(prev, q, LIM)
    assert out[0] == DEFAULT[0]
    assert out[1] == pytest.approx(0.5 * (LO[1] + HI[1]))


def test_limits_only_are_not_trips():
    out, causes = safe_targets(DEFAULT + 0.5, DEFAULT, ZERO, DEFAULT, LIM)
    assert Cause.RATE_LIMITED in causes
    assert not any(c.is_trip for c in causes)
    np.testing.assert_allclose(out, np.clip(DEFAULT + 0.06, LO, HI))
