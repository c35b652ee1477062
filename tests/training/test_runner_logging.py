"""The runner writes the promised TensorBoard scalars and run-directory files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.training.train_helpers import tiny_cfg
from training.config import FlowPolicyCfg, GaussianPolicyCfg
from training.envs.toy import PointMassEnv
from training.gaussian import GaussianPolicy
from training.genpo.flow import FlowPolicy
from training.runner import OnPolicyRunner, action_noise_std

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
    "action/noise_std",
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


def test_action_noise_std_measures_the_noise_for_a_given_state_not_the_spread() -> None:
    """A Gaussian policy's noise is its std parameter, however much its mean varies across
    states; a flow's is zero at a vanishing latent std and grows with it. Training's random
    stream is untouched (the draws use their own generator)."""
    torch.manual_seed(0)
    obs = 3.0 * torch.randn(4096, 5)  # wide states: the mean action spreads far beyond the noise
    gauss = GaussianPolicy(5, 3, GaussianPolicyCfg(hidden_dims=(16,), init_noise_std=0.3))
    with torch.no_grad():
        assert gauss.mean(obs).std(0).mean() > 0.3  # the spread action/std_* would report
        before = torch.get_rng_state()
        noise = action_noise_std(gauss, obs, seed=1, draws=400)
        assert torch.equal(torch.get_rng_state(), before)
    assert noise == pytest.approx(0.3, rel=0.05)

    def flow_noise(latent_std: float) -> float:
        cfg = FlowPolicyCfg(hidden_dims=(16,), time_hidden_dims=(8,), latent_std=latent_std)
        torch.manual_seed(1)
        with torch.no_grad():
            return action_noise_std(FlowPolicy(5, 3, cfg), obs, seed=1, draws=64)

    assert flow_noise(1e-6) < 1e-4
    assert 0.0 < flow_noise(0.5) < flow_noise(1.0)
