"""Checkpoints: exact resume, clear errors on bad files, rebuilding the policy for export."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from common.errors import UserError
from tests.conftest import REPO
from tests.training.train_helpers import tiny_cfg
from training.checkpoint import (
    build_policy_from_checkpoint,
    check_resumable,
    load_checkpoint,
    save_checkpoint,
)
from training.envs.toy import PointMassEnv
from training.runner import OnPolicyRunner


def _params(runner: OnPolicyRunner) -> list[torch.Tensor]:
    alg = runner.alg
    modules = (alg.policy, alg.critic, alg.obs_normalizer, alg.critic_obs_normalizer)
    return [t.detach().clone() for m in modules for t in m.state_dict().values()]


def _runner(algo: str, log_dir: Path | None = None) -> OnPolicyRunner:
    env = PointMassEnv(num_envs=16, seed=0)
    return OnPolicyRunner(env, tiny_cfg(algo, save_interval=2), log_dir=log_dir)


@pytest.mark.parametrize("algo", ["genpo", "ppo"])
def test_resume_continues_identically(tmp_path: Path, algo: str) -> None:
    straight = _runner(algo, tmp_path / "a")
    straight.learn(4)  # writes model_2.pt and model_4.pt
    resumed = _runner(algo, tmp_path / "b")
    resumed.load(tmp_path / "a" / "model_2.pt")
    assert resumed.current_iteration == 2
    resumed.learn(2)
    assert resumed.current_iteration == 4
    for a, b in zip(_params(straight), _params(resumed), strict=True):
        assert torch.equal(a, b)
    assert resumed.alg.learning_rate == straight.alg.learning_rate
    # ... and a reload of the final checkpoint gives exactly the final parameters.
    reloaded = _runner(algo)
    reloaded.load(tmp_path / "a" / "model_4.pt")
    for a, b in zip(_params(straight), _params(reloaded), strict=True):
        assert torch.equal(a, b)
    assert (tmp_path / "a" / "git_commit.txt").read_text().strip()
    assert (tmp_path / "a" / "git.diff").exists()


def test_payload_and_build_policy_from_checkpoint(tmp_path: Path) -> None:
    runner = _runner("genpo", tmp_path)
    runner.learn(2)
    ckpt = load_checkpoint(tmp_path / "model_2.pt")
    assert ckpt["format"] == "genpo-checkpoint" and ckpt["schema_version"] == 2
    assert ckpt["iteration"] == 2 and ckpt["policy_family"] == "flow"
    assert ckpt["config"]["algo"] == "genpo" and ckpt["robot_contract"] is None
    policy, normalizer = build_policy_from_checkpoint(ckpt)
    assert policy.flow_steps == 5 and policy.mix_p == 0.9 and normalizer is not None
    obs = torch.randn(5, 4)
    with torch.no_grad():
        expected = runner.alg.policy.act(runner.alg.obs_normalizer.eval()(obs))
        assert torch.equal(policy.act(normalizer(obs)), expected)


def _as_schema_1(src: Path, dst: Path) -> Path:
    """src as genpo-train wrote it before schema 2 renamed policy_kind to policy_family."""
    payload = torch.load(src, weights_only=True)
    payload["schema_version"] = 1
    payload["policy_kind"] = payload.pop("policy_family")
    torch.save(payload, dst)
    return dst


@pytest.mark.parametrize("algo", ["genpo", "ppo"])
def test_schema_1_checkpoint_resumes_identically(tmp_path: Path, algo: str) -> None:
    straight = _runner(algo, tmp_path / "a")
    straight.learn(4)
    old = _as_schema_1(tmp_path / "a" / "model_2.pt", tmp_path / "old.pt")
    ckpt = load_checkpoint(old)
    assert ckpt["policy_family"] == ("flow" if algo == "genpo" else "gaussian")
    assert "policy_kind" not in ckpt
    resumed = _runner(algo, tmp_path / "b")
    resumed.load(old)
    resumed.learn(2)
    for a, b in zip(_params(straight), _params(resumed), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(UserError, match="holds a"):
        _runner("ppo" if algo == "genpo" else "genpo").load(old)


SHIPPED_CHECKPOINTS = sorted((REPO / "assets" / "policies").rglob("*.pt"))


@pytest.mark.parametrize("path", SHIPPED_CHECKPOINTS, ids=lambda p: p.parent.name)
def test_shipped_checkpoints_load_and_rebuild(path: Path) -> None:
    ckpt = load_checkpoint(path)
    check_resumable(ckpt, path)
    family = "gaussian" if ckpt["algo"] == "ppo" else "flow"
    assert ckpt["policy_family"] == family
    policy, _ = build_policy_from_checkpoint(ckpt)
    assert policy.family == family


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "x.pt", {"iteration": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]


def test_checkpoint_honours_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        save_checkpoint(tmp_path / "model_1.pt", {"iteration": 1})
    finally:
        os.umask(previous)
    assert (tmp_path / "model_1.pt").stat().st_mode & 0o777 == 0o644  # not 0600


# kill -9 while torch.save is halfway through model_5.pt.
KILLED_SAVE = """
import os, signal, sys, torch
from training.checkpoint import save_checkpoint
def half_then_killed(obj, f):
    f.write(b"half a checkpoint")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
torch.save = half_then_killed
save_checkpoint(sys.argv[1], {"iteration": 5})
"""


def test_next_save_removes_the_temp_file_of_a_killed_save(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", KILLED_SAVE, str(tmp_path / "model_5.pt")]
    assert subprocess.run(cmd, env=env).returncode == -9
    assert [p.name.endswith(".tmp") for p in tmp_path.iterdir()] == [True]  # the orphan
    save_checkpoint(tmp_path / "model_10.pt", {"iteration": 10})
    assert [p.name for p in tmp_path.iterdir()] == ["model_10.pt"]


def _assert_user_error(path: Path, words: str) -> None:
    with pytest.raises(UserError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert words in message and str(path) in message and "\n" not in message


def test_bad_checkpoints_raise_user_error(tmp_path: Path) -> None:
    _assert_user_error(tmp_path / "missing.pt", "does not exist")
    _assert_user_error(tmp_path, "is a directory")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint at all" * 10)
    _assert_user_error(garbage, "cannot be read")
    pickled = tmp_path / "pickled.pt"  # a pickle weights_only refuses: no advice to unpickle it
    torch.save({"format": "genpo-checkpoint", "x": argparse.Namespace(a=1)}, pickled)
    _assert_user_error(pickled, "not a checkpoint genpo-train wrote")
    assert "weights_only" not in _error_text(pickled)
    runner = _runner("ppo", tmp_path)
    runner.learn(2)
    data = (tmp_path / "model_2.pt").read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    _assert_user_error(truncated, "cannot be read")
    foreign = tmp_path / "foreign.pt"
    torch.save({"model_state_dict": {}}, foreign)
    _assert_user_error(foreign, "not a GenPO checkpoint")
    future = tmp_path / "future.pt"
    torch.save({"format": "genpo-checkpoint", "schema_version": 99}, future)
    _assert_user_error(future, "schema version")


def test_loading_into_the_other_algo_is_a_user_error(tmp_path: Path) -> None:
    _runner("ppo", tmp_path).learn(2)
    with pytest.raises(UserError, match="algo"):
        _runner("genpo").load(tmp_path / "model_2.pt")


def _crafted(tmp_path: Path, change) -> Path:
    """A real checkpoint with one field removed or replaced by `change(payload)`."""
    runner = _runner("genpo", tmp_path)
    runner.learn(2)
    payload = torch.load(tmp_path / "model_2.pt", weights_only=True)
    change(payload)
    path = tmp_path / "crafted.pt"
    torch.save(payload, path)
    return path


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda p: p["policy_kwargs"].pop("cfg"), "incomplete (no policy_kwargs.cfg)"),
        (lambda p: p.update(policy_kwargs="flow"), "damaged (policy_kwargs is a str)"),
        (lambda p: p.update(iteration="7"), "damaged (iteration is a str)"),
        (lambda p: p.update(policy_state=[1, 2]), "damaged (policy_state is a list)"),
        (lambda p: p.pop("config"), "incomplete (no config)"),
        (lambda p: next(v for v in p["policy_state"].values() if v.is_floating_point()).fill_(
            float("nan")), "holds NaN or Inf in its policy state"),
        (lambda p: next(iter(p["obs_normalizer_state"].values())).fill_(float("inf")),
         "holds NaN or Inf in its obs normalizer state"),
    ],
    ids=["no-cfg", "kwargs-str", "iteration-str", "state-list", "no-config", "nan-weights",
         "inf-normalizer"],
)  # fmt: skip
def test_crafted_checkpoint_fields_are_one_sentence(tmp_path: Path, change, words: str) -> None:
    path = _crafted(tmp_path, change)
    with pytest.raises(UserError) as info:
        build_policy_from_checkpoint(load_checkpoint(path))
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda p: p.pop("critic_state"), "incomplete (no critic_state)"),
        (lambda p: p.pop("learning_rate"), "incomplete (no learning_rate)"),
        (lambda p: p.update(optimizer_state={"state": {}}), "does not fit this config's optim"),
        (lambda p: p["rank_states"][0].pop("rng"), "damaged RNG state"),
    ],
    ids=["no-critic", "no-lr", "bad-optimizer", "no-rng"],
)
def test_resume_from_crafted_checkpoint_is_one_sentence(tmp_path: Path, change, words: str) -> None:
    path = _crafted(tmp_path, change)
    with pytest.raises(UserError) as info:
        _runner("genpo").load(path)
    assert words in str(info.value) and "\n" not in str(info.value)


def _error_text(path: Path) -> str:
    with pytest.raises(UserError) as info:
        load_checkpoint(path)
    return str(info.value)
