"""Tiny policies for the genpo-eval tests: a checkpoint written by training's own save path,
its export, and hand-made ONNX policies built with the real exporter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from common.config import to_dict
from export.exporter import ExportOptions, export_checkpoint, export_policy
from robots import get_robot
from robots.contract import make_contract
from training.checkpoint import save_checkpoint
from training.config import FlowPolicyCfg, GaussianPolicyCfg, TrainCfg
from training.gaussian import GaussianPolicy
from training.genpo import FlowPolicy
from training.normalizer import EmpiricalNormalization

FAST_EXPORT = ExportOptions(golden=2, parity_samples=50, latency_calls=0)


def tiny_checkpoint(
    path: Path, robot: str = "go2", history_length: int = 0, task_settings: dict | None = None
) -> Path:
    """A randomly initialised GenPO checkpoint with a fitted normaliser; `task_settings` as
    genpo-train records them (None: a checkpoint from before they were recorded)."""
    torch.manual_seed(0)
    contract = make_contract(get_robot(robot), "flat", history_length=history_length)
    # Head gain 0.3: actions visibly non-zero, so checkpoint and export are really compared.
    cfg = FlowPolicyCfg(
        hidden_dims=(32, 32), time_hidden_dims=(16,), flow_steps=3, velocity_out_gain=0.3
    )
    policy = FlowPolicy(contract.obs_dim, contract.num_actions, cfg).eval()
    norm = EmpiricalNormalization(contract.obs_dim)
    norm.update(torch.randn(256, contract.obs_dim))
    save_checkpoint(
        path,
        {
            "iteration": 1,
            "algo": "genpo",
            "policy_family": "flow",
            "policy_kwargs": policy.constructor_kwargs(),
            "policy_state": policy.state_dict(),
            "obs_normalizer_state": norm.state_dict(),
            "config": to_dict(TrainCfg()),
            "robot_contract": contract.to_dict(),
            "task_settings": task_settings,
        },
    )
    return path


def constant_action_onnx(path: Path, value: float, robot: str = "go2") -> Path:
    """An exported PPO 'policy' whose action is `value` on every joint, whatever it observes."""
    spec = get_robot(robot)
    contract = make_contract(spec, "flat")
    policy = GaussianPolicy(contract.obs_dim, contract.num_actions, GaussianPolicyCfg((8,)))
    last = policy.mean_net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(value)
    export_policy(policy.eval(), None, spec, contract, path, options=FAST_EXPORT)
    return path


@pytest.fixture(scope="session")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval_policies")
    ckpt = tiny_checkpoint(root / "go2_flat_run" / "model_1.pt")
    exported = export_checkpoint(ckpt, root / "exported", FAST_EXPORT).onnx_path
    h1_ckpt = tiny_checkpoint(root / "h1_flat_run" / "model_1.pt", robot="h1")
    history_ckpt = tiny_checkpoint(root / "history_run" / "model_1.pt", history_length=3)
    # Trained with targets held to 20 % of each joint's range around its middle: Go2's calf
    # default (-1.5 rad) lies outside that band, so the clamp changes what the robot does.
    clamped = {"observations.history_length": 0, "sim.target_range_factor": 0.2}
    clamped_ckpt = tiny_checkpoint(root / "clamped_run" / "model_1.pt", task_settings=clamped)
    return {
        "clamped_checkpoint": clamped_ckpt,
        "clamped_onnx": export_checkpoint(
            clamped_ckpt, root / "clamped_exp", FAST_EXPORT
        ).onnx_path,
        "history_checkpoint": history_ckpt,
        "history_onnx": export_checkpoint(
            history_ckpt, root / "history_exp", FAST_EXPORT
        ).onnx_path,
        "checkpoint": ckpt,
        "onnx": exported,
        "h1_onnx": export_checkpoint(h1_ckpt, root / "h1_exported", FAST_EXPORT).onnx_path,
        # Every joint driven 3 rad past its default: the Go2 folds up onto its base.
        "falling_onnx": constant_action_onnx(root / "falling.onnx", -12.0),
    }
