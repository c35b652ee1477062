"""Acceptance fuzz: any deploy settings and any artifact metadata either are refused (an
EnvelopeError, one sentence naming the field) or leave gains, damping, chords and periods inside
their documented envelopes. The validation functions are called directly (fast); the CLI path
around them is covered by tests/deploy/test_refusals.py."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.compat import zip_strict
from deploy.config import DeployCfg, load_deploy_cfg
from deploy.io.remote import KEY_BITS
from deploy.validate import (
    check_against_policy,
    check_settings,
    chord_mask,
    damping_kd,
)
from robots import GO2, H1, get_robot
from robots.artifact import Artifact, GoldenVectors
from robots.contract import make_contract
from safety import Cause, MotorHealth
from safety.envelope import (
    COMMAND_HZ_RANGE,
    CONTROL_DT_RANGE_S,
    DAMPING_KD_RANGE,
    GAIN_MARGIN,
    GOLDEN_ATOL_MAX,
    MAX_LOOP_STALL_S,
    MAX_STATE_DAMP_S,
    OFFSET_TOLERANCE_RAD,
    EnvelopeError,
    check_artifact,
)

NASTY = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, -1.0, 1e-9, 1e9, math.nan, math.inf, -math.inf]),
    st.integers(-(10**6), 10**6),
)
KEY_NAMES = list(KEY_BITS)
CHORDS = st.one_of(
    st.lists(st.sampled_from(KEY_NAMES), min_size=0, max_size=5).map("+".join),
    st.text(max_size=8),
    st.sampled_from(["+", "L2+", "+B", "L2++B", " ", "l2+b"]),
)
NUMERIC = [
    (section, f.name)
    for section in ("safety", "motion", "commands", "timing", "auto", "recorder", "sim")
    for f in dataclasses.fields(getattr(DeployCfg(), section))
    if f.type in ("float", "int")
]


def _with(cfg: DeployCfg, section: str, key: str, value) -> DeployCfg:
    part = dataclasses.replace(getattr(cfg, section), **{key: value})
    return dataclasses.replace(cfg, **{section: part})


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    robot=st.sampled_from(["go2", "h1"]),
    sim=st.booleans(),
    changes=st.lists(st.tuples(st.sampled_from(NUMERIC), NASTY), max_size=4),
    chords=st.tuples(CHORDS, CHORDS, CHORDS) | st.none(),
    control_dt=st.sampled_from([0.005, 0.02, 0.05]),
)
def test_settings_are_refused_or_inside_their_envelope(robot, sim, changes, chords, control_dt):
    spec = get_robot(robot)
    cfg = load_deploy_cfg(robot, sim)
    for (section, key), value in changes:
        cfg = _with(cfg, section, key, value)
    if chords is not None:
        cfg = _with(cfg, "remote", "estop", chords[0])
        cfg = _with(cfg, "remote", "stand", chords[1])
        cfg = _with(cfg, "remote", "policy", chords[2])
    try:
        check_settings(cfg, spec, sim)
        check_against_policy(cfg, control_dt)
    except EnvelopeError as exc:
        text = str(exc)
        assert "\n" not in text and text.startswith("deploy setting ")
        return
    s, t, m = cfg.safety, cfg.timing, cfg.motion
    assert DAMPING_KD_RANGE[0] <= damping_kd(cfg, spec) <= DAMPING_KD_RANGE[1]
    assert 0 <= m.passive_kd <= DAMPING_KD_RANGE[1]
    estop = chord_mask(cfg.remote.estop, "remote.estop")
    assert estop != 0 and estop not in (
        chord_mask(cfg.remote.stand, "remote.stand"),
        chord_mask(cfg.remote.policy, "remote.policy"),
    )
    for text in (cfg.remote.estop, cfg.remote.stand, cfg.remote.policy):
        keys = {k.strip() for k in text.split("+")}
        assert len(keys) <= 3 and not {"Up", "Down"} <= keys and not {"Left", "Right"} <= keys
    period = 1.0 / t.command_hz
    assert COMMAND_HZ_RANGE[0] <= t.command_hz <= COMMAND_HZ_RANGE[1]
    assert period < s.state_hold_s <= s.state_damp_s <= MAX_STATE_DAMP_S
    assert s.state_damp_s <= s.loop_stall_s <= MAX_LOOP_STALL_S
    assert 0 <= s.max_lost_per_window < t.command_hz * s.lost_window_s  # a lost motor trips
    cells = spec.battery_cells
    assert (sim and s.min_battery_v == 0) or 3.0 * cells <= s.min_battery_v <= 4.2 * cells
    assert 2 * period <= control_dt and 0 <= s.policy_grace_s < control_dt
    assert 0 < s.torque_factor <= 1 and 0 < s.target_speed_factor <= 1
    assert 0 < s.target_range_factor <= 1
    assert t.budget_calls >= 100 and 0 <= cfg.sim.control_port <= 65535
    assert all(math.isfinite(v) for v in (s.max_tilt_deg, m.stand_speed_rad_s, m.blend_s))


def _artifact(robot, kp, kd, scale, offset, dt, ranges, obs_scale, atol) -> Artifact:
    contract = make_contract(robot, "flat", control_dt_s=dt)
    terms = (dataclasses.replace(contract.obs_terms[0], scale=obs_scale),) + contract.obs_terms[1:]
    action = dataclasses.replace(contract.action, scale=scale, offset=tuple(offset))
    contract = dataclasses.replace(
        contract, obs_terms=terms, action=action, command_ranges=tuple(ranges)
    )
    facts = _facts(robot, kp, kd, offset)
    golden = GoldenVectors(np.zeros((1, 1)), None, np.zeros((1, 1)), atol)
    return Artifact(None, facts, contract, golden, {}, {})  # type: ignore[arg-type]


def _facts(robot, kp, kd, offset):
    from robots.artifact import RobotFacts

    return RobotFacts(
        robot.name, robot.display_name, robot.idl_family, robot.num_motor_slots,
        robot.policy_joint_names, tuple(robot.isaac_to_sdk.tolist()), tuple(offset),
        tuple(kp), tuple(kd),
    )  # fmt: skip


def _factor() -> st.SearchStrategy[float]:
    return st.one_of(st.floats(-20, 20), st.sampled_from([1.0, 1.0, 0.5, 2.0, math.nan]))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    robot=st.sampled_from([GO2, H1]),
    kp_f=_factor(), kd_f=_factor(), scale_f=_factor(),
    offset_d=st.one_of(st.floats(-1, 1), st.just(0.0), st.just(math.inf)),
    dt=NASTY, range_f=_factor(), obs_scale=NASTY, atol=NASTY,
    joint=st.integers(0, 11),
)  # fmt: skip
def test_artifact_metadata_refused_or_inside_its_envelope(
    robot, kp_f, kd_f, scale_f, offset_d, dt, range_f, obs_scale, atol, joint
):
    kp, kd = robot.values("kp"), robot.values("kd")
    kp[joint] *= kp_f
    kd[joint] *= kd_f
    offset = robot.values("default_q_rad")
    offset[joint] += offset_d
    ranges = [(lo * range_f, hi * range_f) for lo, hi in robot.command_ranges]
    art = _artifact(robot, kp, kd, robot.action_scale * scale_f, offset, float(dt), ranges,
                    float(obs_scale), float(atol))  # fmt: skip
    try:
        check_artifact(art, robot)
    except EnvelopeError as exc:
        assert str(exc).startswith("policy artifact field '") and "\n" not in str(exc)
        return
    for got, train in ((kp, robot.values("kp")), (kd, robot.values("kd"))):
        assert np.all(got > 0) and np.all(got >= train / GAIN_MARGIN - 1e-12)
        assert np.all(got <= train * GAIN_MARGIN + 1e-12)
    lo, hi = robot.soft_limits()
    assert np.all((offset >= lo) & (offset <= hi))
    assert np.all(np.abs(offset - robot.values("default_q_rad")) <= OFFSET_TOLERANCE_RAD)
    assert CONTROL_DT_RANGE_S[0] <= art.contract.control_dt_s <= CONTROL_DT_RANGE_S[1]
    assert 0 <= art.golden.atol <= GOLDEN_ATOL_MAX
    assert art.contract.obs_terms[0].scale > 0
    for (a, b), (ra, rb) in zip_strict(art.contract.command_ranges, robot.command_ranges):
        assert ra <= a <= b <= rb


def test_shipped_settings_and_training_facts_are_inside():
    for name in ("go2", "h1"):
        robot = get_robot(name)
        for sim in (False, True):
            check_settings(load_deploy_cfg(name, sim), robot, sim)
        kp, kd, pose = (robot.values(k) for k in ("kp", "kd", "default_q_rad"))
        art = _artifact(robot, kp, kd, robot.action_scale, pose, 0.02, robot.command_ranges,
                        1.0, 1e-4)  # fmt: skip
        check_artifact(art, robot)


def test_the_largest_lost_frame_limit_still_trips_a_motor_losing_every_frame():
    """The envelope's bound on safety.max_lost_per_window is the last value at which a motor
    that loses every frame trips (MotorHealth trips on an increase above the limit)."""
    cfg = load_deploy_cfg("go2", False)
    t, s = cfg.timing, cfg.safety
    frames = int(t.command_hz * s.lost_window_s)
    with pytest.raises(EnvelopeError, match="safety.max_lost_per_window"):
        check_settings(_with(cfg, "safety", "max_lost_per_window", frames), GO2)
    cfg = _with(cfg, "safety", "max_lost_per_window", frames - 1)
    check_settings(cfg, GO2)
    health = MotorHealth(cfg.safety.motor_thresholds())
    period_ns, lost, hot = (
        round(1e9 / t.command_hz),
        np.zeros(12, dtype=np.int64),
        np.full(12, 40.0),
    )
    causes = []
    for k in range(3 * frames):
        lost[0] = k  # motor 0 loses every frame
        causes.append(health.check(k * period_ns, lost, hot, 28.0))
    assert Cause.MOTOR_LOST in causes
