"""The daemon: two real-time loop threads and a supervisor (the main thread).

Motor loop: `MotorLoop.tick` at absolute deadlines (`timing.command_hz`, default 500 Hz),
SCHED_FIFO when allowed. Policy loop: `PolicyLoop.tick` every control period, half a motor period
off the motor ticks; each output is published at once through an extra motor-loop publish.
Supervisor (10 Hz): --auto timer, --duration, signals, foreign-publisher poll, sim ground truth,
periodic metrics; it ends the run only after damping has been published, and publishes damping
itself after the loops stop (and from any loop that dies by exception). When the motor loop has
not started a tick for `safety.loop_stall_s` (blocked inside one, holding the lock every LowCmd
writer needs), the supervisor ends the run and damps without waiting for the loops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from deploy.config import DeployCfg
from deploy.damping import exit_damping
from deploy.metrics import LoopMetrics
from deploy.motor_loop import MotorLoop, Shared
from deploy.policy_loop import PolicyLoop
from deploy.recorder import FlightRecorder
from deploy.timing import (
    boost_helper_threads,
    next_deadline_ns,
    quiet_gc,
    realtime_thread,
    sleep_until_ns,
)
from robots.contract import STEADY_SETTLE_S
from robots.frames import yaw_of
from safety import Cause, Mode, foreign_publisher

SUPERVISOR_PERIOD_S = 0.1
STALL_DAMP_S = 2.0  # a stalled loop: damping keeps going out this long while a loop thread lives


@dataclass(frozen=True)
class RunOptions:
    """How this run ends and what the supervisor watches besides the loops."""

    auto: bool  # --auto: walk CONNECT -> PASSIVE -> STAND -> POLICY on a timer
    duration_s: float | None  # --duration: DAMP and exit after this long; None: until a signal
    sim: bool  # --sim: the final line carries the sim-only metrics (null without ground truth)
    nominal_height_m: float  # the robot's standing base height (a fall is below half of it)
    sim_truth: Callable[[], dict[str, Any]] | None = None  # genpo-sim ground truth
    release_band: Callable[[], None] | None = None  # genpo-sim: let go of the elastic band (H1)
    # Writer lists to check with safety.foreign_publisher: objects with `poll() -> list` and
    # `tolerated: int` (deploy.io.foreign.ForeignWriterMonitor).
    foreign_monitors: tuple[Any, ...] = ()


class Daemon:
    def __init__(
        self,
        *,
        cfg: DeployCfg,
        shared: Shared,
        motor: MotorLoop,
        policy: PolicyLoop,
        metrics: LoopMetrics,
        recorder: FlightRecorder | None,
        options: RunOptions,
        log: Callable[[str], None],
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.cfg = cfg
        self.s = shared
        self.motor = motor
        self.policy = policy
        self.metrics = metrics
        self.recorder = recorder
        self.opts = options
        self.log = log
        self.clock = clock
        self.stop = threading.Event()
        self.signal: Cause | None = None  # set by the signal handler, acted on here
        self.signal_name: str | None = None
        self._signal_said = False
        self.failed: BaseException | None = None
        self.stalled_s: float | None = None  # set when the motor loop stalled: how long
        self._stall_seen: tuple[int, int] | None = None  # (supervisor check, motor tick) last seen
        self._t0_ns = self._next_foreign_ns = clock()
        self._next_print_ns = self._t0_ns + int(cfg.timing.metrics_every_s * 1e9)
        # (height, velocity error^2, forward speed, s in POLICY) sampled in POLICY after blend-in
        self._truth: list[tuple[float, float, float, float]] = []
        self._min_height = np.inf
        self._band_released = False

    # --- loops ------------------------------------------------------------------------------
    def _loop(
        self, name: str, tick: Callable[[int], None], period_ns: int, phase_ns: int, prio: int
    ) -> None:
        timing = self.cfg.timing
        realtime_thread(prio, timing.cpus, self.log)
        spin_ns = int(timing.spin_us * 1e3)
        deadline = self.origin_ns + phase_ns
        try:
            while not self.stop.is_set():
                tick(sleep_until_ns(deadline, spin_ns))
                deadline, _ = next_deadline_ns(deadline, period_ns, time.monotonic_ns())
        except BaseException as exc:  # a dead loop must still leave the robot damped
            self.failed = exc
            self.stop.set()
            self.metrics.event(str(Cause.EXCEPTION))
            self.log(f"{name} loop failed: {exc!r}; damping")

    def _start_loops(self) -> list[threading.Thread]:
        timing = self.cfg.timing
        motor_period = int(round(1e9 / timing.command_hz))
        pol_period = int(round(self.policy.period_s * 1e9))
        self.origin_ns = time.monotonic_ns() + 20_000_000  # both loops start on one grid
        self.motor.ticked_ns = self.origin_ns  # a loop that never ticks counts as stalled
        loops = (
            ("motor", self.motor.tick, motor_period, 0, timing.rt_priority),
            ("policy", self.policy.tick, pol_period, motor_period // 2, timing.rt_priority - 1),
        )
        threads = [
            threading.Thread(target=self._loop, args=args, name=f"{args[0]}-loop", daemon=True)
            for args in loops
        ]
        for t in threads:
            t.start()
        return threads

    # --- supervisor -------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run until the end of the run; always leaves the robot damped. Returns the final
        metrics dict (the JSON line's content)."""
        self.metrics.visit(str(Mode.CONNECT))
        threads = self._start_loops()
        time.sleep(0.05)
        if self.cfg.timing.rt_priority > 0:
            boost_helper_threads(self.cfg.timing.helper_priority, self.log)
        quiet_gc()  # after the loops and their buffers exist: nothing left to collect
        self._t0_ns = self._next_foreign_ns = self.clock()
        self._next_print_ns = self._t0_ns + int(self.cfg.timing.metrics_every_s * 1e9)
        try:
            while not self.finished():
                self.supervise()
                time.sleep(SUPERVISOR_PERIOD_S)
        finally:
            self.s.trips.append(self.signal or Cause.END_OF_RUN)
            stalled = self.stalled_s is not None
            if not stalled:
                time.sleep(2.0 / self.cfg.timing.command_hz)  # let the loop damp on its own first
            self.stop.set()
            self.motor.closed = True  # from here the final damping is the last LowCmd
            if stalled:
                self._damp_around(threads)
            for t in threads:
                t.join(timeout=1.0)
            self.final_damping(wait_lock=not stalled)
        return self.result()

    def _damp_around(self, threads: list[threading.Thread]) -> None:
        """A stalled loop: damping now, not after its lock or join timeouts, and again and again
        while a loop thread lives (a write it had in flight when `closed` was set may still land;
        the damping after it is the last word), for at most STALL_DAMP_S."""
        deadline = time.monotonic() + STALL_DAMP_S
        self.final_damping(wait_lock=False)
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            self.final_damping(wait_lock=False)

    def result(self) -> dict[str, Any]:
        """The final metrics dict (the JSON line's content)."""
        # no dict | on Python 3.8
        return {**self.metrics.final(fell=self._fell()), **self._sim_metrics(), **self._error()}

    def supervise(self) -> None:
        """One supervisor period: end-of-run requests, --auto, foreign writers, the recorder,
        sim ground truth, the periodic metrics line."""
        now_ns = self.clock()
        self._check_stall()
        if self.signal is not None:
            self.s.trips.append(self.signal)
            if not self._signal_said:
                self._signal_said = True
                self.log(f"signal {self.signal_name or ''}: damping, then exit")
        if self._duration_over():
            self.s.trips.append(Cause.END_OF_RUN)
        if self.opts.auto:
            self._auto_step()
        if now_ns >= self._next_foreign_ns:
            self._next_foreign_ns = now_ns + int(self.cfg.safety.foreign_poll_s * 1e9)
            self._check_foreign()
        self._check_recorder()
        if self.opts.sim_truth is not None and self.s.mode is Mode.POLICY:
            self._sample_truth()
        if self.opts.release_band is not None and self.s.mode is Mode.POLICY:
            self._release_band()
        if now_ns >= self._next_print_ns:
            self._next_print_ns = now_ns + int(self.cfg.timing.metrics_every_s * 1e9)
            self.log(self.metrics.line())

    def _check_stall(self) -> None:
        """Motor loop alive? No tick started for safety.loop_stall_s, and none since the previous
        supervisor period, ends the run. Judged only when this supervisor itself ran on time: a
        process the OS (or a garbage collection) froze as a whole stalls every thread alike, and
        the motor loop ticks again first thing when it resumes."""
        m = self.motor
        now, tick = m.clock(), m.ticked_ns
        previous, self._stall_seen = self._stall_seen, (now, tick)
        if previous is None or self.stalled_s is not None:
            return
        on_time = now - previous[0] <= 2 * SUPERVISOR_PERIOD_S * 1e9
        idle_s = (now - tick) * 1e-9
        if on_time and tick == previous[1] and idle_s > self.cfg.safety.loop_stall_s:
            self.stalled_s = idle_s
            self.metrics.event(str(Cause.LOOP_STALLED))
            self.log(f"motor loop stalled: no tick for {idle_s:.3f} s; damping without it")

    def _check_foreign(self) -> None:
        for monitor in self.opts.foreign_monitors:
            cause = foreign_publisher(len(monitor.poll()), monitor.tolerated)
            if cause is not None:
                self.s.trips.append(cause)

    def _error(self) -> dict[str, str]:
        """{"error": why} when the run ended abnormally (a loop died, the recorder failed);
        {"recorder_error": why} when the recorder failed and the user let the run go on."""
        if self.failed is not None:
            return {"error": f"{self.failed!r}"}
        if self.stalled_s is not None:
            return {"error": f"motor loop stalled: no tick for {self.stalled_s:.3f} s"}
        rec = self.recorder
        if rec is None or rec.failed is None:
            return {}
        key = "recorder_error" if self.cfg.recorder.continue_unrecorded else "error"
        return {key: f"flight recorder failed: {rec.failed}"}

    def _check_recorder(self) -> None:
        rec = self.recorder
        if rec is None or rec.failed is None or self.cfg.recorder.continue_unrecorded:
            return
        self.s.trips.append(Cause.RECORDER_FAILED)

    def finished(self) -> bool:
        """True once the loops stopped, or the run is ending and has damped for
        auto.exit_after_damp_s."""
        if self.stop.is_set() or self.stalled_s is not None:
            return True
        if self.s.mode is not Mode.DAMP:
            return False
        in_damp_s = self._since_s(self.s.mode_since_ns)
        ending = self.opts.auto or self.signal is not None or self._duration_over()
        return ending and in_damp_s >= self.cfg.auto.exit_after_damp_s

    def _since_s(self, then_ns: int) -> float:
        return (self.clock() - then_ns) * 1e-9

    def _duration_over(self) -> bool:
        d = self.opts.duration_s
        return d is not None and self._since_s(self._t0_ns) >= d

    def _auto_step(self) -> None:
        mode, since_s = self.s.mode, self._since_s(self.s.mode_since_ns)
        auto = self.cfg.auto
        if mode is Mode.PASSIVE and since_s >= auto.passive_s:
            self.s.requests.append(Mode.STAND)
        elif (
            mode is Mode.STAND
            and self.s.stand_done
            and since_s >= self.motor.stand_duration_s + auto.stand_hold_s
        ):
            self.s.requests.append(Mode.POLICY)

    # --- sim ground truth -------------------------------------------------------------------
    def _sample_truth(self) -> None:
        try:
            truth = self.opts.sim_truth()
        except (OSError, RuntimeError, ValueError):
            return  # the sim is a measuring aid: a lost datagram is not a fault
        in_policy_s = self._since_s(self.s.mode_since_ns)
        height = float(truth["base_height_m"])
        self._min_height = min(self._min_height, height)
        if in_policy_s < self.cfg.motion.blend_s:
            return
        v = truth["base_lin_vel_body_m_s"]
        w = truth["base_ang_vel_body_rad_s"]
        c = self.policy.command
        err2 = (v[0] - c[0]) ** 2 + (v[1] - c[1]) ** 2 + (w[2] - c[2]) ** 2
        yaw = float(yaw_of(np.asarray(truth["base_quat_wxyz"])))
        self._truth.append((height, err2, v[0], in_policy_s, yaw))

    def _release_band(self) -> None:
        """The band (genpo-sim --band, H1's hoist) lets go once the POLICY blend-in is over: the
        policy alone holds the robot from then on. STAND keeps it hanging, because H1 cannot
        stand on PD targets alone (robots/h1.py); on the robot the operator lowers the hoist
        at the same moment."""
        in_policy_s = self._since_s(self.s.mode_since_ns)
        if self._band_released or in_policy_s < self.cfg.motion.blend_s:
            return
        try:
            self.opts.release_band()
        except (OSError, RuntimeError, ValueError):
            return  # a lost datagram: tried again next supervisor period
        self._band_released = True
        self.log("sim: elastic band released")

    def _fell(self) -> bool:
        tilted = str(Cause.TILT) in self.metrics.safety_events
        return tilted or self._min_height < 0.5 * self.opts.nominal_height_m

    def _sim_metrics(self) -> dict[str, Any]:
        if not self.opts.sim:
            return {}
        if not self._truth:
            return dict.fromkeys(
                ("mean_base_height_m", "vel_tracking_rmse", "steady_vx_m_s", "heading_change_deg")
            )
        rows = np.array(self._truth)
        steady = rows[rows[:, 3] >= self.cfg.motion.blend_s + STEADY_SETTLE_S, 2]
        yaw = np.unwrap(rows[:, 4])  # sampled at 10 Hz: never a half turn between samples
        return {
            "mean_base_height_m": round(float(rows[:, 0].mean()), 4),
            "vel_tracking_rmse": round(float(np.sqrt(rows[:, 1].mean())), 4),
            # genpo-eval's steady_vx_m_s, measured the same way (sim-to-sim fidelity)
            "steady_vx_m_s": round(float(steady.mean()), 4) if steady.size else None,
            # yaw turned from the end of the blend-in to the last sample (a drift under --cmd)
            "heading_change_deg": round(float(np.degrees(yaw[-1] - yaw[0])), 2),
        }

    # --- always damp ------------------------------------------------------------------------
    def final_damping(self, wait_lock: bool = True) -> None:
        """The prebuilt damping message after the loops stopped (or died), through the one exit
        path (deploy.damping.exit_damping, under the motor loop's lock; not waiting for it when
        the loop holding it stalled)."""
        m = self.motor
        lock = m.lock if wait_lock else None
        exit_damping(m.publish, m.damping_msg, 1.0 / self.cfg.timing.command_hz, self.log, lock)
        if self.s.mode is not Mode.DAMP:
            self.metrics.visit(str(Mode.DAMP))
