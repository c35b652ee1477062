"""Everything that makes a VelocityEnv continue bit-identically after a checkpoint resume.

The state holds weights_only-loadable types only (tensors, dicts, str, int), since checkpoints
are read with `torch.load(weights_only=True)`. What the env's seed and config fix at
construction (terrain heights, per-env friction / mass / gains) is not stored: a state restores
into an env built with the same task config, num_envs and seed, which `load_env_state` checks.
The backend's recorded sensor data is not stored either: every rollout overwrites it before
anything reads it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from common.config import ConfigError, from_dict, to_dict
from common.errors import UserError
from training.tasks.config import TaskCfg

if TYPE_CHECKING:
    from training.tasks.velocity_env import VelocityEnv

STATE_VERSION = 1
# (owner attribute path, array attribute): numpy arrays the task logic mutates between steps.
ARRAYS: tuple[tuple[str, str], ...] = (
    ("", "actions"),
    ("", "last_actions"),
    ("", "episode_length_buf"),
    ("", "push_time_left_s"),
    ("", "target_history"),
    ("", "action_latency"),
    ("commands", "command"),
    ("commands", "heading_target"),
    ("commands", "is_heading_env"),
    ("commands", "is_standing_env"),
    ("commands", "time_left_s"),
    ("obs", "history"),
    ("obs", "delay"),
    ("timers", "air_time"),
    ("timers", "contact_time"),
    ("timers", "last_air_time"),
)
CURRICULUM_ARRAYS = (("resets", "levels"), ("resets", "origins"))  # rough terrain only


def env_state(env: VelocityEnv) -> dict[str, Any]:
    """Physics rows, task buffers, episode sums, last observations and the RNG state of `env`."""
    return {
        "version": STATE_VERSION,
        "identity": _identity(env),
        # One mjSTATE_INTEGRATION row per env: time, qpos, qvel, act, warm start, ctrl, ...
        "physics": _tensor(env.backend.batch.state),
        "arrays": {_key(o, a): _tensor(getattr(_owner(env, o), a)) for o, a in _arrays(env)},
        "episode_sums": {k: _tensor(v) for k, v in env.episode_sums.items()},
        "observations": {k: v.detach().cpu().clone() for k, v in env.get_observations().items()},
        "rng": env.rng.bit_generator.state,
    }


def load_env_state(env: VelocityEnv, state: dict[str, Any]) -> None:
    """Restore what `env_state` returned; a state of another env raises UserError."""
    if state.get("version") != STATE_VERSION:
        raise UserError(
            f"env state version {state.get('version')!r} is not {STATE_VERSION}; "
            "resume from a checkpoint written by this version"
        )
    if not _same_identity(state["identity"], _identity(env)):
        raise UserError(
            "the checkpoint's env state belongs to another task config, num_envs or seed; "
            "resume with the settings the run was started with"
        )
    missing = [_key(o, a) for o, a in _arrays(env) if _key(o, a) not in state["arrays"]]
    if missing:
        raise UserError(
            f"the checkpoint's env state lacks {missing}; it was written by another "
            "version of the task"
        )
    env.backend.batch.state[:] = _array(state["physics"], env.backend.batch.state, "physics")
    for owner, attr in _arrays(env):
        obj = _owner(env, owner)
        key = _key(owner, attr)
        setattr(obj, attr, _array(state["arrays"][key], getattr(obj, attr), key))
    env.episode_sums = {k: v.numpy().copy() for k, v in state["episode_sums"].items()}
    env._obs_dict = {k: v.to(env.device).clone() for k, v in state["observations"].items()}
    # The actor's frame history is its saved observation (float32 values, which the next
    # observations also round to): its next push continues the window as before the save.
    env.obs.frames.load(state["observations"]["policy"].double().numpy())
    # Commands, resets and observation noise share this one Generator.
    env.rng.bit_generator.state = state["rng"]


def _identity(env: VelocityEnv) -> dict[str, Any]:
    config = json.dumps(to_dict(env.cfg), sort_keys=True)
    return {"config": config, "num_envs": env.num_envs, "seed": env.seed}


def _same_identity(saved: dict[str, Any], current: dict[str, Any]) -> bool:
    """Equal once the saved config is read back through `from_dict`, which gives the fields a
    version added later their defaults: a checkpoint from before a new task option still resumes
    exactly while the option is unused."""
    try:
        then = to_dict(from_dict(TaskCfg, json.loads(saved["config"])))
    except ConfigError:
        return False
    return {**saved, "config": then} == {**current, "config": json.loads(current["config"])}


def _arrays(env: VelocityEnv) -> tuple[tuple[str, str], ...]:
    return ARRAYS + (CURRICULUM_ARRAYS if env.terrain is not None else ())


def _owner(env: VelocityEnv, path: str) -> Any:
    return getattr(env, path) if path else env


def _key(owner: str, attr: str) -> str:
    return f"{owner}.{attr}" if owner else attr


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(x, copy=True))


def _array(saved: torch.Tensor, current: np.ndarray, name: str) -> np.ndarray:
    value = saved.numpy().copy()
    if value.shape != current.shape or value.dtype != current.dtype:
        raise UserError(
            f"env state field {name!r} is {value.dtype}{list(value.shape)} but this env has "
            f"{current.dtype}{list(current.shape)}; resume with the run's own settings"
        )
    return value
