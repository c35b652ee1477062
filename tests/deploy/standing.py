"""A LowState source for in-process daemon tests: a robot standing still in its default pose,
as real go-IDL messages with an advancing tick and a valid CRC (what genpo-sim publishes, without
the physics)."""

from __future__ import annotations

from typing import Any

from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowState_

from deploy.io.crc import stamp_crc
from deploy.io.lean import LoopIo
from deploy.io.lowcmd import make_lowcmd_builder
from deploy.io.lowstate import LowStateParser
from deploy.link import RobotLink
from robots.spec import RobotSpec


class StandingRobot:
    """`take()` returns the next LowState: default pose, upright, at rest, tick + 1 each call."""

    def __init__(self, robot: RobotSpec) -> None:
        self.msg = unitree_go_msg_dds__LowState_()
        self.msg.head[0], self.msg.head[1] = 0xFE, 0xEF
        self.msg.level_flag = 0xFF
        self.msg.power_v = 28.8
        for joint in robot.joints:
            m = self.msg.motor_state[joint.sdk_index]
            m.q, m.temperature, m.mode = joint.default_q_rad, 35, 0x01
        self.msg.imu_state.quaternion = [1.0, 0.0, 0.0, 0.0]
        self.msg.imu_state.accelerometer = [0.0, 0.0, 9.81]
        self.taken = 0

    def take(self) -> Any:
        self.taken += 1
        self.msg.tick = self.taken
        stamp_crc(self.msg)
        return self.msg


def standing_link(robot: RobotSpec, writer: Any) -> RobotLink:
    """What `deploy.link.open_link` returns, over a StandingRobot source (SDK I/O path) and
    `writer` (anything with `write(LowCmd_)`) as the LowCmd publisher."""
    loop_io = LoopIo(StandingRobot(robot).take, LowStateParser(robot), make_lowcmd_builder(robot),
                     writer.write)  # fmt: skip
    return RobotLink(loop_io, "rt/lowstate (a standing robot)", writer=writer)
