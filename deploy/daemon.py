"""The daemon: two real-time loop threads and a supervisor (the main thread).

Command loop: `CommandLoop.tick` at absolute deadlines (default 500 Hz), SCHED_FIFO when allowed.
Policy loop: `PolicyLoop.tick` every control period, half a command period off the command
ticks; each output is published at once through an extra command-loop tick.
Supervisor (10 Hz): --auto timer, --duration, signals, foreign-publisher poll, sim ground truth,
periodic metrics; it ends the run only after damping has been published, and publishes damping
itself after the loops stop (and from any loop that dies by exception).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from deploy.command_loop import CommandLoop, Shared
from deploy.config import DeployCfg
from deploy.damping import EXIT_DAMPING_MESSAGES, publish_damping
from deploy.metrics import LoopMetrics
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
from safety import Cause, Mode, foreign_publisher

SUPERVISOR_PERIOD_S = 0.1
FINAL_LOCK_WAIT_S = 0.5  # a loop stuck holding the lock must not keep damping off the wire


@dataclass
class RunOptions:
    auto: bool
    duration_s: float | None
    sim: bool  # --sim: the final line carries the sim-only metrics (null without ground truth)
    sim_truth: Callable[[], dict[str, Any]] | None  # genpo-sim ground truth (control channel)
    release_band: Callable[[], None] | None  # genpo-sim: let go of the elastic band (H1)
    foreign_writers: Callable[[], int] | None  # other rt/lowcmd writers + extra rt/lowstate ones
    nominal_height_m: float


class Daemon:
    def __init__(
        self,
        cfg: DeployCfg,
        shared: Shared,
        command: CommandLoop,
        policy: PolicyLoop,
        metrics: LoopMetrics,
        recorder: FlightRecorder | None,
        options: RunOptions,
        log: Callable[[str], None],
    ) -> None:
        self.cfg = cfg
        self.s = shared
        self.command = command
        self.policy = policy
        self.metrics = metrics
        self.recorder = recorder
        self.opts = options
        self.log = log
        self.stop = threading.Event()
        self.signal: Cause | None = None
        self._t0 = time.monotonic()
        self.failed: BaseException | None = None
        self._cmd_lock = policy.lock  # one LowCmd writer at a time: the loops, then the supervisor
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
                now = sleep_until_ns(deadline, spin_ns)
                with self._cmd_lock if name == "command" else nullcontext():
                    tick(now)
                deadline, _ = next_deadline_ns(deadline, period_ns, time.monotonic_ns())
        except BaseException as exc:  # a dead loop must still leave the robot damped
            self.failed = exc
            self.metrics.event(str(Cause.EXCEPTION))
            self.log(f"{name} loop failed: {exc!r}; damping")
            self.stop.set()

    def _start_loops(self) -> list[threading.Thread]:
        timing = self.cfg.timing
        cmd_period = int(round(1e9 / timing.command_hz))
        pol_period = int(round(self.policy.period_s * 1e9))
        self.origin_ns = time.monotonic_ns() + 20_000_000  # both loops start on one grid
        threads = [
            threading.Thread(
                target=self._loop,
                args=("command", self.command.tick, cmd_period, 0, timing.rt_priority),
                name="command-loop",
                daemon=True,
            ),
            threading.Thread(
                target=self._loop,
                args=(
                    "policy",
                    self.policy.tick,
                    pol_period,
                    cmd_period // 2,
                    timing.rt_priority - 1,
                ),
                name="policy-loop",
                daemon=True,
            ),  # fmt: skip
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
        start = self._t0 = time.monotonic()
        next_print = start + self.cfg.timing.metrics_every_s
        next_foreign = start
        try:
            while not self._finished():
                now = time.monotonic()
                self._supervise()
                if self.opts.foreign_writers is not None and now >= next_foreign:
                    next_foreign = now + self.cfg.safety.foreign_poll_s
                    cause = foreign_publisher(self.opts.foreign_writers())
                    if cause is not None:
                        self.s.trips.append(cause)
                self._check_recorder()
                if now >= next_print:
                    next_print = now + self.cfg.timing.metrics_every_s
                    self.log(self.metrics.line())
                time.sleep(SUPERVISOR_PERIOD_S)
        finally:
            self.s.trips.append(self.signal or Cause.END_OF_RUN)
            time.sleep(2.0 / self.cfg.timing.command_hz)  # let the loop damp on its own first
            self.stop.set()
            for t in threads:
                t.join(timeout=1.0)
            self.final_damping()
        # no dict | on Python 3.8
        return {**self.metrics.final(fell=self._fell()), **self._sim_metrics(), **self._error()}

    def _error(self) -> dict[str, str]:
        """{"error": why} when the run ended abnormally (a loop died, the recorder failed);
        {"recorder_error": why} when the recorder failed and the user let the run go on."""
        if self.failed is not None:
            return {"error": f"{self.failed!r}"}
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

    def _finished(self) -> bool:
        if self.stop.is_set():
            return True
        if self.s.mode is not Mode.DAMP:
            return False
        in_damp_s = (time.monotonic_ns() - self.s.mode_since_ns) * 1e-9
        ending = self.opts.auto or self.signal is not None or self._duration_over()
        return ending and in_damp_s >= self.cfg.auto.exit_after_damp_s

    def _duration_over(self) -> bool:
        d = self.opts.duration_s
        return d is not None and time.monotonic() - self._t0 >= d

    def _supervise(self) -> None:
        if self.signal is not None:
            self.s.trips.append(self.signal)
        if self._duration_over():
            self.s.trips.append(Cause.END_OF_RUN)
        if self.opts.auto:
            self._auto_step()
        if self.opts.sim_truth is not None and self.s.mode is Mode.POLICY:
            self._sample_truth()
        if self.opts.release_band is not None and self.s.mode is Mode.POLICY:
            self._release_band()

    def _auto_step(self) -> None:
        mode, since_s = self.s.mode, (time.monotonic_ns() - self.s.mode_since_ns) * 1e-9
        auto = self.cfg.auto
        if mode is Mode.PASSIVE and since_s >= auto.passive_s:
            self.s.requests.append(Mode.STAND)
        elif (
            mode is Mode.STAND
            and self.s.stand_done
            and since_s >= self.command.stand_duration_s + auto.stand_hold_s
        ):
            self.s.requests.append(Mode.POLICY)

    # --- sim ground truth -------------------------------------------------------------------
    def _sample_truth(self) -> None:
        try:
            truth = self.opts.sim_truth()
        except (OSError, RuntimeError, ValueError):
            return  # the sim is a measuring aid: a lost datagram is not a fault
        in_policy_s = (time.monotonic_ns() - self.s.mode_since_ns) * 1e-9
        height = float(truth["base_height_m"])
        self._min_height = min(self._min_height, height)
        if in_policy_s < self.cfg.motion.blend_s:
            return
        v = truth["base_lin_vel_body_m_s"]
        w = truth["base_ang_vel_body_rad_s"]
        c = self.policy.command
        err2 = (v[0] - c[0]) ** 2 + (v[1] - c[1]) ** 2 + (w[2] - c[2]) ** 2
        self._truth.append((height, err2, v[0], in_policy_s))

    def _release_band(self) -> None:
        """The band (genpo-sim --band, H1's hoist) lets go once the POLICY blend-in is over: the
        policy alone holds the robot from then on. STAND keeps it hanging, because H1 cannot
        stand on PD targets alone (robots/h1.py); on the robot the operator lowers the hoist
        at the same moment."""
        in_policy_s = (time.monotonic_ns() - self.s.mode_since_ns) * 1e-9
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
            return {"mean_base_height_m": None, "vel_tracking_rmse": None, "steady_vx_m_s": None}
        rows = np.array(self._truth)
        steady = rows[rows[:, 3] >= self.cfg.motion.blend_s + STEADY_SETTLE_S, 2]
        return {
            "mean_base_height_m": round(float(rows[:, 0].mean()), 4),
            "vel_tracking_rmse": round(float(np.sqrt(rows[:, 1].mean())), 4),
            # genpo-eval's steady_vx_m_s, measured the same way (sim-to-sim fidelity)
            "steady_vx_m_s": round(float(steady.mean()), 4) if steady.size else None,
        }

    # --- always damp ------------------------------------------------------------------------
    def final_damping(self) -> None:
        """The prebuilt damping message after the loops stopped (or died): the last thing the
        robot hears. A loop stuck holding the lock gets FINAL_LOCK_WAIT_S, then damping goes
        out regardless (the DDS writer is thread-safe)."""
        locked = self._cmd_lock.acquire(timeout=FINAL_LOCK_WAIT_S)
        try:
            period_s = 1.0 / self.cfg.timing.command_hz
            c = self.command
            publish_damping(c.publish, c.damping_msg, EXIT_DAMPING_MESSAGES, period_s, self.log)
        finally:
            if locked:
                self._cmd_lock.release()
        if self.s.mode is not Mode.DAMP:
            self.metrics.visit(str(Mode.DAMP))
