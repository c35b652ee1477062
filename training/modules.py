"""Small building blocks shared by the policies and the critic."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "mish": nn.Mish,
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for a config name (case-insensitive)."""
    try:
        return _ACTIVATIONS[name.lower()]()
    except KeyError:
        known = ", ".join(sorted(_ACTIVATIONS))
        raise ValueError(f"unknown activation '{name}'; use one of: {known}") from None


def mlp(in_dim: int, hidden_dims: tuple[int, ...], out_dim: int, activation: str) -> nn.Sequential:
    """Linear-activation stack in_dim -> hidden_dims... -> out_dim (no output activation)."""
    dims = (in_dim, *hidden_dims)
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(dims):
        layers += [nn.Linear(a, b), make_activation(activation)]
    layers.append(nn.Linear(dims[-1], out_dim))
    return nn.Sequential(*layers)


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of flow times t in [0, 1].

    Frequencies are spaced geometrically from 1 to 1000 rad per unit time, so that times
    1/N apart differ in many features (scalar t input is clearly worse, genpo.md).

    Args:
        t: [K] times.
        dim: even embedding width.

    Returns:
        [K, dim]: (sin(w_k t), cos(w_k t)) for dim/2 frequencies w_k.
    """
    if dim % 2:
        raise ValueError(f"time embedding dim must be even, got {dim}")
    half = dim // 2
    exponents = torch.arange(half, dtype=t.dtype, device=t.device) / max(half - 1, 1)
    freqs = torch.exp(exponents * math.log(1000.0))
    angles = t[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class Critic(nn.Module):
    """Value MLP V(s): [B, obs] -> [B]."""

    def __init__(self, obs_dim: int, hidden_dims: tuple[int, ...], activation: str) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden_dims, 1, activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """[B, obs] -> [B]."""
        return self.net(obs).squeeze(-1)
