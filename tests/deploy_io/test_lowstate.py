"""LowState parsing into policy-order arrays; H1 IMU rotated from the torso to the pelvis frame."""

from __future__ import annotations

import numpy as np
import pytest
from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowState_

from deploy.io.crc import stamp_crc
from deploy.io.lowstate import LowStateParser
from deploy.io.remote import RemoteState, encode_remote, key_mask
from robots import GO2, H1
from robots.frames import axis_angle_matrix, axis_angle_quat, quat_mul


def _message(robot, q_slots: np.ndarray, imu_quat, imu_gyro):
    msg = unitree_go_msg_dds__LowState_()
    for slot in range(robot.num_motor_slots):
        m = msg.motor_state[slot]
        m.q, m.dq, m.tau_est = float(q_slots[slot]), 0.5 * slot, -float(slot)
        m.temperature, m.lost = 30 + slot, slot
    msg.imu_state.quaternion = [float(x) for x in imu_quat]
    msg.imu_state.gyroscope = [float(x) for x in imu_gyro]
    msg.imu_state.accelerometer = [0.0, 0.0, 9.81]
    msg.tick, msg.power_v = 1234, 28.5
    msg.wireless_remote = encode_remote(RemoteState(keys=key_mask(["A"]), ly=0.5))
    stamp_crc(msg)
    return msg


def _in_range_q(robot) -> np.ndarray:
    """A distinct, physically possible position in every slot (mid range + 0.01 x slot)."""
    q = np.zeros(robot.num_motor_slots)
    for j in robot.joints:
        q[j.sdk_index] = 0.5 * (j.q_min_rad + j.q_max_rad) + 0.01 * j.sdk_index
    return q


def test_go2_arrays_in_policy_order_and_crc() -> None:
    q_slots = _in_range_q(GO2)
    parser = LowStateParser(GO2)
    state = parser.parse(_message(GO2, q_slots, [1, 0, 0, 0], [0.1, 0.2, 0.3]))
    for i, name in enumerate(GO2.policy_joint_names):
        slot = GO2.joint(name).sdk_index
        assert state.q_rad[i] == pytest.approx(q_slots[slot], abs=1e-6)
        assert state.dq_rad_s[i] == 0.5 * slot and state.lost[i] == slot
        assert state.temperature_c[i] == 30 + slot
    assert state.crc_ok and state.tick == 1234 and state.power_v == pytest.approx(28.5)
    assert np.allclose(state.gyro_rad_s, [0.1, 0.2, 0.3]) and state.remote.pressed("A")
    assert state.remote.ly == 0.5


def test_bad_crc_is_rejected() -> None:
    msg = _message(GO2, _in_range_q(GO2), [1, 0, 0, 0], [0, 0, 0])
    msg.crc ^= 1
    parser = LowStateParser(GO2)
    assert parser.parse(msg) is None and parser.bad_frames == {"bad CRC": 1}


def test_h1_imu_rotated_to_pelvis_frame() -> None:
    # Ground truth: pelvis pitched and yawed, spinning; torso turned 0.6 rad at 1.5 rad/s.
    axis = np.array(H1.imu_joint_axis)
    pelvis_quat = quat_mul(axis_angle_quat([0, 0, 1], 0.3), axis_angle_quat([0, 1, 0], 0.2))
    pelvis_gyro = np.array([0.4, -0.2, 0.7])
    torso_angle, torso_rate = 0.6, 1.5
    # What the torso IMU reports: q_torso = q_pelvis * q_joint; w_torso = R^T w_pelvis + axis rate.
    torso_quat = quat_mul(pelvis_quat, axis_angle_quat(axis, torso_angle))
    torso_gyro = axis_angle_matrix(axis, torso_angle).T @ pelvis_gyro + axis * torso_rate
    q_slots = _in_range_q(H1)
    q_slots[H1.joint("torso").sdk_index] = torso_angle
    msg = _message(H1, q_slots, torso_quat, torso_gyro)
    msg.motor_state[H1.joint("torso").sdk_index].dq = torso_rate
    stamp_crc(msg)
    state = LowStateParser(H1).parse(msg)
    assert np.allclose(state.quat_wxyz, pelvis_quat, atol=1e-6)
    assert np.allclose(state.gyro_rad_s, pelvis_gyro, atol=1e-5)
    assert np.allclose(state.imu_quat_raw, torso_quat, atol=1e-6)
    assert state.rpy_rad[1] == pytest.approx(0.2, abs=1e-6)
    assert state.rpy_rad[2] == pytest.approx(0.3, abs=1e-6)
