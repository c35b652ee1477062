"""Unitree Go2 (12-DoF quadruped) facts; sources and deliberate choices noted per value."""

from __future__ import annotations

from robots.spec import MODE_SERVO, JointSpec, MergedLink, RobotSpec

_LEGS = ("FR", "FL", "RR", "RL")  # SDK motor order: legs FR, FL, RR, RL; hip, thigh, calf each
_HIP_RANGE = (-1.0472, 1.0472)
_FRONT_THIGH_RANGE = (-1.5708, 3.4907)
_REAR_THIGH_RANGE = (-0.5236, 4.5379)
_CALF_RANGE = (-2.7227, -0.83776)
# Torque limits: the MuJoCo model's ctrlrange (motor peak torques, 23.7 / 45.43 N m). IsaacLab
# trains with a DC-motor model capped at 23.5 for all joints; we keep the motor's real limits so
# the safety layer does not clip torques the robot can produce, and the training backend applies
# its own actuator model on top.
_HIP_THIGH_TORQUE_NM = 23.7
_CALF_TORQUE_NM = 45.43
_VELOCITY_LIMIT_RAD_S = 30.0  # IsaacLab DC-motor velocity limit
# Training gains: IsaacLab's Go2 actuator (legged_gym used kp 20; we mirror IsaacLab).
_KP, _KD = 25.0, 0.5


def _leg(leg: str, first_index: int) -> tuple[JointSpec, ...]:
    left = leg[1] == "L"
    front = leg[0] == "F"
    thigh_range = _FRONT_THIGH_RANGE if front else _REAR_THIGH_RANGE
    rows = (
        ("hip", _HIP_RANGE, _HIP_THIGH_TORQUE_NM, 0.1 if left else -0.1),
        ("thigh", thigh_range, _HIP_THIGH_TORQUE_NM, 0.8 if front else 1.0),
        ("calf", _CALF_RANGE, _CALF_TORQUE_NM, -1.5),
    )
    return tuple(
        JointSpec(
            name=f"{leg}_{part}_joint",
            sdk_index=first_index + k,
            q_min_rad=lo,
            q_max_rad=hi,
            torque_limit_nm=torque,
            velocity_limit_rad_s=_VELOCITY_LIMIT_RAD_S,
            kp=_KP,
            kd=_KD,
            default_q_rad=default,
            motor_mode=MODE_SERVO,
        )
        for k, (part, (lo, hi), torque, default) in enumerate(rows)
    )


GO2 = RobotSpec(
    name="go2",
    display_name="Unitree Go2",
    idl_family="go",
    num_motor_slots=20,  # LowCmd has 20 slots; 12-19 unused on Go2
    joints=tuple(j for i, leg in enumerate(_LEGS) for j in _leg(leg, 3 * i)),
    isaac_joint_order=tuple(
        f"{leg}_{part}_joint"
        for part in ("hip", "thigh", "calf")
        for leg in ("FL", "FR", "RL", "RR")
    ),
    action_scale=0.25,  # IsaacLab Go2 override (base config uses 0.5)
    soft_limit_factor=0.9,  # IsaacLab soft_joint_pos_limit_factor
    root_body="base",
    imu_body="base",
    imu_joint=None,
    base_contact_bodies=("base",),
    # Menagerie's Go2 has no foot bodies (IsaacLab's ".*_foot"): each foot is a sphere geom
    # named after its leg on the calf body.
    foot_bodies=("FL_calf", "FR_calf", "RL_calf", "RR_calf"),
    foot_geoms=("FL", "FR", "RL", "RR"),
    # Unitree's URDF hangs the head on two links (fixed joints), Head_upper (a cylinder) and
    # Head_lower (a sphere under the chin); IsaacLab's go2.usd keeps them as bodies, so its
    # base-contact termination (body "base") covers the trunk box alone. Menagerie merged both
    # into "base": without the split a chin touching a stair edge ended the episode.
    merged_links=(
        MergedLink("Head_upper", "base", (0.285, 0.0, 0.01)),
        MergedLink("Head_lower", "base", (0.293, 0.0, -0.06)),
    ),
    menagerie_name="unitree_go2",
    init_base_height_m=0.4,
    # Measured in MuJoCo: the default pose held by the training gains settles the base at 0.272 m
    # (the stiff kinematic touch-down height is 0.324 m); tests/robots re-measures it.
    nominal_base_height_m=0.272,
    command_ranges=((-1.0, 1.0), (-1.0, 1.0), (-1.0, 1.0)),
    # DAMP: deploy.md asks kd 3-8; 3 keeps the motors inside their torque limits at fall speeds.
    damping_kd=3.0,
    battery_cells=8,  # 28.8 V nominal pack
)
