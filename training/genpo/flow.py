"""GenPO flow policy (genpo.md sections 1-2).

A latent z = (x, y) ~ N(0, sigma^2 I_2d) (sigma = `latent_std`, 1 in the paper) goes
through `flow_steps` coupled Euler steps, each two shears (determinant 1) and a mixing
(determinant p^2 per dim). The result is the dummy action (x_N, y_N) in R^2d; the
environment gets (x_N + y_N) / 2. Because every step is exactly invertible with a constant
Jacobian determinant, log pi = log N(F^-1(a~); 0, sigma^2 I) - 2dN log p with no Jacobian
computed anywhere. `noise` arguments are standard-normal draws eps; the latent is
z = sigma * eps.

Export hooks (the exporter unrolls the flow into a fixed graph without loops):
    time_embeddings() -> [K, 32]    depends only on the parameters; precompute at export.
    velocity(u, obs, temb) -> [B, d]  the velocity MLP on one (u, s, e(t_i)) triple.
    flow_steps, mix_p, action_dim   the constants of the unroll (dt = 1 / flow_steps).
    velocity_net                    nn.Sequential: Linear(d + obs + E, h0), activation, ...,
                                    Linear(h_last, d); its input is cat(u, s, e) in that
                                    order, so exporters may split the first layer's weight.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from common.config import to_dict
from training.config import FlowPolicyCfg
from training.modules import mlp, sinusoidal_embedding


class FlowPolicy(nn.Module):
    """Coupled-flow policy over a doubled dummy action.

    Attributes:
        obs_dim, action_dim: observation width and executed action width d.
        stored_action_dim: 2d, the width of what rollout storage keeps.
        flow_steps, mix_p: N and p of genpo.md.
    """

    family = "flow"  # training/checkpoint.py POLICY_CLASSES

    def __init__(self, obs_dim: int, action_dim: int, cfg: FlowPolicyCfg | None = None) -> None:
        super().__init__()
        cfg = cfg or FlowPolicyCfg()
        if not 0.0 < cfg.mix_p <= 1.0:
            raise ValueError(f"mix_p must be in (0, 1], got {cfg.mix_p}")
        if cfg.latent_std <= 0.0:
            raise ValueError(f"latent_std must be > 0, got {cfg.latent_std}")
        if cfg.flow_steps < 1:
            raise ValueError(f"flow_steps must be >= 1, got {cfg.flow_steps}")
        self.cfg = cfg
        self.obs_dim = obs_dim
        self.action_dim = action_dim
        self.stored_action_dim = 2 * action_dim
        self.flow_steps = cfg.flow_steps
        self.mix_p = cfg.mix_p
        self.latent_std = cfg.latent_std
        self.time_embed_dim = cfg.time_embed_dim
        self.time_mlp = mlp(
            cfg.time_embed_dim, cfg.time_hidden_dims, cfg.time_embed_dim, cfg.activation
        )
        in_dim = action_dim + obs_dim + cfg.time_embed_dim
        self.velocity_net = mlp(in_dim, cfg.hidden_dims, action_dim, cfg.activation)
        head = self.velocity_net[-1]
        with torch.no_grad():  # v ~ 0 at init: executed-action std starts near 0.71 (genpo.md)
            head.weight.mul_(cfg.velocity_out_gain)
            head.bias.zero_()
        self.register_buffer(
            "flow_times",
            torch.arange(cfg.flow_steps) / cfg.flow_steps,
            persistent=False,
        )
        # log|det dF/dz| = 2 d N log p, a constant in theta, s and z.
        self.log_det = 2 * action_dim * cfg.flow_steps * math.log(cfg.mix_p)

    def constructor_kwargs(self) -> dict:
        """Plain-dict arguments that rebuild this module (stored in checkpoints)."""
        return {
            "obs_dim": self.obs_dim,
            "action_dim": self.action_dim,
            "cfg": to_dict(self.cfg),
        }

    def obs_input(self) -> tuple[str, int]:
        """(name of the weight whose columns read the observation, its first obs column):
        the first layer of v reads cat(u, s, e). For widening the observation
        (training/history.py)."""
        return "velocity_net.0.weight", self.action_dim

    # ----- export hooks -------------------------------------------------------------------

    def time_embeddings(self) -> torch.Tensor:
        """e(t_i) for i = 0..N-1: [K, time_embed_dim]."""
        return self.time_mlp(sinusoidal_embedding(self.flow_times, self.time_embed_dim))

    def velocity(self, u: torch.Tensor, obs: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """v(u, s, e): u [B, d], obs [B, obs], temb [E] or [B, E] -> [B, d] (E = time_embed_dim)."""
        temb = temb.expand(u.shape[0], -1)
        return self.velocity_net(torch.cat([u, obs, temb], dim=-1))

    # ----- flow ---------------------------------------------------------------------------

    def _step_features(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """First-layer pre-activations that do not depend on u.

        The first linear layer of v acts on cat(u, s, e); its s and e parts are the same at
        every step, so they are computed once (obs [B, obs] -> [B, h0]; times -> [K, h0])
        instead of 2N times. This is what makes an update cost close to its network floor.
        """
        first = self.velocity_net[0]
        d, o = self.action_dim, self.obs_dim
        obs_feat = F.linear(obs, first.weight[:, d : d + o], first.bias)
        time_feat = F.linear(self.time_embeddings(), first.weight[:, d + o :])
        return obs_feat, time_feat

    def _v(self, u: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        """Velocity from u [B, d] and the precomputed u-independent features [B, h0]."""
        first = self.velocity_net[0]
        h = F.linear(u, first.weight[:, : self.action_dim]) + feat
        return self.velocity_net[1:](h)

    def flow(self, obs: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """F(z; s): latent [B, 2d] -> dummy action [B, 2d]."""
        x, y = latent.split(self.action_dim, dim=-1)
        p, dt = self.mix_p, 1.0 / self.flow_steps
        obs_feat, time_feat = self._step_features(obs)
        for i in range(self.flow_steps):
            feat = obs_feat + time_feat[i]
            x_t = x + dt * self._v(y, feat)
            y_t = y + dt * self._v(x_t, feat)
            x = p * x_t + (1 - p) * y_t
            y = p * y_t + (1 - p) * x  # uses the new x
        return torch.cat([x, y], dim=-1)

    def inverse(self, obs: torch.Tensor, dummy_action: torch.Tensor) -> torch.Tensor:
        """F^-1(a~; s): dummy action [B, 2d] -> latent [B, 2d] (exact, differentiable)."""
        x, y = dummy_action.split(self.action_dim, dim=-1)
        p, dt = self.mix_p, 1.0 / self.flow_steps
        obs_feat, time_feat = self._step_features(obs)
        for i in reversed(range(self.flow_steps)):
            feat = obs_feat + time_feat[i]
            y_t = (y - (1 - p) * x) / p
            x_t = (x - (1 - p) * y_t) / p
            y = y_t - dt * self._v(x_t, feat)
            x = x_t - dt * self._v(y, feat)
        return torch.cat([x, y], dim=-1)

    def latent_log_prob(self, latent: torch.Tensor) -> torch.Tensor:
        """log pi given the latent z that produced the action: [B, 2d] -> [B]."""
        sigma = self.latent_std
        log_normal = -0.5 * (latent / sigma).pow(2).sum(-1) - self.action_dim * (
            math.log(2 * math.pi) + 2 * math.log(sigma)
        )
        return log_normal - self.log_det

    # ----- policy API ---------------------------------------------------------------------

    def sample(
        self, obs: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw a dummy action: obs [B, obs], eps [B, 2d] or None -> ([B, 2d], log_prob [B])."""
        if noise is None:
            noise = torch.randn(
                obs.shape[0], self.stored_action_dim, dtype=obs.dtype, device=obs.device
            )
        latent = self.latent_std * noise
        return self.flow(obs, latent), self.latent_log_prob(latent)

    def log_prob(self, obs: torch.Tensor, dummy_action: torch.Tensor) -> torch.Tensor:
        """Exact log pi(a~ | s) through the inverse: obs [B, obs], a~ [B, 2d] -> [B]."""
        return self.latent_log_prob(self.inverse(obs, dummy_action))

    def executed_action(self, dummy_action: torch.Tensor) -> torch.Tensor:
        """What the environment gets: the mean of the halves, [B, 2d] -> [B, d]."""
        x, y = dummy_action.split(self.action_dim, dim=-1)
        return 0.5 * (x + y)

    def act(self, obs: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Executed action [B, d] for noise eps [B, 2d]; None means the zero latent
        (deterministic)."""
        if noise is None:
            noise = torch.zeros(
                obs.shape[0], self.stored_action_dim, dtype=obs.dtype, device=obs.device
            )
        return self.executed_action(self.flow(obs, self.latent_std * noise))
