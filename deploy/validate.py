"""Deploy settings range-checked against their documented envelope before DDS opens.

`check_settings` covers DeployCfg on its own, `check_against_policy` what depends on the artifact
(the control period), `check_stand_pose` the joint-target bounds against the pose STAND goes to,
`check_run` the command line. A violation is one sentence naming the key
and its rule (an EnvelopeError, so exit 2 with nothing on the wire). Margins: safety/envelope.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deploy.config import MAX_EXTRA_KD, DeployCfg
from deploy.io.remote import key_mask
from robots.spec import RobotSpec
from safety import JointLimits
from safety.envelope import (
    BATTERY_CELL_V_RANGE,
    COMMAND_HZ_RANGE,
    DAMPING_KD_RANGE,
    MAX_LOOP_STALL_S,
    MAX_STAND_SPEED_RAD_S,
    MAX_STATE_DAMP_S,
    MAX_TILT_DEG,
    EnvelopeError,
    finite,
    within,
)

DDS_DOMAIN_MAX = 232  # the DDS spec's largest domain id (port mapping)
PORT_MAX = 65535


def check_settings(cfg: DeployCfg, robot: RobotSpec, sim: bool = False) -> None:
    """Every DeployCfg value within its envelope, in a fixed order (the first failure is named);
    `sim` (genpo-sim on loopback) lets the battery floor go, which no simulator models."""
    s, t = cfg.safety, cfg.timing
    period_s = 1.0 / t.command_hz if finite(t.command_hz) and t.command_hz > 0 else float("nan")
    _need(
        within(t.command_hz, *COMMAND_HZ_RANGE),
        "timing.command_hz",
        t.command_hz,
        "must be in [{:g}, {:g}] Hz".format(*COMMAND_HZ_RANGE),
    )
    _need(
        _positive(s.max_tilt_deg, MAX_TILT_DEG),
        "safety.max_tilt_deg",
        s.max_tilt_deg,
        f"must be in (0, {MAX_TILT_DEG:g}]",
    )
    _need(
        _positive(s.target_speed_factor, 1.0),
        "safety.target_speed_factor",
        s.target_speed_factor,
        "must be in (0, 1]: the rate limit never exceeds joint speed",
    )
    _need(
        _positive(s.torque_factor, 1.0),
        "safety.torque_factor",
        s.torque_factor,
        "must be in (0, 1]: the torque bound never exceeds the motors' limits",
    )
    _need(
        _positive(s.target_range_factor, 1.0),
        "safety.target_range_factor",
        s.target_range_factor,
        "must be in (0, 1]: targets never leave the joints' physical range",
    )
    _need(
        finite(s.state_hold_s) and period_s < s.state_hold_s,
        "safety.state_hold_s",
        s.state_hold_s,
        f"must be longer than one command period ({period_s:g} s)",
    )
    _need(
        within(s.state_damp_s, s.state_hold_s, MAX_STATE_DAMP_S),
        "safety.state_damp_s",
        s.state_damp_s,
        f"must be in [safety.state_hold_s, {MAX_STATE_DAMP_S:g}] s",
    )
    _need(
        within(s.loop_stall_s, s.state_damp_s, MAX_LOOP_STALL_S),
        "safety.loop_stall_s",
        s.loop_stall_s,
        f"must be in [safety.state_damp_s, {MAX_LOOP_STALL_S:g}] s",
    )
    _need(
        within(s.policy_grace_s, 0.0, 1.0),
        "safety.policy_grace_s",
        s.policy_grace_s,
        "must be in [0, 1] s",
    )
    _need(
        _positive(s.lost_window_s, 60.0),
        "safety.lost_window_s",
        s.lost_window_s,
        "must be in (0, 60] s",
    )
    # The check trips on an increase above the limit: from one lost frame per motor period of
    # the window on, not even a motor that lost every frame would trip.
    max_lost = int(t.command_hz * s.lost_window_s) - 1
    _need(
        within(s.max_lost_per_window, 0, max_lost),
        "safety.max_lost_per_window",
        s.max_lost_per_window,
        f"must be in [0, {max_lost}] (below timing.command_hz x safety.lost_window_s)",
    )
    _need(
        _positive(s.max_temperature_c, 150.0),
        "safety.max_temperature_c",
        s.max_temperature_c,
        "must be in (0, 150] C",
    )
    cell_lo, cell_hi = BATTERY_CELL_V_RANGE
    battery_lo, battery_hi = cell_lo * robot.battery_cells, cell_hi * robot.battery_cells
    _need(
        within(s.min_battery_v, battery_lo, battery_hi) or (sim and s.min_battery_v == 0),
        "safety.min_battery_v",
        s.min_battery_v,
        f"must be in [{battery_lo:g}, {battery_hi:g}] V for {robot.name}'s "
        f"{robot.battery_cells}-cell pack (0 only with --sim)",
    )
    _need(
        _positive(s.budget_share, 1.0), "safety.budget_share", s.budget_share, "must be in (0, 1]"
    )
    _need(
        _positive(s.foreign_poll_s, 5.0),
        "safety.foreign_poll_s",
        s.foreign_poll_s,
        "must be in (0, 5] s",
    )
    _check_motion(cfg, robot)
    _check_remote(cfg)
    _check_rest(cfg, period_s)


def damping_kd(cfg: DeployCfg, robot: RobotSpec) -> float:
    """The DAMP kd in force: motion.damping_kd, or the robot's when it is 0."""
    return cfg.motion.damping_kd or robot.damping_kd


def _check_motion(cfg: DeployCfg, robot: RobotSpec) -> None:
    m = cfg.motion
    kd_lo, kd_hi = DAMPING_KD_RANGE
    _need(
        within(m.extra_kd, 0.0, MAX_EXTRA_KD),
        "motion.extra_kd",
        m.extra_kd,
        f"must be in [0, {MAX_EXTRA_KD:g}] N m s/rad",
    )
    _need(
        _positive(m.stand_speed_rad_s, MAX_STAND_SPEED_RAD_S),
        "motion.stand_speed_rad_s",
        m.stand_speed_rad_s,
        f"must be in (0, {MAX_STAND_SPEED_RAD_S:g}] rad/s",
    )
    _need(
        within(m.stand_min_s, 0.0, 60.0),
        "motion.stand_min_s",
        m.stand_min_s,
        "must be in [0, 60] s",
    )
    _need(within(m.blend_s, 0.0, 10.0), "motion.blend_s", m.blend_s, "must be in [0, 10] s")
    _need(
        within(m.passive_kd, 0.0, kd_hi),
        "motion.passive_kd",
        m.passive_kd,
        f"must be in [0, {kd_hi:g}] (0: zero torque)",
    )
    _need(
        m.damping_kd == 0 or within(m.damping_kd, kd_lo, kd_hi),
        "motion.damping_kd",
        m.damping_kd,
        f"must be in [{kd_lo:g}, {kd_hi:g}] (0: {robot.name}'s {robot.damping_kd:g})",
    )


MAX_CHORD_KEYS = 3  # an e-stop is pressed in a hurry: two hands, at most three keys
# Opposite directions of the remote's D-pad, one rocker: never held down together.
_EXCLUSIVE_KEYS = (frozenset({"Up", "Down"}), frozenset({"Left", "Right"}))


def chord_mask(text: str, key: str) -> int:
    """Key mask of a "+"-joined chord; EnvelopeError for an empty chord, an empty part, an
    unknown key, more than MAX_CHORD_KEYS keys or opposite D-pad directions (an e-stop that can
    never match, or not in a hurry, is no e-stop)."""
    parts = [p.strip() for p in str(text).split("+")]
    if not all(parts):
        raise EnvelopeError(
            f"deploy setting {key} = {text!r} must be one or more remote keys joined by '+' "
            "(e.g. L2+B)"
        )
    try:
        mask = key_mask(parts)
    except ValueError as exc:
        raise EnvelopeError(f"deploy setting {key} = {text!r}: {exc}") from None
    names = set(parts)
    _need(len(names) <= MAX_CHORD_KEYS, key, text, f"must hold at most {MAX_CHORD_KEYS} keys")
    for pair in _EXCLUSIVE_KEYS:
        _need(
            not pair <= names,
            key,
            text,
            "cannot hold " + " and ".join(sorted(pair)) + " together (one D-pad rocker)",
        )
    return mask


def _check_remote(cfg: DeployCfg) -> None:
    r = cfg.remote
    _need(_positive(r.silent_s, 60.0), "remote.silent_s", r.silent_s, "must be in (0, 60] s")
    estop = chord_mask(r.estop, "remote.estop")
    for key, text in (("remote.stand", r.stand), ("remote.policy", r.policy)):
        _need(chord_mask(text, key) != estop, key, text, "must differ from the e-stop chord")


def _check_rest(cfg: DeployCfg, period_s: float) -> None:
    c, t, a, rec, sim = cfg.commands, cfg.timing, cfg.auto, cfg.recorder, cfg.sim
    _need(within(c.deadband, 0.0, 0.5), "commands.deadband", c.deadband, "must be in [0, 0.5]")
    _need(
        _positive(c.slew_per_s, 100.0),
        "commands.slew_per_s",
        c.slew_per_s,
        "must be in (0, 100] per s",
    )
    _need(
        within(t.spin_us * 1e-6, 0.0, period_s),
        "timing.spin_us",
        t.spin_us,
        "must be in [0, one command period]",
    )
    for key in ("rt_priority", "helper_priority"):
        _need(
            within(getattr(t, key), 0, 99), f"timing.{key}", getattr(t, key), "must be in [0, 99]"
        )
    _need(
        all(within(c, 0, 4095) for c in t.cpus),
        "timing.cpus",
        list(t.cpus),
        "must list CPU numbers >= 0",
    )
    _need(
        within(t.budget_calls, 100, 10**6),
        "timing.budget_calls",
        t.budget_calls,
        "must be in [100, 1000000]: the budget gate needs a p99",
    )
    _need(
        _positive(t.metrics_every_s, 3600.0),
        "timing.metrics_every_s",
        t.metrics_every_s,
        "must be in (0, 3600] s",
    )
    for key in ("passive_s", "stand_hold_s"):
        _need(
            within(getattr(a, key), 0.0, 3600.0),
            f"auto.{key}",
            getattr(a, key),
            "must be in [0, 3600] s",
        )
    _need(
        _positive(a.exit_after_damp_s, 60.0),
        "auto.exit_after_damp_s",
        a.exit_after_damp_s,
        "must be in (0, 60] s: damping is sent that long before exit",
    )
    _need(within(rec.max_bytes, 1, 2**50), "recorder.max_bytes", rec.max_bytes, "must be > 0")
    _need(_positive(rec.flush_s, 5.0), "recorder.flush_s", rec.flush_s, "must be in (0, 5] s")
    _need(
        within(sim.control_port, 0, PORT_MAX),
        "sim.control_port",
        sim.control_port,
        f"must be in [0, {PORT_MAX}]",
    )
    _need(_positive(sim.truth_hz, 100.0), "sim.truth_hz", sim.truth_hz, "must be in (0, 100] Hz")


def check_against_policy(cfg: DeployCfg, control_dt_s: float) -> None:
    """Periods ordered: at least two command ticks per policy period, grace inside a period."""
    period_s = 1.0 / cfg.timing.command_hz
    _need(
        2 * period_s <= control_dt_s,
        "timing.command_hz",
        cfg.timing.command_hz,
        f"must give at least two command ticks per policy period ({control_dt_s:g} s)",
    )
    _need(
        cfg.safety.policy_grace_s < control_dt_s,
        "safety.policy_grace_s",
        cfg.safety.policy_grace_s,
        f"must be shorter than the policy period ({control_dt_s:g} s)",
    )


def check_stand_pose(
    limits: JointLimits, default_q: np.ndarray, names: Sequence[str], range_factor: float
) -> None:
    """STAND drives every joint to the policy's default pose through the same target clamp as
    POLICY: bounds that leave a default outside could never stand the robot (Go2 needs a range
    factor of at least 0.398, H1 0.803)."""
    outside = np.flatnonzero((default_q < limits.q_lo_rad) | (default_q > limits.q_hi_rad))
    if outside.size:
        i = int(outside[0])
        raise EnvelopeError(
            f"the joint-target bounds (range factor {range_factor:g}: safety.target_range_factor, "
            f"or the policy's trained clamp if tighter) leave {names[i]}'s default "
            f"{default_q[i]:.3f} rad outside [{limits.q_lo_rad[i]:.3f}, "
            f"{limits.q_hi_rad[i]:.3f}]: the robot could not stand; use a larger factor"
        )


def check_run(duration_s: float | None, domain: int | None) -> None:
    """Command-line values: --duration > 0 and finite, --domain a valid DDS domain id."""
    if duration_s is not None and not (finite(duration_s) and duration_s > 0):
        raise EnvelopeError(f"--duration {duration_s:g} must be a positive number of seconds")
    if domain is not None and not within(domain, 0, DDS_DOMAIN_MAX):
        raise EnvelopeError(f"--domain {domain} must be a DDS domain id in [0, {DDS_DOMAIN_MAX}]")


def _positive(value: float, hi: float) -> bool:
    return within(value, 0.0, hi) and value > 0


def _need(ok: bool, key: str, value: object, rule: str) -> None:
    if not ok:
        raise EnvelopeError(
            f"deploy setting {key} = {value!r} {rule}; fix it in configs/deploy/ or --set"
        )
