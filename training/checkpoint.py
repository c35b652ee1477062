"""Checkpoint files: atomic writes, validated loads, and rebuilding the policy for export.

Payload (schema_version 2), all plain types and tensors so `torch.load(weights_only=True)`
reads it:

    format                       "genpo-checkpoint"
    schema_version               2 (1: the same with policy_family named "policy_kind"; read)
    iteration                    completed training iterations
    algo                         "genpo", "gmpo", "gmpg" (policy_family "flow") or "ppo"
    policy_family                "flow" or "gaussian" (the module; the exported artifact's
                                 `kind` "genpo" / "ppo" names the graph instead)
    policy_kwargs                {"obs_dim", "action_dim", "cfg": plain dict of the policy cfg}
    policy_state                 policy state_dict
    critic_kwargs, critic_state  {"obs_dim", "hidden_dims", "activation"}, critic state_dict
    obs_normalizer_state         EmpiricalNormalization state_dict of the actor obs, or None
    critic_obs_normalizer_state  same for the critic obs, or None
    optimizer_state              Adam state_dict (one optimizer over policy and critic)
    learning_rate                current (adaptive) learning rate
    config                       resolved TrainCfg as a plain dict
    robot_contract               plain dict of the robot policy contract, or None (toy envs)
    task_settings                {key: value} of the task settings the policy must run under
                                 (training.tasks.config.POLICY_SETTINGS), or None (toy envs);
                                 absent in older checkpoints
    physics                      engine that trained it ("mujoco", or IsaacLab's preset such as
                                 "newton_mjwarp"); absent in older checkpoints, None for toy envs
    git_commit                   commit of the training code, or None outside git
    world_size                   processes that trained it
    rank_states                  per rank: {"rng": RNG states, "env": env state or None}
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from common.config import from_dict
from common.errors import UserError, first_line
from common.files import atomic_write
from training.config import FlowPolicyCfg, GaussianPolicyCfg
from training.gaussian import GaussianPolicy
from training.genpo import FlowPolicy
from training.normalizer import EmpiricalNormalization

FORMAT = "genpo-checkpoint"
SCHEMA_VERSION = 2
# Fields schema 1 named otherwise (old name -> name now): its files, e.g. the shipped
# assets/policies/*/model.pt, still load and resume.
RENAMED_IN_SCHEMA_2 = {"policy_kind": "policy_family"}
# Every field a reader uses, with the type genpo-train writes: a crafted or damaged file is
# refused in one sentence here instead of failing deep inside torch.
REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "iteration": int,
    "policy_family": str,
    "policy_kwargs": dict,
    "policy_state": dict,
    "obs_normalizer_state": (dict, type(None)),
    "config": dict,
}
POLICY_KWARGS_FIELDS: dict[str, type | tuple[type, ...]] = {
    "obs_dim": int,
    "action_dim": int,
    "cfg": dict,
}
# What a resume reads on top (rank_states and the critic normaliser are optional).
RESUME_FIELDS: dict[str, type | tuple[type, ...]] = {
    "critic_state": dict,
    "optimizer_state": dict,
    "learning_rate": (int, float),
}
POLICY_CLASSES: dict[str, tuple[type[nn.Module], type]] = {
    "flow": (FlowPolicy, FlowPolicyCfg),
    "gaussian": (GaussianPolicy, GaussianPolicyCfg),
}


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Write payload (plus format tag and schema version) atomically (common/files.py).

    A crash mid-write leaves the previous file intact instead of a truncated one, and the next
    save removes the temp file the crashed one left.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    full = {"format": FORMAT, "schema_version": SCHEMA_VERSION, **payload}
    with atomic_write(path) as f:
        torch.save(full, f)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read and validate a checkpoint; any unusable file raises UserError with one sentence."""
    path = Path(path)
    if not path.is_file():
        state = "is a directory" if path.is_dir() else "does not exist"
        raise UserError(f"checkpoint '{path}' {state}; pass the path of a model_<it>.pt file")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        # torch's text suggests weights_only=False: never for a file we cannot vouch for
        raise UserError(
            f"checkpoint '{path}' cannot be read (not a checkpoint genpo-train wrote, or "
            "damaged); use another checkpoint of the run"
        ) from None
    except Exception as exc:
        raise UserError(
            f"checkpoint '{path}' cannot be read (corrupt, truncated or not a torch file: "
            f"{first_line(exc)}); use another checkpoint of the run"
        ) from None
    _check_header(ckpt, path)
    ckpt = _upgrade(ckpt)
    _check_payload(ckpt, path)
    return ckpt


def _check_header(ckpt: object, path: Path) -> None:
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(
            f"'{path}' is not a GenPO checkpoint (no '{FORMAT}' format tag); "
            "pass a model_<it>.pt written by genpo-train"
        )
    version = ckpt.get("schema_version")
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        raise UserError(
            f"checkpoint '{path}' has schema version {version!r} but this code reads "
            f"1..{SCHEMA_VERSION}; update the code or use a checkpoint from this version"
        )


def _upgrade(ckpt: dict) -> dict:
    """The payload with schema 1's field names replaced by today's (a new dict)."""
    if ckpt["schema_version"] >= 2:
        return ckpt
    return {RENAMED_IN_SCHEMA_2.get(key, key): value for key, value in ckpt.items()}


def _check_payload(ckpt: dict, path: Path) -> None:
    _check_fields(ckpt, REQUIRED_FIELDS, path, "")
    _check_fields(ckpt["policy_kwargs"], POLICY_KWARGS_FIELDS, path, "policy_kwargs.")
    if ckpt["policy_family"] not in POLICY_CLASSES:
        raise UserError(
            f"checkpoint '{path}' holds an unknown policy family {ckpt['policy_family']!r}; "
            f"known: {', '.join(POLICY_CLASSES)}"
        )
    for part in ("policy_state", "obs_normalizer_state"):
        tensors = (ckpt[part] or {}).values()
        if not all(torch.isfinite(t).all() for t in tensors if isinstance(t, torch.Tensor)):
            raise UserError(
                f"checkpoint '{path}' holds NaN or Inf in its {part.replace('_', ' ')} (the "
                "run diverged there); use an earlier checkpoint of the run"
            )


def check_resumable(ckpt: dict, path: str | Path) -> None:
    """The fields a resume restores (critic, optimiser, learning rate) exist with their types."""
    _check_fields(ckpt, RESUME_FIELDS, Path(path), "")


def _check_fields(
    data: dict, fields: dict[str, type | tuple[type, ...]], path: Path, prefix: str
) -> None:
    for key, expected in fields.items():
        if key not in data:
            raise UserError(
                f"checkpoint '{path}' is incomplete (no {prefix}{key}); use another checkpoint "
                "of the run"
            )
        value = data[key]
        if not isinstance(value, expected) or isinstance(value, bool):
            raise UserError(
                f"checkpoint '{path}' is damaged ({prefix}{key} is a {type(value).__name__}); "
                "use another checkpoint of the run"
            )


def build_policy(family: str, kwargs: dict) -> nn.Module:
    """Policy module from its family ("flow"/"gaussian") and constructor_kwargs()."""
    cls, cfg_cls = POLICY_CLASSES[family]
    cfg = from_dict(cfg_cls, kwargs["cfg"], path="policy_kwargs.cfg")
    return cls(kwargs["obs_dim"], kwargs["action_dim"], cfg)


def build_policy_from_checkpoint(
    ckpt: dict,
) -> tuple[nn.Module, EmpiricalNormalization | None]:
    """(policy in eval mode with trained weights, actor obs normaliser or None).

    For the exporter: the normaliser's forward is what to bake in front of the policy.
    """
    policy = build_policy(ckpt["policy_family"], ckpt["policy_kwargs"])
    _load_state(policy, ckpt["policy_state"], "policy")
    policy.eval()
    normalizer = None
    if ckpt["obs_normalizer_state"] is not None:
        normalizer = EmpiricalNormalization(ckpt["policy_kwargs"]["obs_dim"])
        _load_state(normalizer, ckpt["obs_normalizer_state"], "observation normaliser")
        normalizer.eval()
    return policy, normalizer


def _load_state(module: nn.Module, state: dict, what: str) -> None:
    """load_state_dict that reports a mismatching checkpoint as a UserError."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as exc:
        raise UserError(
            f"the checkpoint's {what} weights do not fit the network it describes "
            f"({first_line(exc)})"
        ) from None
