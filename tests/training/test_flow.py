"""Flow policy: exact inverse, exact Jacobian-free likelihood, export hooks."""

from __future__ import annotations

import math

import pytest
import torch

from training.config import FlowPolicyCfg, GaussianPolicyCfg
from training.gaussian import GaussianPolicy
from training.genpo import FlowPolicy

OBS, ACT = 7, 12


def _flow(dtype: torch.dtype, gain: float = 1.0, **kw: object) -> FlowPolicy:
    # gain 1.0: a velocity field far from zero, so the tests exercise the network.
    cfg = FlowPolicyCfg(hidden_dims=(32, 32), time_hidden_dims=(16,), velocity_out_gain=gain, **kw)
    torch.manual_seed(0)
    return FlowPolicy(OBS, ACT, cfg).to(dtype)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_inverse_recovers_latent(dtype: torch.dtype, tol: float) -> None:
    policy = _flow(dtype, mix_p=0.9)
    obs = torch.randn(256, OBS, dtype=dtype)
    z = torch.randn(256, 2 * ACT, dtype=dtype)
    with torch.no_grad():
        dummy, _ = policy.sample(obs, z)
        z_back = policy.inverse(obs, dummy)
    assert (dummy - z).abs().max() > 0.1  # the flow really moved the latent
    assert (z_back - z).abs().max().item() <= tol


@pytest.mark.parametrize("sigma", [1.0, 1.7])
def test_log_prob_matches_brute_force_change_of_variables(sigma: float) -> None:
    d = 3
    cfg = FlowPolicyCfg(
        hidden_dims=(16,), time_hidden_dims=(8,), velocity_out_gain=1.0, mix_p=0.8, latent_std=sigma
    )
    torch.manual_seed(1)
    policy = FlowPolicy(5, d, cfg).double()
    obs = torch.randn(4, 5, dtype=torch.float64)
    eps = torch.randn(4, 2 * d, dtype=torch.float64)
    dummy, log_prob_sample = policy.sample(obs, eps)
    z = sigma * eps  # the latent the flow receives
    assert torch.allclose(policy.inverse(obs, dummy), z, atol=1e-10)
    for b in range(4):
        # log pi(a~) = log N(z; 0, sigma^2) - log|det dF/dz|, Jacobian by autograd.
        obs_b = obs[b : b + 1]
        jac = torch.autograd.functional.jacobian(
            lambda zz, s=obs_b: policy.flow(s, zz[None])[0], z[b]
        )
        log_normal = torch.distributions.Normal(0.0, sigma).log_prob(z[b]).sum()
        brute = log_normal - torch.linalg.slogdet(jac).logabsdet
        assert abs(policy.log_prob(obs[b : b + 1], dummy[b : b + 1]).item() - brute.item()) <= 1e-6
        assert abs(log_prob_sample[b].item() - brute.item()) <= 1e-6


def test_export_hooks_reproduce_the_flow() -> None:
    """Unrolling with the public velocity() and time_embeddings() gives the same action."""
    policy = _flow(torch.float64)
    obs = torch.randn(8, OBS, dtype=torch.float64)
    z = torch.randn(8, 2 * ACT, dtype=torch.float64)
    temb = policy.time_embeddings()
    assert temb.shape == (policy.flow_steps, 32)
    x, y = z[:, :ACT], z[:, ACT:]
    p, dt = policy.mix_p, 1.0 / policy.flow_steps
    for i in range(policy.flow_steps):
        x_t = x + dt * policy.velocity(y, obs, temb[i])
        y_t = y + dt * policy.velocity(x_t, obs, temb[i])
        x = p * x_t + (1 - p) * y_t
        y = p * y_t + (1 - p) * x
    with torch.no_grad():
        assert torch.allclose(policy.flow(obs, z), torch.cat([x, y], -1), atol=1e-12)
        assert torch.allclose(policy.act(obs, z), (x + y) / 2, atol=1e-12)


def test_act_without_noise_is_the_zero_latent() -> None:
    policy = _flow(torch.float32)
    obs = torch.randn(5, OBS)
    with torch.no_grad():
        a = policy.act(obs)
        dummy = policy.flow(obs, torch.zeros(5, 2 * ACT))
    assert a.shape == (5, ACT)
    assert torch.equal(a, (dummy[:, :ACT] + dummy[:, ACT:]) / 2)
    assert policy.stored_action_dim == 2 * ACT and policy.action_dim == ACT


@pytest.mark.parametrize("sigma", [1.0, 1.5])
def test_init_action_std_is_near_071_sigma(sigma: float) -> None:
    """At init v ~ 0 so the executed action is a fixed linear map of z (genpo.md: std ~ 0.71);
    a latent std sigma scales it."""
    torch.manual_seed(0)
    cfg = FlowPolicyCfg(hidden_dims=(32,), time_hidden_dims=(16,), latent_std=sigma)
    policy = FlowPolicy(OBS, ACT, cfg)
    with torch.no_grad():
        a = policy.executed_action(policy.sample(torch.randn(20000, OBS))[0])
        obs, eps = torch.randn(3, OBS), torch.randn(3, 2 * ACT)
        direct = policy.executed_action(policy.flow(obs, sigma * eps))
        assert torch.equal(policy.act(obs, eps), direct)
    assert a.std(0).min() > 0.66 * sigma and a.std(0).max() < 0.76 * sigma


def test_latent_std_must_be_positive() -> None:
    with pytest.raises(ValueError, match="latent_std"):
        FlowPolicy(OBS, ACT, FlowPolicyCfg(latent_std=0.0))


def test_gaussian_log_prob_and_entropy_match_torch() -> None:
    torch.manual_seed(0)
    policy = GaussianPolicy(OBS, 3, GaussianPolicyCfg(hidden_dims=(16,), init_noise_std=0.7))
    obs = torch.randn(6, OBS)
    with torch.no_grad():
        actions, log_prob = policy.sample(obs)
        dist = torch.distributions.Normal(policy.mean(obs), policy.std())
        assert torch.allclose(log_prob, dist.log_prob(actions).sum(-1), atol=1e-5)
        assert torch.allclose(policy.log_prob(obs, actions), log_prob, atol=1e-6)
        assert torch.allclose(policy.entropy(obs), dist.entropy().sum(-1), atol=1e-6)
        assert torch.equal(policy.act(obs), policy.mean(obs))
    assert math.isclose(policy.std()[0].item(), 0.7, rel_tol=1e-6)
