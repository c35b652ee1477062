"""Tiny real checkpoints (written by training's own save path) for the export tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from common.config import to_dict
from robots import get_robot
from robots.contract import make_contract
from training.checkpoint import save_checkpoint
from training.config import FlowPolicyCfg, GaussianPolicyCfg, TrainCfg
from training.gaussian import GaussianPolicy
from training.genpo import FlowPolicy
from training.normalizer import EmpiricalNormalization

FAST = {"parity_samples": 1000, "latency_calls": 20, "latency_warmup": 2}


def make_policy(family: str, obs_dim: int, action_dim: int) -> torch.nn.Module:
    torch.manual_seed(0)
    if family == "flow":
        # Head gain 1: v is far from 0, so a wrong unroll changes the action visibly.
        # Latent std 1.5: the noise-input graph must scale its standard-normal input.
        cfg = FlowPolicyCfg(
            hidden_dims=(32, 16),
            time_hidden_dims=(16,),
            flow_steps=3,
            velocity_out_gain=1.0,
            latent_std=1.5,
        )
        return FlowPolicy(obs_dim, action_dim, cfg).eval()
    return GaussianPolicy(obs_dim, action_dim, GaussianPolicyCfg(hidden_dims=(32, 16))).eval()


def write_checkpoint(path: Path, family: str, robot: str = "go2", **overrides) -> Path:
    contract = make_contract(get_robot(robot), "flat")
    policy = make_policy(family, contract.obs_dim, contract.num_actions)
    norm = EmpiricalNormalization(contract.obs_dim)
    norm.update(torch.randn(256, contract.obs_dim) * 2.0 + 0.3)
    payload = {
        "iteration": 7,
        "algo": "genpo" if family == "flow" else "ppo",
        "policy_family": family,
        "policy_kwargs": policy.constructor_kwargs(),
        "policy_state": policy.state_dict(),
        "obs_normalizer_state": norm.state_dict(),
        "config": to_dict(TrainCfg()),
        "robot_contract": contract.to_dict(),
        "git_commit": "0123abc",
        **overrides,
    }
    save_checkpoint(path, payload)
    return path


@pytest.fixture
def flow_ckpt(tmp_path: Path) -> Path:
    return write_checkpoint(tmp_path / "go2_flat_run" / "model_7.pt", "flow")


@pytest.fixture
def ppo_ckpt(tmp_path: Path) -> Path:
    return write_checkpoint(tmp_path / "go2_flat_ppo" / "model_7.pt", "gaussian")
