"""The update: ratio 1 on the first minibatch, and learning on the toy task."""

from __future__ import annotations

import pytest
import torch

from tests.training.train_helpers import tiny_cfg
from training.envs.toy import PointMassEnv
from training.runner import OnPolicyRunner

OPTIMAL_RETURN = 3.28  # measured: optimal_action() over 40 steps averages ~3.28
THRESHOLD = 2.9  # random actions (std 0.71) score ~0.07


@pytest.mark.parametrize("algo", ["genpo", "gmpo", "gmpg", "ppo"])
def test_first_minibatch_ratio_is_one(algo: str) -> None:
    # d = 12 and a velocity far from zero: the inverse's round trip is what is tested.
    env = PointMassEnv(num_envs=32, dim=12)
    runner = OnPolicyRunner(env, tiny_cfg(algo, velocity_out_gain=1.0))
    alg = runner.alg
    obs = env.get_observations()
    with torch.no_grad():
        for _ in range(runner.cfg.runner.num_steps_per_env):
            actions = alg.act(obs["policy"], obs["critic"])
            assert actions.shape == (32, 12)
            obs, rewards, dones, extras = env.step(actions)
            alg.process_env_step(rewards, dones, extras["time_outs"])
        alg.compute_returns(obs["critic"])
    stats = alg.update()
    assert stats["ratio_dev_first_minibatch"] <= 1e-4
    assert stats["ratio_max_dev"] > stats["ratio_dev_first_minibatch"]  # later ones moved


def _evaluate(runner: OnPolicyRunner) -> float:
    """Mean deterministic return over 256 fresh episodes (zero latent / Gaussian mean)."""
    env = PointMassEnv(num_envs=256, seed=123)
    policy, normalizer = runner.alg.policy, runner.alg.obs_normalizer
    total = torch.zeros(256)
    with torch.no_grad():
        for _ in range(env.max_episode_length):
            obs = normalizer(env.get_observations()["policy"])
            _, rewards, _, _ = env.step(policy.act(obs))
            total += rewards
    return total.mean().item()


@pytest.mark.parametrize("algo", ["genpo", "gmpo", "gmpg", "ppo"])
def test_learns_point_mass(algo: str) -> None:
    runner = OnPolicyRunner(PointMassEnv(num_envs=64, seed=0), tiny_cfg(algo))
    assert _evaluate(runner) < 1.5
    runner.learn(20)
    assert _evaluate(runner) >= THRESHOLD
    assert runner.episodes.summary()["episode/mean_return"] > 1.5
