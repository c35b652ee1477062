"""The deploy state machine's transition rules, and e-stop chord detection on remote keys.

    CONNECT -> PASSIVE -> STAND -> POLICY,   any state -> DAMP,   DAMP absorbing until restart.

Forward transitions are requested (remote button, --auto timer, sim control socket) and guarded;
a refused request names the failing guard. Trips and the e-stop go to DAMP from every state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from safety.causes import Cause


class Mode(str, Enum):
    CONNECT = "CONNECT"  # wait for LowState with an advancing tick; artifact verified
    PASSIVE = "PASSIVE"  # zero torque / light damping: nothing commanded
    STAND = "STAND"  # interpolate from the measured pose to the default pose
    POLICY = "POLICY"  # the policy drives, blended in from the stand targets
    DAMP = "DAMP"  # kp 0, kd > 0, tau 0: absorbing

    def __str__(self) -> str:
        return self.value


NEXT: dict[Mode, Mode] = {
    Mode.CONNECT: Mode.PASSIVE,
    Mode.PASSIVE: Mode.STAND,
    Mode.STAND: Mode.POLICY,
}


@dataclass(frozen=True)
class Guards:
    """Facts the daemon knows at a request; each forward transition needs some of them."""

    state_fresh: bool = False  # LowState arriving with an advancing tick
    artifact_ok: bool = False  # policy artifact verified against the robot and this runtime
    stand_done: bool = False  # STAND interpolation reached the default pose
    budget_ok: bool = False  # inference p99 within its share of the control period


_NEEDS: dict[Mode, tuple[str, ...]] = {
    Mode.PASSIVE: ("state_fresh", "artifact_ok"),
    Mode.STAND: ("state_fresh",),
    Mode.POLICY: ("state_fresh", "stand_done", "budget_ok"),
}


def request(mode: Mode, target: Mode, guards: Guards) -> tuple[Mode, str | None]:
    """Apply a requested transition: (new mode, None) or (unchanged mode, why refused)."""
    if mode is Mode.DAMP:
        return mode, "DAMP is absorbing until restart"
    if target is Mode.DAMP:
        return Mode.DAMP, None
    if NEXT.get(mode) is not target:
        return mode, f"{mode} -> {target} is not a transition"
    missing = [g for g in _NEEDS[target] if not getattr(guards, g)]
    if missing:
        return mode, f"{mode} -> {target} refused: {', '.join(missing)} false"
    return target, None


def trip(mode: Mode, cause: Cause) -> Mode:
    """The mode after a safety cause: DAMP for a trip, unchanged for a limit.

    CONNECT commands nothing and is waiting for a sane LowState, so state trips there only keep
    it waiting; e-stop, signals, exceptions, a foreign publisher and the end of the run damp from
    every state.
    """
    if not cause.is_trip:
        return mode
    if mode is Mode.CONNECT and cause not in _DAMP_ALWAYS:
        return mode
    return Mode.DAMP


_DAMP_ALWAYS = frozenset(
    {
        Cause.ESTOP,
        Cause.SIGNAL,
        Cause.EXCEPTION,
        Cause.LOOP_STALLED,
        Cause.END_OF_RUN,
        Cause.FOREIGN_PUBLISHER,
        Cause.RECORDER_FAILED,
    }
)


def chord_pressed(keys: int, chord_mask: int) -> bool:
    """True when every key of the chord is held (other keys may be held too).

    `chord_mask` comes from the remote codec (deploy.io.remote.key_mask), which owns key names.
    """
    return chord_mask != 0 and keys & chord_mask == chord_mask
