"""The on-policy update shared by every algorithm: PPO on the lifted MDP (GenPO), Gaussian
PPO, GMPO and GMPG.

The policy families differ only in the policy object: its stored action (2d dummy vs d), its
log-prob (through the exact inverse vs the Gaussian density) and, for the flow, the
compression loss on fresh samples (genpo.md section 3). The algorithms differ only in the
policy loss handed in (training/policy_loss.py).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from common.errors import UserError
from training import distributed
from training.config import PPOCfg
from training.modules import Critic
from training.normalizer import EmpiricalNormalization
from training.policy_loss import ClippedSurrogate, PolicyLoss, ess_fraction
from training.storage import Batch, RolloutStorage

Policy = nn.Module  # FlowPolicy or GaussianPolicy (same method names)


class PPO:
    """Owns policy, critic, normalisers, one Adam over all parameters, and the rollout.

    policy_loss: the algorithm's policy loss (default: PPO's clipped surrogate).
    """

    def __init__(
        self,
        policy: Policy,
        critic: Critic,
        cfg: PPOCfg,
        obs_normalizer: EmpiricalNormalization | None,
        critic_obs_normalizer: EmpiricalNormalization | None,
        policy_loss: PolicyLoss | None = None,
    ) -> None:
        self.policy = policy
        self.critic = critic
        self.cfg = cfg
        self.is_flow = policy.family == "flow"
        _check_bonus(cfg, self.is_flow)
        self.policy_loss = policy_loss or ClippedSurrogate(cfg.clip_param)
        self.obs_normalizer = obs_normalizer or nn.Identity()
        self.critic_obs_normalizer = critic_obs_normalizer or nn.Identity()
        self.learning_rate = cfg.learning_rate
        self.params = [*policy.parameters(), *critic.parameters()]
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.learning_rate)
        if cfg.compile:
            self._loss = torch.compile(self._loss)
        self.storage: RolloutStorage | None = None
        self._pending: tuple[torch.Tensor, ...] | None = None

    def init_storage(
        self, num_envs: int, num_steps_per_env: int, obs_dim: int, critic_obs_dim: int
    ) -> None:
        device = next(self.policy.parameters()).device
        self.storage = RolloutStorage(
            num_envs,
            num_steps_per_env,
            obs_dim,
            critic_obs_dim,
            self.policy.stored_action_dim,
            device,
        )

    # ----- rollout ------------------------------------------------------------------------

    @torch.no_grad()
    def act(self, obs: torch.Tensor, critic_obs: torch.Tensor) -> torch.Tensor:
        """Sample for every env; remember the transition. Returns executed actions [N, d].

        The dummy (2d for GenPO, unclipped) action goes to storage; the env gets the mean
        of the halves. Clipping or scaling belongs to the env, applied to the executed action.
        """
        if self.policy.training and isinstance(self.obs_normalizer, EmpiricalNormalization):
            self.obs_normalizer.update(obs)
            self.critic_obs_normalizer.update(critic_obs)
        obs_n = self.obs_normalizer(obs)
        critic_obs_n = self.critic_obs_normalizer(critic_obs)
        actions, log_probs = self.policy.sample(obs_n)
        values = self.critic(critic_obs_n)
        self._pending = (obs_n, critic_obs_n, actions, log_probs, values)
        return self.policy.executed_action(actions)

    def process_env_step(
        self, rewards: torch.Tensor, dones: torch.Tensor, time_outs: torch.Tensor
    ) -> None:
        """Store the step; bootstrap time-outs with gamma * V(s_t) as rsl_rl does."""
        obs_n, critic_obs_n, actions, log_probs, values = self._pending
        rewards = rewards + self.cfg.gamma * values * time_outs.float()
        self.storage.add(obs_n, critic_obs_n, actions, log_probs, values, rewards, dones)

    @torch.no_grad()
    def compute_returns(self, last_critic_obs: torch.Tensor) -> None:
        last_values = self.critic(self.critic_obs_normalizer(last_critic_obs))
        self.storage.compute_returns(
            last_values, self.cfg.gamma, self.cfg.lam, self.cfg.normalize_advantage
        )

    # ----- update -------------------------------------------------------------------------

    def update(self) -> dict[str, float]:
        """Epochs x minibatches; returns means of the logged quantities.

        `ratio_dev_first_minibatch` is max|ratio - 1| before any step: only the
        inverse's round-trip error, so it must stay below 1e-4 (genpo.md section 2).
        """
        cfg = self.cfg
        explained_variance = self.storage.explained_variance()
        stats = [
            self._update_minibatch(batch)
            for batch in self.storage.mini_batches(cfg.num_mini_batches, cfg.num_learning_epochs)
        ]
        self.storage.clear()
        out = {k: sum(s[k] for s in stats) / len(stats) for k in stats[0]}
        out["ratio_dev_first_minibatch"] = stats[0]["ratio_max_dev"]
        out["learning_rate"] = self.learning_rate
        out["explained_variance"] = explained_variance
        return out

    def _update_minibatch(self, batch: Batch) -> dict[str, float]:
        """One optimizer step; the LR adapts to this minibatch's KL before the step (rsl_rl)."""
        loss, stats = self._loss(batch)
        stats["kl_k1"] = distributed.all_reduce_mean(stats["kl_k1"])
        if self.cfg.schedule == "adaptive":
            self._adapt_learning_rate(stats["kl_k1"].item())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        distributed.all_reduce_gradients(self.params)
        stats["grad_norm"] = nn.utils.clip_grad_norm_(self.params, self.cfg.max_grad_norm)
        self.optimizer.step()
        return {k: v.item() for k, v in stats.items()}

    def _loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss and detached statistics (the part `compile` hands to torch.compile)."""
        cfg = self.cfg
        log_probs = self.policy.log_prob(batch.obs, batch.actions)
        log_ratio = log_probs - batch.old_log_probs
        ratio = log_ratio.exp()
        policy_loss, stats = self.policy_loss(log_probs, batch.old_log_probs, batch.advantages)
        value_loss = self._value_loss(batch)
        bonus_name, bonus, bonus_coef = self._bonus(batch, log_probs)
        loss = policy_loss + cfg.value_loss_coef * value_loss - bonus_coef * bonus
        stats = {
            **stats,
            "policy": policy_loss,
            "value_loss": value_loss,
            bonus_name: bonus,
            "kl_k1": -log_ratio.mean(),
            "kl_k3": ((ratio - 1) - log_ratio).mean(),
            "ratio_max_dev": (ratio - 1).abs().max(),
            "policy/ratio_ess_fraction": ess_fraction(log_ratio.detach()),
        }
        if self.is_flow and cfg.compression_coef > 0 and cfg.compression_fraction > 0:
            stats["compression"] = self._compression_loss(batch.obs)
            loss = loss + cfg.compression_coef * stats["compression"]
        return loss, {k: v.detach() for k, v in stats.items()}

    def _value_loss(self, batch: Batch) -> torch.Tensor:
        values = self.critic(batch.critic_obs)
        if not self.cfg.use_clipped_value_loss:
            return (batch.returns - values).pow(2).mean()
        clipped = batch.values + (values - batch.values).clamp(
            -self.cfg.clip_param, self.cfg.clip_param
        )
        return torch.max((values - batch.returns).pow(2), (clipped - batch.returns).pow(2)).mean()

    def _bonus(self, batch: Batch, log_probs: torch.Tensor) -> tuple[str, torch.Tensor, float]:
        """(stat name, value, weight) of the term subtracted from the loss.

        Gaussian: the exact entropy. Flow: its entropy is constant (constant Jacobian), so the
        term is what it is, -mean log pi_theta(a~_old) = H_old + KL(pi_old || pi_theta)
        (genpo.md section 7).
        """
        if self.is_flow:
            return "policy/neg_logp_old_actions", -log_probs.mean(), self.cfg.neg_logp_coef
        return "policy/entropy", self.policy.entropy(batch.obs).mean(), self.cfg.entropy_coef

    def _compression_loss(self, obs: torch.Tensor) -> torch.Tensor:
        """nu-term: E||x_N - y_N|| on fresh differentiable samples for a fraction of obs."""
        count = max(1, math.ceil(self.cfg.compression_fraction * obs.shape[0]))
        dummy, _ = self.policy.sample(obs[:count])  # minibatch rows are already shuffled
        x, y = dummy.split(self.policy.action_dim, dim=-1)
        return (x - y).norm(dim=-1).mean()

    def _adapt_learning_rate(self, kl: float) -> None:
        """rsl_rl rule: KL > 2 KL* -> lr / 1.5; KL < KL* / 2 -> lr * 1.5 (within bounds)."""
        cfg = self.cfg
        if kl > 2.0 * cfg.desired_kl:
            self.learning_rate = max(cfg.lr_min, self.learning_rate / 1.5)
        elif kl < cfg.desired_kl / 2.0:
            self.learning_rate = min(cfg.lr_max, self.learning_rate * 1.5)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate

    # ----- state --------------------------------------------------------------------------

    def train_mode(self, training: bool = True) -> None:
        for m in (
            self.policy,
            self.critic,
            self.obs_normalizer,
            self.critic_obs_normalizer,
        ):
            m.train(training)

    def broadcast_parameters(self) -> None:
        """Start every rank from rank 0's weights and normaliser statistics."""
        for m in (
            self.policy,
            self.critic,
            self.obs_normalizer,
            self.critic_obs_normalizer,
        ):
            distributed.broadcast_module(m)


def _check_bonus(cfg: PPOCfg, is_flow: bool) -> None:
    """Each policy family has its own bonus knob; the other one would silently do nothing."""
    if is_flow and cfg.entropy_coef != 0:
        raise UserError(
            f"ppo.entropy_coef={cfg.entropy_coef} has no meaning for a flow policy (its entropy "
            "is constant); set it to 0, or use ppo.neg_logp_coef (see its docs)"
        )
    if not is_flow and cfg.neg_logp_coef != 0:
        raise UserError("ppo.neg_logp_coef applies to flow policies only; set it to 0")
