"""Velocity-tracking task configs: frozen dataclasses whose defaults are IsaacLab's base
`LocomotionVelocityRoughEnvCfg`; configs/tasks/<task>.yaml hold each robot's differences
(flat tasks load the rough file first, as IsaacLab's flat configs subclass the rough ones).

Reward tables are tuples of RewardTerm(term, weight, params): the MDP reads as a table, and a
YAML file replaces a robot's whole table rather than patching single entries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from common.config import at_least_one, check_fields, positive
from common.errors import UserError
from robots.artifact import TARGET_RANGE_SETTING
from robots.contract import HEADING_STIFFNESS
from training.envs.model import ModelCfg
from training.envs.terrain import TerrainCfg

if TYPE_CHECKING:
    from robots.spec import RobotSpec


@dataclass(frozen=True)
class RewardTerm:
    """One reward term: weight (per second, multiplied by control_dt) x term function(params)."""

    term: str
    weight: float
    params: Any = ()
    """Keyword arguments of the term function: a mapping in YAML, (name, value) pairs here."""
    name: str = ""
    """Label for logs when a term appears twice (IsaacLab's joint_deviation_hip / _arms)."""

    def __post_init__(self) -> None:
        # Normalise to hashable, order-independent pairs so YAML mappings and Python tuples of
        # pairs compare equal and round-trip through to_dict / from_dict.
        items = self.params.items() if isinstance(self.params, Mapping) else self.params
        pairs = tuple(sorted((str(k), _freeze(v)) for k, v in items))
        object.__setattr__(self, "params", pairs)

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def label(self) -> str:
        return self.name or self.term


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, (list, tuple)) else value


# IsaacLab base velocity_env_cfg reward table (section 5.2, "Base" column).
BASE_REWARDS = (
    RewardTerm("track_lin_vel_xy_exp", 1.0, {"std": 0.5}),
    RewardTerm("track_ang_vel_z_exp", 0.5, {"std": 0.5}),
    RewardTerm("lin_vel_z_l2", -2.0),
    RewardTerm("ang_vel_xy_l2", -0.05),
    RewardTerm("joint_torques_l2", -1.0e-5),
    RewardTerm("joint_acc_l2", -2.5e-7),
    RewardTerm("action_rate_l2", -0.01),
    RewardTerm("feet_air_time", 0.125, {"threshold": 0.5}),
)
# The base table's undesired_contacts (-1.0 on ANYmal's ".*THIGH") is left out: every robot
# here removes it, and its body names exist on neither.


@dataclass(frozen=True)
class SimCfg:
    """Physics timing and model construction."""

    sim_dt: float = 0.005
    """Physics step (200 Hz)."""
    decimation: int = 4
    """Physics steps per policy step: control_dt = sim_dt * decimation (50 Hz)."""
    episode_length_s: float = 20.0
    """Time-out after this many seconds (1000 policy steps)."""
    num_threads: int = 0
    """Threads of MuJoCo's batch stepping; 0 uses every CPU."""
    target_range_factor: float = 0.0
    """Clamp joint targets to mid +- factor x half each joint's range before the PD, as
    genpo-deploy's safety layer does (safety.target_range_factor, default 1); 0: no clamp, as in
    IsaacLab. A policy trained without it may command joints past their stops, which the daemon
    never sends (README, sim-to-sim fidelity)."""
    model: ModelCfg = field(default_factory=ModelCfg)

    def __post_init__(self) -> None:
        check_fields(self, ("sim_dt", "episode_length_s"), positive, "must be a positive number")
        check_fields(self, ("decimation",), at_least_one, "must be at least 1")


def target_range(robot: RobotSpec, factor: float, names: Sequence[str]) -> tuple[Any, Any] | None:
    """(lo, hi) joint-target bounds in `names` order that sim.target_range_factor `factor` asks
    for; None for no clamp. Both backends clamp with these (the isaaclab one through
    JointPositionActionCfg.clip, which IsaacLab applies to the scaled, offset targets)."""
    if not 0.0 <= factor <= 1.0:
        raise UserError(f"sim.target_range_factor must be in [0, 1] (0: no clamp), got {factor}")
    return robot.scaled_limits(factor, names) if factor > 0 else None


@dataclass(frozen=True)
class CommandCfg:
    """UniformVelocityCommand "base_velocity" (IsaacLab section 2)."""

    resampling_time_s: tuple[float, float] = (10.0, 10.0)
    rel_standing_envs: float = 0.02
    rel_heading_envs: float = 1.0
    heading_command: bool = True
    heading_control_stiffness: float = HEADING_STIFFNESS
    lin_vel_x: tuple[float, float] | None = None
    """m/s; None takes the robot spec's training range (robots/), the single source of truth."""
    lin_vel_y: tuple[float, float] | None = None
    ang_vel_z: tuple[float, float] | None = None
    heading: tuple[float, float] = (-math.pi, math.pi)


@dataclass(frozen=True)
class DomainRandCfg:
    """Randomisation that matters for transfer. A (lo, hi) range with lo == hi is a constant."""

    friction: tuple[float, float] = (0.8, 0.8)
    """Ground and robot friction per env at startup. MuJoCo has one Coulomb coefficient where
    PhysX has static 0.8 / dynamic 0.6: we keep the static one, which decides foot slip."""
    added_base_mass_kg: tuple[float, float] | None = (-5.0, 5.0)
    """Mass added to the root body per env at startup."""
    push_interval_s: tuple[float, float] | None = (10.0, 15.0)
    """Time between pushes (None: no pushes)."""
    push_vel_xy_m_s: float = 0.5
    """A push adds U(+-this) to the root's world x and y velocity."""
    motor_gain_scale: tuple[float, float] = (1.0, 1.0)
    """kp and kd scaled by one factor per env and joint at startup (not in IsaacLab)."""
    action_latency_physics_steps: tuple[int, int] = (0, 0)
    """Delay before a new joint target reaches the motors, per env at reset, in physics steps."""
    obs_latency_policy_steps: tuple[int, int] = (0, 0)
    """Age of the actor observation, per env at reset, in policy steps."""
    reset_pose_xy_m: float = 0.5
    """Spawn position offset U(+-this) in x and y."""
    reset_yaw_rad: float = 3.14
    reset_velocity: float = 0.5
    """Initial root linear and angular velocity components U(+-this)."""
    reset_joint_scale: tuple[float, float] = (0.5, 1.5)
    """Initial joint position = default x U(range), clipped to the soft limits."""


@dataclass(frozen=True)
class ObsCfg:
    """Observation corruption (IsaacLab's additive uniform noise levels, section 3)."""

    noise: bool = True
    """Add uniform noise to the actor observation."""
    noise_critic: bool = False
    """Also corrupt the critic's (IsaacLab shares one noisy group; a clean critic learns faster)."""
    noise_scale: float = 1.0
    """Multiplier on every noise level."""
    history_length: int = 0
    """Frames of the actor's observation the policy reads, oldest first (IsaacLab's policy-group
    history_length, history_order "time"); 0: the current frame only, as IsaacLab's velocity
    tasks. A blind actor can feel terrain through its recent past. The critic reads one frame."""


@dataclass(frozen=True)
class TaskCfg:
    """A velocity-tracking task: robot, ground, MDP tables and randomisation."""

    robot: str = "go2"
    terrain: TerrainCfg = field(default_factory=TerrainCfg)
    sim: SimCfg = field(default_factory=SimCfg)
    commands: CommandCfg = field(default_factory=CommandCfg)
    rewards: tuple[RewardTerm, ...] = BASE_REWARDS
    domain_rand: DomainRandCfg = field(default_factory=DomainRandCfg)
    observations: ObsCfg = field(default_factory=ObsCfg)
    contact_threshold_n: float = 1.0
    """Net force above which a body counts as in contact (terminations, air time, slide)."""
    min_base_height_m: float | None = None
    """End the episode when the root is lower than this above the ground under it (IsaacLab's
    root_height_below_minimum; None: base contact alone ends it, as in IsaacLab's velocity
    tasks). MuJoCo backend only: IsaacLab runs its own task configs."""
    link_rest_fall_s: float | None = None
    """End the episode when a merged link (RobotSpec.merged_links: Go2's head) has touched the
    ground for this long without a break (None: never; IsaacLab's tasks end one on base contact
    only). genpo-eval sets 1 s, so that a chin brushing a stair is not a fall and a Go2 lying on
    its chin (trunk clear of the ground) is. MuJoCo backend only."""
    scan_yaw_joint: str = ""
    """Joint whose angle adds to the root yaw for the height scan's yaw alignment: H1's scanner
    rides on torso_link, whose origin is the pelvis origin, turned by the "torso" joint."""

    @property
    def control_dt(self) -> float:
        return self.sim.sim_dt * self.sim.decimation

    @property
    def max_episode_length(self) -> int:
        return math.ceil(self.sim.episode_length_s / self.control_dt - 1e-9)


# Task settings that change how a policy must be run, beyond its robot and terrain: the actor's
# history (which its contract also carries) and the joint-target clamp it learned under.
# Checkpoints record them (`task_settings`), exports carry them (provenance.task_settings) and
# genpo-eval runs the task under them (training/evaluation/policies.py).
HISTORY_SETTING = "observations.history_length"  # its contract carries it too
POLICY_SETTINGS = (HISTORY_SETTING, TARGET_RANGE_SETTING)


def policy_settings(cfg: TaskCfg) -> dict[str, Any]:
    """{key: value} of POLICY_SETTINGS in `cfg`."""
    settings = {}
    for key in POLICY_SETTINGS:
        value: Any = cfg
        for name in key.split("."):
            value = getattr(value, name)
        settings[key] = value
    return settings
