"""Local control channel of the sim: UDP on 127.0.0.1 with one JSON object per datagram.

Every request is validated before it reaches the sim (size, nesting depth, types, ranges): a bad
one gets {"ok": false, "error": ...} and the server keeps serving, whatever arrives.

Requests (every reply is a JSON object with "ok"):
    {"cmd": "truth"}                                   -> sim ground truth and counters
    {"cmd": "sticks", "lx": 0, "ly": 0.5, "rx": 0, "ry": 0, "l2": 0}   (any subset)
    {"cmd": "press", "keys": ["L2", "B"], "hold_s": 0.3}
    {"cmd": "push", "force_n": [fx, fy, fz], "duration_s": 0.1}
    {"cmd": "band", "on": false}                       -> release (or re-hang) the elastic band
    {"cmd": "stop"}
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
from typing import Any, Callable, Dict

from common.errors import UserError

# typing's generics: this alias is evaluated, and genpo-deploy imports the client on Python 3.8.
Handler = Callable[[Dict[str, Any]], Dict[str, Any]]
MAX_DATAGRAM = 65507
MAX_REQUEST_BYTES = 4096  # the largest valid request is a few hundred bytes
MAX_DEPTH = 3  # {"cmd": ..., "keys": [...]}: an object holding one list
STICKS = ("lx", "ly", "rx", "ry", "l2")
MAX_PUSH_N = 2000.0  # several times a Go2's weight; an H1 push test uses ~300 N
MAX_HOLD_S = 60.0
# Allowed fields per command (besides "cmd") and their checks.
_FIELDS: dict[str, tuple[str, ...]] = {
    "truth": (),
    "sticks": STICKS,
    "press": ("keys", "hold_s"),
    "push": ("force_n", "duration_s"),
    "band": ("on",),
    "stop": (),
}


class RequestError(ValueError):
    """A control request that is malformed; its message is the reply's "error"."""


def parse_request(data: bytes) -> dict[str, Any]:
    """A validated request from one datagram; RequestError naming the problem otherwise."""
    if len(data) > MAX_REQUEST_BYTES:
        raise RequestError(f"request of {len(data)} bytes exceeds {MAX_REQUEST_BYTES}")
    if _depth(data) > MAX_DEPTH:
        raise RequestError(f"request nests deeper than {MAX_DEPTH} levels")
    try:
        req = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise RequestError(f"request is not JSON ({exc})") from None
    if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
        raise RequestError('request must be a JSON object with a string "cmd"')
    cmd = req["cmd"]
    if cmd not in _FIELDS:
        raise RequestError(f"unknown command {cmd!r}; commands: {', '.join(_FIELDS)}")
    unknown = set(req) - {"cmd", *_FIELDS[cmd]}
    if unknown:
        raise RequestError(f"{cmd}: unknown fields {sorted(unknown)}")
    for key in STICKS:
        if key in req:
            _number(req, key, -1.0, 1.0)
    if cmd == "press":
        keys = req.get("keys")
        if not (isinstance(keys, list) and 0 < len(keys) <= 16):
            raise RequestError("press: keys must be a list of 1-16 key names")
        if not all(isinstance(k, str) for k in keys):
            raise RequestError("press: keys must be strings")
        _number(req, "hold_s", 0.0, MAX_HOLD_S, required=False)
    if cmd == "push":
        check_push_force(req.get("force_n"))
        if "duration_s" in req:
            check_push_duration(req["duration_s"])
    if cmd == "band" and not isinstance(req.get("on"), bool):
        raise RequestError("band: on must be true or false")
    return req


def _depth(data: bytes) -> int:
    """Deepest bracket nesting, counted without parsing (json.loads recurses per level)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            escaped, in_string = (False, True) if escaped else (byte == 0x5C, byte != 0x22)
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def check_push_force(force_n: object, name: str = "force_n") -> None:
    """A push on the base: three finite numbers within +-MAX_PUSH_N newtons, else RequestError
    naming `name`. The "push" request and genpo-sim's --push-force-n both check here."""
    if not (isinstance(force_n, (list, tuple)) and len(force_n) == 3):
        raise RequestError(f"push: {name} must be a list of three numbers (N)")
    for value in force_n:
        _number({name: value}, name, -MAX_PUSH_N, MAX_PUSH_N)


def check_push_duration(duration_s: object, name: str = "duration_s") -> None:
    """How long a push lasts: a finite number of seconds in [0, MAX_HOLD_S], else RequestError
    naming `name`. The "push" request and genpo-sim's --push-duration-s both check here."""
    _number({name: duration_s}, name, 0.0, MAX_HOLD_S)


def _number(req: dict[str, Any], key: str, lo: float, hi: float, required: bool = True) -> None:
    if key not in req and not required:
        return
    value = req.get(key)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and lo <= value <= hi):
        raise RequestError(f"{key} must be a number in [{lo:g}, {hi:g}], got {value!r}")


class ControlServer:
    """Serves requests in a background thread; `handler` does the work (thread-safe itself)."""

    def __init__(self, port: int, handler: Handler) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind(("127.0.0.1", port))
        except OSError as exc:  # in use, or privileged
            self._sock.close()
            raise UserError(
                f"the control channel cannot use UDP port {port} on 127.0.0.1 ({exc.strerror}); "
                "pass another --control-port, or 0 for any free port"
            ) from None
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._handler = handler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sim-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = self._handler(parse_request(data))
            except Exception as exc:  # a request must never end the channel
                reply = {"ok": False, "error": str(exc)}
            with contextlib.suppress(OSError):  # the peer went away; keep serving the others
                self._sock.sendto(json.dumps(reply).encode(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self._sock.close()


class SimControlClient:
    """Talks to a running genpo-sim: sticks, buttons, pushes, ground truth."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout_s: float = 2.0) -> None:
        self._addr = (host, port)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.settimeout(timeout_s)

    def request(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """Send one request and return the reply; RuntimeError when the sim reports an error."""
        self._sock.sendto(json.dumps({"cmd": cmd, **fields}).encode(), self._addr)
        reply = json.loads(self._sock.recvfrom(MAX_DATAGRAM)[0])
        if not reply.get("ok"):
            raise RuntimeError(f"sim refused {cmd!r}: {reply.get('error')}")
        return reply

    def truth(self) -> dict[str, Any]:
        return self.request("truth")

    def set_sticks(self, **sticks: float) -> None:
        """Any of lx, ly, rx, ry, l2 in [-1, 1]; unnamed sticks keep their value."""
        self.request("sticks", **sticks)

    def press(self, *keys: str, hold_s: float = 0.3) -> None:
        self.request("press", keys=list(keys), hold_s=hold_s)

    def push(self, force_n: tuple[float, float, float], duration_s: float = 0.1) -> None:
        self.request("push", force_n=list(force_n), duration_s=duration_s)

    def release_band(self) -> None:
        """Let go of the elastic band (a no-op on a sim started without --band)."""
        self.request("band", on=False)

    def stop(self) -> None:
        self.request("stop")

    def close(self) -> None:
        self._sock.close()
