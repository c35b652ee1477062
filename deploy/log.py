"""The daemon's log: a call never blocks, so a stalled stderr cannot hold a loop off the wire.

A terminal paused with Ctrl-S, a `| less` that stopped reading or a stuck journald pipe blocks
`print(..., file=sys.stderr)` once the pipe buffer (64 KiB) is full. Called from the motor loop
(under the lock every LowCmd writer needs) or from a signal handler, such a write would keep
damping off the wire. Here a line goes into a bounded queue and one writer thread (a daemon
thread: a stuck stream never keeps the process alive) writes it; when the queue is full the line
is dropped and counted. The queue is a `queue.SimpleQueue`, whose `put` is reentrant: a signal
handler that logs while its own thread is inside a `put` does not deadlock (the daemon's handler
does not log anyway; the supervisor says what the signal did).
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from typing import TextIO

CAPACITY = 1024  # lines waiting for the writer; more are dropped (and counted)
FLUSH_POLL_S = 0.005


class QueuedLog:
    """`log(text)` puts "<prefix>: <text>" on the queue and returns at once."""

    def __init__(self, prefix: str, stream: TextIO | None = None, capacity: int = CAPACITY):
        self.prefix = prefix
        self._stream = stream  # None: sys.stderr at the time of writing (pytest swaps it)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._capacity = capacity
        # Lines put (by callers) and written (by the writer): their difference is what waits.
        # No lock a caller could block on: two threads logging at once may lose a count of
        # `_put`, which only loosens the bound and the flush by a line.
        self._put = self._written = 0
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def __call__(self, text: str) -> None:
        if self._put - self._written >= self._capacity:
            self.dropped += 1
        else:
            self._put += 1
            self._queue.put(f"{self.prefix}: {text}\n")
        if self._thread is None:
            self._start_writer()

    def _start_writer(self) -> None:
        # Non-blocking: a signal handler that interrupted the first call's start must not wait.
        if not self._start.acquire(blocking=False):
            return
        try:
            if self._thread is None:
                thread = threading.Thread(target=self._write_lines, name="log", daemon=True)
                thread.start()
                self._thread = thread
        finally:
            self._start.release()

    def _write_lines(self) -> None:
        while True:
            line = self._queue.get()
            try:
                stream = self._stream or sys.stderr
                stream.write(line)
                stream.flush()
            except (OSError, ValueError):  # a closed or broken stream: the line is lost
                pass
            finally:
                self._written += 1

    def flush(self, timeout_s: float = 1.0) -> bool:
        """Wait up to `timeout_s` for the queued lines to be written; True when all were. A
        process about to exit calls this, so its last lines are not lost to a daemon thread."""
        if self._thread is None and self._put > self._written:
            self._start_writer()
        deadline = time.monotonic() + timeout_s
        while self._put > self._written:
            if time.monotonic() >= deadline:
                return False
            time.sleep(FLUSH_POLL_S)
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            self(f"{dropped} log line(s) dropped: stderr was not being read")
            return self.flush(max(0.0, deadline - time.monotonic()))
        return True
