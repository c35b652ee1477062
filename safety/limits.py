"""Joint-target limits: target-range clamp, per-tick rate limit, torque-estimate limit.

`safe_targets` composes them so that, for ANY input (NaN, inf, huge values), every returned target
is finite, inside the target range [q_lo, q_hi], within max_step_rad of the previous targets, and,
whenever the measured state is physical and some target inside the rate window can satisfy it,
the torque estimate kp*(q* - q) + kd*(0 - dq) is inside the effort limits.

Measured state outside the robot's physical limits (non-finite, q beyond the hard limits by more
than `q_tolerance_rad`, |dq| beyond `dq_tolerance` x the velocity limit) trips
STATE_OUT_OF_RANGE / NONFINITE_STATE; targets stay inside the target range but the torque bound is
not promised (the daemon damps). A physical state from which no target fits the torque limit
(H1 arms: kd * dq alone can exceed the effort limit) trips TORQUE_INFEASIBLE and returns the target
that minimises |torque estimate|.

All arrays are float64 [num_joints] in one joint order, fixed when the JointLimits are built.

The target range defaults to the joints' physical range, not IsaacLab's soft limits (0.9 of it):
training never clamps targets, and its policies push some joints (Go2 knees at push-off) past the
soft limit; clamping there changed the trained gait (Go2 at 0.5 m/s walked 8 % slower through the
daemon, knee targets clamped in 79 % of command ticks; README, sim-to-sim fidelity). A target
beyond the physical range only drives the motor into the stop, so that is the bound kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from robots.spec import RobotSpec
from safety.causes import Cause

# The torque bound is enforced with this relative margin so float rounding in
# kp * (q* - q) never lands a hair outside the limit.
_TORQUE_ROUNDING_MARGIN = 1e-9


@dataclass(frozen=True, eq=False)
class JointLimits:
    """Per-joint bounds used by the target pipeline, all [num_joints] float64, one joint order."""

    q_lo_rad: np.ndarray  # target range: targets never leave [q_lo, q_hi]
    q_hi_rad: np.ndarray
    q_hard_lo_rad: np.ndarray  # the joint's physical range
    q_hard_hi_rad: np.ndarray
    tau_max_nm: np.ndarray  # effort limit for the torque estimate
    dq_max_rad_s: np.ndarray  # physical velocity limit
    kp: np.ndarray  # gains the motor driver applies to the targets
    kd: np.ndarray
    max_step_rad: np.ndarray  # largest target change per command tick
    q_tolerance_rad: float = 0.05  # encoder readings this far beyond the hard limits still count
    dq_tolerance: float = 1.5  # |dq| up to this multiple of the velocity limit still counts

    def __post_init__(self) -> None:
        n = self.q_lo_rad.shape
        for name in ("q_hi_rad", "q_hard_lo_rad", "q_hard_hi_rad", "tau_max_nm", "dq_max_rad_s"):
            if getattr(self, name).shape != n:
                raise ValueError(f"JointLimits.{name} must have shape {n}")
        if not (np.all(self.q_lo_rad <= self.q_hi_rad) and np.all(self.kp > 0)):
            raise ValueError("JointLimits need q_lo <= q_hi and kp > 0 for every joint")
        if not (np.all(self.tau_max_nm > 0) and np.all(self.max_step_rad > 0)):
            raise ValueError("JointLimits need positive torque limits and rate steps")

    @property
    def num_joints(self) -> int:
        return int(self.q_lo_rad.shape[0])


def joint_limits(
    robot: RobotSpec,
    order: Sequence[str] | None = None,
    *,
    command_dt_s: float,
    target_speed_factor: float = 1.0,
    torque_factor: float = 1.0,
    range_factor: float = 1.0,
    kp: np.ndarray | None = None,
    kd: np.ndarray | None = None,
) -> JointLimits:
    """Limits for `robot` in `order` (default policy order).

    range_factor shrinks the target range about each joint's middle (1: the physical range;
    the robot's soft_limit_factor gives IsaacLab's soft limits);
    target_speed_factor scales the joint velocity limit into the per-tick rate limit;
    torque_factor scales the effort limits (below 1 leaves headroom); kp / kd default to the
    training gains in robots/ (pass the artifact's gains when they differ).
    """
    lo, hi = robot.scaled_limits(range_factor, order)
    speed = robot.values("velocity_limit_rad_s", order)
    return JointLimits(
        q_lo_rad=lo,
        q_hi_rad=hi,
        q_hard_lo_rad=robot.values("q_min_rad", order),
        q_hard_hi_rad=robot.values("q_max_rad", order),
        tau_max_nm=torque_factor * robot.values("torque_limit_nm", order),
        dq_max_rad_s=speed,
        kp=robot.values("kp", order) if kp is None else np.asarray(kp, dtype=np.float64),
        kd=robot.values("kd", order) if kd is None else np.asarray(kd, dtype=np.float64),
        max_step_rad=target_speed_factor * speed * command_dt_s,
    )


def clamp_targets(targets: np.ndarray, lim: JointLimits) -> tuple[np.ndarray, bool]:
    """Targets clipped to the target range, and whether any was moved."""
    out = np.clip(targets, lim.q_lo_rad, lim.q_hi_rad)
    return out, bool(np.any(out != targets))


def rate_limit(targets: np.ndarray, prev: np.ndarray, lim: JointLimits) -> tuple[np.ndarray, bool]:
    """Targets moved at most max_step_rad from `prev`, and whether any was limited."""
    out = np.clip(targets, prev - lim.max_step_rad, prev + lim.max_step_rad)
    return out, bool(np.any(out != targets))


def torque_window(q: np.ndarray, dq: np.ndarray, lim: JointLimits) -> tuple[np.ndarray, np.ndarray]:
    """Range of q* with |kp (q* - q) - kd dq| <= tau_max, intersected with the target range.

    Where lo > hi no target fits (the state itself is too fast or too far out).
    """
    tau = lim.tau_max_nm * (1.0 - _TORQUE_ROUNDING_MARGIN)
    centre = q + lim.kd * dq / lim.kp  # target with zero torque estimate
    lo = np.maximum(lim.q_lo_rad, centre - tau / lim.kp)
    hi = np.minimum(lim.q_hi_rad, centre + tau / lim.kp)
    return lo, hi


def torque_limit(
    targets: np.ndarray, q: np.ndarray, dq: np.ndarray, prev: np.ndarray, lim: JointLimits
) -> tuple[np.ndarray, bool, bool]:
    """Targets shrunk so the torque estimate fits, inside the rate window around `prev`:
    (targets, limited, infeasible).

    The rate limit wins: where the torque window lies outside prev +- max_step, the target goes
    to the rate-window edge nearest it (the estimate shrinks as fast as the rate allows).
    Infeasible joints get the target closest to zero torque estimate the rate window allows.
    """
    lo, hi = torque_window(q, dq, lim)
    feasible = lo <= hi
    r_lo, r_hi = prev - lim.max_step_rad, prev + lim.max_step_rad
    centre = np.clip(q + lim.kd * dq / lim.kp, lim.q_lo_rad, lim.q_hi_rad)
    out = np.where(feasible, np.clip(targets, np.minimum(lo, hi), hi), centre)
    out = np.clip(out, r_lo, r_hi)
    return out, bool(np.any(out != targets)), not bool(np.all(feasible))


def torque_estimate(targets: np.ndarray, q: np.ndarray, dq: np.ndarray, lim: JointLimits):
    """kp (q* - q) + kd (0 - dq): the torque the motor driver will command, [num_joints]."""
    return lim.kp * (targets - q) - lim.kd * dq


def state_in_range(q: np.ndarray, dq: np.ndarray, lim: JointLimits) -> Cause | None:
    """NONFINITE_STATE / STATE_OUT_OF_RANGE when the measured state is not physical, else None."""
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(dq))):
        return Cause.NONFINITE_STATE
    tol = lim.q_tolerance_rad
    inside = np.all(q >= lim.q_hard_lo_rad - tol) and np.all(q <= lim.q_hard_hi_rad + tol)
    if not (inside and np.all(np.abs(dq) <= lim.dq_tolerance * lim.dq_max_rad_s)):
        return Cause.STATE_OUT_OF_RANGE
    return None


def sanitize_prev(prev: np.ndarray, q: np.ndarray, lim: JointLimits) -> np.ndarray:
    """Previous targets made finite and inside the target range (non-finite entries fall back to
    q, then to the range's middle), so the rate limit always has a sane anchor."""
    mid = 0.5 * (lim.q_lo_rad + lim.q_hi_rad)
    anchor = np.where(np.isfinite(q), q, mid)
    return np.clip(np.where(np.isfinite(prev), prev, anchor), lim.q_lo_rad, lim.q_hi_rad)


def safe_targets(
    targets: np.ndarray,
    measured_q: np.ndarray,
    measured_dq: np.ndarray,
    prev_targets: np.ndarray,
    lim: JointLimits,
) -> tuple[np.ndarray, tuple[Cause, ...]]:
    """The one target pipeline: NaN guard -> range clamp -> rate limit -> torque limit inside
    the rate window (every result is within max_step of the sanitized `prev_targets`).

    Returns (targets to publish [num_joints] float64, causes). A non-finite input vector is
    replaced as a whole by the previous targets (a partial vector is meaningless); any trip cause
    in the result means the daemon must damp rather than publish.
    """
    causes: list[Cause] = []
    prev = sanitize_prev(np.asarray(prev_targets, dtype=np.float64), measured_q, lim)
    with np.errstate(all="ignore"):  # huge inputs may overflow: the guards below catch it
        wanted = np.asarray(targets, dtype=np.float64)
        if not np.all(np.isfinite(wanted)):
            causes.append(Cause.NONFINITE_ACTION)
            wanted = prev
        out, clamped = clamp_targets(wanted, lim)
        out, rated = rate_limit(out, prev, lim)
        bad_state = state_in_range(measured_q, measured_dq, lim)
        if bad_state is not None:
            causes.append(bad_state)
            return out, _with_limits(causes, clamped, rated, False)
        out, torqued, infeasible = torque_limit(out, measured_q, measured_dq, prev, lim)
    if infeasible:
        causes.append(Cause.TORQUE_INFEASIBLE)
    return out, _with_limits(causes, clamped, rated, torqued)


def _with_limits(causes: list[Cause], clamped: bool, rated: bool, torqued: bool):
    flags = ((clamped, Cause.TARGET_CLAMPED), (rated, Cause.RATE_LIMITED))
    flags += ((torqued, Cause.TORQUE_LIMITED),)
    return tuple(causes) + tuple(c for on, c in flags if on)
