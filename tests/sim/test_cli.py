"""genpo-sim CLI: user mistakes are one sentence and exit 2; the remote reaches LowState."""

from __future__ import annotations

import subprocess
import sys
import time

from deploy.sim.launch import SimProcess
from robots import GO2
from tests.sim.conftest import SimClient


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "deploy.sim", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_unknown_robot_and_interface_exit_2_without_traceback() -> None:
    for args, message in (
        (("--robot", "go3"), "unknown robot 'go3'"),
        (("--robot", "go2", "--iface", "nosuch0", "--domain", "122"), "'nosuch0' does not exist"),
        (("--robot", "go2", "--drop-rate", "2", "--domain", "122"), "drop_rate must be in"),
    ):
        out = _run(*args, "--duration", "1", "--headless")
        assert out.returncode == 2, out.stderr
        assert message in out.stderr and "Traceback" not in out.stderr


def test_sticks_and_buttons_reach_wireless_remote() -> None:
    with SimProcess("go2", 123, 30.0) as sim:
        client = SimClient(GO2, 123)
        client.state()  # connected: DDS discovery can take longer than the press lasts
        sim.control.set_sticks(ly=0.5, rx=-0.25)
        sim.control.press("L2", "B", hold_s=0.5)
        time.sleep(0.1)
        remote = client.state().remote
        time.sleep(0.6)
        released = client.state().remote
    assert remote.ly == 0.5 and remote.rx == -0.25 and remote.pressed("L2", "B")
    assert not released.pressed("L2") and released.ly == 0.5
