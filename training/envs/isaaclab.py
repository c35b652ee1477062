"""IsaacLab backend: IsaacLab's own velocity tasks, reshaped to our policy contract.

`genpo-train go2_rough --backend isaaclab` builds `Isaac-Velocity-Rough-Unitree-Go2-v0` through
IsaacLab 3.0's documented API (AppLauncher for the Kit app, the gym registry filled by
`isaaclab_tasks`, `parse_env_cfg`) and edits its config before the environment exists:

- the actor group ("policy") becomes exactly the contract's deployable terms, in contract order,
  with the contract's clips and scales, so the artifact deploys whichever backend trained it;
- the critic group ("critic") is IsaacLab's original policy group (with base linear velocity and,
  on rough terrain, the height scan);
- joint observations and the action term are pinned to the contract's joint order by name
  (`preserve_order=True`), whatever order the physics backend articulates the joints in.

IsaacLab is imported only inside these functions: the rest of training never needs it.
"""

from __future__ import annotations

import copy
import importlib.util
from typing import Any

import torch

from robots.contract import PolicyContract
from robots.errors import UserError
from training.env import VecEnv

ISAACLAB_TASK_IDS = {
    "go2_flat": "Isaac-Velocity-Flat-Unitree-Go2-v0",
    "go2_rough": "Isaac-Velocity-Rough-Unitree-Go2-v0",
    "h1_flat": "Isaac-Velocity-Flat-H1-v0",
    "h1_rough": "Isaac-Velocity-Rough-H1-v0",
}
INSTALL_HINT = (
    "--backend isaaclab needs IsaacLab 3.0 (Python 3.12, an NVIDIA GPU): install it following "
    "https://isaac-sim.github.io/IsaacLab (pip install isaaclab[isaacsim,all]), then "
    "`pip install -e .[train,export]` in that environment"
)
_JOINT_TERMS = ("joint_pos", "joint_vel")
_GROUP_SETTINGS = ("enable_corruption", "concatenate_terms")


def isaaclab_available() -> bool:
    """True where IsaacLab is importable and a CUDA GPU exists (what `--backend auto` picks)."""
    return importlib.util.find_spec("isaaclab") is not None and torch.cuda.is_available()


def make_isaaclab_env(
    task: str, contract: PolicyContract, num_envs: int, seed: int, device: str = "cuda:0"
) -> VecEnv:
    """Launch IsaacLab headless and build `task` shaped to `contract`."""
    if task not in ISAACLAB_TASK_IDS:
        raise UserError(f"IsaacLab has no task for {task!r}; tasks: {sorted(ISAACLAB_TASK_IDS)}")
    try:
        from isaaclab.app import AppLauncher
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    # The Kit app must run before any other isaaclab / omni module is imported.
    AppLauncher(headless=True, device=device)
    import gymnasium as gym
    import isaaclab_tasks  # noqa: F401  (registers the Isaac-Velocity-* tasks)
    from isaaclab_tasks.utils import parse_env_cfg

    task_id = ISAACLAB_TASK_IDS[task]
    env_cfg = parse_env_cfg(task_id, device=device, num_envs=num_envs)
    env_cfg.seed = seed
    shape_to_contract(env_cfg, contract)
    env = gym.make(task_id, cfg=env_cfg)
    check_default_pose(env.unwrapped, contract)
    return IsaacLabVecEnv(env)


def shape_to_contract(env_cfg: Any, contract: PolicyContract) -> None:
    """Edit an IsaacLab velocity-task config in place so its groups follow `contract`."""
    from isaaclab.managers import ObservationGroupCfg, SceneEntityCfg

    original = env_cfg.observations.policy
    joints = list(contract.action.joint_names)
    actor = ObservationGroupCfg()
    for setting in _GROUP_SETTINGS:
        setattr(actor, setting, getattr(original, setting))
    for term in contract.obs_terms:
        source = getattr(original, term.name, None)
        if source is None:
            raise UserError(f"the IsaacLab task has no observation term {term.name!r}")
        cfg = copy.deepcopy(source)
        cfg.scale = term.scale
        cfg.clip = None if term.clip is None else (-term.clip, term.clip)
        if term.name in _JOINT_TERMS:
            cfg.params = {
                **cfg.params,
                "asset_cfg": SceneEntityCfg("robot", joint_names=joints, preserve_order=True),
            }
        setattr(actor, term.name, cfg)
    # The critic sees IsaacLab's full policy group, privileged terms included (the same terms and
    # order as the contract's critic_terms); it never reaches the robot.
    critic = copy.deepcopy(original)
    env_cfg.observations.policy = actor
    env_cfg.observations.critic = critic
    action = env_cfg.actions.joint_pos
    action.joint_names = joints
    action.preserve_order = True
    action.scale = contract.action.scale
    action.use_default_offset = True


def check_default_pose(env: Any, contract: PolicyContract) -> None:
    """IsaacLab's default joint positions must be the contract's action offset."""
    robot = env.scene["robot"]
    ids = [robot.joint_names.index(n) for n in contract.action.joint_names]
    default = robot.data.default_joint_pos[0, ids].cpu()
    expected = torch.tensor(contract.action.offset, dtype=default.dtype)
    if not torch.allclose(default, expected, atol=1e-4):
        raise UserError(
            f"IsaacLab's default pose {default.tolist()} differs from the contract's "
            f"{expected.tolist()}; update robots/ or the IsaacLab asset so they agree"
        )


class IsaacLabVecEnv(VecEnv):
    """A gymnasium-wrapped IsaacLab ManagerBasedRLEnv as our VecEnv."""

    def __init__(self, env: Any) -> None:
        self._env = env
        inner = env.unwrapped
        self.num_envs = inner.num_envs
        self.num_actions = inner.action_manager.total_action_dim
        self.max_episode_length = int(inner.max_episode_length)
        self.device = inner.device
        self._obs = self.reset()

    def get_observations(self) -> dict[str, torch.Tensor]:
        return self._obs

    def reset(self) -> dict[str, torch.Tensor]:
        obs, _ = self._env.reset()
        self._obs = _groups(obs)
        return self._obs

    def step(
        self, actions: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict]:
        obs, rewards, terminated, truncated, extras = self._env.step(actions)
        self._obs = _groups(obs)
        episode = {
            key.split("/", 1)[1]: float(value)
            for key, value in extras.get("log", {}).items()
            if key.startswith("Episode_Reward/")
        }
        return (
            self._obs,
            rewards,
            terminated | truncated,
            {"time_outs": truncated, "episode": episode},
        )

    def close(self) -> None:
        self._env.close()


def _groups(obs: dict) -> dict[str, torch.Tensor]:
    return {"policy": obs["policy"], "critic": obs["critic"]}
