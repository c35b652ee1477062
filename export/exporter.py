"""Checkpoint / policy -> self-describing fixed-step ONNX, verified before it is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from common.errors import UserError
from common.files import file_sha256, new_dirs_removed_on_error, writable_dir
from common.machine import cpu_model
from export.graph import reference_action, unrolled_module
from export.metadata import ARTIFACT_KEY, PolicyDescription, build_document, utc_now
from export.metadata import to_json as document_json
from export.onnx_io import (
    EXPORTER,
    OPSET,
    ExportError,
    export_module,
    runner,
    save_model,
    session,
    set_metadata,
)
from export.verify import (
    PARITY_ATOL,
    check_finite,
    latency_us,
    max_abs_error,
    recorded_observations,
    sample_observations,
)
from robots import get_robot
from robots.artifact import GOLDEN_ATOL_FP32, NOISE_MODES
from robots.contract import PolicyContract, make_contract
from robots.policy_graph import NOISE_INPUT, OBS_INPUT
from robots.spec import RobotSpec
from training.genpo import FlowPolicy
from training.normalizer import EmpiricalNormalization


@dataclass
class ExportResult:
    """Where the artifact went and what the checks measured."""

    onnx_path: Path
    document: dict[str, Any]
    parity_max_abs_err: float
    parity_samples: int
    latency_us: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ExportOptions:
    """Knobs of one export; the defaults are what `genpo-export` uses."""

    noise: str = "zero"
    golden: int = 8
    parity_samples: int = 1000
    latency_warmup: int = 200
    latency_calls: int = 10_000
    seed: int = 0


def check_sizes(policy: nn.Module, contract: PolicyContract) -> None:
    """The network must read the contract's observation and write one action per joint."""
    if policy.obs_dim != contract.obs_dim:
        raise ExportError(
            f"the policy reads {policy.obs_dim} observation values but the {contract.task} "
            f"contract defines {contract.obs_dim}; export with the task it was trained on"
        )
    if policy.action_dim != contract.num_actions:
        raise ExportError(
            f"the policy writes {policy.action_dim} actions but {contract.robot} has "
            f"{contract.num_actions} joints"
        )


def describe(policy: nn.Module, noise: str) -> PolicyDescription:
    flow = isinstance(policy, FlowPolicy)
    return PolicyDescription(
        kind="genpo" if flow else "ppo",
        obs_dim=policy.obs_dim,
        action_dim=policy.action_dim,
        noise=noise,
        flow_steps=policy.flow_steps if flow else None,
        mix_p=float(policy.mix_p) if flow else None,
    )


def _test_obs(
    contract: PolicyContract,
    obs_dim: int,
    n: int,
    seed: int,
    normalizer: EmpiricalNormalization | None,
) -> np.ndarray:
    """Observations around the training distribution (the normaliser's statistics): [n, obs]."""
    mean = std = None
    if normalizer is not None:
        mean = normalizer.mean.detach().double().numpy()
        std = normalizer.var.detach().double().sqrt().numpy()
    return sample_observations(contract, obs_dim, n, seed, mean, std)


def _latents(n: int, noise_dim: int, seed: int) -> np.ndarray | None:
    """Standard-normal latents [n, 2d] for input-noise graphs, None for zero-noise ones."""
    if not noise_dim:
        return None
    return np.random.default_rng(seed).standard_normal((n, noise_dim)).astype(np.float32)


def _torch_actions(
    policy: nn.Module,
    normalizer: EmpiricalNormalization | None,
    obs: np.ndarray,
    noise: np.ndarray | None,
) -> np.ndarray:
    latent = None if noise is None else torch.from_numpy(noise)
    return reference_action(policy, normalizer, torch.from_numpy(obs), latent).numpy()


def export_policy(
    policy: nn.Module,
    normalizer: EmpiricalNormalization | None,
    robot: RobotSpec,
    contract: PolicyContract,
    out_path: str | Path,
    provenance: dict[str, Any] | None = None,
    options: ExportOptions | None = None,
    run_dir: Path | None = None,
) -> ExportResult:
    """Unroll, export, verify (parity <= 1e-5 on the test set) and write `out_path`.

    Raises ExportError (a UserError) when sizes do not fit or parity fails; nothing is written
    then.
    """
    opts = options or ExportOptions()
    if opts.noise not in NOISE_MODES:
        raise ExportError(f"unknown noise mode {opts.noise!r}; choose one of {NOISE_MODES}")
    if opts.noise == "input" and not isinstance(policy, FlowPolicy):
        raise ExportError("--noise input applies to GenPO flow policies only; use --noise zero")
    contract.validate(robot)
    check_sizes(policy, contract)
    policy = policy.float().eval()
    desc = describe(policy, opts.noise)
    model = export_module(
        unrolled_module(policy, normalizer, opts.noise == "input"), desc.obs_dim, desc.noise_dim
    )
    sess = session(model)
    run = runner(sess)

    obs = _test_obs(contract, desc.obs_dim, opts.parity_samples, opts.seed, normalizer)
    obs = np.concatenate([obs, recorded_observations(run_dir, desc.obs_dim)])
    noise = _latents(len(obs), desc.noise_dim, opts.seed + 1)
    actions = run(obs, noise)
    check_finite(actions, "the exported graph")
    parity = max_abs_error(actions, _torch_actions(policy, normalizer, obs, noise))
    if not parity <= PARITY_ATOL:
        raise ExportError(
            f"ONNX Runtime differs from torch by {parity:.3g} (> {PARITY_ATOL:g}) on "
            f"{len(obs)} observations; the export is wrong and was not written"
        )
    g_obs = _test_obs(contract, desc.obs_dim, opts.golden, opts.seed + 2, normalizer)
    g_noise = _latents(opts.golden, desc.noise_dim, opts.seed + 3)
    golden = {
        "obs": g_obs,
        "noise": g_noise,
        "actions": _torch_actions(policy, normalizer, g_obs, g_noise),
        "atol": GOLDEN_ATOL_FP32,
    }
    latency = measure_latency(sess, desc, opts)
    checks = {
        "parity": {"samples": len(obs), "max_abs_err": parity, "atol": PARITY_ATOL},
        "latency_us": latency,
    }
    document = build_document(desc, robot, contract, provenance or {}, golden, checks)
    set_metadata(model, ARTIFACT_KEY, document_json(document))
    out_path = Path(out_path)
    save_model(model, out_path)
    return ExportResult(out_path, document, parity, len(obs), latency)


def measure_latency(
    sess: ort.InferenceSession, desc: PolicyDescription, opts: ExportOptions
) -> dict[str, Any] | None:
    """Deploy-like latency: batch 1, one intra-op and one inter-op thread, CPU provider."""
    if opts.latency_calls <= 0:
        return None
    feed = {OBS_INPUT: np.zeros((1, desc.obs_dim), dtype=np.float32)}
    if desc.noise_dim:
        feed[NOISE_INPUT] = np.zeros((1, desc.noise_dim), dtype=np.float32)
    stats = latency_us(lambda: sess.run(None, feed), opts.latency_warmup, opts.latency_calls)
    return {
        **stats,
        "runtime": f"onnxruntime {ort.__version__} CPUExecutionProvider",
        "batch": 1,
        "intra_op_num_threads": 1,
        "inter_op_num_threads": 1,
        "cpu": cpu_model(),
    }


# ----- checkpoints --------------------------------------------------------------------------


def contract_for(ckpt: dict, robot: str | None, task: str | None) -> PolicyContract:
    """The checkpoint's own contract, else the one of --robot/--task (toy-env checkpoints)."""
    if ckpt.get("robot_contract") is not None:
        contract = PolicyContract.from_dict(ckpt["robot_contract"])
        if robot is not None and robot != contract.robot:
            raise UserError(
                f"the checkpoint was trained for robot {contract.robot!r}, not {robot!r}; "
                "drop --robot or pass the right one"
            )
        if task is not None and task != contract.task:
            raise UserError(
                f"the checkpoint was trained on task {contract.task!r}, not {task!r}; "
                "drop --task or pass the right one"
            )
        return contract
    if robot is None or task is None:
        raise UserError(
            "the checkpoint carries no robot contract (trained on a toy environment); "
            "pass --robot and --task to say which robot it is for"
        )
    return contract_for_task(robot, task)


def contract_for_task(robot: str, task: str) -> PolicyContract:
    """make_contract for a task id such as 'go2_flat' (robot name + '_' + terrain)."""
    from training.tasks import check_task  # imports mujoco: only where a task is named

    spec = get_robot(robot)
    check_task(task)
    prefix = f"{spec.name}_"
    if not task.startswith(prefix):
        raise UserError(
            f"task {task!r} is not a {spec.name} task; use {prefix}flat or {prefix}rough"
        )
    return make_contract(spec, task[len(prefix) :])


def export_checkpoint(
    ckpt_path: str | Path,
    out_dir: str | Path | None = None,
    options: ExportOptions | None = None,
    robot: str | None = None,
    task: str | None = None,
) -> ExportResult:
    """Export a `genpo-train` checkpoint to `<out_dir or run_dir/exported>/policy.onnx`."""
    from training.checkpoint import build_policy_from_checkpoint, load_checkpoint

    ckpt_path = Path(ckpt_path)
    ckpt = load_checkpoint(ckpt_path)
    contract = contract_for(ckpt, robot, task)
    spec = get_robot(contract.robot)
    policy, normalizer = build_policy_from_checkpoint(ckpt)
    run_dir = ckpt_path.resolve().parent
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "exported"
    with new_dirs_removed_on_error(out_dir):  # a refused export leaves no folder behind
        out = writable_dir(out_dir, "output directory", "--out")
        provenance = {
            "run_id": run_dir.name,
            "checkpoint": ckpt_path.name,
            "checkpoint_sha256": file_sha256(ckpt_path),
            "iteration": ckpt.get("iteration"),
            "algo": ckpt.get("algo"),
            "physics": ckpt.get("physics"),
            # the task settings it must run under (training.tasks.config.POLICY_SETTINGS)
            "task_settings": ckpt.get("task_settings"),
            "git_commit": ckpt.get("git_commit"),
            "export_time_utc": utc_now(),
            "exporter": {"name": EXPORTER, "opset": OPSET, "torch": torch.__version__},
        }
        return export_policy(
            policy, normalizer, spec, contract, out / "policy.onnx", provenance, options, run_dir
        )
