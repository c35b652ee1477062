"""Pure, synchronous, numpy-only safety layers of the deploy daemon (imports robots and numpy).

Every guard returns a `Cause` (or None); trips end in DAMP. `safe_targets` is the one target
pipeline the motor loop runs before anything is published.
"""

from safety.causes import Cause
from safety.guards import finite_action, finite_obs, roll_pitch_rad, tilt
from safety.limits import JointLimits, joint_limits, safe_targets, torque_estimate
from safety.state_machine import Guards, Mode, chord_pressed, request, trip
from safety.watchdogs import (
    MotorHealth,
    MotorThresholds,
    PolicyDeadline,
    StateWatchdog,
    foreign_publisher,
)

__all__ = [
    "Cause",
    "Guards",
    "JointLimits",
    "Mode",
    "MotorHealth",
    "MotorThresholds",
    "PolicyDeadline",
    "StateWatchdog",
    "chord_pressed",
    "finite_action",
    "finite_obs",
    "foreign_publisher",
    "joint_limits",
    "request",
    "roll_pitch_rad",
    "safe_targets",
    "tilt",
    "torque_estimate",
    "trip",
]
