"""The policy loss of each on-policy algorithm: the one place where PPO/GenPO, GMPO and GMPG
differ (genpo.md sections 3 and 7). Everything else (policy, storage, GAE, critic, compression
term, adaptive LR, runner) is shared by training/ppo.py.

Every loss maps (log pi_theta(a~), log pi_old(a~), normalised advantages A), all [B], to
(loss, statistics). `policy/clip_fraction` means, per loss: PPO, |r - 1| > clip; GMPO, weights
clamped at w_max; GMPG, |log r| at its clamp.

GMPO and GMPG are written beta-scaled, so that at theta = theta_old both gradients are about
beta times PPO's -mean(A grad log pi) (section 7):
    GMPO  L = -sum_i w_i log pi_theta(a~_i) / sum_i w_i,  w_i = min(exp(beta A_i), w_max)
    GMPG  L = -beta mean(r A) + mean(r log r - r + 1),      r = exp(clamp(log r, +-c))
GMPG's penalty is section 7's alpha mean(r log r) times beta (alpha = 1 / beta) plus
-mean(r - 1), whose expectation under pi_old is zero: the sum is a non-negative per-sample
estimate of KL(pi_theta || pi_old) whose gradient vanishes at theta_old.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from common.errors import UserError
from training.config import TrainCfg

Stats = dict[str, torch.Tensor]


class PolicyLoss(Protocol):
    def __call__(
        self, log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor
    ) -> tuple[torch.Tensor, Stats]: ...


@dataclass(frozen=True)
class ClippedSurrogate:
    """PPO's clipped surrogate (GenPO and the Gaussian baseline)."""

    clip_param: float

    def __call__(
        self, log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor
    ) -> tuple[torch.Tensor, Stats]:
        ratio = (log_probs - old_log_probs).exp()
        clipped = ratio.clamp(1 - self.clip_param, 1 + self.clip_param)
        loss = torch.max(-advantages * ratio, -advantages * clipped).mean()
        clip_fraction = ((ratio - 1).abs() > self.clip_param).float().mean()
        return loss, {"policy/clip_fraction": clip_fraction}


@dataclass(frozen=True)
class WeightedLikelihood:
    """GMPO: advantage-weighted maximum likelihood; the target is fixed for the whole update,
    so no ratio enters the loss."""

    beta: float
    w_max: float

    def __call__(
        self, log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor
    ) -> tuple[torch.Tensor, Stats]:
        log_w, clipped = clamped_log_weights(advantages, self.beta, self.w_max)
        weights = normalized_weights(log_w)
        loss = -(weights * log_probs).sum()
        return loss, {
            "policy/clip_fraction": clipped.float().mean(),
            "policy/weight_ess_fraction": ess_fraction(log_w),
        }


@dataclass(frozen=True)
class KLRegularizedGradient:
    """GMPG: likelihood-ratio policy gradient with a reverse-KL penalty instead of a clip."""

    beta: float
    log_ratio_clip: float

    def __call__(
        self, log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor
    ) -> tuple[torch.Tensor, Stats]:
        log_ratio = log_probs - old_log_probs
        clamped = log_ratio.clamp(-self.log_ratio_clip, self.log_ratio_clip)
        ratio = clamped.exp()
        kl = reverse_kl_estimate(ratio, clamped)
        loss = -self.beta * (ratio * advantages).mean() + kl
        clip_fraction = (log_ratio.abs() > self.log_ratio_clip).float().mean()
        return loss, {"policy/clip_fraction": clip_fraction, "kl/reverse": kl.detach()}


def clamped_log_weights(
    advantages: torch.Tensor, beta: float, w_max: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """log min(exp(beta A), w_max) without ever forming exp(beta A) (no overflow), and the
    mask of clamped samples: [B] -> ([B], [B] bool). No gradient flows into the weights."""
    log_w = beta * advantages.detach()
    log_w_max = math.log(w_max)
    return log_w.clamp(max=log_w_max), log_w > log_w_max


def normalized_weights(log_w: torch.Tensor) -> torch.Tensor:
    """w_i / sum w through log-sum-exp (stable for any beta A): [B] -> [B], sums to 1."""
    return (log_w - torch.logsumexp(log_w, dim=0)).exp()


def ess_fraction(log_w: torch.Tensor) -> torch.Tensor:
    """Effective sample size of the weights as a fraction of the batch,
    (sum w)^2 / (B sum w^2), in log space: [B] -> scalar in (0, 1]."""
    log_ess = 2 * torch.logsumexp(log_w, dim=0) - torch.logsumexp(2 * log_w, dim=0)
    return (log_ess - math.log(log_w.numel())).exp()


def reverse_kl_estimate(ratio: torch.Tensor, log_ratio: torch.Tensor) -> torch.Tensor:
    """mean(r log r - r + 1) over samples from pi_old: KL(pi_theta || pi_old), >= 0 per sample
    (f(r) = r log r - r + 1 is convex with f(1) = f'(1) = 0): [B] -> scalar."""
    return (ratio * log_ratio - ratio + 1).mean()


def make_policy_loss(cfg: TrainCfg) -> PolicyLoss:
    """The loss of cfg.algo with its settings (UserError for settings out of range)."""
    positive = {
        "gmpo.beta": cfg.gmpo.beta,
        "gmpo.w_max": cfg.gmpo.w_max,
        "gmpg.beta": cfg.gmpg.beta,
        "gmpg.log_ratio_clip": cfg.gmpg.log_ratio_clip,
    }
    for key, value in positive.items():
        if key.startswith(cfg.algo + ".") and not value > 0:
            raise UserError(f"{key} must be > 0, got {value}")
    if cfg.algo == "gmpo":
        return WeightedLikelihood(cfg.gmpo.beta, cfg.gmpo.w_max)
    if cfg.algo == "gmpg":
        return KLRegularizedGradient(cfg.gmpg.beta, cfg.gmpg.log_ratio_clip)
    return ClippedSurrogate(cfg.ppo.clip_param)
