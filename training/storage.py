"""Rollout storage and generalised advantage estimation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass
class Batch:
    """One minibatch, all flattened over (step, env): leading dim B."""

    obs: torch.Tensor  # [B, obs] normalised actor observations
    critic_obs: torch.Tensor  # [B, cobs] normalised critic observations
    actions: torch.Tensor  # [B, stored_action_dim] (the 2d dummy action for GenPO)
    old_log_probs: torch.Tensor  # [B]
    values: torch.Tensor  # [B] V(s) at rollout time
    advantages: torch.Tensor  # [B]
    returns: torch.Tensor  # [B]


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_values: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE(gamma, lambda) over a rollout.

    Args:
        rewards: [T, N], already including the time-out bootstrap.
        values: [T, N] V(s_t).
        dones: [T, N] episode ended after step t (terminated or timed out).
        last_values: [N] V(s_T) of the observation after the last step.

    Returns:
        advantages [T, N], returns [T, N] (= advantages + values).
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_values)
    next_values = last_values
    for t in reversed(range(rewards.shape[0])):
        not_done = 1.0 - dones[t].float()
        delta = rewards[t] + gamma * not_done * next_values - values[t]
        running = delta + gamma * lam * not_done * running
        advantages[t] = running
        next_values = values[t]
    return advantages, advantages + values


class RolloutStorage:
    """Fixed-size buffer of num_steps_per_env transitions for num_envs environments."""

    def __init__(
        self,
        num_envs: int,
        num_steps_per_env: int,
        obs_dim: int,
        critic_obs_dim: int,
        stored_action_dim: int,
        device: torch.device | str,
    ) -> None:
        shape = (num_steps_per_env, num_envs)
        self.num_envs = num_envs
        self.num_steps_per_env = num_steps_per_env
        self.obs = torch.zeros(*shape, obs_dim, device=device)
        self.critic_obs = torch.zeros(*shape, critic_obs_dim, device=device)
        self.actions = torch.zeros(*shape, stored_action_dim, device=device)
        self.log_probs = torch.zeros(shape, device=device)
        self.values = torch.zeros(shape, device=device)
        self.rewards = torch.zeros(shape, device=device)
        self.dones = torch.zeros(shape, dtype=torch.bool, device=device)
        self.advantages = torch.zeros(shape, device=device)
        self.returns = torch.zeros(shape, device=device)
        self.step = 0

    def add(
        self,
        obs: torch.Tensor,
        critic_obs: torch.Tensor,
        actions: torch.Tensor,
        log_probs: torch.Tensor,
        values: torch.Tensor,
        rewards: torch.Tensor,
        dones: torch.Tensor,
    ) -> None:
        """Append one step for every env (rewards already time-out bootstrapped)."""
        if self.step >= self.num_steps_per_env:
            raise RuntimeError("rollout storage overflow: call clear() after each update")
        t = self.step
        self.obs[t] = obs
        self.critic_obs[t] = critic_obs
        self.actions[t] = actions
        self.log_probs[t] = log_probs
        self.values[t] = values
        self.rewards[t] = rewards
        self.dones[t] = dones
        self.step += 1

    def clear(self) -> None:
        self.step = 0

    def compute_returns(
        self,
        last_values: torch.Tensor,
        gamma: float,
        lam: float,
        normalize_advantage: bool,
    ) -> None:
        """Fill advantages and returns; optionally normalise advantages over the rollout."""
        adv, self.returns = compute_gae(
            self.rewards, self.values, self.dones, last_values, gamma, lam
        )
        if normalize_advantage:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        self.advantages = adv

    def explained_variance(self) -> float:
        """1 - Var(returns - V) / Var(returns) over the rollout: 1 when the critic predicts
        the GAE returns exactly, <= 0 when it predicts them no better than their mean."""
        var_returns = self.returns.var().item()
        if var_returns == 0.0:
            return float("nan")
        return 1.0 - (self.returns - self.values).var().item() / var_returns

    def mini_batches(self, num_mini_batches: int, num_epochs: int) -> Iterator[Batch]:
        """Yield num_epochs x num_mini_batches shuffled minibatches of the whole rollout."""
        if self.step != self.num_steps_per_env:
            raise RuntimeError(
                f"rollout holds {self.step} of {self.num_steps_per_env} steps; fill it first"
            )
        total = self.num_envs * self.num_steps_per_env
        size = total // num_mini_batches
        flat = {
            "obs": self.obs.flatten(0, 1),
            "critic_obs": self.critic_obs.flatten(0, 1),
            "actions": self.actions.flatten(0, 1),
            "old_log_probs": self.log_probs.flatten(),
            "values": self.values.flatten(),
            "advantages": self.advantages.flatten(),
            "returns": self.returns.flatten(),
        }
        for _ in range(num_epochs):
            perm = torch.randperm(total, device=self.obs.device)
            for i in range(num_mini_batches):
                idx = perm[i * size : (i + 1) * size]
                yield Batch(**{k: v[idx] for k, v in flat.items()})
