"""Real-time plumbing: absolute-deadline sleeps, SCHED_FIFO, CPU pinning, mlockall, GC freeze.

Every setting is tried and, when the OS refuses (no CAP_SYS_NICE, a container), reported with a
warning; the daemon runs on regardless, only with more jitter.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

_MCL_CURRENT, _MCL_FUTURE = 1, 2
# The GIL hand-off interval: a busy thread (recorder, DDS listener) gives the GIL to a waking
# loop thread after at most this long (CPython's default is 5 ms, longer than a command period).
SWITCH_INTERVAL_S = 0.00005


def sleep_until_ns(deadline_ns: int, spin_ns: int) -> int:
    """Sleep until `spin_ns` before the absolute monotonic deadline, then spin to it.

    Returns the time actually reached (>= deadline). Never a relative sleep between ticks: a late
    tick does not push the following deadlines back.
    """
    now = time.monotonic_ns()
    coarse = deadline_ns - spin_ns - now
    if coarse > 0:
        time.sleep(coarse * 1e-9)
    now = time.monotonic_ns()
    while now < deadline_ns:
        now = time.monotonic_ns()
    return now


def next_deadline_ns(deadline_ns: int, period_ns: int, now_ns: int) -> tuple[int, int]:
    """The next deadline after `deadline_ns`, skipping ones already past: (deadline, skipped)."""
    nxt = deadline_ns + period_ns
    if nxt > now_ns:
        return nxt, 0
    skipped = (now_ns - nxt) // period_ns + 1
    return nxt + skipped * period_ns, int(skipped)


def realtime_thread(priority: int, cpus: Sequence[int], log: Callable[[str], None]) -> None:
    """SCHED_FIFO at `priority` and CPU affinity for the calling thread (Linux), or a warning."""
    if cpus:
        try:
            os.sched_setaffinity(0, set(cpus))
        except (OSError, AttributeError) as exc:
            log(f"warning: could not pin to CPUs {list(cpus)} ({exc}); running unpinned")
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError) as exc:
        log(
            f"warning: SCHED_FIFO priority {priority} refused ({exc}); running at normal "
            "priority (grant CAP_SYS_NICE or run as root for less jitter)"
        )


def boost_helper_threads(priority: int, log: Callable[[str], None]) -> int:
    """SCHED_FIFO at `priority` for every thread of this process still at normal priority (the
    DDS receive/listener threads, the recorder, the supervisor). They hold the GIL now and then;
    at normal priority another process can preempt them mid-hold and stall the loops behind them
    (priority inversion). Returns how many threads were raised."""
    raised = 0
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return 0
    for tid in tids:
        try:
            if os.sched_getscheduler(tid) == os.SCHED_OTHER:
                os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
                raised += 1
        except OSError as exc:
            log(f"warning: could not raise helper thread {tid} to SCHED_FIFO ({exc})")
            return raised
    return raised


@contextmanager
def realtime_section(priority: int, log: Callable[[str], None]) -> Iterator[None]:
    """SCHED_FIFO for the calling thread inside the block (when permitted), normal after."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        raised = True
    except (OSError, AttributeError):
        raised = False
    try:
        yield
    finally:
        if raised:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def lock_memory(log: Callable[[str], None]) -> None:
    """mlockall(MCL_CURRENT | MCL_FUTURE): no page faults in the loops; a warning if refused."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        if libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) != 0:
            err = ctypes.get_errno()
            log(f"warning: mlockall refused ({os.strerror(err)}); pages may fault in the loops")
    except (OSError, AttributeError) as exc:
        log(f"warning: mlockall unavailable ({exc})")


def quiet_gc() -> None:
    """After warm-up: move every live object to the permanent generation and stop the cyclic
    collector, so no collection pause lands inside a tick (the loops allocate little)."""
    gc.collect()
    gc.freeze()
    gc.disable()


def fast_gil_handoff() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
