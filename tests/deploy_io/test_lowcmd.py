"""The typed LowCmd builder: slots by name, modes, CRC, no misspelled fields, DDS round trip."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_

from common.compat import zip_strict
from deploy.io.channels import open_dds
from deploy.io.crc import crc32, crc_ok
from deploy.io.lowcmd import HgLowCmdBuilder, make_lowcmd_builder
from robots import GO2, H1
from robots.spec import MODE_SERVO, MODE_STRONG, POS_STOP


def _targets(robot):  # distinct values per joint so a wrong slot map shows
    return robot.values("default_q_rad") + 0.01 * np.arange(robot.num_joints)


@pytest.mark.parametrize("robot", [GO2, H1], ids=lambda r: r.name)
def test_slots_by_name_and_crc(robot) -> None:
    builder = make_lowcmd_builder(robot)
    q = _targets(robot)
    builder.set_targets(q, kp=robot.values("kp"), kd=robot.values("kd"), tau=0.5)
    msg = builder.build()
    assert list(msg.head) == [0xFE, 0xEF] and msg.level_flag == 0xFF
    assert crc_ok(msg) and msg.crc == crc32(msg)
    for i, name in enumerate(robot.policy_joint_names):
        motor = msg.motor_cmd[robot.joint(name).sdk_index]
        assert motor.q == pytest.approx(q[i], abs=1e-6)
        assert motor.kp == robot.joint(name).kp and motor.tau == 0.5
    used = set(robot.sdk_indices.tolist())
    for slot in set(range(robot.num_motor_slots)) - used:
        assert msg.motor_cmd[slot].mode == 0 and msg.motor_cmd[slot].kp == 0.0


def test_h1_weak_and_strong_motor_modes() -> None:
    msg = make_lowcmd_builder(H1).build()
    assert msg.motor_cmd[H1.joint("left_knee").sdk_index].mode == MODE_STRONG
    assert msg.motor_cmd[H1.joint("torso").sdk_index].mode == MODE_STRONG
    assert msg.motor_cmd[H1.joint("left_ankle").sdk_index].mode == MODE_SERVO
    assert msg.motor_cmd[H1.joint("right_elbow").sdk_index].mode == MODE_SERVO


def test_misspelled_field_is_impossible() -> None:
    builder = make_lowcmd_builder(GO2)
    with pytest.raises(AttributeError):
        builder.qd = np.zeros(12)  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        builder.set_targets(np.zeros(12), kp=25.0, kd=0.5, qd=0.0)  # type: ignore[call-arg]


def test_bad_shapes_and_nan_are_refused() -> None:
    builder = make_lowcmd_builder(GO2)
    with pytest.raises(ValueError, match="shape"):
        builder.set_targets(np.zeros(11), kp=25.0, kd=0.5)
    with pytest.raises(ValueError, match="non-finite"):
        builder.set_targets(np.full(12, np.nan), kp=25.0, kd=0.5)


def test_damping_disables_position_term() -> None:
    builder = make_lowcmd_builder(GO2)
    builder.set_targets(_targets(GO2), kp=25.0, kd=0.5)
    builder.set_damping(3.0)
    msg = builder.build()
    for slot in GO2.sdk_indices:
        motor = msg.motor_cmd[slot]
        assert motor.kp == 0.0 and motor.kd == 3.0 and motor.tau == 0.0 and motor.dq == 0.0
        assert motor.q == pytest.approx(POS_STOP, rel=1e-6)
    assert crc_ok(msg)


def test_hg_builder_shares_the_interface() -> None:
    hg_robot = dataclasses.replace(H1, idl_family="hg", num_motor_slots=35)
    builder = make_lowcmd_builder(hg_robot)
    assert isinstance(builder, HgLowCmdBuilder)
    builder.set_mode_machine(5)
    builder.set_targets(_targets(hg_robot), kp=40.0, kd=1.0)
    msg = builder.build()
    assert msg.mode_machine == 5 and len(msg.motor_cmd) == 35 and crc_ok(msg)


def _plain(value):  # uint8 arrays come back from DDS as bytes
    return list(value) if isinstance(value, (bytes, list)) else value


def test_round_trip_through_dds() -> None:
    node = open_dds(100, iface="lo")
    reader = node.reader("rt/lowcmd", LowCmd_)
    writer = node.writer("rt/lowcmd", LowCmd_)
    builder = make_lowcmd_builder(H1)
    builder.set_targets(_targets(H1), kp=H1.values("kp"), kd=H1.values("kd"), dq=0.25, tau=-1.0)
    sent = builder.build()
    received = []
    deadline = time.monotonic() + 5.0
    while not received and time.monotonic() < deadline:
        writer.write(sent)
        time.sleep(0.05)
        received = reader.take(N=1)
    assert received, "no LowCmd came back over DDS on lo"
    got = received[0]
    assert crc_ok(got) and got.crc == sent.crc
    for field in ("head", "level_flag", "frame_reserve", "sn", "version", "bandwidth", "gpio"):
        assert _plain(getattr(got, field)) == _plain(getattr(sent, field))
    for a, b in zip_strict(got.motor_cmd, sent.motor_cmd):
        for field in ("mode", "q", "dq", "tau", "kp", "kd"):
            assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-6)
