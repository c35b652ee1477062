"""Robot specs against robots.md and against the Menagerie MuJoCo models."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from common.errors import UserError
from robots import GO2, H1, RobotSpec, get_robot, indices_of
from robots.assets import model_xml
from robots.spec import MODE_SERVO, MODE_STRONG

GO2_ISAAC_TO_SDK = [3, 0, 9, 6, 4, 1, 10, 7, 5, 2, 11, 8]
H1_ISAAC_TO_SDK = [7, 8, 6, 3, 0, 16, 12, 4, 1, 17, 13, 5, 2, 18, 14, 10, 11, 19, 15]


def test_isaac_to_sdk_maps_match_the_documented_ones() -> None:
    assert GO2.isaac_to_sdk.tolist() == GO2_ISAAC_TO_SDK
    assert H1.isaac_to_sdk.tolist() == H1_ISAAC_TO_SDK


@pytest.mark.parametrize("robot", [GO2, H1], ids=lambda r: r.name)
def test_maps_compose_to_identity(robot: RobotSpec) -> None:
    to_policy = indices_of(robot.policy_joint_names, robot.joint_names)
    to_sdk = indices_of(robot.joint_names, robot.policy_joint_names)
    assert (to_policy[to_sdk] == np.arange(robot.num_joints)).all()
    assert (to_sdk[to_policy] == np.arange(robot.num_joints)).all()
    # A value written into its SDK slot and read back through the map lands on the same joint.
    slots = np.full(robot.num_motor_slots, np.nan)
    slots[robot.sdk_indices] = np.arange(robot.num_joints)  # SDK-order position per joint
    read = slots[robot.isaac_to_sdk]
    assert [robot.joint_names[int(i)] for i in read] == list(robot.policy_joint_names)


def test_h1_slot_nine_is_unused_and_weak_motors_use_servo_mode() -> None:
    assert 9 not in H1.sdk_indices.tolist()
    weak = {j.name for j in H1.joints if j.motor_mode == MODE_SERVO}
    assert weak == {n for n in H1.joint_names if "ankle" in n or "shoulder" in n or "elbow" in n}
    assert all(j.motor_mode == MODE_STRONG for j in H1.joints if j.name not in weak)
    assert [j.sdk_index for j in H1.joints if j.name in weak] == list(range(10, 20))


def test_documented_default_poses_and_gains() -> None:
    q0 = dict(zip(GO2.joint_names, GO2.values("default_q_rad", GO2.joint_names), strict=True))
    assert q0["FL_hip_joint"] == 0.1 and q0["FR_hip_joint"] == -0.1
    assert q0["FL_thigh_joint"] == 0.8 and q0["RR_thigh_joint"] == 1.0
    assert q0["RL_calf_joint"] == -1.5
    assert set(GO2.values("kp")) == {25.0} and set(GO2.values("kd")) == {0.5}
    h1 = {j.name: j for j in H1.joints}
    assert (h1["left_hip_pitch"].default_q_rad, h1["right_knee"].default_q_rad) == (-0.28, 0.79)
    assert (h1["left_ankle"].kp, h1["left_ankle"].kd) == (20.0, 4.0)
    assert (h1["right_elbow"].kp, h1["right_elbow"].kd) == (40.0, 10.0)
    assert h1["left_hip_yaw"].kp == 150.0 and h1["torso"].kp == 200.0


def test_soft_limits_shrink_about_the_middle() -> None:
    lo, hi = GO2.soft_limits(["FL_calf_joint"])
    mid, half = (-2.7227 + -0.83776) / 2, (-0.83776 + 2.7227) / 2
    assert lo[0] == pytest.approx(mid - 0.9 * half) and hi[0] == pytest.approx(mid + 0.9 * half)


def test_unknown_robot_is_a_user_error_listing_the_robots() -> None:
    with pytest.raises(UserError, match="known robots: go2, h1"):
        get_robot("g1")


def _model(robot: RobotSpec) -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(model_xml(robot, "scene")))


@pytest.mark.parametrize("robot", [GO2, H1], ids=lambda r: r.name)
def test_mujoco_model_matches_spec_by_name(robot: RobotSpec) -> None:
    model = _model(robot)
    hinge_names = {
        model.joint(i).name
        for i in range(model.njnt)
        if model.jnt_type[i] == mujoco.mjtJoint.mjJNT_HINGE
    }
    assert hinge_names == set(robot.joint_names)
    actuated = {model.joint(model.actuator_trnid[a, 0]).name: a for a in range(model.nu)}
    assert set(actuated) == set(robot.joint_names)
    for joint in robot.joints:
        jid = model.joint(joint.name).id
        assert model.jnt_range[jid] == pytest.approx([joint.q_min_rad, joint.q_max_rad], abs=1e-6)
        lo, hi = model.actuator_ctrlrange[actuated[joint.name]]
        assert (lo, hi) == pytest.approx((-joint.torque_limit_nm, joint.torque_limit_nm))
    assert model.body(robot.imu_body).id > 0 and model.body(robot.root_body).id > 0
    for body in robot.foot_bodies + robot.base_contact_bodies:
        assert model.body(body).id > 0
    for geom in robot.foot_geoms:
        assert model.body(model.geom_bodyid[model.geom(geom).id]).name in robot.foot_bodies


@pytest.mark.parametrize("robot", [GO2, H1], ids=lambda r: r.name)
def test_qpos_and_actuator_orders_are_handled_by_name(robot: RobotSpec) -> None:
    model = _model(robot)
    names = robot.policy_joint_names
    qadr = np.array([model.jnt_qposadr[model.joint(n).id] for n in names])
    act_joint_names = [model.joint(model.actuator_trnid[a, 0]).name for a in range(model.nu)]
    act = indices_of(names, act_joint_names)
    # The model's own orders differ from the policy order (so slicing would be wrong) ...
    assert list(act) != list(range(robot.num_joints)) or robot is H1
    data = mujoco.MjData(model)
    data.qpos[qadr] = np.arange(robot.num_joints)
    # ... and the name-based addresses read back exactly what was written per joint.
    for k, name in enumerate(names):
        assert data.qpos[model.jnt_qposadr[model.joint(name).id]] == k
        assert act_joint_names[act[k]] == name


def _touchdown_height(robot: RobotSpec) -> float:
    """Root height at which the default pose first touches the floor (bisection)."""
    model = _model(robot)
    data = mujoco.MjData(model)
    qadr = [model.jnt_qposadr[model.joint(n).id] for n in robot.policy_joint_names]
    lo, hi = 0.0, 2.0
    for _ in range(30):
        mid = (lo + hi) / 2
        data.qpos[:] = 0
        data.qpos[2:4] = (mid, 1.0)
        data.qpos[qadr] = robot.values("default_q_rad")
        mujoco.mj_forward(model, data)
        touching = any(data.contact[i].dist < 0 for i in range(data.ncon))
        lo, hi = (mid, hi) if touching else (lo, mid)
    return hi


def test_h1_nominal_height_is_the_touchdown_height() -> None:
    assert _touchdown_height(H1) == pytest.approx(H1.nominal_base_height_m, abs=0.005)


def test_go2_nominal_height_is_where_training_gains_hold_the_default_pose() -> None:
    model = _model(GO2)
    model.opt.timestep = 0.005
    data = mujoco.MjData(model)
    names = GO2.policy_joint_names
    qadr = np.array([model.jnt_qposadr[model.joint(n).id] for n in names])
    dadr = np.array([model.jnt_dofadr[model.joint(n).id] for n in names])
    act = indices_of(names, [model.joint(model.actuator_trnid[a, 0]).name for a in range(model.nu)])
    q0, kp, kd = GO2.values("default_q_rad"), GO2.values("kp"), GO2.values("kd")
    limit = GO2.values("torque_limit_nm")
    data.qpos[2:4] = (GO2.init_base_height_m, 1.0)
    data.qpos[qadr] = q0
    for _ in range(600):  # 3 s
        data.ctrl[act] = np.clip(kp * (q0 - data.qpos[qadr]) - kd * data.qvel[dadr], -limit, limit)
        mujoco.mj_step(model, data)
    assert data.qpos[2] == pytest.approx(GO2.nominal_base_height_m, abs=0.005)
    assert _touchdown_height(GO2) > GO2.nominal_base_height_m  # gravity sags the stiff pose
