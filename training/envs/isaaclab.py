"""IsaacLab backend: IsaacLab 3.0's own velocity tasks, reshaped to our policy contract.

`genpo-train go2_rough --backend isaaclab` follows IsaacLab 3.0's kit-less order
(isaaclab_rl's train entry point): resolve the task's config with
`parse_env_cfg(..., overrides=["physics=<preset>"])`, reshape it (below), check it against the
contract, then build the env inside `launch_simulation(cfg, args)`, whose context our env holds
until `close()`. Kit (Isaac Sim) starts only when the chosen physics preset needs it.

Reshaping, so the artifact deploys whichever backend trained it:

- `scene.robot.joint_ordering` is pinned to the contract's joint order: under Newton the
  articulation's public order would otherwise be the solver's, and actor, critic and action all
  read that one order;
- the actor group ("policy") and the critic group ("critic") are built from the contract's terms,
  in its order, with its clips and scales; the critic is clean (no noise), as on MuJoCo;
- nothing the contract fixes is overwritten silently: command ranges, decimation x dt, height-scan
  size, action scale, default pose and joint names are compared with it and a difference refuses
  with the field named (`check_drift`).

Every failure that comes from IsaacLab (missing package, Isaac Sim missing for a PhysX preset,
SystemExit, an asset that cannot be loaded) becomes one UserError sentence. IsaacLab is imported
only inside these functions: the rest of training never needs it.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import yaml

from common.errors import UserError
from robots import get_robot
from robots.artifact import TARGET_RANGE_SETTING
from robots.contract import PolicyContract
from robots.spec import RobotSpec
from training.envs.vec_env import VecEnv
from training.tasks.config import HISTORY_SETTING, target_range

# Our task -> (IsaacLab 3.0 ID, IsaacLab 2.x ID). 3.0 dropped `-v0` and renamed Unitree-Go2.
TASK_IDS = {
    "go2_flat": ("Isaac-Velocity-Flat-UnitreeGo2", "Isaac-Velocity-Flat-Unitree-Go2-v0"),
    "go2_rough": ("Isaac-Velocity-Rough-UnitreeGo2", "Isaac-Velocity-Rough-Unitree-Go2-v0"),
    "h1_flat": ("Isaac-Velocity-Flat-H1", "Isaac-Velocity-Flat-H1-v0"),
    "h1_rough": ("Isaac-Velocity-Rough-H1", "Isaac-Velocity-Rough-H1-v0"),
}
# IsaacLab 3.0's physics presets of the velocity tasks (RoughPhysicsCfg); the first is ours.
PHYSICS_PRESETS = ("newton_mjwarp", "isaacsim_physx", "physx", "ovphysx")
DEFAULT_PHYSICS = "newton_mjwarp"
KIT_PRESETS = ("isaacsim_physx",)  # these need Isaac Sim (Omniverse Kit) in the process
INSTALL_HINT = (
    "--backend isaaclab needs IsaacLab 3.0 (Python 3.12, an NVIDIA GPU); install it kit-less "
    "in its own venv (`pip install isaaclab==3.0.0`, README: IsaacLab), then "
    "`pip install -e .[train,export]` in that venv"
)
_TOL = 1e-6
# env.* keys of our task config that have an IsaacLab counterpart (dotted path in its env cfg).
OVERRIDE_FIELDS = {
    "sim.episode_length_s": "episode_length_s",
    "sim.decimation": "decimation",
    "sim.sim_dt": "sim.dt",
    "commands.resampling_time_s": "commands.base_velocity.resampling_time_range",
    "commands.rel_standing_envs": "commands.base_velocity.rel_standing_envs",
    "commands.rel_heading_envs": "commands.base_velocity.rel_heading_envs",
    "commands.heading_command": "commands.base_velocity.heading_command",
    "commands.heading_control_stiffness": "commands.base_velocity.heading_control_stiffness",
    "commands.lin_vel_x": "commands.base_velocity.ranges.lin_vel_x",
    "commands.lin_vel_y": "commands.base_velocity.ranges.lin_vel_y",
    "commands.ang_vel_z": "commands.base_velocity.ranges.ang_vel_z",
    "commands.heading": "commands.base_velocity.ranges.heading",
    "observations.noise": "observations.policy.enable_corruption",
    "observations.noise_critic": "observations.critic.enable_corruption",
    "domain_rand.push_interval_s": "events.push_robot.interval_range_s",
    "domain_rand.reset_joint_scale": "events.reset_robot_joints.params.position_range",
}
# env.sim.target_range_factor's IsaacLab counterpart (actions.joint_pos.clip, per joint, in rad)
# is computed, not copied (apply_overrides, clip_targets).
# env.* keys the policy contract carries; shape_to_contract applies them (the actor's history).
CONTRACT_KEYS = (HISTORY_SETTING,)


# ----- can IsaacLab run here? ---------------------------------------------------------------


def launch_problem(physics: str = DEFAULT_PHYSICS, need_gpu: bool = True) -> str | None:
    """Why IsaacLab cannot launch `physics` in this process (None: it can), without importing it.

    `--backend auto` uses this: IsaacLab only where it can really run, else a stated reason.
    """
    if importlib.util.find_spec("isaaclab") is None:
        return "IsaacLab is not installed"
    if importlib.util.find_spec("isaaclab_tasks") is None:
        return "IsaacLab is installed without isaaclab_tasks (its task registry)"
    if importlib.util.find_spec("isaaclab.app.sim_launcher") is None:
        return "the installed IsaacLab predates 3.0 (no isaaclab.app.sim_launcher)"
    if physics in KIT_PRESETS and importlib.util.find_spec("isaacsim") is None:
        return (
            f"the physics preset {physics!r} needs Isaac Sim, which is not installed "
            "(pip install isaaclab[isaacsim]==3.0.0 --extra-index-url https://pypi.nvidia.com)"
        )
    if physics.startswith("newton") and importlib.util.find_spec("newton") is None:
        return f"the physics preset {physics!r} needs Newton, which isaaclab==3.0.0 depends on"
    if need_gpu and not torch.cuda.is_available():
        return "no CUDA GPU is visible to torch"
    return None


def check_physics(physics: str) -> str:
    if physics not in PHYSICS_PRESETS:
        raise UserError(
            f"unknown IsaacLab physics preset {physics!r}; "
            f"choose one of {', '.join(PHYSICS_PRESETS)}"
        )
    return physics


def check_overrides(overrides: Iterable[str]) -> None:
    """Refuse, by name, every env.* override that has no IsaacLab counterpart."""
    keys = sorted([*OVERRIDE_FIELDS, TARGET_RANGE_SETTING, *CONTRACT_KEYS])
    for item in overrides:
        key = item.split("=", 1)[0]
        if key not in keys:
            raise UserError(
                f"env.{key} has no IsaacLab counterpart, so the isaaclab backend cannot apply it; "
                f"on this backend env.* takes {', '.join(keys)}"
            )


# ----- config: task ID, physics preset, reshaping, drift -----------------------------------


def resolve_task_id(task: str, registry: Iterable[str]) -> tuple[str, str]:
    """(IsaacLab task ID, which layout it is) of `task` in the installed gym registry."""
    if task not in TASK_IDS:
        raise UserError(f"IsaacLab has no task for {task!r}; tasks: {', '.join(sorted(TASK_IDS))}")
    new, old = TASK_IDS[task]
    registered = set(registry)
    if new in registered:
        return new, "IsaacLab 3.0 ID"
    if old in registered:
        return old, "IsaacLab 2.x ID (the installed registry has no 3.0 ID)"
    raise UserError(
        f"the installed IsaacLab registers neither {new!r} (3.0) nor {old!r} (2.x); "
        "install isaaclab==3.0.0 with its isaaclab_tasks"
    )


def load_env_cfg(
    task: str, contract: PolicyContract, num_envs: int, device: str, physics: str
) -> tuple[Any, str, str]:
    """(IsaacLab env cfg reshaped to `contract`, task ID, ID note); the env is not built."""
    check_physics(physics)
    if task not in TASK_IDS:
        raise UserError(f"IsaacLab has no task for {task!r}; tasks: {', '.join(sorted(TASK_IDS))}")
    try:
        import gymnasium as gym
        import isaaclab_tasks  # noqa: F401  (fills the gym registry with IsaacLab's tasks)
        from isaaclab_tasks.utils import parse_env_cfg
    except ImportError as exc:
        raise UserError(f"{INSTALL_HINT} (import failed: {exc})") from None
    task_id, note = resolve_task_id(task, gym.registry)
    try:
        env_cfg = parse_env_cfg(
            task_id, device=device, num_envs=num_envs, overrides=[f"physics={physics}"]
        )
    except TypeError:
        raise UserError(
            "the installed IsaacLab's parse_env_cfg takes no overrides (IsaacLab < 3.0); "
            "this backend needs isaaclab==3.0.0"
        ) from None
    except (Exception, SystemExit) as exc:
        raise UserError(
            f"IsaacLab could not resolve {task_id} with physics={physics}: {_first(exc)}"
        ) from None
    shape_to_contract(env_cfg, contract)
    return env_cfg, task_id, note


def shape_to_contract(env_cfg: Any, contract: PolicyContract) -> None:
    """Pin the joint order and rebuild the actor and critic groups from the contract's terms."""
    from isaaclab.managers import ObservationGroupCfg

    original = env_cfg.observations.policy
    env_cfg.scene.robot.joint_ordering = tuple(contract.action.joint_names)
    env_cfg.observations.policy = _group(ObservationGroupCfg, original, contract.obs_terms, True)
    if contract.history_length > 0:  # frames oldest first, each the terms in order: ours
        env_cfg.observations.policy.history_length = contract.history_length
        env_cfg.observations.policy.flatten_history_dim = True
        env_cfg.observations.policy.history_order = "time"
    env_cfg.observations.critic = _group(
        ObservationGroupCfg, original, contract.critic_terms, False
    )
    action = env_cfg.actions.joint_pos
    # The articulation order is pinned above, so ".*" already resolves to the contract order;
    # naming the joints makes a missing or renamed joint fail at build time instead.
    action.joint_names = list(contract.action.joint_names)
    action.preserve_order = True
    action.use_default_offset = True


def _group(group_cls: type, original: Any, terms: Iterable, noisy: bool) -> Any:
    group = group_cls()
    group.concatenate_terms = True
    group.enable_corruption = noisy and bool(original.enable_corruption)
    for term in terms:
        source = getattr(original, term.name, None)
        if source is None:
            raise UserError(
                f"drift: the IsaacLab task has no observation term {term.name!r} of the contract"
            )
        cfg = copy.deepcopy(source)
        cfg.scale = term.scale
        cfg.clip = None if term.clip is None else (-term.clip, term.clip)
        setattr(group, term.name, cfg)
    return group


def apply_overrides(env_cfg: Any, overrides: Iterable[str], robot: RobotSpec) -> None:
    """Apply env.* overrides (key=YAML value) to their IsaacLab fields."""
    overrides = list(overrides)
    check_overrides(overrides)
    for item in overrides:
        key, _, text = item.partition("=")
        value = yaml.safe_load(text)
        if key == TARGET_RANGE_SETTING:
            clip_targets(env_cfg, robot, value)
            continue
        if key in CONTRACT_KEYS:
            continue  # in the contract: shape_to_contract has applied it
        value = tuple(value) if isinstance(value, list) else value
        *parents, leaf = OVERRIDE_FIELDS[key].split(".")
        if key == "domain_rand.push_interval_s" and value is None:
            env_cfg.events.push_robot = None  # IsaacLab's way to switch a term off
            continue
        node = env_cfg
        for name in parents:
            node = node[name] if isinstance(node, dict) else getattr(node, name)
            if node is None:
                raise UserError(f"env.{key}: the IsaacLab task has no {OVERRIDE_FIELDS[key]}")
        if isinstance(node, dict):
            node[leaf] = value
        else:
            setattr(node, leaf, value)


def clip_targets(env_cfg: Any, robot: RobotSpec, factor: Any) -> None:
    """env.sim.target_range_factor on IsaacLab: JointPositionAction clamps its processed action
    (raw x scale + default, the joint target in rad) to `clip`, per joint name, which is where
    the MuJoCo backend clamps its targets, with the same bounds (tasks.config.target_range)."""
    if isinstance(factor, bool) or not isinstance(factor, (int, float)):
        raise UserError(f"env.{TARGET_RANGE_SETTING} must be a number in [0, 1], got {factor!r}")
    names = robot.policy_joint_names
    bounds = target_range(robot, float(factor), names)
    env_cfg.actions.joint_pos.clip = (
        None
        if bounds is None
        else {
            re.escape(n): (float(lo), float(hi)) for n, lo, hi in zip(names, *bounds, strict=True)
        }
    )


def check_drift(env_cfg: Any, contract: PolicyContract) -> None:
    """Refuse, naming the field, where the IsaacLab task disagrees with the contract."""
    ranges = env_cfg.commands.base_velocity.ranges
    for name, expected in zip(contract.command_names, contract.command_ranges, strict=True):
        got = tuple(getattr(ranges, name))
        _same(f"commands.base_velocity.ranges.{name}", got, expected)
    control_dt = env_cfg.decimation * env_cfg.sim.dt
    _same("decimation x sim.dt", (control_dt,), (contract.control_dt_s,))
    _same("actions.joint_pos.scale", (env_cfg.actions.joint_pos.scale,), (contract.action.scale,))
    scan = {t.name: t.dim for t in contract.critic_terms}.get("height_scan", 0)
    _same("scene.height_scanner rays", (_scan_rays(env_cfg.scene),), (scan,))
    _same(
        "scene.robot.init_state.joint_pos", _default_pose(env_cfg, contract), contract.action.offset
    )


def _scan_rays(scene: Any) -> int:
    scanner = getattr(scene, "height_scanner", None)
    if scanner is None:
        return 0
    pattern = scanner.pattern_cfg
    # GridPattern: arange(-size/2, size/2 + eps, resolution) per axis.
    per_axis = [int(round(s / pattern.resolution)) + 1 for s in pattern.size]
    return per_axis[0] * per_axis[1]


def _default_pose(env_cfg: Any, contract: PolicyContract) -> tuple[float, ...]:
    from isaaclab.utils.string import resolve_matching_names_values

    names = list(contract.action.joint_names)
    try:
        _, matched, values = resolve_matching_names_values(
            dict(env_cfg.scene.robot.init_state.joint_pos), names
        )
    except ValueError as exc:
        raise UserError(
            f"drift: scene.robot.init_state.joint_pos does not match the contract's joint names "
            f"({_first(exc)})"
        ) from None
    by_name = dict(zip(matched, values, strict=True))
    missing = [n for n in names if n not in by_name]
    if missing:
        raise UserError(f"drift: scene.robot.init_state.joint_pos sets no value for {missing}")
    return tuple(float(by_name[n]) for n in names)


def _same(field: str, got: Iterable[float], expected: Iterable[float]) -> None:
    got, expected = tuple(got), tuple(expected)
    if len(got) != len(expected) or any(
        not math.isclose(a, b, abs_tol=_TOL) for a, b in zip(got, expected, strict=False)
    ):
        raise UserError(
            f"drift: IsaacLab's {field} is {list(got)} but the policy contract has "
            f"{list(expected)}; the artifact would not deploy, so align robots/ or the task"
        )


# ----- the env ------------------------------------------------------------------------------


def make_isaaclab_env(
    task: str,
    contract: PolicyContract,
    num_envs: int,
    seed: int,
    device: str = "cuda:0",
    physics: str = DEFAULT_PHYSICS,
    overrides: Iterable[str] = (),
    robot_usd: str | Path | None = None,
) -> IsaacLabVecEnv:
    """Resolve, reshape and check the task's config, then launch and build it.

    robot_usd: spawn the robot from this local USD and keep the scene off NVIDIA's asset
    servers (`use_local_assets`); None: IsaacLab's own assets, downloaded at run time.
    """
    env_cfg, task_id, note = load_env_cfg(task, contract, num_envs, device, physics)
    print(f"genpo-train: IsaacLab task {task_id} ({note}), physics={physics}")
    if robot_usd is not None:
        use_local_assets(env_cfg, get_robot(contract.robot), Path(robot_usd))
    apply_overrides(env_cfg, overrides, get_robot(contract.robot))
    check_drift(env_cfg, contract)
    env_cfg.seed = seed
    return IsaacLabVecEnv.launch(task_id, env_cfg, contract, physics, device)


def use_local_assets(env_cfg: Any, robot: RobotSpec, robot_usd: Path) -> None:
    """Spawn the robot from a local USD, e.g. Menagerie's MJCF converted by mujoco-usd-converter
    (`python -m mujoco_usd_converter --no-layer-structure go2.xml out/`), and drop what IsaacLab
    would download (ground-plane USD, MDL material, sky texture).

    Kit-less Newton refuses a flat plane mesh (MuJoCo: "mesh volume is too small"), so a flat
    task gets IsaacLab's random box grid with heights of at most 1 cm instead of the Nucleus plane.
    """
    import isaaclab.sim as sim_utils
    from isaaclab.terrains import MeshRandomGridTerrainCfg, TerrainGeneratorCfg

    if not robot_usd.is_file():
        raise UserError(f"robot USD {str(robot_usd)!r} does not exist")
    scene = env_cfg.scene
    scene.robot.spawn = sim_utils.UsdFileCfg(usd_path=str(robot_usd))
    scene.sky_light = None
    scene.terrain.visual_material = None
    if scene.terrain.terrain_type == "plane":
        _room_for_box_contacts(env_cfg.sim.physics)
        scene.terrain.terrain_type = "generator"
        scene.terrain.terrain_generator = TerrainGeneratorCfg(
            size=(8.0, 8.0),
            border_width=0.0,
            num_rows=1,
            num_cols=1,
            sub_terrains={
                "flat": MeshRandomGridTerrainCfg(
                    proportion=1.0,
                    grid_width=0.45,
                    grid_height_range=(0.0, 0.01),
                    platform_width=2.0,
                )
            },
        )
    # The converter nests bodies (Robot/Geometry/base/FL_hip/...): sense every body below Robot.
    scene.contact_forces.prim_path = "{ENV_REGEX_NS}/Robot/.*"
    if getattr(scene, "height_scanner", None) is not None:
        # on the body IsaacLab mounts it on (Go2: base; H1: torso_link), where the file has it
        body = scene.height_scanner.prim_path.rsplit("/", 1)[-1]
        scene.height_scanner.prim_path = "{ENV_REGEX_NS}/Robot/" + _body_path(robot_usd, body)
    # Menagerie's Go2 has no foot bodies (IsaacLab's ".*_foot"): the feet are calf geoms.
    feet = "|".join(robot.foot_bodies)
    for term in vars(env_cfg.rewards).values():
        sensor = getattr(term, "params", {}).get("sensor_cfg") if term is not None else None
        if sensor is not None and sensor.body_names == ".*_foot":
            sensor.body_names = feet


def _body_path(robot_usd: Path, body: str) -> str:
    """Path of rigid body `body` below the file's default prim (the converter nests bodies:
    Geometry/pelvis/torso_link; a body's mesh may share its name)."""
    from pxr import Usd, UsdPhysics

    stage = Usd.Stage.Open(str(robot_usd))
    root = stage.GetDefaultPrim()
    for prim in Usd.PrimRange(root):
        if prim.GetName() == body and prim.HasAPI(UsdPhysics.RigidBodyAPI):
            return str(prim.GetPath().MakeRelativePath(root.GetPath()))
    raise UserError(
        f"robot USD '{robot_usd}' has no body {body!r}, which IsaacLab's height scanner rides on"
    )


def _room_for_box_contacts(physics: Any) -> None:
    """The flat tasks' MJWarp preset sizes its buffers for a plane (Go2: njmax 65); on the box
    grid the Go2 needed up to ~100 constraint rows ("nefc overflow" drops the rest)."""
    solver = getattr(physics, "solver_cfg", None)
    if solver is not None and hasattr(solver, "njmax"):
        solver.njmax = max(solver.njmax or 0, 300)
        solver.nconmax = max(solver.nconmax or 0, 100)


def _first(exc: BaseException) -> str:
    """One line naming what failed: the innermost cause (IsaacLab wraps import errors)."""
    if isinstance(exc, SystemExit):
        return f"it exited with status {exc.code}"
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


class IsaacLabVecEnv(VecEnv):
    """A ManagerBasedRLEnv built inside IsaacLab's launch context, as our VecEnv."""

    def __init__(self, env: Any, stack: contextlib.ExitStack, physics: str) -> None:
        self._env = env
        self._stack = stack
        self.physics = physics
        inner = env.unwrapped
        self.num_envs = inner.num_envs
        self.num_actions = inner.action_manager.total_action_dim
        self.max_episode_length = int(inner.max_episode_length)
        self.device = inner.device
        self._log_names = _log_names(inner.cfg)
        self._last_log: object = None
        self._obs = self.reset()

    @classmethod
    def launch(
        cls, task_id: str, env_cfg: Any, contract: PolicyContract, physics: str, device: str
    ) -> IsaacLabVecEnv:
        problem = launch_problem(physics, need_gpu=False)
        if problem is not None:
            raise UserError(f"IsaacLab cannot launch {task_id}: {problem}")
        stack = contextlib.ExitStack()
        try:
            import gymnasium as gym
            from isaaclab.app.sim_launcher import launch_simulation

            # Entered here, left in close(): an error below never reaches the generator, so
            # IsaacLab prints no traceback of its own and shuts its launchers down cleanly.
            stack.enter_context(launch_simulation(env_cfg, {"headless": True, "device": device}))
            env = gym.make(task_id, cfg=env_cfg)
            check_articulation(env.unwrapped, contract)
            return cls(env, stack, physics)
        except UserError:
            stack.close()
            raise
        except (Exception, SystemExit) as exc:
            stack.close()
            raise UserError(
                f"IsaacLab could not build {task_id} with physics={physics} ({_first(exc)}); "
                "its assets come from NVIDIA's servers at run time: check the network, or "
                "spawn the robot from a local USD (README: IsaacLab)"
            ) from None

    def get_observations(self) -> dict[str, torch.Tensor]:
        return self._obs

    def reset(self) -> dict[str, torch.Tensor]:
        obs, extras = self._env.reset()
        self._last_log = extras.get("log")
        self._obs = _groups(obs)
        return self._obs

    def step(
        self, actions: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict]:
        obs, rewards, terminated, truncated, extras = self._env.step(actions)
        self._obs = _groups(obs)
        return (
            self._obs,
            rewards,
            terminated | truncated,
            {"time_outs": truncated, "episode": self._episode(extras.get("log"))},
        )

    def _episode(self, log: dict | None) -> dict[str, float]:
        """Per-term episode statistics, only on steps where envs reset.

        IsaacLab replaces extras["log"] only in _reset_idx, so a new dict object marks a reset
        step without reading the device; its values then cross to the host in one transfer.
        """
        if log is None or log is self._last_log:
            return {}
        self._last_log = log
        names = [self._log_names(key) for key in log]
        keep = [(n, v) for n, v in zip(names, log.values(), strict=True) if n is not None]
        if not keep:
            return {}
        values = torch.stack([torch.as_tensor(v, dtype=torch.float32).cpu() for _, v in keep])
        return dict(zip((n for n, _ in keep), values.tolist(), strict=True))

    def close(self) -> None:
        try:
            self._env.close()
        finally:
            self._stack.close()


def check_articulation(env: Any, contract: PolicyContract) -> None:
    """The built articulation: joint names in contract order and the contract's default pose."""
    robot = env.scene["robot"]
    names = list(robot.joint_names)
    if names != list(contract.action.joint_names):
        raise UserError(
            f"drift: the articulation's joint names {names} are not the contract's "
            f"{list(contract.action.joint_names)} in order"
        )
    default = robot.data.default_joint_pos
    default = getattr(default, "torch", default)  # 3.0: ProxyArray; 2.x: a tensor
    _same("robot.data.default_joint_pos", default[0].cpu().tolist(), contract.action.offset)


def _log_names(env_cfg: Any):
    """key of IsaacLab's extras["log"] -> our MuJoCo backend's episode name (None: dropped)."""
    labels = _reward_labels(env_cfg.rewards)

    def name(key: str) -> str | None:
        group, _, term = key.partition("/")
        if group == "Episode_Reward":
            return f"rew_{labels.get(term, term)}"
        if group == "Episode_Termination":
            return f"termination_{term}"
        if key == "Curriculum/terrain_levels":
            return "terrain_level"
        if group == "Metrics":
            return f"metric_{term.rsplit('/', 1)[-1]}"
        return None

    return name


def _reward_labels(rewards: Any) -> dict[str, str]:
    """IsaacLab reward term name -> our label: its function's name, unless shared or a penalty
    on termination (then the term's own name), as configs/tasks/*.yaml name them."""
    funcs = {
        name: getattr(term.func, "__name__", name)
        for name, term in vars(rewards).items()
        if term is not None and hasattr(term, "func")
    }
    counts: dict[str, int] = {}
    for func in funcs.values():
        counts[func] = counts.get(func, 0) + 1
    return {
        name: func if counts[func] == 1 and func != "is_terminated" else name
        for name, func in funcs.items()
    }


def _groups(obs: dict) -> dict[str, torch.Tensor]:
    return {"policy": obs["policy"], "critic": obs["critic"]}
