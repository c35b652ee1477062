"""torch.distributed scale-out: one process per device, gradients averaged over ranks.

Launch with `torchrun --nproc-per-node N ...`; torchrun sets WORLD_SIZE, RANK, LOCAL_RANK
(and the rendezvous address), which `init_distributed` reads. Without them everything
runs in one process and the helpers below are no-ops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, shows progress and writes checkpoints."""
        return self.rank == 0


def init_distributed(device: str = "cpu") -> DistInfo:
    """Join the process group if WORLD_SIZE > 1; NCCL when device is CUDA, else gloo.

    Args:
        device: 'cpu' or 'cuda'; with CUDA, rank uses cuda:LOCAL_RANK.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda")
    if use_cuda:
        # torch.cuda.set_device needs an index: a bare "cuda" is this rank's GPU
        if world_size > 1 or torch.device(device).index is None:
            device = f"cuda:{local_rank}"
        torch.cuda.set_device(torch.device(device))
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(world_size, rank, local_rank, device)


def current() -> DistInfo:
    """DistInfo of an already initialised process group (or the single-process default)."""
    if not dist.is_initialized():
        return DistInfo()
    return DistInfo(dist.get_world_size(), dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")))


def broadcast_module(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not dist.is_initialized():
        return
    for tensor in [*module.parameters(), *module.buffers()]:
        dist.broadcast(tensor.data, src=0)


def all_reduce_gradients(params: list[nn.Parameter]) -> None:
    """Average gradients over ranks with one flat all-reduce."""
    if not dist.is_initialized():
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.flatten() for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor over ranks (returns a new tensor)."""
    if not dist.is_initialized():
        return value
    out = value.detach().clone()
    dist.all_reduce(out)
    return out / dist.get_world_size()


def gather_objects(obj: object) -> list:
    """Every rank's picklable obj, in rank order, on every rank ([obj] when not distributed)."""
    if not dist.is_initialized():
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
