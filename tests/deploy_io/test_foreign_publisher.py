"""A second process publishing rt/lowcmd on our domain is detected, our own writer is not; a second
rt/lowstate writer trips through the same rule (safety.foreign_publisher)."""

from __future__ import annotations

import subprocess
import sys
import time

from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_

from deploy.io.channels import open_dds
from deploy.io.foreign import ForeignWriterMonitor
from deploy.io.lowcmd import make_lowcmd_builder
from robots import GO2
from safety import Cause, foreign_publisher

DOMAIN = 101
_PUBLISHER = f"""
import time
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_
from deploy.io.channels import open_dds
from deploy.io.lowcmd import make_lowcmd_builder
from robots import GO2
from safety import Cause, foreign_publisher
writer = open_dds({DOMAIN}, iface="lo").writer("rt/lowcmd", LowCmd_)
builder = make_lowcmd_builder(GO2)
builder.set_damping(1.0)
for _ in range(300):  # bounded: 3 s at 100 Hz
    writer.write(builder.build())
    time.sleep(0.01)
"""


def _poll_until(monitor: ForeignWriterMonitor, want: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = len(monitor.poll())
        if found == want:
            return found
        time.sleep(0.05)
    return len(monitor.poll())


def test_second_publisher_detected_and_gone() -> None:
    node = open_dds(DOMAIN, iface="lo")
    ours = node.writer("rt/lowcmd", LowCmd_)
    monitor = ForeignWriterMonitor(node, "rt/lowcmd", (ours,))
    builder = make_lowcmd_builder(GO2)
    builder.set_damping(1.0)
    ours.write(builder.build())
    assert _poll_until(monitor, 0, 0.5) == 0
    other = subprocess.Popen([sys.executable, "-c", _PUBLISHER], stderr=subprocess.DEVNULL)
    try:
        assert _poll_until(monitor, 1, 10.0) == 1
        assert monitor.poll()[0].type_name.endswith("LowCmd_")
    finally:
        other.wait(timeout=20)
    assert _poll_until(monitor, 0, 5.0) == 0  # the writer left with its process


def test_second_lowstate_writer_is_flagged_by_the_same_monitor() -> None:
    """rt/lowstate tolerates one writer (the robot); a second one (a sim or replay left running)
    is reported like a foreign rt/lowcmd writer."""
    from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowState_

    domain = 109  # its own: 102 is test_sport_mode's
    node = open_dds(domain, iface="lo")
    monitor = ForeignWriterMonitor(node, "rt/lowstate", tolerated=1)
    robot = open_dds(domain, iface="lo").writer("rt/lowstate", LowState_)
    assert _poll_until(monitor, 1, 5.0) == 1  # the robot alone: tolerated
    assert foreign_publisher(len(monitor.poll()), monitor.tolerated) is None
    second = subprocess.Popen(
        [sys.executable, "-c", _LOWSTATE_WRITER.format(domain=domain)], stderr=subprocess.DEVNULL
    )
    try:
        assert _poll_until(monitor, 2, 10.0) == 2  # both named: which is the robot is unknown
        verdict = foreign_publisher(len(monitor.poll()), monitor.tolerated)
        assert verdict is Cause.FOREIGN_PUBLISHER
    finally:
        second.wait(timeout=20)
    assert _poll_until(monitor, 1, 5.0) == 1
    del robot


_LOWSTATE_WRITER = """
import time
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowState_
from deploy.io.channels import open_dds
writer = open_dds({domain}, iface="lo").writer("rt/lowstate", LowState_)
time.sleep(3.0)
"""
