"""Deploy test fixtures: tiny exported artifacts (session-wide), genpo-sim and genpo-deploy
processes, and a DDS spy on rt/lowcmd. DDS tests use domains 150-199, one per test."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from robots.spec import POS_STOP
from tests.conftest import REPO

# The interpreter with every extra (torch, mujoco): it writes the test artifacts and runs genpo-sim.
# The robot-side tier runs these tests on Python 3.8 and points this at the main (3.10+) venv.
MAIN_PYTHON = os.environ.get("GENPO_MAIN_PYTHON") or sys.executable


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Written by export/ in MAIN_PYTHON (the deploy side under test may have no torch)."""
    root = tmp_path_factory.mktemp("artifacts")
    subprocess.run([MAIN_PYTHON, "-m", "tests.deploy.artifacts", str(root)], cwd=REPO, check=True)
    return {name: root / name / "policy.onnx" for name in ("go2", "h1", "go2_nan", "go2_history")}


def boost_sim(pid: int, priority: int = 40) -> None:
    """SCHED_FIFO for every thread of the sim: on a shared 2-core machine other work otherwise
    stalls its physics loop for hundreds of ms, and the daemon (rightly) damps on stale state."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(priority))
    except OSError:
        pass  # not permitted: the sim runs at normal priority


class Deploy:
    """`python -m deploy ...` in a subprocess; stderr lines are collected as they come."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deploy", *args], cwd=REPO, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())

    def wait_for(self, text: str, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if any(text in line for line in self.lines):
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)
                return any(text in line for line in self.lines)
            time.sleep(0.02)
        return False

    def finish(self, timeout_s: float) -> tuple[int, str]:
        """Exit code and stdout; stderr stays with the reader thread (communicate() would
        steal it)."""
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            log = "\n".join(self.lines)
            raise AssertionError(f"genpo-deploy did not exit in time:\n{log}") from None
        out = self.proc.stdout.read()
        self._reader.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, out

    def result(self, timeout_s: float) -> dict:
        import json

        rc, out = self.finish(timeout_s)
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        assert rc == 0 and lines, f"rc {rc}, stdout {out!r}\n" + "\n".join(self.lines)
        return json.loads(lines[-1])


class LowCmdSpy:
    """Subscribes rt/lowcmd and rt/lowstate in the test process. Times are the writers' DDS
    source timestamps (CLOCK_REALTIME ns at publish), so the spy's own scheduling on a busy
    machine does not blur them."""

    def __init__(self, domain: int, slots: list[int]) -> None:
        from cyclonedds.core import Listener
        from cyclonedds.sub import DataReader
        from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

        from deploy.io.channels import open_dds

        self._slots = slots
        node = open_dds(domain, iface="lo")
        self.cmds: list[tuple[int, bool, float]] = []  # (published ns, is_damping, kd of slot 0)
        self.states: list[tuple[int, int]] = []  # (published ns, tick)
        self._readers = [
            DataReader(node.participant, node.topic(name, kind), listener=Listener(
                on_data_available=lambda r, f=fn: [f(m) for m in r.take(N=64)]))
            for name, kind, fn in (("rt/lowcmd", LowCmd_, self._on_cmd),
                                   ("rt/lowstate", LowState_, self._on_state))
        ]  # fmt: skip

    def _on_cmd(self, msg) -> None:
        if not hasattr(msg, "motor_cmd"):
            return  # an InvalidSample (writer gone)
        motors = [msg.motor_cmd[s] for s in self._slots]
        damping = all(m.kp == 0.0 and m.kd > 0.0 and m.q >= 0.99 * POS_STOP for m in motors)
        self.cmds.append((msg.sample_info.source_timestamp, damping, motors[0].kd))

    def _on_state(self, msg) -> None:
        if hasattr(msg, "tick"):
            self.states.append((msg.sample_info.source_timestamp, int(msg.tick)))

    def close(self) -> None:
        for r in self._readers:
            r.set_listener(None)
