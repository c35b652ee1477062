"""Gaussian PPO baseline policy: MLP mean, state-independent learnable std (rsl_rl style).

Same method names as FlowPolicy so that the runner and the update differ only in the
policy; its stored ("dummy") action is the executed action itself.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from common.config import to_dict
from training.config import GaussianPolicyCfg
from training.modules import mlp


class GaussianPolicy(nn.Module):
    """a ~ N(mu(s), diag(std^2)) with std a free parameter per action dimension."""

    family = "gaussian"  # training/checkpoint.py POLICY_CLASSES

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        cfg: GaussianPolicyCfg | None = None,
    ) -> None:
        super().__init__()
        cfg = cfg or GaussianPolicyCfg()
        self.cfg = cfg
        self.obs_dim = obs_dim
        self.action_dim = action_dim
        self.stored_action_dim = action_dim
        self.mean_net = mlp(obs_dim, cfg.hidden_dims, action_dim, cfg.activation)
        # log-parameterised so the std can never become negative under Adam.
        self.log_std = nn.Parameter(torch.full((action_dim,), math.log(cfg.init_noise_std)))

    def constructor_kwargs(self) -> dict:
        """Plain-dict arguments that rebuild this module (stored in checkpoints)."""
        return {
            "obs_dim": self.obs_dim,
            "action_dim": self.action_dim,
            "cfg": to_dict(self.cfg),
        }

    def obs_input(self) -> tuple[str, int]:
        """(name of the weight whose columns read the observation, its first obs column): the
        mean network's first layer reads the observation alone (training/history.py)."""
        return "mean_net.0.weight", 0

    def mean(self, obs: torch.Tensor) -> torch.Tensor:
        """[B, obs] -> [B, d]."""
        return self.mean_net(obs)

    def std(self) -> torch.Tensor:
        """[d]."""
        return self.log_std.exp()

    def sample(
        self, obs: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """obs [B, obs], noise [B, d] or None -> (action [B, d], log_prob [B])."""
        mean = self.mean(obs)
        if noise is None:
            noise = torch.randn_like(mean)
        action = mean + self.std() * noise
        return action, self._log_prob(mean, action)

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """obs [B, obs], actions [B, d] -> [B]."""
        return self._log_prob(self.mean(obs), actions)

    def _log_prob(self, mean: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        z = (actions - mean) / self.std()
        return (-0.5 * z.pow(2) - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def entropy(self, obs: torch.Tensor) -> torch.Tensor:
        """Exact entropy per sample: obs [B, obs] -> [B] (independent of obs)."""
        per_dim = 0.5 + 0.5 * math.log(2 * math.pi) + self.log_std
        return per_dim.sum().expand(obs.shape[0])

    def executed_action(self, actions: torch.Tensor) -> torch.Tensor:
        """Identity: the stored action is the executed one, [B, d] -> [B, d]."""
        return actions

    def act(self, obs: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Executed action [B, d]: the mean when noise is None, else mean + std * noise."""
        mean = self.mean(obs)
        return mean if noise is None else mean + self.std() * noise
