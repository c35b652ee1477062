"""Resume a run with a longer actor history: its checkpoint widened to read more past frames.

`genpo-train <task> --resume model_<it>.pt --set env.observations.history_length=H` on a
checkpoint that read fewer frames continues the same run (iteration count, critic, curriculum,
optimiser, RNG) with an actor that reads H frames. The actor's input is its frames oldest first
(robots/contract.py), so the frames it read before are the newest ones now; the columns of the
first layer that read the added, older frames start at zero. The widened policy therefore acts
exactly as the checkpoint did, and training learns what the past adds (a warm start; a blind
policy's hours are not thrown away to try a history).

Everything in the checkpoint that has the actor's observation width is widened alike: the
observation normaliser (an added frame takes the statistics of the oldest frame it had), the
optimiser's moments of that weight (first moment zero, second moment the oldest frame's, so the
new columns' steps start at the size the others have), and the env state's stored observation.
Fewer frames than the checkpoint's are refused: that would drop what the policy reads.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from torch import nn

from common.errors import UserError, first_line
from robots.contract import PolicyContract
from training.tasks.config import HISTORY_SETTING


def widen_history(ckpt: dict, contract: dict, policy: nn.Module, path: str | Path) -> dict:
    """`ckpt` made to fit a run whose actor reads `contract`'s frames (a new dict; `ckpt` is
    not changed). The same checkpoint when the frames agree; UserError when it cannot fit.

    policy: the run's (new) policy module, for the weight that reads the observation and the
    parameters' order in the optimiser (policy first, then critic: training/ppo.py).
    """
    if not isinstance(ckpt.get("robot_contract"), dict):
        return ckpt  # a toy env's: no observation frames
    saved = PolicyContract.from_dict(ckpt["robot_contract"])  # a damaged one: ContractError
    wanted = PolicyContract.from_dict(contract)
    old, new = saved.history_frames, wanted.history_frames
    if old == new:
        return ckpt
    if new < old:
        raise UserError(
            f"checkpoint '{path}' reads {old} observation frames but this run's "
            f"env.observations.history_length gives {new}; a resume can add frames, not drop "
            f"them: set env.observations.history_length={saved.history_length} or more"
        )
    if saved.frame_dim != wanted.frame_dim or ckpt["policy_kwargs"]["obs_dim"] != saved.obs_dim:
        raise UserError(
            f"checkpoint '{path}' reads frames of {saved.frame_dim} values, this run's actor "
            f"frames of {wanted.frame_dim}; resume it with its own task"
        )
    try:
        return _widened(ckpt, wanted.history_length, policy, saved.frame_dim, old, new)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise UserError(
            f"checkpoint '{path}' is damaged: it cannot be widened to {new} observation frames "
            f"({first_line(exc)}); use another checkpoint of the run"
        ) from None


def _widened(
    ckpt: dict, history_length: int, policy: nn.Module, frame: int, old: int, new: int
) -> dict:
    out = copy.copy(ckpt)
    name, start = policy.obs_input()
    out["policy_state"] = dict(ckpt["policy_state"])
    weight = out["policy_state"][name]
    out["policy_state"][name] = _widen(weight, start, frame, old, new, fill="zero")
    out["policy_kwargs"] = {**ckpt["policy_kwargs"], "obs_dim": policy.obs_dim}
    out["robot_contract"] = {**ckpt["robot_contract"], "history_length": history_length}
    if isinstance(ckpt.get("task_settings"), dict):
        out["task_settings"] = {**ckpt["task_settings"], HISTORY_SETTING: history_length}
    if ckpt.get("obs_normalizer_state") is not None:
        out["obs_normalizer_state"] = {
            key: _widen(value, 0, frame, old, new, fill="oldest") if value.ndim == 1 else value
            for key, value in ckpt["obs_normalizer_state"].items()
        }
    if isinstance(ckpt.get("optimizer_state"), dict):
        index = [n for n, _ in policy.named_parameters()].index(name)
        out["optimizer_state"] = _widen_moments(
            ckpt["optimizer_state"], index, start, frame, old, new
        )
    if isinstance(ckpt.get("rank_states"), list):
        out["rank_states"] = [
            _widen_env_state(state, frame, old, new, history_length)
            for state in ckpt["rank_states"]
        ]
    return out


def _widen(
    value: torch.Tensor, start: int, frame: int, old: int, new: int, fill: str
) -> torch.Tensor:
    """`value` with its last-dim columns [start, start + old * frame) as the newest `old` of
    `new` frames; the added frames before them zero (fill "zero") or copies of the oldest
    frame (fill "oldest")."""
    head, obs, tail = value.split([start, old * frame, value.shape[-1] - start - old * frame], -1)
    oldest = obs[..., :frame]
    added = torch.zeros_like(oldest) if fill == "zero" else oldest
    return torch.cat([head, *[added] * (new - old), obs, tail], dim=-1)


def _widen_moments(state: dict, index: int, start: int, frame: int, old: int, new: int) -> dict:
    """Adam's state with the moments of parameter `index` widened (first moment zero for the
    added columns, second moment the oldest frame's)."""
    states = dict(state.get("state", {}))
    moments = states.get(index)
    if moments is None:  # no step taken yet: nothing to widen
        return state
    moments = dict(moments)
    if "exp_avg" in moments:
        moments["exp_avg"] = _widen(moments["exp_avg"], start, frame, old, new, fill="zero")
    if "exp_avg_sq" in moments:
        moments["exp_avg_sq"] = _widen(moments["exp_avg_sq"], start, frame, old, new, fill="oldest")
    states[index] = moments
    return {**state, "state": states}


def _widen_env_state(state: object, frame: int, old: int, new: int, history_length: int) -> object:
    """A rank's saved state with its env's config and actor observation at `new` frames (the
    added ones copies of the oldest, as after a reset); the env's frame history is restored
    from that observation (training/tasks/env_state.py)."""
    if not isinstance(state, dict) or not isinstance(state.get("env"), dict):
        return state
    env = dict(state["env"])
    try:
        identity = dict(env["identity"])
        config = json.loads(identity["config"])
        config["observations"]["history_length"] = history_length
        identity["config"] = json.dumps(config, sort_keys=True)
        observations = dict(env["observations"])
        observations["policy"] = _widen(observations["policy"], 0, frame, old, new, "oldest")
    except (KeyError, TypeError, ValueError, AttributeError):
        return state  # not a VelocityEnv's state: its own load reports the mismatch
    env["identity"] = identity
    env["observations"] = observations
    return {**state, "env": env}
