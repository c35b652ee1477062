"""What stalls cannot do: keep damping off the wire. The daemon runs in this process (its two
loop threads and the supervisor, real policy, real LowCmd builder) over a standing-robot LowState
source; a writer keeps every LowCmd. Three ways a run used to hang with targets on the wire: a
stderr nobody reads (the log blocked the motor loop under its lock), a signal other than INT/TERM
(HUP from a dropped SSH session killed the process undamped), a motor loop blocked inside a tick
or inside a write (nothing checked that it still ticked)."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time

import pytest

import deploy.cli as cli
from deploy.damping import EXIT_DAMPING_MESSAGES
from deploy.log import QueuedLog
from robots import GO2
from robots.spec import POS_STOP
from safety import Cause, Mode
from tests.deploy.standing import standing_link

KD = 4.0


class BlockedStream(io.TextIOBase):
    """A stderr whose reader stopped: every write blocks until `release`."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.release.wait()
        self.lines.append(text)
        return len(text)


class Wire:
    """A LowCmd writer keeping (time, is damping) of every message."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, bool]] = []

    def write(self, msg) -> None:
        m = [msg.motor_cmd[s] for s in GO2.sdk_indices.tolist()]
        damping = all(x.kp == 0.0 and x.kd == KD and x.q == POS_STOP for x in m)
        self.sent.append((time.monotonic(), damping))

    def after(self, t: float) -> list[bool]:
        return [d for at, d in list(self.sent) if at >= t]


def _args(policy, *extra: str):
    return cli.build_parser().parse_args(
        ["--robot", "go2", "--sim", "--domain", "173", "--policy", str(policy), "--auto",
         "--duration", "30", "--no-log", "--set", f"motion.damping_kd={KD}",
         "--set", "timing.budget_calls=100", "--set", "auto.stand_hold_s=0.2", *extra]
    )  # fmt: skip


def _when_in_policy(daemon_box: list, action, after_s: float = 0.3) -> threading.Thread:
    """A thread that runs `action(daemon)` once the daemon has been in POLICY `after_s`."""

    def wait() -> None:
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            d = daemon_box[0] if daemon_box else None
            if d is not None and d.s.mode is Mode.POLICY:
                time.sleep(after_s)
                action(d)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


def _drive(args, wire: Wire, monkeypatch, daemon_box: list, patch=None):
    monkeypatch.setattr(cli, "lock_memory", lambda log: None)  # not the pytest process's pages
    built = cli.build_daemon

    def build(**kw):
        daemon = built(**kw)
        if patch is not None:
            patch(daemon)
        daemon_box.append(daemon)
        return daemon

    monkeypatch.setattr(cli, "build_daemon", build)
    plan = cli.prepare(args)
    saved = {sig: signal.getsignal(sig) for sig in cli.STOP_SIGNALS}
    try:
        return cli.drive(args, plan, standing_link(GO2, wire), None)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "signum", [signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM], ids=["HUP", "QUIT", "TERM"]
)
def test_signal_damps_while_nobody_reads_stderr(signum, artifacts, monkeypatch):
    """stderr blocks every write for the whole run; the stand-up, the walk and the signal's
    damping go on regardless, and the signal (HUP and QUIT too) ends the run damped."""
    stream = BlockedStream()
    monkeypatch.setattr(sys, "stderr", stream)  # the daemon's own log, writing to it
    wire, box, sent_at = Wire(), [], []

    def send(_daemon) -> None:
        sent_at.append(time.monotonic())
        os.kill(os.getpid(), signum)

    _when_in_policy(box, send)
    try:
        result, code = _drive(_args(artifacts["go2"]), wire, monkeypatch, box)
    finally:
        stream.release.set()
    assert sent_at, f"the run never reached POLICY: {result}"
    assert code == 0 and result["safety_events"] == [str(Cause.SIGNAL)], result
    assert "POLICY" in result["states_visited"]
    after = wire.after(sent_at[0])
    assert after[-EXIT_DAMPING_MESSAGES:] == [True] * EXIT_DAMPING_MESSAGES
    assert wire.sent[-1][1], "the last LowCmd on the wire must be damping"
    first_damping = next(t for t, d in wire.sent if d and t >= sent_at[0])
    assert first_damping - sent_at[0] < 0.5  # the supervisor's next period, not a timeout


@pytest.mark.timeout(90)
def test_a_motor_loop_blocked_inside_a_tick_is_damped_around(artifacts, monkeypatch):
    """The motor loop blocks inside a tick, holding the lock every LowCmd writer needs. The
    supervisor sees no tick for safety.loop_stall_s, damps without the lock, and the loop,
    woken afterwards, puts nothing after that damping."""
    wire, box, blocked_at = Wire(), [], []
    unblock = threading.Event()

    def patch(daemon) -> None:
        checks = daemon.motor._checks

        def stuck(now_ns):
            if daemon.s.mode is Mode.POLICY and not blocked_at and box and _walked(daemon):
                blocked_at.append(time.monotonic())
                unblock.wait(30.0)
            return checks(now_ns)

        daemon.motor._checks = stuck

    try:
        result, code = _drive(_args(artifacts["go2"]), wire, monkeypatch, box, patch)
        assert blocked_at, f"the run never reached POLICY: {result}"
        assert code == 1 and "motor loop stalled" in result["error"], result
        assert str(Cause.LOOP_STALLED) in result["safety_events"]
        after = wire.after(blocked_at[0])
        assert after and all(after), "only damping after the loop blocked"
        first = next(t for t, d in wire.sent if d and t >= blocked_at[0])
        stall_s = box[0].cfg.safety.loop_stall_s
        assert first - blocked_at[0] < stall_s + 0.4  # a supervisor period, no lock/join waits
    finally:
        unblock.set()
    count = len(wire.sent)
    time.sleep(0.2)  # the woken loop finishes its tick: the gate keeps it off the wire
    assert len(wire.sent) == count and wire.sent[-1][1]


@pytest.mark.timeout(90)
def test_a_target_write_stuck_in_flight_does_not_outlast_the_damping(artifacts, monkeypatch):
    """The loop blocks inside the writer call itself with a target message (a DDS write that
    hangs for 3 s). The stall damping goes out meanwhile; when the stuck write finally lands,
    damping follows it: the last message is damping."""
    wire, box, blocked_at = Wire(), [], []

    def patch(daemon) -> None:
        publish = daemon.motor.publish

        def slow(msg) -> None:
            motor = msg.motor_cmd[int(GO2.sdk_indices[0])]
            target = motor.kp > 0
            if target and not blocked_at and daemon.s.mode is Mode.POLICY and _walked(daemon):
                blocked_at.append(time.monotonic())
                time.sleep(3.0)
            publish(msg)

        daemon.motor.publish = slow

    result, code = _drive(_args(artifacts["go2"]), wire, monkeypatch, box, patch)
    assert blocked_at and code == 1 and "motor loop stalled" in result["error"], result
    flags = wire.after(blocked_at[0])
    late_target = [i for i, d in enumerate(flags) if not d]
    assert late_target, "the stuck target write landed (after damping had started)"
    assert flags[0] and all(flags[late_target[-1] + 1 :]) and flags[-1]
    assert len(flags) - late_target[-1] - 1 >= EXIT_DAMPING_MESSAGES


def _walked(daemon) -> bool:
    return (time.monotonic_ns() - daemon.s.mode_since_ns) * 1e-9 > 0.3


def test_queued_log_never_blocks_and_counts_what_it_drops():
    stream = BlockedStream()
    log = QueuedLog("genpo-deploy", stream, capacity=8)
    t0 = time.monotonic()
    for i in range(100):
        log(f"line {i}")
    assert time.monotonic() - t0 < 1.0  # 100 calls against a blocked stream return at once
    assert log.dropped >= 100 - 8 - 1  # the writer holds one line; the queue 8
    assert not log.flush(0.1)  # cannot finish while the stream blocks, and says so
    stream.release.set()
    assert log.flush(2.0)
    text = "".join(stream.lines)
    assert text.startswith("genpo-deploy: line 0\n")
    assert "log line(s) dropped: stderr was not being read" in text


@pytest.mark.timeout(60)
def test_queued_log_is_safe_to_call_from_a_signal_handler():
    """A handler that logs while its own thread is inside a log call (a Queue's mutex would be
    held there: the handler would wait on it forever)."""

    class Sink(io.TextIOBase):
        def write(self, text: str) -> int:
            return len(text)

    log = QueuedLog("genpo-deploy", Sink(), capacity=10**7)
    hits = []

    def on_alarm(_signum, _frame) -> None:
        hits.append(1)
        log("from the handler")

    # SIGVTALRM (CPU time): SIGALRM is pytest-timeout's
    previous = signal.signal(signal.SIGVTALRM, on_alarm)
    signal.setitimer(signal.ITIMER_VIRTUAL, 0.001, 0.001)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3.0:
            log("from the main thread")
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)
    assert len(hits) > 100  # the handler ran, many times inside a call
    assert log.flush(5.0)
