"""GMPO and GMPG policy losses (genpo.md section 7), with the hand computations in comments."""

from __future__ import annotations

import math

import pytest
import torch

from common.errors import UserError
from tests.training.train_helpers import tiny_cfg
from training.config import FlowPolicyCfg, GMPOCfg, PPOCfg, TrainCfg
from training.genpo import FlowPolicy
from training.policy_loss import (
    ClippedSurrogate,
    KLRegularizedGradient,
    WeightedLikelihood,
    clamped_log_weights,
    ess_fraction,
    make_policy_loss,
    normalized_weights,
    reverse_kl_estimate,
)

LN2 = math.log(2.0)


def test_weights_are_exp_beta_a_normalised_and_clamped() -> None:
    # beta 1, A = (0, ln 2, ln 4, 10): exp(beta A) = (1, 2, 4, e^10); w_max 20 clamps the last.
    # w = (1, 2, 4, 20), sum 27 -> (1, 2, 4, 20) / 27.
    adv = torch.tensor([0.0, LN2, 2 * LN2, 10.0])
    log_w, clipped = clamped_log_weights(adv, beta=1.0, w_max=20.0)
    assert clipped.tolist() == [False, False, False, True]
    expected = torch.tensor([1.0, 2.0, 4.0, 20.0]) / 27.0
    assert torch.allclose(normalized_weights(log_w), expected, atol=1e-6)
    # beta 0.5 halves the exponent: A = (0, 2 ln 2) -> w = (1, 2) -> (1/3, 2/3).
    log_w, _ = clamped_log_weights(torch.tensor([0.0, 2 * LN2]), beta=0.5, w_max=20.0)
    assert torch.allclose(normalized_weights(log_w), torch.tensor([1 / 3, 2 / 3]), atol=1e-6)


def test_weights_use_log_sum_exp() -> None:
    # beta A = (-1000, -1001): exp underflows to 0 in float32, so exp / sum would be 0 / 0.
    # In log space: w ~ (1, e^-1) -> (1, e^-1) / (1 + e^-1) (float32 spacing at 1000: 6e-5).
    log_w, _ = clamped_log_weights(torch.tensor([-1000.0, -1001.0]), beta=1.0, w_max=20.0)
    e = math.exp(-1.0)
    expected = torch.tensor([1 / (1 + e), e / (1 + e)])
    assert torch.allclose(normalized_weights(log_w), expected, atol=2e-4)
    assert math.isclose(ess_fraction(log_w).item(), (1 + e) ** 2 / (2 * (1 + e * e)), rel_tol=1e-3)


def test_effective_sample_size() -> None:
    # ESS = (sum w)^2 / sum w^2, as a fraction of B.
    # Equal weights: B^2 / B = B -> 1. w = (1, 2, 4): 49 / 21 / 3 = 7/9.
    assert math.isclose(ess_fraction(torch.zeros(8)).item(), 1.0, rel_tol=1e-6)
    log_w = torch.log(torch.tensor([1.0, 2.0, 4.0]))
    assert math.isclose(ess_fraction(log_w).item(), 7 / 9, rel_tol=1e-6)
    # One weight dominating (others e^-100): ESS -> 1 sample of 4.
    assert math.isclose(ess_fraction(torch.tensor([0.0, -100, -100, -100])).item(), 0.25)
    # Section 7: for A ~ N(0, 1), ESS ~ exp(-beta^2) of the batch (37 % at beta 1).
    adv = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    log_w, _ = clamped_log_weights(adv, beta=1.0, w_max=1e9)
    assert abs(ess_fraction(log_w).item() - math.exp(-1.0)) < 0.01


def test_gmpo_gradient_is_the_weighted_nll_gradient() -> None:
    # L = -sum_i w_i log pi_i / sum w: dL / d log pi_i = -w_i / sum w. With beta 1,
    # A = (0, ln 2, ln 4): -(1, 2, 4) / 7, whatever the log-probs are.
    log_probs = torch.tensor([-3.0, -1.0, -2.0], requires_grad=True)
    adv = torch.tensor([0.0, LN2, 2 * LN2])
    loss, stats = WeightedLikelihood(beta=1.0, w_max=20.0)(log_probs, log_probs.detach(), adv)
    loss.backward()
    assert torch.allclose(log_probs.grad, -torch.tensor([1.0, 2.0, 4.0]) / 7, atol=1e-6)
    assert math.isclose(loss.item(), (3 * 1 + 1 * 2 + 2 * 4) / 7, rel_tol=1e-6)
    assert stats["policy/clip_fraction"].item() == 0.0
    assert math.isclose(stats["policy/weight_ess_fraction"].item(), 7 / 9, rel_tol=1e-6)


def test_gmpo_parameter_gradient_on_the_flow() -> None:
    """Through the flow's inverse: grad L = -sum_i (w_i / sum w) grad log pi_i, per sample."""
    policy, obs, actions, old_log_probs, adv = _rollout(seed=1)
    w = torch.exp(0.7 * adv).clamp(max=20.0)  # hand weights, beta 0.7
    expected = [torch.zeros_like(p) for p in policy.parameters()]
    for i in range(len(adv)):
        grads = torch.autograd.grad(policy.log_prob(obs[i : i + 1], actions[i : i + 1]).sum(),
                                    list(policy.parameters()), allow_unused=True)  # fmt: skip
        for e, g in zip(expected, grads, strict=True):
            if g is not None:
                e -= (w[i] / w.sum()) * g
    loss, _ = WeightedLikelihood(0.7, 20.0)(policy.log_prob(obs, actions), old_log_probs, adv)
    got = torch.autograd.grad(loss, list(policy.parameters()), allow_unused=True)
    for e, g in zip(expected, got, strict=True):
        assert torch.allclose(g if g is not None else torch.zeros_like(e), e, atol=1e-6)


def test_gmpg_kl_estimate_is_non_negative_and_zero_at_theta_old() -> None:
    log_ratio = 3 * torch.randn(10_000, generator=torch.Generator().manual_seed(0))
    per_sample = torch.stack([reverse_kl_estimate(r.exp()[None], r[None]) for r in log_ratio[:200]])
    assert (per_sample >= 0).all()
    assert reverse_kl_estimate(log_ratio.exp(), log_ratio) > 0
    zero = torch.zeros(16, requires_grad=True)
    kl = reverse_kl_estimate(zero.exp(), zero)
    kl.backward()
    assert kl.item() == 0.0 and zero.grad.abs().max().item() == 0.0


def test_gmpg_kl_estimate_measures_kl_theta_old() -> None:
    # Samples from pi_old = N(0, 1); pi_theta = N(0.5, 1): KL(theta || old) = 0.5^2 / 2 = 0.125.
    x = torch.randn(400_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    log_ratio = -0.5 * (x - 0.5) ** 2 + 0.5 * x**2
    assert abs(reverse_kl_estimate(log_ratio.exp(), log_ratio).item() - 0.125) < 0.005


def test_gmpg_loss_and_its_clamp() -> None:
    # L = -beta mean(r A) + mean(r log r - r + 1), r = exp(clamp(log r, +-3)).
    log_probs = torch.tensor([0.0, 5.0], requires_grad=True)  # log r = (0, 5 -> clamped to 3)
    adv = torch.tensor([1.0, -1.0])
    loss, stats = KLRegularizedGradient(beta=2.0, log_ratio_clip=3.0)(
        log_probs, torch.zeros(2), adv
    )
    r = math.exp(3.0)
    expected = -2.0 * (1 * 1 - r) / 2 + (0 + (r * 3 - r + 1)) / 2
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    assert stats["policy/clip_fraction"].item() == 0.5
    loss.backward()
    assert log_probs.grad[1].item() == 0.0  # no gradient beyond the clamp


def test_at_theta_old_both_gradients_are_beta_times_ppos() -> None:
    """Section 7: at theta = theta_old, GMPG's gradient is beta x PPO's (its KL term's
    gradient vanishes there); GMPO's is beta x PPO's to first order in beta, on top of the
    zero-mean maximum-likelihood term grad at beta = 0: (g(beta) - g(0)) / beta -> g_PPO."""
    policy, obs, actions, old_log_probs, adv = _rollout(seed=2)
    adv = adv - adv.mean()  # PPO's gradient -mean(A grad log pi) uses the centred advantages

    def grad(loss_fn) -> torch.Tensor:
        loss, _ = loss_fn(policy.log_prob(obs, actions), old_log_probs, adv)
        grads = torch.autograd.grad(loss, list(policy.parameters()), allow_unused=True)
        return torch.cat([g.flatten() for g in grads if g is not None])

    ppo = grad(ClippedSurrogate(0.2))
    beta = 0.4
    gmpg = grad(KLRegularizedGradient(beta, 3.0))
    assert torch.allclose(gmpg, beta * ppo, atol=1e-5 * ppo.abs().max().item())
    small = 1e-3
    slope = (grad(WeightedLikelihood(small, 20.0)) - grad(WeightedLikelihood(0.0, 20.0))) / small
    assert torch.allclose(slope, ppo, atol=0.02 * ppo.abs().max().item())
    gmpo = grad(WeightedLikelihood(beta, 20.0)) - grad(WeightedLikelihood(0.0, 20.0))
    cosine = torch.nn.functional.cosine_similarity(gmpo, beta * ppo, dim=0).item()
    assert cosine > 0.9  # still mostly beta x PPO at beta 0.4


def test_make_policy_loss_picks_the_algorithm_and_rejects_bad_settings() -> None:
    assert isinstance(make_policy_loss(tiny_cfg("genpo")), ClippedSurrogate)
    assert isinstance(make_policy_loss(tiny_cfg("ppo")), ClippedSurrogate)
    assert make_policy_loss(tiny_cfg("gmpo")) == WeightedLikelihood(1.0, 20.0)
    assert make_policy_loss(tiny_cfg("gmpg")) == KLRegularizedGradient(1.0, 3.0)
    with pytest.raises(UserError, match="gmpo.beta must be > 0"):
        make_policy_loss(TrainCfg(algo="gmpo", gmpo=GMPOCfg(beta=0.0)))


@pytest.mark.parametrize("algo", ["genpo", "gmpo", "gmpg"])
def test_flow_algorithms_refuse_an_entropy_coefficient(algo: str) -> None:
    from training.envs.toy import PointMassEnv
    from training.runner import OnPolicyRunner

    cfg = tiny_cfg(algo)
    cfg = TrainCfg(**{**cfg.__dict__, "ppo": PPOCfg(entropy_coef=0.01)})
    with pytest.raises(UserError, match="neg_logp_coef"):
        OnPolicyRunner(PointMassEnv(num_envs=4), cfg)


def _rollout(seed: int, rows: int = 32):
    """A small flow policy (velocity far from zero) and a batch sampled from it."""
    torch.manual_seed(seed)
    policy = FlowPolicy(5, 3, FlowPolicyCfg(hidden_dims=(16,), time_hidden_dims=(8,),
                                            velocity_out_gain=1.0))  # fmt: skip
    obs = torch.randn(rows, 5)
    with torch.no_grad():
        actions, old_log_probs = policy.sample(obs)
    adv = torch.randn(rows)
    return policy, obs, actions, old_log_probs, (adv - adv.mean()) / adv.std()
