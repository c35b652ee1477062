"""The motor loop (`timing.command_hz`, the LowCmd rate, default 500 Hz): owns the state machine
and every safety layer, and is the only writer of LowCmd while it runs.

Each tick first publishes the LowCmd prepared by the previous tick, so the message leaves at a
fixed phase whatever the rest costs (take + parse of a LowState vary by hundreds of us). Then:
take the newest LowState -> watchdogs, e-stop, tilt, motor health -> requested transitions ->
targets for the mode (stand trajectory, blended policy output) -> `safe_targets` -> prepare the
next LowCmd. A trip prepares damping and publishes it at once, not a period later.
The policy loop calls `refresh_state` and `publish_policy` (under this loop's `lock`) so a new
policy output goes out as soon as it exists. `clock` (default time.monotonic_ns) stamps states
and publishes; tests pass a fake one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deploy.config import DeployCfg
from deploy.io.lowcmd import LowCmdBuilder
from deploy.io.lowstate import LeanLowStateParser, LowStateParser, RobotState
from deploy.io.source import SourceWatch
from deploy.metrics import LoopMetrics
from deploy.motion import StandTrajectory, blend
from deploy.recorder import FlightRecorder
from robots.frames import projected_gravity
from safety import (
    Cause,
    Guards,
    JointLimits,
    Mode,
    MotorHealth,
    PolicyDeadline,
    StateWatchdog,
    chord_pressed,
    request,
    safe_targets,
    tilt,
    trip,
)


@dataclass
class PolicyOutput:
    """One policy tick's result, handed to the motor loop by reference swap."""

    seq: int
    start_ns: int  # policy tick start (state read)
    done_ns: int
    targets: np.ndarray  # policy joint order, before safety


@dataclass
class Shared:
    """State the loops and the supervisor share; each field has one writer (noted)."""

    mode: Mode = Mode.CONNECT  # motor loop
    mode_since_ns: int = 0  # motor loop
    requests: deque = field(default_factory=deque)  # supervisor -> motor loop: Mode
    trips: deque = field(default_factory=deque)  # anyone -> motor loop: Cause
    policy_out: PolicyOutput | None = None  # policy loop
    stand_done: bool = False  # motor loop
    budget_ok: bool = False  # set once at start
    artifact_ok: bool = False  # set once at start
    keys: int = 0  # motor loop: remote keys of the newest valid LowState
    sticks: tuple[float, float, float] = (0.0, 0.0, 0.0)  # motor loop: lx, ly, rx


@dataclass(frozen=True)
class Chords:
    """Remote key masks (deploy.io.remote.key_mask) of the three chords."""

    estop: int  # damps from every state
    stand: int  # PASSIVE -> STAND
    policy: int  # STAND -> POLICY


class MotorLoop:
    """State machine + safety + LowCmd publishing; `tick()` is called at absolute deadlines."""

    def __init__(
        self,
        *,
        shared: Shared,
        take: Callable[[], Any],  # the newest LowState sample from DDS, or None
        parser: LowStateParser | LeanLowStateParser,
        builder: LowCmdBuilder,
        publish: Callable[[Any], None],
        limits: JointLimits,
        chords: Chords,
        settings: DeployCfg,
        default_q: np.ndarray,
        damping_msg: Any,  # deploy.damping.build_damping: published as is, never rebuilt
        policy_period_s: float,
        metrics: LoopMetrics,
        recorder: FlightRecorder | None,
        log: Callable[[str], None],
        source: SourceWatch | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.s = shared
        # The one lock of the daemon: held by every tick here, by the policy loop while it reads
        # a state and publishes, and by the final damping (one LowCmd writer at a time).
        self.lock = threading.Lock()
        self.clock = clock
        self.take = take
        self.parser = parser
        self.builder = builder
        self.publish = publish
        self.lim = limits
        self.chords = chords
        self.cfg = settings
        self.default_q = default_q
        self.damping_msg = builder.wire(damping_msg)  # in the publish path's form, once
        self.damping_kd = float(damping_msg.motor_cmd[int(builder.robot.sdk_indices[0])].kd)
        self.metrics = metrics
        self.recorder = recorder
        self.log = log
        self.source = source or SourceWatch(log, remote_silent_s=settings.remote.silent_s)
        sc = settings.safety
        self.state_dog = StateWatchdog(sc.state_hold_s, sc.state_damp_s)
        self.motors = MotorHealth(sc.motor_thresholds())
        self.max_tilt_rad = np.deg2rad(sc.max_tilt_deg)
        self.policy_period_s = policy_period_s
        self.deadline: PolicyDeadline | None = None
        self.period_ns = int(round(1e9 / settings.timing.command_hz))
        self.state: RobotState | None = None
        self.state_ns = 0  # when the current state was taken from DDS
        self._prev_keys = 0
        self._state_seq = self._checked_seq = 0  # states parsed / states checked (tilt, health)
        # The last *published* targets: every message's rate limit is anchored here, so two
        # publishes within one motor period (policy + regular tick) share one max_step.
        self.prev_targets = np.array(default_q, dtype=np.float64)
        self._stand: StandTrajectory | None = None
        self._blend_from = self.prev_targets.copy()
        self._last_pub_ns: int | None = None  # last regular publish
        self._prepared: tuple[Mode, np.ndarray | None, tuple] | None = None  # in the builder
        self._dirty = True  # the builder holds content not yet built into a message
        self._msg: Any = None
        self._refusals: set[str] = set()
        self._last_seq = -1
        self._gravity = np.zeros(3)
        self.published = 0
        self.ticked_ns = 0  # when the newest tick started: the supervisor's stall check
        # Set when the run ends: from then on the final damping is the only LowCmd (a loop that
        # wakes late must not put a target after it).
        self.closed = False

    @property
    def stand_duration_s(self) -> float:
        return 0.0 if self._stand is None else self._stand.duration_s

    # --- one tick ---------------------------------------------------------------------------
    def tick(self, now_ns: int) -> None:
        """One regular tick (see the module docstring), under `lock`."""
        self.ticked_ns = now_ns  # the tick's own time: no second clock read per tick
        with self.lock:
            self._tick(now_ns)

    def _tick(self, now_ns: int) -> None:
        self._publish(now_ns, regular=True)
        self._read_state()
        causes = self._checks(now_ns)
        self._apply_requests(now_ns)
        before = self.s.mode
        for cause in causes:
            self._trip(cause, now_ns)
        self._prepare(now_ns, causes)
        if self.s.mode is Mode.DAMP and before is not Mode.DAMP:
            self._publish(now_ns, regular=False)  # a trip damps now, not a period later

    def refresh_state(self) -> RobotState | None:
        """Take and parse the newest LowState if one is waiting (the caller holds `lock`)."""
        self._read_state()
        return self.state

    def publish_policy(self, now_ns: int) -> None:
        """Publish a fresh policy output at once, after the same checks as a tick (queued trips
        such as the policy loop's NaN guard, the e-stop, the state's age, tilt and motor health
        of a state the policy loop took) and through the same safety pipeline: a trip publishes
        damping instead (the caller holds `lock`)."""
        if self.s.mode is not Mode.POLICY:
            return
        causes = self._checks(now_ns)
        for cause in causes:
            self._trip(cause, now_ns)
        self._prepare(now_ns, causes)
        self._publish(now_ns, regular=False)

    def _read_state(self) -> bool:
        """Take the newest LowState; False when none arrived or its CRC is bad."""
        sample = self.take()
        if sample is None:
            return False
        self.source.samples += 1
        state = self.parser.parse(sample)
        if state is None:
            return False  # rejected (CRC, implausible): not fresh; a bad stream goes stale
        self.state = state
        self._state_seq += 1
        self.state_ns = self.clock()
        tick = self.source.freshness_tick(int(state.tick))
        cause = None if tick is None else self.state_dog.observe(tick, self.state_ns)
        if cause is not None:
            self.s.trips.append(cause)
        self.s.keys = state.remote.keys
        self.s.sticks = self.source.sticks(state.remote, self.state_ns)
        return True

    def _checks(self, now_ns: int) -> list[Cause]:
        """Trip and limit causes now: queued trips, the e-stop, the state's age, tilt and motor
        health of a state not checked yet (whichever loop took it), the policy deadline."""
        causes: list[Cause] = []
        while self.s.trips:
            causes.append(self.s.trips.popleft())
        keys = self.s.keys
        if chord_pressed(keys, self.chords.estop):
            causes.append(Cause.ESTOP)
        age = self.state_dog.check(now_ns)
        if age is not None:
            causes.append(age)
        if self.state is not None and self._state_seq != self._checked_seq:
            self._checked_seq = self._state_seq
            st = self.state
            tilted = tilt(projected_gravity(st.quat_wxyz, self._gravity), self.max_tilt_rad)
            health = self.motors.check(now_ns, st.lost, st.temperature_c, st.power_v)
            causes.extend(c for c in (tilted, health) if c is not None)
        if self.s.mode is Mode.POLICY and self.deadline is not None:
            out = self.s.policy_out
            since = out.done_ns if out is not None else self.s.mode_since_ns
            misses = self.deadline.misses
            late = self.deadline.check(now_ns, since)
            if late is not None:
                causes.append(late)
            if self.deadline.misses != misses:
                self.metrics.deadline_misses += 1
                self._event(now_ns, "limit", str(Cause.DEADLINE_MISS))
        self._button_requests(keys)
        return causes

    def _button_requests(self, keys: int) -> None:
        pressed = keys & ~self._prev_keys  # rising edges only: a held button asks once
        self._prev_keys = keys
        if pressed and chord_pressed(keys, self.chords.stand) and self.s.mode is Mode.PASSIVE:
            self.s.requests.append(Mode.STAND)
        if pressed and chord_pressed(keys, self.chords.policy) and self.s.mode is Mode.STAND:
            self.s.requests.append(Mode.POLICY)

    # --- transitions ------------------------------------------------------------------------
    def _guards(self, now_ns: int) -> Guards:
        return Guards(
            state_fresh=self.state is not None and self.state_dog.check(now_ns) is None,
            artifact_ok=self.s.artifact_ok,
            stand_done=self.s.stand_done,
            budget_ok=self.s.budget_ok,
        )

    def _apply_requests(self, now_ns: int) -> None:
        while self.s.requests:
            target = self.s.requests.popleft()
            new, why = request(self.s.mode, target, self._guards(now_ns))
            if why is not None and why not in self._refusals:
                self._refusals.add(why)  # said once: --auto repeats its requests
                self._event(now_ns, "refused", why)
                self.log(why)
                if target is Mode.POLICY and not self.s.budget_ok:
                    self.metrics.event(str(Cause.BUDGET))
            if new is not self.s.mode:
                self._enter(new, now_ns, f"requested {target}")

    def _maybe_connect(self, now_ns: int, causes: tuple | list) -> None:
        if not causes and self.state is not None:
            new, _ = request(self.s.mode, Mode.PASSIVE, self._guards(now_ns))
            if new is Mode.PASSIVE:
                self._enter(new, now_ns, "LowState advancing, artifact verified")

    def _trip(self, cause: Cause, now_ns: int) -> None:
        """Switch mode for a trip cause; recorded only when it changes the mode (CONNECT waits
        through state trips, DAMP absorbs everything)."""
        new = trip(self.s.mode, cause)
        if new is not self.s.mode:
            self.metrics.event(str(cause))
            self._event(now_ns, "trip", str(cause))
            self._enter(new, now_ns, str(cause))

    def _enter(self, mode: Mode, now_ns: int, why: str) -> None:
        old = self.s.mode
        self.s.mode, self.s.mode_since_ns = mode, now_ns
        self.metrics.visit(str(mode))
        self._event(now_ns, "transition", f"{old} -> {mode} ({why})")
        self.log(f"{old} -> {mode} ({why})")
        if mode is Mode.STAND and self.state is not None:
            self._stand = StandTrajectory(
                self.state.q_rad,
                self.default_q,
                self.cfg.motion.stand_speed_rad_s,
                self.cfg.motion.stand_min_s,
            )
            self.prev_targets[:] = np.clip(self.state.q_rad, self.lim.q_lo_rad, self.lim.q_hi_rad)
        if mode is Mode.POLICY:
            self.s.policy_out = None
            self._blend_from = self.prev_targets.copy()
            self.deadline = PolicyDeadline(self.policy_period_s, self.cfg.safety.policy_grace_s)

    # --- preparing the next LowCmd -----------------------------------------------------------
    def _prepare(self, now_ns: int, causes: tuple | list) -> None:
        mode = self.s.mode
        if mode is Mode.CONNECT:
            self._maybe_connect(now_ns, causes)
            self._prepared = None
            fresh = self.state_dog.check(now_ns) in (None, Cause.STATE_HOLD)
            self.source.connect_wait(now_ns, self.parser, fresh)
        elif mode is Mode.PASSIVE:
            kd = self.cfg.motion.passive_kd  # 0: publish nothing (the motors stay passive)
            self._prepared = None
            if kd > 0:
                self._dirty = True
                self.builder.set_damping(kd)
                self._prepared = (mode, None, ())
        elif mode is Mode.DAMP:
            self._prepare_damping()
        else:
            self._prepare_targets(now_ns, mode, Cause.STATE_HOLD in causes)

    def _prepare_damping(self) -> None:
        self._msg, self._dirty = self.damping_msg, False  # the prebuilt message, never rebuilt
        self._prepared = (Mode.DAMP, None, ())

    def _prepare_targets(self, now_ns: int, mode: Mode, hold: bool) -> None:
        st = self.state
        if st is None:  # cannot happen after CONNECT; any doubt ends in damping
            self._trip(Cause.STALE_STATE, now_ns)
            self._prepare_damping()
            return
        if hold:
            wanted = self.prev_targets  # LowState briefly late: hold the last safe targets
        elif mode is Mode.STAND:
            t_s = (now_ns - self.s.mode_since_ns) * 1e-9
            wanted = self._stand.targets(t_s)
            self.s.stand_done = self._stand.done(t_s)
        else:
            wanted = self._policy_targets(now_ns)
        targets, causes = safe_targets(wanted, st.q_rad, st.dq_rad_s, self.prev_targets, self.lim)
        trips = [c for c in causes if c.is_trip]
        if trips:
            for cause in trips:
                self._trip(cause, now_ns)
            self._prepare_damping()
            return
        same = self._prepared is not None and self._prepared[1] is not None
        if not (same and np.array_equal(targets, self._prepared[1])):
            self.builder.set_targets(targets, self.lim.kp, self.lim.kd)
            self._dirty = True  # else the last built message (and its CRC) is still right
        self._prepared = (mode, targets, causes)

    def _policy_targets(self, now_ns: int) -> np.ndarray:
        out = self.s.policy_out
        if out is None:
            return self._blend_from
        t_s = (now_ns - self.s.mode_since_ns) * 1e-9
        return blend(self._blend_from, out.targets, t_s, self.cfg.motion.blend_s)

    # --- publishing -------------------------------------------------------------------------
    def _publish(self, now_ns: int, regular: bool) -> None:
        if self._prepared is None or self.closed:
            self._last_pub_ns = None
            return
        if self._dirty:
            self._msg = self.builder.build()  # set fields + CRC: ~0.15 ms, only on change
            self._dirty = False
        self.publish(self._msg)
        pub_ns = self.clock()
        self.published += 1
        mode, targets, causes = self._prepared
        if targets is not None:
            self.prev_targets[:] = targets
        if regular:
            if self._last_pub_ns is not None:
                period = pub_ns - self._last_pub_ns
                self.metrics.cmd_jitter_us.add(abs(period - self.period_ns) * 1e-3)
            self._last_pub_ns = pub_ns
        out = self.s.policy_out
        fresh_policy = mode is Mode.POLICY and out is not None and out.seq != self._last_seq
        if fresh_policy:
            self._last_seq = out.seq
            self.metrics.state_to_cmd_us.add((pub_ns - out.start_ns) * 1e-3)
        if self.recorder is not None:
            self.recorder.record(
                now_ns,
                "/deploy/command",
                {
                    "t_ns": now_ns,
                    "pub_ns": pub_ns,
                    "mode": str(mode),
                    "targets": None if targets is None else targets.tolist(),
                    "damping_kd": self.damping_kd if mode is Mode.DAMP else None,
                    "limits": [str(c) for c in causes],
                    "policy_seq": out.seq if fresh_policy else None,
                    "regular": regular,
                    "lowstate_tick": None if self.state is None else int(self.state.tick),
                },
            )

    def _event(self, now_ns: int, kind: str, text: str) -> None:
        if self.recorder is not None:
            self.recorder.record(
                now_ns, "/deploy/event", {"t_ns": now_ns, "kind": kind, "text": text}
            )
