"""Why a safety layer acted: one enum value per cause, logged by the daemon and the recorder.

Two kinds: *trips* end in DAMP (the state machine's absorbing state); *limits* shaped a target
(clamped, rate-limited, torque-limited) and are counted, not escalated.
"""

from __future__ import annotations

from enum import Enum


class Cause(str, Enum):
    """A safety cause; the value is the stable lowercase name written to logs and JSON."""

    # limits: the target was shaped, control goes on
    TARGET_CLAMPED = "target_clamped"
    RATE_LIMITED = "rate_limited"
    TORQUE_LIMITED = "torque_limited"
    DEADLINE_MISS = "deadline_miss"  # one missed policy deadline: the last target is reused once
    STATE_HOLD = "state_hold"  # LowState briefly late: the last safe targets are held
    # trips: the daemon goes to DAMP
    NONFINITE_ACTION = "nonfinite_action"
    NONFINITE_OBS = "nonfinite_obs"
    NONFINITE_STATE = "nonfinite_state"
    STATE_OUT_OF_RANGE = "state_out_of_range"  # measured q / dq beyond the robot's physical limits
    TORQUE_INFEASIBLE = "torque_infeasible"  # no target keeps the torque estimate inside limits
    TILT = "tilt"
    STALE_STATE = "stale_state"
    TICK_STALLED = "tick_stalled"
    TICK_BACKWARDS = "tick_backwards"
    POLICY_STALE = "policy_stale"  # second consecutive missed policy deadline
    MOTOR_LOST = "motor_lost"
    OVER_TEMPERATURE = "over_temperature"
    LOW_BATTERY = "low_battery"
    FOREIGN_PUBLISHER = "foreign_publisher"  # another rt/lowcmd or a second rt/lowstate writer
    RECORDER_FAILED = "recorder_failed"  # the flight recorder cannot write (unless allowed)
    ESTOP = "estop"
    SIGNAL = "signal"  # SIGINT, SIGTERM, SIGHUP, SIGQUIT
    LOOP_STALLED = "loop_stalled"  # the motor loop did not tick for safety.loop_stall_s
    EXCEPTION = "exception"
    END_OF_RUN = "end_of_run"  # --duration elapsed
    BUDGET = "inference_budget"  # inference p99 above its share of the control period

    @property
    def is_trip(self) -> bool:
        """True when this cause must end in DAMP."""
        return self not in _LIMITS

    def __str__(self) -> str:
        return self.value


_LIMITS = frozenset(
    {
        Cause.TARGET_CLAMPED,
        Cause.RATE_LIMITED,
        Cause.TORQUE_LIMITED,
        Cause.DEADLINE_MISS,
        Cause.STATE_HOLD,
        Cause.BUDGET,  # refuses the POLICY transition; the robot keeps standing
    }
)
