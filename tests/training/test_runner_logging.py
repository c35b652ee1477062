"""The runner writes the promised TensorBoard scalars and run-directory files."""

from __future__ import annotations

from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.training.train_helpers import tiny_cfg
from training.envs.toy import PointMassEnv
from training.runner import OnPolicyRunner

EXPECTED = {
    "perf/env_steps_per_s",
    "perf/collect_s",
    "perf/learn_s",
    "loss/policy",
    "loss/value_loss",
    "loss/compression",
    "loss/ratio_dev_first_minibatch",
    "policy/neg_logp_old_actions",
    "policy/clip_fraction",
    "policy/ratio_ess_fraction",
    "kl/k1",
    "kl/k3",
    "train/lr",
    "train/explained_variance",
    "action/std_0",
    "action/std_1",
    "action/xy_gap",
    "action/xy_std_0",
    "episode/mean_return",
    "episode/mean_length",
    "episode_terms/rew_tracking",
    "episode_terms/rew_action",
}


# What each flow algorithm's loss adds (genpo.md section 7), and what a Gaussian run logs.
ALGO_ONLY = {
    "genpo": set(),
    "gmpo": {"policy/weight_ess_fraction"},
    "gmpg": {"kl/reverse"},
}


@pytest.mark.parametrize("algo", ["gmpo", "gmpg"])
def test_each_flow_algorithm_logs_its_own_diagnostics(algo: str, tmp_path: Path) -> None:
    runner = OnPolicyRunner(PointMassEnv(num_envs=8), tiny_cfg(algo), log_dir=tmp_path)
    runner.learn(1)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    others = set().union(*ALGO_ONLY.values()) - ALGO_ONLY[algo]
    per_update = {t for t in EXPECTED if not t.startswith("episode")}  # no episode ended yet
    assert tags >= per_update | ALGO_ONLY[algo]
    assert not tags & others and "policy/entropy" not in tags


def test_gaussian_logs_its_true_entropy(tmp_path: Path) -> None:
    runner = OnPolicyRunner(PointMassEnv(num_envs=8), tiny_cfg("ppo"), log_dir=tmp_path)
    runner.learn(1)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"policy/entropy", "policy/clip_fraction", "train/explained_variance"} <= tags
    assert "policy/neg_logp_old_actions" not in tags and "action/xy_gap" not in tags


def test_scalars_and_run_files(tmp_path: Path) -> None:
    runner = OnPolicyRunner(PointMassEnv(num_envs=8), tiny_cfg(save_interval=1), log_dir=tmp_path)
    runner.learn(2)  # 48 steps: every 40-step episode has ended once
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert tags >= EXPECTED, EXPECTED - tags
    assert [e.step for e in events.Scalars("kl/k1")] == [1, 2]
    assert events.Scalars("episode/mean_length")[-1].value == 40.0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"model_1.pt", "model_2.pt", "config.yaml", "git_commit.txt", "git.diff"} <= names
    assert "flow_steps: 5" in (tmp_path / "config.yaml").read_text()
