"""Local control channel of the sim: UDP on 127.0.0.1 with one JSON object per datagram.

Requests (every reply is a JSON object with "ok"):
    {"cmd": "truth"}                                   -> sim ground truth and counters
    {"cmd": "sticks", "lx": 0, "ly": 0.5, "rx": 0, "ry": 0, "l2": 0}   (any subset)
    {"cmd": "press", "keys": ["L2", "B"], "hold_s": 0.3}
    {"cmd": "push", "force_n": [fx, fy, fz], "duration_s": 0.1}
    {"cmd": "stop"}
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any, Callable, Dict

# typing's generics: this alias is evaluated, and genpo-deploy imports the client on Python 3.8.
Handler = Callable[[Dict[str, Any]], Dict[str, Any]]
MAX_DATAGRAM = 65507


class ControlServer:
    """Serves requests in a background thread; `handler` does the work (thread-safe itself)."""

    def __init__(self, port: int, handler: Handler) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", port))
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
                reply = self._handler(json.loads(data))
            except (ValueError, KeyError, TypeError) as exc:
                reply = {"ok": False, "error": str(exc)}
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

    def stop(self) -> None:
        self.request("stop")

    def close(self) -> None:
        self._sock.close()
