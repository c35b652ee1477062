"""H1 in genpo-sim: the torso IMU's orientation and gyro, parsed, match the pelvis's truth."""

from __future__ import annotations

import numpy as np

from deploy.sim.launch import SimProcess
from robots import H1
from tests.sim.conftest import SimClient


def _same_rotation(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    return min(np.abs(a - b).max(), np.abs(a + b).max()) < tol  # q and -q are one rotation


def test_h1_state_in_pelvis_frame_with_turned_torso() -> None:
    torso = H1.policy_joint_names.index("torso")
    q_star = H1.values("default_q_rad")
    q_star[torso] = 0.5
    with SimProcess("h1", 121, 30.0, "--band") as sim:
        client = SimClient(H1, 121)
        client.state()
        client.send_lowcmd(q_star, H1.values("kp"), H1.values("kd"), seconds=2.0)
        client.writer.write(client.builder.build())
        s = client.state()
        truth = sim.control.truth()
    assert abs(s.q_rad[torso] - 0.5) < 0.05
    assert not _same_rotation(s.imu_quat_raw, s.quat_wxyz, 0.05)  # the raw IMU is turned
    assert _same_rotation(s.quat_wxyz, np.array(truth["base_quat_wxyz"]), 0.02)
    np.testing.assert_allclose(s.gyro_rad_s, truth["base_ang_vel_body_rad_s"], atol=0.05)
    assert abs(s.rpy_rad[2] - 0.0) < 0.05 and abs(np.linalg.norm(s.accel_m_s2) - 9.81) < 0.5
