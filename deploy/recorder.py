"""Flight recorder: every tick of the daemon in one MCAP file (JSON messages, Foxglove-readable).

Topics:
    /deploy/header   once: artifact path and SHA-256, robot, resolved config, command source
    /deploy/policy   every policy tick: LowState fields used, command, obs, action, timings
    /deploy/command  every command tick: mode, targets sent (or damping), limit flags
    /deploy/event    safety trips and limits as they happen, state transitions, notes

The loops only append (time, topic, dict of plain floats) to a list; a writer thread encodes and
writes it every `flush_s`, so a crash loses at most about that much and the loops never touch the
file. Size is bounded: past `max_bytes` the recorder stops with one message (the run goes on).
A write failure (disk full, I/O error) is logged once, stops recording and is kept in `failed`
(the daemon damps on it unless recorder.continue_unrecorded); `close()` never raises.
Float32 arrays are stored as Python floats, which JSON round-trips exactly, so replay is
bit-exact.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcap.writer import CompressionType, Writer

from common.errors import UserError
from common.files import creatable_dir_problem, nearest_existing

TOPICS = ("/deploy/header", "/deploy/policy", "/deploy/command", "/deploy/event")
_SCHEMA = json.dumps({"type": "object"}).encode()


class FlightRecorder:
    """MCAP writer fed by the loops through `record()`; `close()` flushes and finishes the file."""

    def __init__(
        self,
        path: str | Path,
        max_bytes: int,
        flush_s: float,
        log: Callable[[str], None] = print,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")  # noqa: SIM115  (closed in close())
        self._writer = Writer(self._file, chunk_size=64 * 1024, compression=CompressionType.NONE)
        self._writer.start(profile="", library="genpo-deploy")
        schema = self._writer.register_schema("genpo.deploy.Record", "jsonschema", _SCHEMA)
        self._channels = {t: self._writer.register_channel(t, "json", schema) for t in TOPICS}
        self._pending: list[tuple[int, str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._max_bytes = max_bytes
        self._flush_s = flush_s
        self._log = log
        self._bytes = 0
        self.full = False
        self.failed: OSError | None = None  # the first write failure; recording stopped
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    @classmethod
    def open_checked(
        cls, path: Path, max_bytes: int, flush_s: float, log: Callable[[str], None] = print
    ) -> FlightRecorder:
        """Open a log at start-up: UserError (before anything is sent) when its directory cannot
        be written or its disk lacks room for `max_bytes` (check_log_dir)."""
        check_log_dir(path.parent, max_bytes)
        try:
            return cls(path, max_bytes, flush_s, log)
        except OSError as exc:
            raise UserError(_unwritable(path.parent, exc.strerror or str(exc))) from None

    def record(self, t_ns: int, topic: str, payload: dict[str, Any]) -> None:
        """Queue one message (payload: plain Python values only). Cheap; safe from any thread."""
        if not (self.full or self.failed):
            self._pending.append((t_ns, topic, payload))  # list.append is atomic under the GIL

    def _run(self) -> None:
        while not self._stop.wait(self._flush_s):
            self._drain()

    def _drain(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            if self.failed is not None:
                return
            try:
                self._write(batch)
            except OSError as exc:
                self._fail("writing", exc)

    def _write(self, batch: list[tuple[int, str, dict[str, Any]]]) -> None:
        for t_ns, topic, payload in batch:
            if self.full:
                break
            data = json.dumps(payload, separators=(",", ":")).encode()
            self._bytes += len(data) + 64  # message record overhead, roughly
            if self._bytes > self._max_bytes:
                self.full = True
                self._log(
                    f"flight recorder: {self.path} reached {self._max_bytes} bytes; "
                    "recording stopped (raise recorder.max_bytes to keep more)"
                )
                break
            self._writer.add_message(self._channels[topic], t_ns, data, t_ns)
            self.written += 1
        self._writer.flush()

    def _fail(self, doing: str, exc: OSError) -> None:
        """Keep the first failure and say it once; recording stops."""
        if self.failed is None:
            self.failed = exc
            self._log(f"flight recorder: {doing} {self.path} failed ({exc.strerror or exc}); "
                      "recording stopped")  # fmt: skip

    def close(self) -> None:
        """Flush, finish and close; a failure is logged (once), never raised."""
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._drain()
        with self._lock:
            try:
                if self.failed is None:
                    self._writer.finish()
            except OSError as exc:
                self._fail("finishing", exc)
            try:
                self._file.close()
            except OSError as exc:
                self._fail("closing", exc)


def read_log(path: str | Path) -> list[tuple[str, int, dict[str, Any]]]:
    """(topic, log_time_ns, payload) of every message, in file order; a log cut short by a crash
    is read up to the last complete chunk. A complete record that is not one of ours (unknown
    channel, not a JSON object) means the file was damaged or crafted: UserError."""
    from mcap.exceptions import McapError
    from mcap.stream_reader import StreamReader

    out: list[tuple[str, int, dict[str, Any]]] = []
    channels: dict[int, str] = {}
    # From memory (the recorder bounds the size): a damaged record length then reads short
    # instead of asking the allocator for up to 2**64 bytes.
    data = io.BytesIO(Path(path).read_bytes())
    try:
        for rec in StreamReader(data, skip_magic=False).records:
            kind = type(rec).__name__
            if kind == "Channel":
                channels[rec.id] = rec.topic
            elif kind == "Message":
                out.append(_message(path, len(out), channels, rec))
    except (McapError, EOFError, struct.error, UnicodeDecodeError):
        pass  # a record cut short (crash) or garbled: keep the complete ones before it
    return out


def _message(
    path: str | Path, index: int, channels: dict[int, str], rec: Any
) -> tuple[str, int, dict[str, Any]]:
    where = f"{path} is damaged: message {index}"
    if rec.channel_id not in channels:
        raise UserError(f"{where} names channel {rec.channel_id}, which the log never declared")
    try:
        payload = json.loads(rec.data)
    except (ValueError, RecursionError):  # not UTF-8 / not JSON / nested past Python's limit
        raise UserError(f"{where} is not readable JSON") from None
    if not isinstance(payload, dict):
        raise UserError(f"{where} is a JSON {type(payload).__name__}, not an object")
    return channels[rec.channel_id], rec.log_time, payload


def check_log_dir(directory: Path, max_bytes: int) -> None:
    """UserError unless a log of `max_bytes` fits in `directory` (made where missing): a folder
    that takes new files on a disk with that much room. Judged without creating anything, so
    genpo-deploy --check applies the very check a run makes before it opens its log."""
    problem = creatable_dir_problem(directory)
    if problem:
        raise UserError(_unwritable(directory, problem))
    try:
        free = shutil.disk_usage(nearest_existing(directory)).free
    except OSError as exc:
        raise UserError(_unwritable(directory, exc.strerror or str(exc))) from None
    if free < max_bytes:
        raise UserError(
            f"the flight recorder needs {max_bytes} bytes but {directory} has {free} free; "
            "free space, lower recorder.max_bytes, pass another --log DIR or --no-log"
        )


def _unwritable(directory: Path, why: str) -> str:
    return (
        f"cannot write the flight recorder log in {directory} ({why}); pass a writable "
        "--log DIR or --no-log"
    )
