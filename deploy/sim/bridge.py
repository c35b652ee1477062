"""DDS side of the sim: LowCmd in (CRC-checked, mapped by name), LowState out (500 Hz, faults).

The LowCmd listener converts each message to arrays once, under a lock; the physics loop reads
the latest arrays every step. LowState is one preallocated message rewritten in place, because
Python CycloneDDS serialization (~0.25 ms) and the SDK CRC (~0.1 ms) already dominate the tick.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowState_
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

from deploy.io.channels import DdsNode
from deploy.io.crc import crc32, crc_ok
from deploy.sim.faults import DelayLine, FaultConfig
from deploy.sim.model import MotorCommand
from robots.frames import quat_to_rpy
from robots.spec import RobotSpec

POWER_V = 28.8  # a charged battery (Go2 pack nominal 28.8 V)
MOTOR_TEMPERATURE_C = 35


@dataclass
class Sensed:
    """One LowState's worth of sim state (copied: the physics moves on while it waits)."""

    tick: int
    q: list[float]
    dq: list[float]
    tau: list[float]
    quat: list[float]
    gyro: list[float]
    acc: list[float]
    remote: list[int]


class CommandIntake:
    """Subscribes rt/lowcmd; keeps the newest valid LowCmd; counts bad-CRC frames."""

    def __init__(self, node: DdsNode, robot: RobotSpec) -> None:
        self._slots = robot.sdk_indices.tolist()  # SDK joint order
        self._lock = threading.Lock()
        self._latest = MotorCommand.zeros(robot.num_joints)
        self.received = 0
        self.bad_crc = 0
        self.first_valid_s: float | None = None
        self._reader = node.reader(robot.topics.lowcmd, LowCmd_, self._on_cmd)

    def _on_cmd(self, msg: LowCmd_) -> None:
        if not hasattr(msg, "motor_cmd"):
            return  # an InvalidSample: a writer went away (every daemon exit), not a LowCmd
        if not crc_ok(msg):
            with self._lock:
                self.received += 1
                self.bad_crc += 1
            return
        motors = [msg.motor_cmd[s] for s in self._slots]
        fresh = MotorCommand(
            q=np.array([m.q for m in motors]),
            dq=np.array([m.dq for m in motors]),
            tau=np.array([m.tau for m in motors]),
            kp=np.array([m.kp for m in motors]),
            kd=np.array([m.kd for m in motors]),
            enabled=np.array([m.mode != 0 for m in motors]),
        )
        with self._lock:
            self._latest = fresh
            self.received += 1
            if self.first_valid_s is None:
                self.first_valid_s = time.monotonic()

    def latest(self) -> MotorCommand:
        with self._lock:
            return self._latest


class StatePublisher:
    """Publishes rt/lowstate from `Sensed` snapshots through the fault model."""

    def __init__(self, node: DdsNode, robot: RobotSpec, faults: FaultConfig) -> None:
        self._writer = node.writer(robot.topics.lowstate, LowState_)
        self._slots = robot.sdk_indices.tolist()
        self._msg = unitree_go_msg_dds__LowState_()
        self._msg.head[0], self._msg.head[1] = 0xFE, 0xEF
        self._msg.level_flag = 0xFF
        self._msg.power_v = POWER_V
        for m in self._msg.motor_state:
            m.temperature = MOTOR_TEMPERATURE_C
        for s in self._slots:
            self._msg.motor_state[s].mode = 0x01
        self._faults = faults
        self._delay = DelayLine(faults)
        self._frozen = False
        self.published = 0
        self.dropped = 0
        self.corrupted = 0

    def submit(self, sensed: Sensed, now_s: float, run_time_s: float) -> None:
        """Queue `sensed` (taken now, `run_time_s` into the run) and publish whatever is due."""
        freeze = self._faults.freeze_after_s
        if freeze is not None and run_time_s >= freeze:
            self._frozen = True
        self._delay.push(now_s, sensed)
        for item in self._delay.pop_due(now_s):
            self._publish(item)  # type: ignore[arg-type]

    def _publish(self, sensed: Sensed) -> None:
        if self._delay.drop():
            self.dropped += 1
            return
        if not self._frozen:
            self._fill(sensed)
        crc = self._msg.crc
        if self._delay.corrupt():
            self._msg.crc = crc ^ 0xFFFFFFFF
            self.corrupted += 1
        self._writer.write(self._msg)
        self._msg.crc = crc
        self.published += 1

    def _fill(self, s: Sensed) -> None:
        msg = self._msg
        rows = zip(self._slots, s.q, s.dq, s.tau, strict=True)
        for slot, q, dq, tau in rows:
            m = msg.motor_state[slot]
            m.q, m.dq, m.tau_est = q, dq, tau
        imu = msg.imu_state
        imu.quaternion, imu.gyroscope, imu.accelerometer = s.quat, s.gyro, s.acc
        imu.rpy = quat_to_rpy(np.asarray(s.quat)).tolist()
        msg.tick = s.tick
        msg.wireless_remote = s.remote
        msg.crc = crc32(msg)
