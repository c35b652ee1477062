"""Recorder faults are loud and safe: a write failure (ENOSPC from /dev/full, a real device) is
logged once and never raises; by default the daemon damps with cause recorder_failed, with
recorder.continue_unrecorded it runs on; the result always comes back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_

import deploy.cli as cli
from common.errors import UserError
from deploy.io.channels import open_dds
from deploy.recorder import FlightRecorder
from robots import GO2
from tests.deploy.conftest import LowCmdSpy
from tests.deploy.standing import standing_link

DOMAIN = 173
FULL = Path("/dev/full")  # every write fails with ENOSPC


def test_disk_full_is_logged_once_and_close_does_not_raise():
    messages: list[str] = []
    rec = FlightRecorder(FULL, max_bytes=10**7, flush_s=0.02, log=messages.append)
    for i in range(500):
        rec.record(i, "/deploy/command", {"targets": [0.1] * 12})
        time.sleep(0.0005)
    rec.close()
    assert rec.failed is not None and rec.failed.strerror == "No space left on device"
    assert len(messages) == 1 and "failed" in messages[0] and str(FULL) in messages[0]


def test_open_checked_refuses_no_room_and_unwritable(tmp_path):
    with pytest.raises(UserError, match="needs 1000000000000000 bytes"):
        FlightRecorder.open_checked(tmp_path / "a.mcap", 10**15, 0.2)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot write the flight recorder log"):
        FlightRecorder.open_checked(blocker / "sub" / "a.mcap", 10**6, 0.2)
    assert not list(tmp_path.glob("*.mcap"))


def _drive(artifacts, monkeypatch, *extra: str):
    monkeypatch.setattr(cli, "lock_memory", lambda log: None)  # not the pytest process's pages
    args = cli.build_parser().parse_args(
        ["--robot", "go2", "--sim", "--domain", str(DOMAIN), "--policy", str(artifacts["go2"]),
         "--auto", "--duration", "4", "--set", "timing.budget_calls=100", *extra]
    )  # fmt: skip
    plan = cli.prepare(args)
    writer = open_dds(DOMAIN, iface="lo").writer("rt/lowcmd", LowCmd_)
    rec = FlightRecorder(FULL, plan.cfg.recorder.max_bytes, 0.05, cli.log)
    link = standing_link(GO2, writer)
    try:
        return cli.drive(args, plan, link, rec)
    finally:
        rec.close()


@pytest.fixture(scope="module")
def spy():
    s = LowCmdSpy(DOMAIN, GO2.sdk_indices.tolist())
    yield s
    s.close()


def test_recorder_failure_damps_with_its_cause(artifacts, monkeypatch, spy):
    start = len(spy.cmds)
    result, code = _drive(artifacts, monkeypatch)
    time.sleep(0.3)
    assert code == 1 and "flight recorder failed" in result["error"], result
    assert result["safety_events"][0] == "recorder_failed"
    assert result["states_visited"][-1] == "DAMP"
    assert spy.cmds[start:] and spy.cmds[-1][1], "the last LowCmd on the wire must be damping"


def test_continue_unrecorded_runs_on(artifacts, monkeypatch, spy):
    result, code = _drive(artifacts, monkeypatch, "--set", "recorder.continue_unrecorded=true")
    assert code == 0 and "error" not in result, result
    assert "No space left on device" in result["recorder_error"]
    assert "recorder_failed" not in result["safety_events"]
    assert result["states_visited"] == ["CONNECT", "PASSIVE", "STAND", "POLICY", "DAMP"]
