"""Unitree H1 (19-DoF humanoid, unitree_go messages, SDK slot 9 unused) facts."""

from __future__ import annotations

from robots.spec import MODE_SERVO, MODE_STRONG, JointSpec, RobotSpec

# name: (sdk_index, q_min, q_max, torque_nm, velocity_rad_s, kp, kd, default_q, mode)
# Limits and torques: robots.md (they equal the Menagerie MJCF). Gains and default pose: IsaacLab
# H1 actuators and init_state (unitree_rl_gym uses a lower crouch; we mirror IsaacLab).
_TABLE: dict[str, tuple[int, float, float, float, float, float, float, float, int]] = {
    "right_hip_roll": (0, -0.43, 0.43, 200.0, 23.0, 150.0, 5.0, 0.0, MODE_STRONG),
    "right_hip_pitch": (1, -1.57, 1.57, 200.0, 23.0, 200.0, 5.0, -0.28, MODE_STRONG),
    "right_knee": (2, -0.26, 2.05, 300.0, 14.0, 200.0, 5.0, 0.79, MODE_STRONG),
    "left_hip_roll": (3, -0.43, 0.43, 200.0, 23.0, 150.0, 5.0, 0.0, MODE_STRONG),
    "left_hip_pitch": (4, -1.57, 1.57, 200.0, 23.0, 200.0, 5.0, -0.28, MODE_STRONG),
    "left_knee": (5, -0.26, 2.05, 300.0, 14.0, 200.0, 5.0, 0.79, MODE_STRONG),
    "torso": (6, -2.35, 2.35, 200.0, 23.0, 200.0, 5.0, 0.0, MODE_STRONG),
    "left_hip_yaw": (7, -0.43, 0.43, 200.0, 23.0, 150.0, 5.0, 0.0, MODE_STRONG),
    "right_hip_yaw": (8, -0.43, 0.43, 200.0, 23.0, 150.0, 5.0, 0.0, MODE_STRONG),
    # slot 9 is unused on H1
    "left_ankle": (10, -0.87, 0.52, 40.0, 9.0, 20.0, 4.0, -0.52, MODE_SERVO),
    "right_ankle": (11, -0.87, 0.52, 40.0, 9.0, 20.0, 4.0, -0.52, MODE_SERVO),
    "right_shoulder_pitch": (12, -2.87, 2.87, 40.0, 9.0, 40.0, 10.0, 0.28, MODE_SERVO),
    "right_shoulder_roll": (13, -3.11, 0.34, 40.0, 9.0, 40.0, 10.0, 0.0, MODE_SERVO),
    "right_shoulder_yaw": (14, -4.45, 1.3, 18.0, 20.0, 40.0, 10.0, 0.0, MODE_SERVO),
    "right_elbow": (15, -1.25, 2.61, 18.0, 20.0, 40.0, 10.0, 0.52, MODE_SERVO),
    "left_shoulder_pitch": (16, -2.87, 2.87, 40.0, 9.0, 40.0, 10.0, 0.28, MODE_SERVO),
    "left_shoulder_roll": (17, -0.34, 3.11, 40.0, 9.0, 40.0, 10.0, 0.0, MODE_SERVO),
    "left_shoulder_yaw": (18, -1.3, 4.45, 18.0, 20.0, 40.0, 10.0, 0.0, MODE_SERVO),
    "left_elbow": (19, -1.25, 2.61, 18.0, 20.0, 40.0, 10.0, 0.52, MODE_SERVO),
}

H1 = RobotSpec(
    name="h1",
    display_name="Unitree H1",
    idl_family="go",
    num_motor_slots=20,
    joints=tuple(
        JointSpec(name, idx, lo, hi, tau, vel, kp, kd, q0, mode)
        for name, (idx, lo, hi, tau, vel, kp, kd, q0, mode) in _TABLE.items()
    ),
    isaac_joint_order=(
        "left_hip_yaw",
        "right_hip_yaw",
        "torso",
        "left_hip_roll",
        "right_hip_roll",
        "left_shoulder_pitch",
        "right_shoulder_pitch",
        "left_hip_pitch",
        "right_hip_pitch",
        "left_shoulder_roll",
        "right_shoulder_roll",
        "left_knee",
        "right_knee",
        "left_shoulder_yaw",
        "right_shoulder_yaw",
        "left_ankle",
        "right_ankle",
        "left_elbow",
        "right_elbow",
    ),  # fmt: skip
    action_scale=0.5,  # IsaacLab H1 keeps the base scale 0.5 (other stacks use 0.25)
    soft_limit_factor=0.9,
    root_body="pelvis",
    imu_body="torso_link",  # the IMU is on the torso, not the pelvis: rotate back through "torso"
    imu_joint="torso",
    imu_joint_axis=(0.0, 0.0, 1.0),  # Menagerie h1.xml: torso joint axis z, torso_link unrotated
    base_contact_bodies=("torso_link",),
    foot_bodies=("left_ankle_link", "right_ankle_link"),
    menagerie_name="unitree_h1",
    init_base_height_m=1.05,
    # Measured in MuJoCo: kinematic touch-down height of the default pose (H1 cannot stand
    # statically under PD alone, so no settled height exists); tests/robots re-measures it.
    nominal_base_height_m=0.978,
    command_ranges=((0.0, 1.0), (0.0, 0.0), (-1.0, 1.0)),  # IsaacLab H1: forward only
    damping_kd=5.0,  # deploy.md: kd 3-8 in DAMP; equals the training kd of the legs
    battery_cells=16,  # 15 Ah / 864 Wh pack, 57.6 V nominal
)
