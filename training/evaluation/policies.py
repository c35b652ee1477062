"""The policy under evaluation: a training checkpoint (torch) or its exported ONNX file.

A file is opened once (`open_policy` -> `PolicyFile`): the task settings it records (its actor's
observation history, the joint-target clamp it trained under) are read before the task is built,
so that genpo-eval runs the task as the policy was trained (`adopted_overrides`).
`PolicyFile.load` then checks the file against the task's contract and returns one callable,
actor obs [N, obs] float32 -> raw executed actions [N, d] (`EvalPolicy`; the daemon's own loader
is deploy/preflight.py's). ONNX files are opened with the session factory and tensor names of
robots/policy_graph.py and read with robots/artifact.py: training never imports export/.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.errors import UserError
from robots import get_robot
from robots.artifact import (
    ARTIFACT_KEY,
    Artifact,
    check_task_settings,
    parse_artifact,
    verify_golden,
)
from robots.contract import PolicyContract
from robots.policy_graph import ACTIONS_OUTPUT, NOISE_INPUT, OBS_INPUT, ort_session
from training.checkpoint import build_policy_from_checkpoint, load_checkpoint
from training.tasks.config import HISTORY_SETTING, POLICY_SETTINGS

Act = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EvalPolicy:
    """The policy under evaluation: what runs, and where it came from."""

    act: Act
    source: str  # "checkpoint" or "onnx"
    kind: str  # "genpo" or "ppo"
    path: Path
    trained_task: str | None  # the contract's task, when the file carries one


@dataclass(frozen=True)
class PolicyFile:
    """A checkpoint or artifact, read once: its recorded contract and task settings, and how to
    make it act."""

    path: Path
    contract: PolicyContract | None  # None: a checkpoint written before contracts were recorded
    settings: dict[str, Any]  # the POLICY_SETTINGS it records; {} for files written before
    _load: Callable[[PolicyContract], EvalPolicy]

    def load(self, task: PolicyContract) -> EvalPolicy:
        """The policy, refused in one sentence unless it fits the task's contract `task`."""
        return self._load(task)


def open_policy(path: str | Path, robot: str) -> PolicyFile:
    """Read `path` (.onnx: exported artifact, else checkpoint) for a task of `robot`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"'{path}' does not exist; pass a checkpoint (model_<it>.pt) or an exported policy.onnx"
        )
    if path.suffix.lower() == ".onnx":
        return _onnx_file(path, robot)
    return _checkpoint_file(path)


def adopted_overrides(
    recorded: Mapping[str, Any], task: Mapping[str, Any], overrides: Sequence[str]
) -> tuple[str, ...]:
    """`KEY=VALUE` for each setting the policy file records (`recorded`) that the task would run
    otherwise (`task`: training.tasks.config.policy_settings). A setting the caller passes
    (`overrides`) is theirs to choose; PolicyFile.load refuses it if the policy cannot run so."""
    asked = {o.split("=", 1)[0].strip() for o in overrides}
    return tuple(
        f"{key}={value}"
        for key, value in recorded.items()
        if key in task and value != task[key] and key not in asked
    )


def _recorded_settings(record: Any, contract: PolicyContract | None, what: str) -> dict[str, Any]:
    """The file's task settings (those this version knows), its contract's history included."""
    record = check_task_settings(record, what)
    settings = {k: v for k, v in record.items() if k in POLICY_SETTINGS}
    if contract is not None:  # the contract is what the actor reads: it decides the history
        settings[HISTORY_SETTING] = contract.history_length
    return settings


# ----- checkpoint ---------------------------------------------------------------------------


def _checkpoint_file(path: Path) -> PolicyFile:
    ckpt = load_checkpoint(path)
    recorded = ckpt.get("robot_contract")
    trained = PolicyContract.from_dict(recorded) if recorded is not None else None

    def load(contract: PolicyContract) -> EvalPolicy:
        if trained is not None:
            check_fits(trained, contract, f"checkpoint '{path}'")
        policy, normalizer = build_policy_from_checkpoint(ckpt)
        policy = policy.float()
        if (policy.obs_dim, policy.action_dim) != (contract.obs_dim, contract.num_actions):
            raise UserError(
                f"checkpoint '{path}' reads {policy.obs_dim} observations and writes "
                f"{policy.action_dim} actions but task {contract.task} has {contract.obs_dim} and "
                f"{contract.num_actions}; evaluate it on the task it was trained on"
            )

        def act(obs: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                x = obs if normalizer is None else normalizer(obs)
                return policy.act(x)  # noise None: the zero latent / the Gaussian mean

        kind = "genpo" if ckpt["policy_family"] == "flow" else "ppo"
        return EvalPolicy(act, "checkpoint", kind, path, trained.task if trained else None)

    settings = _recorded_settings(ckpt.get("task_settings"), trained, f"checkpoint '{path}'")
    return PolicyFile(path, trained, settings, load)


# ----- ONNX ---------------------------------------------------------------------------------


def _onnx_file(path: Path, robot: str) -> PolicyFile:
    sess = _session(path)
    text = sess.get_modelmeta().custom_metadata_map.get(ARTIFACT_KEY)
    if text is None:
        raise UserError(
            f"'{path}' has no '{ARTIFACT_KEY}' metadata, so its robot and observation layout "
            "are unknown; export the policy with genpo-export"
        )
    artifact = parse_artifact(text, robot=get_robot(robot))

    def load(contract: PolicyContract) -> EvalPolicy:
        return _onnx_policy(path, sess, artifact, contract)

    record = artifact.provenance.get("task_settings")
    settings = _recorded_settings(record, artifact.contract, f"policy '{path}'")
    return PolicyFile(path, artifact.contract, settings, load)


def _onnx_policy(path: Path, sess: Any, artifact: Artifact, contract: PolicyContract) -> EvalPolicy:
    check_fits(artifact.contract, contract, f"policy '{path}'")
    run = _runner(sess, artifact.policy.noise_dim)
    # The file must still compute what torch computed at export.
    verify_golden(artifact, run)

    def act(obs: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(run(obs.cpu().numpy().astype(np.float32)))

    return EvalPolicy(act, "onnx", artifact.policy.kind, path, artifact.contract.task)


def _session(path: Path) -> Any:
    try:
        return ort_session(path)  # onnxruntime loads only here: checkpoint evaluations skip it
    except Exception as exc:  # ORT raises its own exception types for unreadable files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"'{path}' is not a readable ONNX model ({first})") from None


def _runner(sess: Any, noise_dim: int) -> Callable[..., np.ndarray]:
    """run(obs [B, obs], noise [B, 2d] = zeros) -> actions [B, d]; loops on fixed batch-1 graphs."""
    fixed_batch = sess.get_inputs()[0].shape[0] == 1

    def run(obs: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
        if fixed_batch and len(obs) != 1:
            return np.concatenate([run(obs[i : i + 1]) for i in range(len(obs))])
        feed = {OBS_INPUT: obs}
        if noise_dim:
            feed[NOISE_INPUT] = (
                noise if noise is not None else np.zeros((len(obs), noise_dim), np.float32)
            )
        return sess.run([ACTIONS_OUTPUT], feed)[0]

    return run


# ----- contract checks ----------------------------------------------------------------------


def check_fits(trained: PolicyContract, task: PolicyContract, what: str) -> None:
    """The policy's observation layout and action mapping must be the task's.

    A policy of another terrain of the same robot passes (the actor reads no height scan).
    """
    if trained.robot != task.robot:
        raise UserError(
            f"{what} was trained for robot {trained.robot!r} but task {task.task} runs "
            f"{task.robot!r}; pass a {trained.robot} task or a {task.robot} policy"
        )
    if trained.obs_terms != task.obs_terms:
        raise UserError(
            f"{what} reads observations {[t.name for t in trained.obs_terms]} laid out "
            f"differently from task {task.task}'s; evaluate it on the task it was trained on"
        )
    if trained.history_frames != task.history_frames:
        raise UserError(
            f"{what} reads {trained.history_frames} frame(s) of observation history but task "
            f"{task.task} gives {task.history_frames}; evaluate it with "
            f"{HISTORY_SETTING}={trained.history_length}, as it was trained"
        )
    same_period = math.isclose(trained.control_dt_s, task.control_dt_s, rel_tol=1e-9)
    if trained.action != task.action or not same_period:
        raise UserError(
            f"{what} maps actions to joints (scale, offsets, order or control period) unlike "
            f"task {task.task}; evaluate it on the task it was trained on"
        )
