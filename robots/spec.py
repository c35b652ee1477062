"""Robot specifications: every fact about a robot lives once, here, in SDK motor order.

Index maps between orders (SDK motor slots, IsaacLab articulation, MuJoCo qpos, MuJoCo actuators)
are always computed from joint names with `indices_of`, never typed as lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from common.compat import zip_strict

# Motor modes written into LowCmd.motor_cmd[i].mode.
MODE_SERVO = 0x01  # Go2 motors and H1 weak motors (ankles, arms).
MODE_STRONG = 0x0A  # H1 strong motors (hips, knees, torso).

# Sentinels that disable the position / velocity terms of the motor law (robots.md, Messages).
POS_STOP = 2.146e9
VEL_STOP = 16000.0


@dataclass(frozen=True)
class JointSpec:
    """One actuated joint. `name` is the joint name used by IsaacLab and the Menagerie MJCF."""

    name: str
    sdk_index: int
    q_min_rad: float
    q_max_rad: float
    torque_limit_nm: float
    velocity_limit_rad_s: float
    kp: float  # stiffness used in training (IsaacLab actuator config)
    kd: float  # damping used in training
    default_q_rad: float  # IsaacLab default (training) pose
    motor_mode: int = MODE_SERVO


@dataclass(frozen=True)
class DdsTopics:
    """DDS topic names of the Unitree low-level protocol."""

    lowcmd: str = "rt/lowcmd"
    lowstate: str = "rt/lowstate"
    wireless: str = "rt/wirelesscontroller"


@dataclass(frozen=True)
class MergedLink:
    """A link that IsaacLab's asset keeps as a body of its own (on a fixed joint) but the Menagerie
    model merged into another body: that body's collision geom centred at `geom_pos` (in its
    frame) is the link's. The training model splits it back out, so contact with it is not contact
    with `merged_into` (the base-contact termination, IsaacLab's body-name match)."""

    name: str
    merged_into: str
    geom_pos: tuple[float, float, float]


@dataclass(frozen=True)
class RobotSpec:
    """Everything deploy, training and export need to know about one robot."""

    name: str
    display_name: str
    idl_family: str  # "go" (unitree_go messages: Go2, H1) or "hg" (unitree_hg: H1-2, G1)
    num_motor_slots: int  # length of LowCmd.motor_cmd / LowState.motor_state
    joints: tuple[JointSpec, ...]  # sorted by sdk_index
    isaac_joint_order: tuple[str, ...]  # IsaacLab articulation order = policy joint order
    action_scale: float  # target = default + action_scale * action
    soft_limit_factor: float  # soft range = mid +- factor * half range (IsaacLab convention)
    root_body: str  # MJCF body carrying the free joint
    imu_body: str  # MJCF body the IMU is mounted on
    imu_joint: str | None  # joint between root and IMU body (H1: torso), None when IMU is on root
    base_contact_bodies: tuple[str, ...]  # contact with these ends an episode
    foot_bodies: tuple[str, ...]  # MJCF bodies that carry the foot collision geoms
    menagerie_name: str
    init_base_height_m: float  # spawn height of the root body (IsaacLab init_state.pos z)
    nominal_base_height_m: float  # root height standing in the default pose on flat ground
    command_ranges: tuple[tuple[float, float], ...]  # (vx, vy, wz) ranges used in training
    damping_kd: float  # kd applied to every motor in DAMP (kp 0, tau 0)
    battery_cells: int  # lithium cells in series in the pack (its floor: safety/envelope.py)
    foot_geoms: tuple[str, ...] = ()  # named foot geoms when a foot is one geom of a larger body
    merged_links: tuple[MergedLink, ...] = ()  # links Menagerie merged that IsaacLab keeps
    topics: DdsTopics = DdsTopics()
    # Axis of `imu_joint` (same in the root and IMU body frames, which coincide at joint angle 0):
    # deploy rotates the IMU's orientation and gyro back into the root frame about it.
    imu_joint_axis: tuple[float, float, float] | None = None
    # Full-scale range of the IMU: a reading beyond it cannot come from the sensor (a corrupt or
    # forged frame). Unitree does not publish its IMU part; these are the widest ranges of the
    # MEMS IMUs used in legged robots (Bosch BMI088: +-2000 deg/s gyro, +-24 g accelerometer).
    imu_gyro_range_rad_s: float = 34.91  # 2000 deg/s
    imu_accel_range_m_s2: float = 235.4  # 24 g

    def __post_init__(self) -> None:
        indices = [j.sdk_index for j in self.joints]
        if indices != sorted(indices) or len(set(indices)) != len(indices):
            raise ValueError(f"{self.name}: joints must be in strictly increasing SDK order")
        if max(indices) >= self.num_motor_slots:
            raise ValueError(f"{self.name}: an SDK index exceeds the {self.num_motor_slots} slots")
        if sorted(self.isaac_joint_order) != sorted(self.joint_names):
            raise ValueError(f"{self.name}: IsaacLab order must name exactly the robot's joints")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def joint_names(self) -> tuple[str, ...]:
        """Joint names in SDK motor order (unused slots skipped)."""
        return tuple(j.name for j in self.joints)

    @property
    def sdk_indices(self) -> np.ndarray:
        """SDK motor slot of each joint, in SDK order: [num_joints]."""
        return np.array([j.sdk_index for j in self.joints], dtype=np.int64)

    @property
    def policy_joint_names(self) -> tuple[str, ...]:
        """Joint order of policy observations and actions (IsaacLab's articulation order)."""
        return self.isaac_joint_order

    @property
    def isaac_to_sdk(self) -> np.ndarray:
        """SDK motor slot of each policy (IsaacLab) joint: `q_policy = q_slots[isaac_to_sdk]`."""
        slots = dict(zip_strict(self.joint_names, self.sdk_indices.tolist()))
        return np.array([slots[n] for n in self.isaac_joint_order], dtype=np.int64)

    def joint(self, name: str) -> JointSpec:
        for j in self.joints:
            if j.name == name:
                return j
        raise KeyError(f"{self.name} has no joint {name!r}")

    def values(self, field: str, order: Sequence[str] | None = None) -> np.ndarray:
        """A per-joint field (e.g. "kp") as float64 in `order` (default: policy order)."""
        names = self.policy_joint_names if order is None else order
        return np.array([getattr(self.joint(n), field) for n in names], dtype=np.float64)

    def soft_limits(self, order: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Soft position limits (lo, hi) in `order`: mid +- soft_limit_factor * half range."""
        return self.scaled_limits(self.soft_limit_factor, order)

    def scaled_limits(
        self, factor: float, order: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Position limits (lo, hi) in `order` shrunk about the middle: mid +- factor * half range
        (factor 1: the joints' physical range)."""
        lo = self.values("q_min_rad", order)
        hi = self.values("q_max_rad", order)
        mid, half = (lo + hi) / 2.0, (hi - lo) / 2.0
        return mid - factor * half, mid + factor * half


def indices_of(names: Sequence[str], within: Sequence[str]) -> np.ndarray:
    """Position of each of `names` inside `within`: `x_names = x_within[indices_of(names, within)]`.

    Raises KeyError naming every missing name, so a renamed joint can never be silently skipped.
    """
    position = {n: i for i, n in enumerate(within)}
    missing = [n for n in names if n not in position]
    if missing:
        raise KeyError(f"names not found: {missing}")
    return np.array([position[n] for n in names], dtype=np.int64)
