"""Task registry: name -> (robot, YAML deltas) and `make_env`, the factory every caller uses.

env = make_env("go2_flat", num_envs=64, seed=0, overrides=["domain_rand.friction=[0.5, 1.0]"])
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from common.config import load_config
from common.errors import UserError
from robots import get_robot
from robots.contract import PolicyContract, make_contract
from training.tasks.config import TaskCfg

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "tasks"
# Flat tasks load their rough file first: IsaacLab's flat configs subclass the rough ones.
TASKS: dict[str, tuple[str, ...]] = {
    "go2_flat": ("go2_rough.yaml", "go2_flat.yaml"),
    "go2_rough": ("go2_rough.yaml",),
    "h1_flat": ("h1_rough.yaml", "h1_flat.yaml"),
    "h1_rough": ("h1_rough.yaml",),
}


def check_task(task: str) -> None:
    """UserError naming the known tasks unless `task` is one of them."""
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")


def task_config(task: str, overrides: Iterable[str] = ()) -> TaskCfg:
    """Resolved config of `task`: defaults <- its YAML deltas <- `--set`-style overrides."""
    check_task(task)
    return load_config(TaskCfg, [CONFIG_DIR / f for f in TASKS[task]], overrides)


def task_contract(cfg: TaskCfg) -> PolicyContract:
    """The policy contract a task config trains: robot, terrain, control period, actor history."""
    history = cfg.observations.history_length
    contract = make_contract(get_robot(cfg.robot), cfg.terrain.kind, cfg.control_dt, history)
    contract.validate()  # a task setting out of the contract's range is refused here, by name
    return contract


def make_env(
    task: str, num_envs: int, seed: int, device: str = "cpu", overrides: Iterable[str] = ()
):
    """A VecEnv of `num_envs` environments of `task` on the built-in MuJoCo backend."""
    from training.tasks.velocity_env import VelocityEnv  # deferred: imports mujoco

    if num_envs < 1:
        raise UserError(f"num_envs must be at least 1, got {num_envs}")
    return VelocityEnv(task_config(task, overrides), num_envs, seed, device)


__all__ = ["TASKS", "TaskCfg", "make_env", "task_config", "task_contract"]
