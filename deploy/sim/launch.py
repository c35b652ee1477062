"""Start genpo-sim in a subprocess (tests, tools): `with SimProcess("go2", domain=110) as sim:`.

Waits for the ready line, exposes the control client, and stops the sim on exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from deploy.sim.control import SimControlClient


class SimProcess:
    """A running `python -m deploy.sim` with `--duration` as a safety bound."""

    def __init__(
        self, robot: str, domain: int, duration_s: float = 60.0, *extra: str, python: str = ""
    ) -> None:
        # `python`: another interpreter for the sim (a Python 3.8 deploy tests against a 3.11 sim).
        self.args = [python or sys.executable, "-m", "deploy.sim", "--robot", robot, "--domain",
                     str(domain), "--iface", "lo", "--headless", "--duration", str(duration_s),
                     *extra]  # fmt: skip
        self.proc: subprocess.Popen[str] | None = None
        self.control: SimControlClient | None = None
        self.ready: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}

    def __enter__(self) -> SimProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.ready = self._read_event("ready", timeout_s=60.0)
        self.control = SimControlClient(self.ready["control_port"])
        return self

    def _read_event(self, event: str, timeout_s: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise RuntimeError(f"genpo-sim exited before {event!r}: {err[-2000:]}")
            if line.startswith("{"):
                message = json.loads(line)
                if message.get("event") == event:
                    return message
        raise TimeoutError(f"genpo-sim sent no {event!r} line within {timeout_s} s")

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        try:
            if self.proc.poll() is None and self.control is not None:
                self.control.stop()
            self.summary = self._read_event("summary", timeout_s=15.0)
        except (OSError, RuntimeError, TimeoutError):
            pass
        finally:
            if self.control is not None:
                self.control.close()
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
