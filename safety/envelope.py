"""The documented envelope of everything that reaches the motors, checked before anything is sent.

Robot facts (joint and torque limits, training gains, default pose, command ranges, damping kd)
live in robots/; this module holds the margins around them and the checks. Deploy settings
(deploy/validate.py) and artifact metadata (`check_artifact`) are refused with one sentence naming
the field when they leave it: nothing a user sets or an artifact carries may weaken damping, the
e-stop or the limits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from common.compat import zip_strict
from common.errors import UserError
from robots.artifact import Artifact
from robots.spec import RobotSpec

# Gains, action scale: within this factor of the robot's training values (robots/), both ways.
# legged_gym's Go2 kp 20 vs IsaacLab's 25, and H1 action scales 0.25 vs 0.5, sit well inside.
GAIN_MARGIN = 2.0
# DAMP / PASSIVE kd (kp 0): deploy.md asks 3-8; below 1 a falling robot is barely slowed, above 10
# the motor driver's velocity loop chatters on encoder noise.
DAMPING_KD_RANGE = (1.0, 10.0)
# Default pose / action offset: within this of the robot's training pose, and inside the soft
# limits. Covers the published alternatives (MuJoCo "home", unitree_rl_gym's H1 crouch, <= 0.49).
OFFSET_TOLERANCE_RAD = 0.5
# Policy control period: 200 Hz .. 20 Hz (the shipped tasks run at 50 Hz).
CONTROL_DT_RANGE_S = (0.005, 0.05)
# Motor loop rate (timing.command_hz): a LowCmd at least every 10 ms, at most the 1 kHz the
# motor bus accepts.
COMMAND_HZ_RANGE = (100.0, 1000.0)
# LowState age: hold the last safe targets after state_hold_s, damp after state_damp_s; a robot
# left on stale targets longer than this is not under control.
MAX_STATE_DAMP_S = 0.1
# A motor loop that has not ticked this long: the supervisor damps without it (loop_stall_s).
MAX_LOOP_STALL_S = 0.5
# Observation scales: positive (a sign flip is never a convention) and within these bounds
# (IsaacLab uses 1, legged_gym 0.05 .. 5).
OBS_SCALE_RANGE = (1e-3, 1e2)
OBS_CLIP_MAX = 1e4
# Golden-vector tolerance: an fp16 engine needs ~2e-3; anything looser hides an altered model.
GOLDEN_ATOL_MAX = 1e-2
# STAND: the fastest joint speed while standing up from the measured pose.
MAX_STAND_SPEED_RAD_S = 2.0
# Battery: the low-battery trip may not be set below this per cell on a robot (the BMS cuts out
# near 3.0 V per cell under load), nor above a full cell; --sim, whose battery is not simulated,
# may set 0.
BATTERY_CELL_V_RANGE = (3.0, 4.2)
MAX_TILT_DEG = 90.0  # beyond 90 degrees the robot is on its side before the guard trips


class EnvelopeError(UserError):
    """A deploy setting or artifact field outside its documented envelope."""


def finite(value: float) -> bool:
    """A real, finite number (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return math.isfinite(value)


def within(value: float, lo: float, hi: float) -> bool:
    """lo <= value <= hi and finite (NaN is never within anything)."""
    return finite(value) and lo <= value <= hi


def damping_kd_ok(kd: float) -> bool:
    return within(kd, *DAMPING_KD_RANGE)


def gains_ok(values: Sequence[float], training: np.ndarray) -> bool:
    """Every value finite, > 0, and within GAIN_MARGIN of the training value (both ways)."""
    v = np.asarray(values, dtype=np.float64)
    return bool(
        v.shape == training.shape
        and np.all(np.isfinite(v))
        and np.all(v >= training / GAIN_MARGIN)
        and np.all(v <= training * GAIN_MARGIN)
    )


def check_artifact(artifact: Artifact, robot: RobotSpec) -> None:
    """Raise EnvelopeError naming the first artifact field that reaches the motors (or the
    observation / golden check guarding them) and leaves its envelope."""
    facts, contract = artifact.robot, artifact.contract
    _need(
        gains_ok(facts.kp, robot.values("kp")),
        "robot.kp",
        f"must be within {GAIN_MARGIN:g}x of {robot.name}'s training kp",
    )
    _need(
        gains_ok(facts.kd, robot.values("kd")),
        "robot.kd",
        f"must be > 0 and within {GAIN_MARGIN:g}x of {robot.name}'s training kd",
    )
    _need(_offsets_ok(facts.default_q_rad, robot), "robot.default_q_rad", _OFFSET_RULE)
    a = contract.action
    _need(_offsets_ok(a.offset, robot), "contract.action.offset", _OFFSET_RULE)
    lo, hi = robot.action_scale / GAIN_MARGIN, robot.action_scale * GAIN_MARGIN
    _need(within(a.scale, lo, hi), "contract.action.scale", f"must be in [{lo:g}, {hi:g}]")
    _need(
        a.clip is None or within(a.clip, 1e-3, OBS_CLIP_MAX),
        "contract.action.clip",
        f"must be null or in (0, {OBS_CLIP_MAX:g}]",
    )
    _need(
        within(contract.control_dt_s, *CONTROL_DT_RANGE_S),
        "contract.control_dt_s",
        "must be in [{:g}, {:g}] s".format(*CONTROL_DT_RANGE_S),
    )
    _check_command_ranges(contract.command_ranges, robot)
    for i, term in enumerate(contract.obs_terms):
        _need(
            within(term.scale, *OBS_SCALE_RANGE),
            f"contract.obs_terms[{i}].scale",
            "must be in [{:g}, {:g}]".format(*OBS_SCALE_RANGE),
        )
        _need(
            term.clip is None or within(term.clip, 1e-3, OBS_CLIP_MAX),
            f"contract.obs_terms[{i}].clip",
            f"must be null or in (0, {OBS_CLIP_MAX:g}]",
        )
    _need(
        within(artifact.golden.atol, 0.0, GOLDEN_ATOL_MAX),
        "golden.atol",
        f"must be in [0, {GOLDEN_ATOL_MAX:g}]",
    )


_OFFSET_RULE = (
    f"must be inside the soft joint limits and within {OFFSET_TOLERANCE_RAD} rad "
    "of the training pose"
)


def _offsets_ok(values: Sequence[float], robot: RobotSpec) -> bool:
    v = np.asarray(values, dtype=np.float64)
    lo, hi = robot.soft_limits()
    default = robot.values("default_q_rad")
    return bool(
        v.shape == default.shape
        and np.all(np.isfinite(v))
        and np.all(v >= lo)
        and np.all(v <= hi)
        and np.all(np.abs(v - default) <= OFFSET_TOLERANCE_RAD)
    )


def _check_command_ranges(ranges: Sequence[tuple[float, float]], robot: RobotSpec) -> None:
    _need(
        len(ranges) == len(robot.command_ranges),
        "contract.command_ranges",
        f"must hold {len(robot.command_ranges)} (lo, hi) pairs",
    )
    for i, ((lo, hi), (rlo, rhi)) in enumerate(zip_strict(ranges, robot.command_ranges)):
        _need(
            within(lo, rlo, rhi) and within(hi, lo, rhi),
            f"contract.command_ranges[{i}]",
            f"must lie within {robot.name}'s [{rlo:g}, {rhi:g}]",
        )


def _need(ok: bool, field: str, rule: str) -> None:
    if not ok:
        raise EnvelopeError(f"policy artifact field {field!r} {rule}; re-export the policy")
