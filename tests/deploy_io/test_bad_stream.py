"""The motor loop with the lean parser and builder, fed frames directly (no DDS): a stream of
implausible frames with valid CRCs (issue 11: a gyro of 1e6 rad/s) trips like a stale one and
never reaches the state the policy and safety read."""

from __future__ import annotations

import time

import numpy as np
import pytest
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowState_

from deploy.benchmarks.io import standing_lowstate
from deploy.config import load_deploy_cfg
from deploy.damping import build_damping
from deploy.io.crc import stamp_crc
from deploy.io.lowcmd import make_lean_lowcmd_builder
from deploy.io.lowstate import LeanLowStateParser
from deploy.io.remote import key_mask
from deploy.metrics import LoopMetrics
from deploy.motor_loop import Chords, MotorLoop, Shared
from robots import GO2
from safety import Mode, joint_limits


def _loop(frames: list[bytes], sent: list[bytes], lines: list[str]) -> MotorLoop:
    cfg = load_deploy_cfg("go2", sim=True)
    return MotorLoop(
        shared=Shared(artifact_ok=True, budget_ok=True),
        take=lambda: frames.pop(0) if frames else None,
        parser=LeanLowStateParser(GO2, LowState_, log=lines.append),
        builder=make_lean_lowcmd_builder(GO2), publish=sent.append,
        limits=joint_limits(GO2, command_dt_s=0.002),
        chords=Chords(key_mask(["L2", "B"]), key_mask(["Start"]), key_mask(["A"])),
        settings=cfg, default_q=GO2.values("default_q_rad"),
        damping_msg=build_damping(GO2, GO2.damping_kd), policy_period_s=0.02,
        metrics=LoopMetrics(500.0), recorder=None, log=lines.append,
    )  # fmt: skip


def _frame(tick: int, gyro_x: float = 0.0) -> bytes:
    msg = standing_lowstate(GO2)
    msg.tick = tick
    msg.imu_state.gyroscope = [gyro_x, 0.0, 0.0]
    stamp_crc(msg)  # a valid CRC: only plausibility can reject it
    return bytes(msg.serialize())


def _run(loop: MotorLoop, frames: list[bytes], make, until, limit_s: float = 5.0) -> None:
    """Tick at ~500 Hz with one new frame per tick until `until()` or `limit_s` (a bound on the
    wait, not an assertion)."""
    end = time.monotonic() + limit_s
    tick = 0
    while not until() and time.monotonic() < end:
        frames.append(make(tick))
        loop.tick(time.monotonic_ns())
        tick += 1
        time.sleep(0.002)


@pytest.mark.parametrize("gyro", [1e6, -36.0, float("nan")])
def test_stream_of_implausible_frames_trips_and_never_reaches_the_state(gyro) -> None:
    frames: list[bytes] = []
    sent: list[bytes] = []
    lines: list[str] = []
    loop = _loop(frames, sent, lines)
    _run(loop, frames, lambda i: _frame(1000 + i), lambda: loop.s.mode is Mode.PASSIVE)
    assert loop.s.mode is Mode.PASSIVE, lines
    loop.s.requests.append(Mode.STAND)
    _run(loop, frames, lambda i: _frame(2000 + i), lambda: loop.s.mode is Mode.STAND)
    assert loop.s.mode is Mode.STAND, lines
    _run(loop, frames, lambda i: _frame(3000 + i, gyro), lambda: loop.s.mode is Mode.DAMP)
    assert loop.s.mode is Mode.DAMP and "stale_state" in loop.metrics.safety_events, lines
    assert np.all(np.abs(loop.state.gyro_rad_s) < 1.0)  # the policy never saw the bad gyro
    assert sum("gyro beyond the IMU's range" in ln or "non-finite" in ln for ln in lines) == 1
