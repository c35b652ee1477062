"""Checkpoint files: atomic writes, validated loads, and rebuilding the policy for export.

Payload (schema_version 1), all plain types and tensors so `torch.load(weights_only=True)`
reads it:

    format                       "genpo-checkpoint"
    schema_version               1
    iteration                    completed training iterations
    algo                         "genpo", "gmpo", "gmpg" (policy_kind "flow") or "ppo"
    policy_kind                  "flow" or "gaussian"
    policy_kwargs                {"obs_dim", "action_dim", "cfg": plain dict of the policy cfg}
    policy_state                 policy state_dict
    critic_kwargs, critic_state  {"obs_dim", "hidden_dims", "activation"}, critic state_dict
    obs_normalizer_state         EmpiricalNormalization state_dict of the actor obs, or None
    critic_obs_normalizer_state  same for the critic obs, or None
    optimizer_state              Adam state_dict (one optimizer over policy and critic)
    learning_rate                current (adaptive) learning rate
    config                       resolved TrainCfg as a plain dict
    robot_contract               plain dict of the robot policy contract, or None (toy envs)
    git_commit                   commit of the training code, or None outside git
    world_size                   processes that trained it
    rank_states                  per rank: {"rng": RNG states, "env": env state or None}
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from robots.config import from_dict
from robots.errors import UserError
from training.config import FlowPolicyCfg, GaussianPolicyCfg
from training.gaussian import GaussianPolicy
from training.genpo import FlowPolicy
from training.normalizer import EmpiricalNormalization

FORMAT = "genpo-checkpoint"
SCHEMA_VERSION = 1
REQUIRED_KEYS = (
    "iteration",
    "policy_kind",
    "policy_kwargs",
    "policy_state",
    "obs_normalizer_state",
    "config",
)
POLICY_CLASSES: dict[str, tuple[type[nn.Module], type]] = {
    "flow": (FlowPolicy, FlowPolicyCfg),
    "gaussian": (GaussianPolicy, GaussianPolicyCfg),
}


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Write payload (plus format tag and schema version) atomically: tmp file + os.replace.

    A crash mid-write leaves the previous file intact instead of a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    full = {"format": FORMAT, "schema_version": SCHEMA_VERSION, **payload}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(full, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read and validate a checkpoint; any unusable file raises UserError with one sentence."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"checkpoint '{path}' does not exist; pass the path of a model_<it>.pt file"
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"checkpoint '{path}' cannot be read (corrupt, truncated or not a torch file: "
            f"{reason}); use another checkpoint of the run"
        ) from None
    _validate(ckpt, path)
    return ckpt


def _validate(ckpt: object, path: Path) -> None:
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
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise UserError(f"checkpoint '{path}' is incomplete (missing {', '.join(missing)})")
    if ckpt["policy_kind"] not in POLICY_CLASSES:
        raise UserError(
            f"checkpoint '{path}' holds an unknown policy kind {ckpt['policy_kind']!r}; "
            f"known: {', '.join(POLICY_CLASSES)}"
        )


def build_policy(kind: str, kwargs: dict) -> nn.Module:
    """Policy module from its kind ("flow"/"gaussian") and constructor_kwargs()."""
    cls, cfg_cls = POLICY_CLASSES[kind]
    cfg = from_dict(cfg_cls, kwargs["cfg"], path="policy_kwargs.cfg")
    return cls(kwargs["obs_dim"], kwargs["action_dim"], cfg)


def build_policy_from_checkpoint(
    ckpt: dict,
) -> tuple[nn.Module, EmpiricalNormalization | None]:
    """(policy in eval mode with trained weights, actor obs normaliser or None).

    For the exporter: the normaliser's forward is what to bake in front of the policy.
    """
    policy = build_policy(ckpt["policy_kind"], ckpt["policy_kwargs"])
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
        first = str(exc).strip().splitlines()[0]
        raise UserError(
            f"the checkpoint's {what} weights do not fit the network it describes ({first})"
        ) from None
