"""Empirical observation normalisation with running mean and variance."""

from __future__ import annotations

import torch
from torch import distributed as dist
from torch import nn


class EmpiricalNormalization(nn.Module):
    """(x - mean) / (std + eps) with statistics accumulated over every batch seen in training.

    Buffers (mean, var, count) are in the state dict, so checkpoints and the exporter carry
    them. In a distributed run the batch statistics are reduced over all ranks first, which
    keeps the normaliser, and so the policy, identical on every rank.
    """

    def __init__(self, shape: int, eps: float = 1e-2) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("var", torch.ones(shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, shape] -> [B, shape]."""
        return (x - self.mean) / (self.var.sqrt() + self.eps)

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge the statistics of a batch x [B, shape] (Chan et al. parallel update)."""
        count = torch.tensor(float(x.shape[0]), dtype=torch.float64, device=x.device)
        total = x.sum(0)
        if dist.is_initialized():
            dist.all_reduce(count)
            dist.all_reduce(total)
        batch_mean = total / count.to(x.dtype)
        sq_dev = (x - batch_mean).pow(2).sum(0)
        if dist.is_initialized():
            dist.all_reduce(sq_dev)
        batch_var = sq_dev / count.to(x.dtype)
        new_count = self.count + count
        w = (count / new_count).to(x.dtype)
        delta = batch_mean - self.mean
        self.mean += w * delta
        self.var = (1 - w) * self.var + w * batch_var + w * (1 - w) * delta.pow(2)
        self.count = new_count
