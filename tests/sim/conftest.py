"""A DDS client of genpo-sim for tests: LowState in (parsed), LowCmd out (typed builder)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

from deploy.io.channels import LatestSample, open_dds
from deploy.io.lowcmd import make_lowcmd_builder
from deploy.io.lowstate import LowStateParser, RobotState
from robots.spec import RobotSpec


class SimClient:
    """What a controller sees: the newest LowState, and a LowCmd writer."""

    def __init__(self, robot: RobotSpec, domain: int) -> None:
        self.robot = robot
        node = open_dds(domain, iface="lo")
        self.lowstate = LatestSample(node, robot.topics.lowstate, LowState_)
        self.writer = node.writer(robot.topics.lowcmd, LowCmd_)
        self.builder = make_lowcmd_builder(robot)
        self.parser = LowStateParser(robot)

    def state(self, timeout_s: float = 5.0) -> RobotState | None:
        """The newest LowState parsed; None when the parser rejected it (bad CRC, implausible)."""
        msg = self.lowstate.wait_newer(self.lowstate.count, timeout_s)
        assert msg is not None, "no LowState from the sim"
        return self.parser.parse(msg)

    def send_lowcmd(
        self,
        q: np.ndarray,
        kp: np.ndarray | float,
        kd: np.ndarray | float,
        seconds: float,
        tau: float = 0.0,
        rate_hz: float = 100.0,
        every: Callable[[], None] | None = None,
    ) -> None:
        """Send the same LowCmd at `rate_hz` for `seconds`, calling `every` each period."""
        self.builder.set_targets(q, kp=kp, kd=kd, tau=tau)
        msg = self.builder.build()
        end = time.monotonic() + seconds
        next_s = time.monotonic()
        while next_s < end:
            self.writer.write(msg)
            if every is not None:
                every()
            next_s += 1.0 / rate_hz
            time.sleep(max(0.0, next_s - time.monotonic()))
