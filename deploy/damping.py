"""The one damping path: a LowCmd built and checked once at start, published unchanged on every
exit (end of run, e-stop, trips, signals, exceptions in any loop stage, watchdogs). The motor loop
publishes it on a trip; `exit_damping` is what every way out of the daemon calls last.

Nothing computes gains at exit: the message object is built before DDS opens, verified slot by
slot (kp 0, kd inside the envelope, position term off, CRC stamped) and never written to again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from deploy.io.crc import crc_ok
from deploy.io.lowcmd import make_lowcmd_builder
from robots.spec import POS_STOP, RobotSpec
from safety.envelope import EnvelopeError, damping_kd_ok

EXIT_DAMPING_MESSAGES = 10  # sent after the loops stop, one motor period apart
FINAL_LOCK_WAIT_S = 0.5  # a loop stuck holding the lock must not keep damping off the wire


def build_damping(robot: RobotSpec, kd: float) -> Any:
    """The prebuilt damping LowCmd for `robot` with `kd` on every joint; EnvelopeError when kd is
    outside the envelope."""
    if not damping_kd_ok(kd):
        raise EnvelopeError(f"damping kd {kd!r} is outside the damping envelope")
    builder = make_lowcmd_builder(robot)  # private: no one else can rewrite this message
    builder.set_damping(kd)
    msg = builder.build()
    motors = [msg.motor_cmd[s] for s in robot.sdk_indices.tolist()]
    ok = all(m.kp == 0.0 and m.kd == kd and m.q == POS_STOP and m.tau == 0.0 for m in motors)
    if not (ok and crc_ok(msg)):
        raise RuntimeError("the prebuilt damping LowCmd does not hold what was set")  # a bug
    return msg


def exit_damping(
    publish: Callable[[Any], None],
    msg: Any,
    period_s: float,
    log: Callable[[str], None],
    lock: threading.Lock | None = None,
) -> int:
    """The last thing the robot hears: the prebuilt `msg` EXIT_DAMPING_MESSAGES times, `period_s`
    apart; a failed write is logged and the next one is still tried. With the loops' `lock`, a
    loop stuck holding it gets FINAL_LOCK_WAIT_S, then damping goes out regardless (the DDS
    writer is thread-safe). Returns how many writes succeeded."""
    locked = lock is not None and lock.acquire(timeout=FINAL_LOCK_WAIT_S)
    sent = 0
    try:
        for i in range(EXIT_DAMPING_MESSAGES):
            try:
                publish(msg)
                sent += 1
            except Exception as exc:  # the robot must still hear the rest
                log(f"damping write {i + 1}/{EXIT_DAMPING_MESSAGES} failed: {exc!r}")
            time.sleep(period_s)
    finally:
        if locked:
            lock.release()
    return sent
