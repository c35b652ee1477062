"""Each reward term on a constructed two-env state; expected values computed by hand in comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from common.errors import UserError
from training.tasks import rewards as rw


def state(**changes) -> rw.StepState:
    """Two envs, 3 joints, 2 feet; everything zero unless changed."""
    n, j, f = 2, 3, 2
    base = dict(
        lin_vel_b=np.zeros((n, 3)),
        ang_vel_b=np.zeros((n, 3)),
        lin_vel_w=np.zeros((n, 3)),
        ang_vel_w=np.zeros((n, 3)),
        yaw=np.zeros(n),
        projected_gravity=np.tile([0.0, 0.0, -1.0], (n, 1)),
        commands=np.zeros((n, 3)),
        joint_pos=np.zeros((n, j)),
        joint_vel=np.zeros((n, j)),
        joint_acc=np.zeros((n, j)),
        torques=np.zeros((n, j)),
        actions=np.zeros((n, j)),
        last_actions=np.zeros((n, j)),
        default_joint_pos=np.zeros(j),
        soft_lo=np.full(j, -1.0),
        soft_hi=np.full(j, 1.0),
        foot_in_contact_hist=np.zeros((n, 3, f), dtype=bool),
        foot_vel_w=np.zeros((n, f, 3)),
        air_time=np.zeros((n, f)),
        contact_time=np.zeros((n, f)),
        last_air_time=np.zeros((n, f)),
        terminated=np.zeros(n, dtype=bool),
        control_dt=0.02,
    )
    base.update(changes)
    return rw.StepState(**base)


def test_track_lin_vel_xy_exp() -> None:
    s = state(
        commands=np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]),
        lin_vel_b=np.array([[0.5, 0.0, 9.0], [0.5, 0.5, 0.0]]),
    )
    # env 0: err = 0.5^2 = 0.25, exp(-0.25 / 0.5^2) = exp(-1); env 1: exact -> 1
    assert rw.track_lin_vel_xy_exp(s, std=0.5) == pytest.approx([math.exp(-1), 1.0])


def test_track_ang_vel_z_exp() -> None:
    s = state(commands=np.array([[0, 0, 1.0], [0, 0, 0]]), ang_vel_b=np.array([[0, 0, 0.0]] * 2))
    # env 0: (1 - 0)^2 / 0.25 = 4 -> exp(-4); env 1: 1
    assert rw.track_ang_vel_z_exp(s, std=0.5) == pytest.approx([math.exp(-4), 1.0])


def test_track_lin_vel_xy_yaw_frame_exp() -> None:
    # Heading +90 deg, moving along world +y at 1 m/s: in the yaw frame that is +x at 1 m/s.
    s = state(
        yaw=np.array([math.pi / 2, 0.0]),
        lin_vel_w=np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),
        commands=np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]),
    )
    # env 0: error 0 -> 1; env 1: yaw 0, v = (0, 1), err = 1 + 1 = 2, exp(-2 / 0.25) = exp(-8)
    assert rw.track_lin_vel_xy_yaw_frame_exp(s, std=0.5) == pytest.approx([1.0, math.exp(-8)])


def test_track_ang_vel_z_world_exp() -> None:
    s = state(commands=np.array([[0, 0, 0.5]] * 2), ang_vel_w=np.array([[0, 0, 0.5], [0, 0, 0]]))
    # env 1: (0.5)^2 / 0.25 = 1 -> exp(-1)
    assert rw.track_ang_vel_z_world_exp(s, std=0.5) == pytest.approx([1.0, math.exp(-1)])


def test_velocity_penalties() -> None:
    s = state(
        lin_vel_b=np.array([[3.0, 3.0, 2.0], [0, 0, 0]]),
        ang_vel_b=np.array([[1.0, 2.0, 5.0], [0, 0, 0]]),
    )
    assert rw.lin_vel_z_l2(s) == pytest.approx([4.0, 0.0])  # 2^2
    assert rw.ang_vel_xy_l2(s) == pytest.approx([5.0, 0.0])  # 1 + 4, yaw rate ignored


def test_joint_penalties_with_and_without_subsets() -> None:
    s = state(
        torques=np.array([[1.0, 2.0, 3.0], [0, 0, 0]]),
        joint_acc=np.array([[10.0, 0.0, 1.0], [0, 0, 0]]),
    )
    assert rw.joint_torques_l2(s) == pytest.approx([14.0, 0.0])  # 1 + 4 + 9
    assert rw.joint_torques_l2(s, joint_ids=np.array([2])) == pytest.approx([9.0, 0.0])
    assert rw.joint_acc_l2(s) == pytest.approx([101.0, 0.0])  # 100 + 0 + 1


def test_action_rate_l2() -> None:
    s = state(actions=np.array([[1.0, 1.0, 0.0]] * 2), last_actions=np.array([[0, 1.0, 2.0]] * 2))
    assert rw.action_rate_l2(s) == pytest.approx([5.0, 5.0])  # 1 + 0 + 4


def test_flat_orientation_l2() -> None:
    s = state(projected_gravity=np.array([[0.6, 0.0, -0.8], [0.0, 0.0, -1.0]]))
    assert rw.flat_orientation_l2(s) == pytest.approx([0.36, 0.0])  # 0.6^2


def test_joint_pos_limits() -> None:
    s = state(joint_pos=np.array([[-1.5, 0.0, 1.25], [0.9, -0.9, 0.0]]))
    # env 0: 0.5 below lo on joint 0 + 0.25 above hi on joint 2 = 0.75; env 1 inside -> 0
    assert rw.joint_pos_limits(s) == pytest.approx([0.75, 0.0])
    assert rw.joint_pos_limits(s, joint_ids=np.array([2])) == pytest.approx([0.25, 0.0])


def test_joint_deviation_l1() -> None:
    s = state(
        joint_pos=np.array([[0.5, -0.5, 0.1], [0.2, 0.2, 0.2]]),
        default_joint_pos=np.array([0.0, 0.0, 0.2]),
    )
    # env 0: 0.5 + 0.5 + 0.1 = 1.1; env 1: 0.2 + 0.2 + 0 = 0.4; joints 0-1 only: 1.0 / 0.4
    assert rw.joint_deviation_l1(s) == pytest.approx([1.1, 0.4])
    assert rw.joint_deviation_l1(s, joint_ids=np.array([0, 1])) == pytest.approx([1.0, 0.4])


def test_is_terminated() -> None:
    assert rw.is_terminated(state(terminated=np.array([True, False]))).tolist() == [1.0, 0.0]


def test_feet_air_time() -> None:
    s = state(
        commands=np.array([[0.5, 0.0, 0.0], [0.05, 0.0, 0.0]]),
        contact_time=np.array([[0.01, 0.0], [0.01, 0.0]]),  # foot 0 touched down this step
        air_time=np.array([[0.0, 0.3], [0.0, 0.3]]),
        last_air_time=np.array([[0.7, 0.9], [0.7, 0.9]]),
    )
    # env 0: foot 0 first contact, (0.7 - 0.5) = 0.2; foot 1 airborne, not counted.
    # env 1: the same, but ||c_xy|| = 0.05 <= 0.1 -> 0.
    assert rw.feet_air_time(s, threshold=0.5) == pytest.approx([0.2, 0.0])
    late = state(
        commands=s.commands, contact_time=np.array([[0.05, 0.0]] * 2), last_air_time=s.last_air_time
    )
    # contact time 0.05 > dt 0.02: not a first contact any more -> 0
    assert rw.feet_air_time(late, threshold=0.5) == pytest.approx([0.0, 0.0])


def test_feet_air_time_positive_biped() -> None:
    s = state(
        commands=np.array([[0.5, 0.0, 0.0]] * 2),
        contact_time=np.array([[0.3, 0.0], [0.2, 0.4]]),
        air_time=np.array([[0.0, 0.2], [0.0, 0.0]]),
    )
    # env 0: single stance, in-mode times (0.3 contact, 0.2 air) -> min 0.2, under 0.4 -> 0.2
    # env 1: both feet down (double stance) -> 0
    assert rw.feet_air_time_positive_biped(s, threshold=0.4) == pytest.approx([0.2, 0.0])
    # threshold clips: min(0.2, 0.1) = 0.1
    assert rw.feet_air_time_positive_biped(s, threshold=0.1) == pytest.approx([0.1, 0.0])


def test_feet_slide() -> None:
    hist = np.zeros((2, 3, 2), dtype=bool)
    hist[0, 1, 0] = True  # foot 0 of env 0 touched in one recent physics step
    vel = np.array([[[3.0, 4.0, 9.0], [1.0, 0.0, 0.0]], [[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]]])
    # env 0: foot 0 in contact, horizontal speed 5 (z ignored); foot 1 not in contact -> 5
    assert rw.feet_slide(state(foot_in_contact_hist=hist, foot_vel_w=vel)) == pytest.approx([5, 0])


def test_resolve_params_matches_joint_patterns() -> None:
    names = ("left_hip_yaw", "torso", "right_hip_yaw", "left_ankle")
    out = rw.resolve_params("joint_deviation_l1", {"joints": (".*_hip_yaw",)}, names)
    assert out["joint_ids"].tolist() == [0, 2]
    with pytest.raises(UserError, match="match none"):
        rw.resolve_params("joint_deviation_l1", {"joints": ("elbow",)}, names)
    with pytest.raises(UserError, match="unknown reward term"):
        rw.resolve_params("gait_beauty", {}, names)
