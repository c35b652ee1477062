"""GAE with time-out bootstrapping against a hand-worked example."""

from __future__ import annotations

import torch

from tests.training.train_helpers import tiny_cfg
from training.envs.toy import PointMassEnv
from training.runner import OnPolicyRunner
from training.storage import compute_gae


def test_gae_hand_worked_example() -> None:
    # gamma = lam = 0.5, T = 3 steps, 2 envs.
    # env 0: rewards (1, 2, 3), values (0.5, 1.0, 1.5), episode times out after t = 1,
    #   last value 2.0. The time-out is bootstrapped into the reward beforehand:
    #   r1 = 2 + gamma * V(s1) = 2 + 0.5 * 1.0 = 2.5.
    #   t=2: delta = 3 + 0.5 * 2.0 - 1.5 = 2.5                  A2 = 2.5
    #   t=1: done, so no next value: delta = 2.5 - 1.0 = 1.5     A1 = 1.5 (nothing from t=2)
    #   t=0: delta = 1 + 0.5 * 1.0 - 0.5 = 1.0                  A0 = 1.0 + 0.25 * 1.5 = 1.375
    #   returns = A + V = (1.875, 2.5, 4.0)
    # env 1: rewards (0, 0, 1), values 0, no done, last value 4.0:
    #   A2 = 1 + 0.5 * 4 = 3;  A1 = 0 + 0.25 * 3 = 0.75;  A0 = 0.25 * 0.75 = 0.1875
    rewards = torch.tensor([[1.0, 0.0], [2.5, 0.0], [3.0, 1.0]])
    values = torch.tensor([[0.5, 0.0], [1.0, 0.0], [1.5, 0.0]])
    dones = torch.tensor([[False, False], [True, False], [False, False]])
    last_values = torch.tensor([2.0, 4.0])
    adv, ret = compute_gae(rewards, values, dones, last_values, gamma=0.5, lam=0.5)
    assert torch.allclose(adv, torch.tensor([[1.375, 0.1875], [1.5, 0.75], [2.5, 3.0]]))
    assert torch.allclose(ret, torch.tensor([[1.875, 0.1875], [2.5, 0.75], [4.0, 3.0]]))


def test_process_env_step_bootstraps_time_outs_only() -> None:
    runner = OnPolicyRunner(PointMassEnv(num_envs=3), tiny_cfg())
    alg = runner.alg
    obs = runner.env.get_observations()
    alg.act(obs["policy"], obs["critic"])
    values = alg._pending[4]
    rewards = torch.tensor([1.0, 1.0, 1.0])
    dones = torch.tensor([True, True, False])
    time_outs = torch.tensor([True, False, False])  # env 1 terminated: no bootstrap
    alg.process_env_step(rewards, dones, time_outs)
    gamma = alg.cfg.gamma
    expected = torch.tensor([1.0 + gamma * values[0].item(), 1.0, 1.0])
    assert torch.allclose(alg.storage.rewards[0], expected)
    assert alg.storage.actions.shape[-1] == 4  # the 2d dummy action is stored
