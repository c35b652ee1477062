"""GMPO and GMPG checkpoints go through export, eval and deploy's loader unchanged: the graph
is GenPO's flow (artifact policy.kind 'genpo'); the algorithm is in the provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from deploy.preflight import load_policy
from export.cli import main as export_main
from robots import get_robot
from robots.contract import make_contract
from tests.training.train_helpers import tiny_cfg
from training.evaluation.cli import main as eval_main
from training.runner import OnPolicyRunner
from training.tasks import make_env


def _trained_checkpoint(algo: str, run_dir: Path) -> Path:
    """One real training iteration on go2_flat (4 envs, tiny networks)."""
    torch.manual_seed(0)
    contract = make_contract(get_robot("go2"), "flat")
    runner = OnPolicyRunner(
        make_env("go2_flat", 4, 0), tiny_cfg(algo), run_dir, "cpu", contract.to_dict()
    )
    runner.learn(1)
    return run_dir / "model_1.pt"


@pytest.mark.parametrize("algo", ["gmpo", "gmpg"])
def test_checkpoint_exports_evaluates_and_loads_for_deploy(algo: str, tmp_path: Path) -> None:
    ckpt = _trained_checkpoint(algo, tmp_path / "run")
    out = tmp_path / "exported"
    assert export_main([str(ckpt), "--out", str(out), "--golden", "2", "--latency-calls", "5"]) == 0
    loaded = load_policy(out / "policy.onnx", get_robot("go2"), log=lambda _: None)
    assert loaded.artifact.policy.kind == "genpo" and loaded.artifact.provenance["algo"] == algo
    assert loaded.golden_err <= 1e-4
    reports = []
    for policy in (ckpt, out / "policy.onnx"):
        report = tmp_path / f"{policy.suffix[1:]}.json"
        argv = [str(policy), "--task", "go2_flat", "--episodes", "2", "--duration-s", "0.5"]
        assert eval_main([*argv, "--json", str(report)]) == 0
        reports.append(json.loads(report.read_text()))
    assert reports[0]["policy"]["kind"] == "genpo"
    assert reports[0]["mean_return"] == pytest.approx(reports[1]["mean_return"], abs=1e-4)
