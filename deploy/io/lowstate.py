"""LowState -> preallocated numpy arrays in policy joint order (the daemon's view of the robot).

The parser maps SDK motor slots to policy (IsaacLab) joints by name through the robots spec. When
the IMU sits on a link behind a joint (H1: torso), orientation and gyro are rotated back into the
root (pelvis) frame through that joint's angle and velocity, because the policy was trained on
root-frame angular velocity and projected gravity.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from deploy.io.crc import crc_ok
from deploy.io.remote import RemoteState, decode_remote
from deploy.io.rotation import axis_angle_matrix, axis_angle_quat, quat_mul, quat_to_rpy
from robots.spec import RobotSpec


class RobotState:
    """Latest robot state; arrays are preallocated and overwritten in place by every parse."""

    __slots__ = (
        "q_rad",
        "dq_rad_s",
        "tau_est_nm",
        "temperature_c",
        "lost",
        "quat_wxyz",
        "gyro_rad_s",
        "accel_m_s2",
        "rpy_rad",
        "imu_quat_raw",
        "imu_gyro_raw",
        "tick",
        "power_v",
        "remote",
        "crc_ok",
        "received_s",
    )

    def __init__(self, num_joints: int) -> None:
        self.q_rad = np.zeros(num_joints)  # policy order
        self.dq_rad_s = np.zeros(num_joints)
        self.tau_est_nm = np.zeros(num_joints)
        self.temperature_c = np.zeros(num_joints, dtype=np.int64)
        self.lost = np.zeros(num_joints, dtype=np.int64)  # motor's lost-frame counter
        self.quat_wxyz = np.array([1.0, 0.0, 0.0, 0.0])  # root body in world
        self.gyro_rad_s = np.zeros(3)  # root body frame
        self.accel_m_s2 = np.zeros(3)  # specific force, root body orientation
        self.rpy_rad = np.zeros(3)
        self.imu_quat_raw = np.array([1.0, 0.0, 0.0, 0.0])  # as the IMU reported (its own link)
        self.imu_gyro_raw = np.zeros(3)
        self.tick = 0
        self.power_v = 0.0
        self.remote = RemoteState()
        self.crc_ok = False
        self.received_s = 0.0  # time.monotonic() of the parse


class LowStateParser:
    """Parses go-IDL LowState_ messages into one `RobotState` (reused across calls)."""

    def __init__(self, robot: RobotSpec, verify_crc: bool = True) -> None:
        self.robot = robot
        self.state = RobotState(robot.num_joints)
        self._slots = robot.isaac_to_sdk.tolist()
        self._verify_crc = verify_crc
        self._imu_slot: int | None = None
        self._imu_axis = np.zeros(3)
        if robot.imu_joint is not None:
            if robot.imu_joint_axis is None:
                raise ValueError(f"{robot.name}: imu_joint needs imu_joint_axis")
            self._imu_slot = robot.joint(robot.imu_joint).sdk_index
            self._imu_axis = np.asarray(robot.imu_joint_axis, dtype=np.float64)

    def parse(self, msg: Any) -> RobotState:
        """Fill `self.state` from `msg` and return it. `state.crc_ok` is False on a CRC mismatch
        (when verification is on); the caller decides what a bad frame means."""
        s = self.state
        s.received_s = time.monotonic()
        s.crc_ok = crc_ok(msg) if self._verify_crc else True
        motors = msg.motor_state
        for i, slot in enumerate(self._slots):
            m = motors[slot]
            s.q_rad[i] = m.q
            s.dq_rad_s[i] = m.dq
            s.tau_est_nm[i] = m.tau_est
            s.temperature_c[i] = m.temperature
            s.lost[i] = m.lost
        imu = msg.imu_state
        s.imu_quat_raw[:] = imu.quaternion
        s.imu_gyro_raw[:] = imu.gyroscope
        s.accel_m_s2[:] = imu.accelerometer
        self._imu_to_root(motors)
        s.tick = msg.tick
        s.power_v = msg.power_v
        s.remote = decode_remote(msg.wireless_remote)
        return s

    def _imu_to_root(self, motors: Any) -> None:
        s = self.state
        if self._imu_slot is None:
            s.quat_wxyz[:] = s.imu_quat_raw
            s.gyro_rad_s[:] = s.imu_gyro_raw
            s.rpy_rad[:] = quat_to_rpy(s.quat_wxyz)
            return
        angle = motors[self._imu_slot].q
        rate = motors[self._imu_slot].dq
        s.quat_wxyz[:] = imu_to_root_quat(s.imu_quat_raw, self._imu_axis, angle)
        rot = axis_angle_matrix(self._imu_axis, angle)
        s.gyro_rad_s[:] = rot @ (s.imu_gyro_raw - self._imu_axis * rate)
        s.accel_m_s2[:] = rot @ s.accel_m_s2  # orientation only; lever-arm terms neglected
        s.rpy_rad[:] = quat_to_rpy(s.quat_wxyz)


def imu_to_root_quat(imu_quat: np.ndarray, axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Root orientation from the IMU link's: q_root = q_imu * conj(q_joint(angle))."""
    return quat_mul(imu_quat, axis_angle_quat(-np.asarray(axis), angle_rad))
