"""Property: for ANY target vector and ANY measured state, published targets stay inside the soft
limits; where the measured state is physical and a fitting target exists, the torque estimate is
inside the effort limits; outside that, a trip cause is returned (the daemon damps)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robots import GO2, H1
from safety import Cause, joint_limits, safe_targets, torque_estimate
from safety.limits import sanitize_prev, torque_window

LIMITS = {r.name: joint_limits(r, command_dt_s=0.002) for r in (GO2, H1)}

# Any float at all, with the nasty ones made likely.
ANY = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308, 0.0, 5e-324]),
)


def _vectors(n: int, element) -> st.SearchStrategy[np.ndarray]:
    return st.lists(element, min_size=n, max_size=n).map(lambda v: np.array(v, dtype=np.float64))


@st.composite
def physical_states(draw, name: str):
    """q within the hard limits (+ tolerance), |dq| within 1.5 x the velocity limit."""
    lim = LIMITS[name]
    n = lim.num_joints
    u = draw(_vectors(n, st.floats(0.0, 1.0)))
    v = draw(_vectors(n, st.floats(-1.0, 1.0)))
    lo = lim.q_hard_lo_rad - lim.q_tolerance_rad
    hi = lim.q_hard_hi_rad + lim.q_tolerance_rad
    # clip: lo + 1.0 * (hi - lo) can round one ulp past hi
    return np.clip(lo + u * (hi - lo), lo, hi), v * lim.dq_tolerance * lim.dq_max_rad_s


def _check_always(out: np.ndarray, lim) -> None:
    assert out.shape == (lim.num_joints,)
    assert np.all(np.isfinite(out))
    assert np.all(out >= lim.q_lo_rad) and np.all(out <= lim.q_hi_rad)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(["go2", "h1"]))
def test_any_input_physical_state(data, name):
    lim = LIMITS[name]
    n = lim.num_joints
    targets = data.draw(_vectors(n, ANY), label="targets")
    prev = data.draw(_vectors(n, ANY), label="prev")
    q, dq = data.draw(physical_states(name), label="state")
    out, causes = safe_targets(targets, q, dq, prev, lim)
    _check_always(out, lim)
    assert Cause.STATE_OUT_OF_RANGE not in causes and Cause.NONFINITE_STATE not in causes
    anchor = sanitize_prev(prev, q, lim)
    assert np.all(np.abs(out - anchor) <= lim.max_step_rad * (1 + 1e-12))  # the rate limit wins
    tau = torque_estimate(out, q, dq, lim)
    lo, hi = torque_window(q, dq, lim)
    feasible = lo <= hi
    reachable = feasible & (hi >= anchor - lim.max_step_rad) & (lo <= anchor + lim.max_step_rad)
    assert np.all(np.abs(tau[reachable]) <= lim.tau_max_nm[reachable])
    if not np.all(feasible):
        assert Cause.TORQUE_INFEASIBLE in causes
        # the infeasible joints get the least |torque| the soft range and rate window allow
        best = np.clip(q + lim.kd * dq / lim.kp, lim.q_lo_rad, lim.q_hi_rad)
        best = np.clip(best, anchor - lim.max_step_rad, anchor + lim.max_step_rad)
        least = np.abs(torque_estimate(best, q, dq, lim))
        np.testing.assert_allclose(np.abs(tau[~feasible]), least[~feasible], rtol=1e-12)
    if not np.all(np.isfinite(targets)):
        assert Cause.NONFINITE_ACTION in causes


@settings(max_examples=1000, deadline=None)
@given(data=st.data(), name=st.sampled_from(["go2", "h1"]))
def test_any_input_any_state(data, name):
    lim = LIMITS[name]
    n = lim.num_joints
    targets, prev, q, dq = (data.draw(_vectors(n, ANY)) for _ in range(4))
    out, causes = safe_targets(targets, q, dq, prev, lim)
    _check_always(out, lim)
    physical = (
        np.all(np.isfinite(q))
        and np.all(np.isfinite(dq))
        and np.all(q >= lim.q_hard_lo_rad - lim.q_tolerance_rad)
        and np.all(q <= lim.q_hard_hi_rad + lim.q_tolerance_rad)
        and np.all(np.abs(dq) <= lim.dq_tolerance * lim.dq_max_rad_s)
    )
    if not physical:
        assert any(c in causes for c in (Cause.NONFINITE_STATE, Cause.STATE_OUT_OF_RANGE))
        assert any(c.is_trip for c in causes)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_in_range_targets_from_rest_pass_unchanged(data):
    """No false positives: a small step near the default pose at rest is published as is."""
    lim = LIMITS["go2"]
    q = GO2.values("default_q_rad")
    step = data.draw(_vectors(12, st.floats(-0.05, 0.05)))
    out, causes = safe_targets(q + step, q, np.zeros(12), q, lim)
    assert causes == ()
    np.testing.assert_array_equal(out, q + step)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), name=st.sampled_from(["go2", "h1"]), steps=st.integers(2, 12))
def test_consecutive_published_targets_move_at_most_one_step(data, name, steps):
    """Fed back as the pipeline is in the daemon (each output anchors the next), consecutive
    outputs never differ by more than max_step, whatever the targets and the torque clamp do."""
    lim = LIMITS[name]
    n = lim.num_joints
    prev = data.draw(physical_states(name))[0]
    prev = np.clip(prev, lim.q_lo_rad, lim.q_hi_rad)
    for _ in range(steps):
        targets = data.draw(_vectors(n, ANY))
        q, dq = data.draw(physical_states(name))
        out, _ = safe_targets(targets, q, dq, prev, lim)
        assert np.all(np.abs(out - prev) <= lim.max_step_rad * (1 + 1e-12))
        prev = out
