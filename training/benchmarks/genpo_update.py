"""Time one PPO minibatch step (forward, backward, Adam step) of four variants on one batch.

    (a) genpo     our update: log-prob through the exact inverse, constant log-det
    (b) jacobian  the same network and update, log-det by a full 2d x 2d Jacobian per sample
                  (torch.func.jacrev + slogdet, as the public GenPO code does), chunked
    (c) ppo       the Gaussian baseline with the same actor/critic sizes
    (d) floor     forward+backward of only the velocity-MLP passes GenPO cannot avoid:
                  2K through the inverse on the batch + 2K on the compression rows

The batch is one minibatch (default 24576 = 4096 envs x 24 steps / 4 minibatches); a full
update is num_learning_epochs x num_mini_batches such steps. Reports medians over repeats.

(b) keeps the autograd graph of 2d Jacobian-vector passes per row until the backward:
~6 MB per row at the default size, 140 GB at 24576 rows. Unless --jacobian-rows says
otherwise, it is timed on as many rows as fit in half of the memory available now and its
time is scaled linearly to the batch (its cost is per row: one Jacobian per sample); the
table says when that happened.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from common.cli import BenchmarkParser, int_list, nonnegative_int, positive_int
from common.cli import fraction as fraction_0_1
from common.errors import UserError
from common.machine import cpu_model as _cpu_model
from training.config import FlowPolicyCfg, GaussianPolicyCfg, PPOCfg
from training.gaussian import GaussianPolicy
from training.genpo import FlowPolicy
from training.modules import Critic
from training.ppo import PPO
from training.storage import Batch


class CompositeMish(nn.Module):
    """x tanh(softplus(x)): same function as nn.Mish, but with vmap batching rules.

    torch has no vmap rule for mish_backward and would fall back to a per-sample loop,
    which would make (b) look slower than the public code's approach needs to be.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.tanh(nn.functional.softplus(x))


def _use_composite_mish(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Mish):
            setattr(module, name, CompositeMish())
        else:
            _use_composite_mish(child)


class JacobianFlow(nn.Module):
    """The public code's likelihood on our network: log N(z) - log|det dF/dz| by autograd."""

    family = "flow"

    def __init__(self, flow: FlowPolicy, chunk: int) -> None:
        super().__init__()
        _use_composite_mish(flow)
        self.flow_policy = flow
        self.chunk = chunk
        self.action_dim = flow.action_dim
        self.stored_action_dim = flow.stored_action_dim

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.flow_policy.sample(obs)

    def log_prob(self, obs: torch.Tensor, dummy_action: torch.Tensor) -> torch.Tensor:
        """[B, obs], [B, 2d] -> [B], differentiable in the parameters through z and the det."""
        latent = self.flow_policy.inverse(obs, dummy_action)

        def forward_one(z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
            return self.flow_policy.flow(s[None], z[None])[0]

        jac_fn = torch.func.vmap(torch.func.jacrev(forward_one))
        log_dets = [
            torch.linalg.slogdet(jac_fn(z, s)).logabsdet
            for z, s in zip(latent.split(self.chunk), obs.split(self.chunk), strict=True)
        ]
        log_normal = -0.5 * latent.pow(2).sum(-1) - self.action_dim * math.log(2 * math.pi)
        return log_normal - torch.cat(log_dets)


# Peak memory of (b) per row, per (2d Jacobian columns x 2K velocity passes x hidden unit):
# measured 27-35 bytes (peak RSS, torch CPU, three network sizes); 40 leaves a margin.
JACOBIAN_BYTES_PER_UNIT = 40


def jacobian_bytes_per_row(act: int, flow_steps: int, hidden: tuple[int, ...]) -> int:
    """Estimated peak bytes per row of one (b) step (forward + backward through slogdet)."""
    return JACOBIAN_BYTES_PER_UNIT * (2 * act) * (2 * flow_steps) * sum(hidden)


def jacobian_rows(batch: int, bytes_per_row: int, available_bytes: int, share: float = 0.5) -> int:
    """Rows of (b) that fit in `share` of the available memory, at most the batch; 0 if none."""
    return max(0, min(batch, int(share * available_bytes) // bytes_per_row))


def available_memory_bytes() -> int:
    """MemAvailable of /proc/meminfo (what can be allocated without swapping or OOM)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _parse(argv: list[str]) -> argparse.Namespace:
    p = BenchmarkParser(
        prog="python -m training.bench genpo-update",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = p.add_argument
    add("--batch", type=positive_int, default=24576, help="minibatch rows (default 24576)")
    add("--obs", type=positive_int, default=235, help="observation width (default 235, Go2 rough)")
    add("--act", type=positive_int, default=12, help="action width d (default 12)")
    add(
        "--hidden",
        type=int_list(1, unique=False),
        default="512,256,128",
        help="actor/critic widths",
    )
    add("--flow-steps", type=positive_int, default=5, help="K (default 5)")
    p.add_argument(
        "--compression-fraction",
        type=fraction_0_1,
        default=0.25,
        help="fraction of rows with fresh compression samples (default 0.25)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the loss (default off)")
    add("--repeats", type=positive_int, default=5, help="timed steps per variant (default 5)")
    add("--jacobian-repeats", type=positive_int, default=2, help="timed (b) steps (default 2)")
    add("--jacobian-chunk", type=positive_int, default=1024, help="rows per jacrev chunk")
    p.add_argument(
        "--jacobian-rows",
        type=nonnegative_int,
        default=0,
        help="rows (b) is timed on, then scaled to the batch (default 0: as many as fit "
        "in half of the available memory, at most the batch)",
    )
    p.add_argument("--skip-jacobian", action="store_true", help="do not time (b)")
    p.add_argument(
        "--sweep",
        action="store_true",
        help="also time (a) and (d) over flow_steps {2,3,5} x fraction {0,0.25,1}",
    )
    add("--threads", type=nonnegative_int, default=0, help="torch threads (default: torch's)")
    return p.parse_args(argv)


def _time_interleaved(
    steps: dict[str, Callable[[], object]], repeats: int, warmup: int = 1
) -> dict[str, float]:
    """Median ms per step; variants alternate every repeat so load drift hits all alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


def _batch(policy: nn.Module, obs: torch.Tensor) -> Batch:
    """Rollout-like data: actions and log-probs from the current policy (ratio 1 at start)."""
    with torch.no_grad():
        actions, log_probs = policy.sample(obs)
    rows = obs.shape[0]
    return Batch(
        obs, obs, actions, log_probs, torch.randn(rows), torch.randn(rows), torch.randn(rows)
    )


def _ppo_step(
    policy: nn.Module,
    args: argparse.Namespace,
    hidden: tuple[int, ...],
    fraction: float,
    compile_loss: bool,
    rows: int | None = None,
) -> Callable[[], object]:
    critic = Critic(args.obs, hidden, "mish")
    cfg = PPOCfg(compression_fraction=fraction, compile=compile_loss, schedule="fixed")
    alg = PPO(policy, critic, cfg, None, None)
    batch = _batch(policy, torch.randn(rows or args.batch, args.obs))
    return lambda: alg._update_minibatch(batch)


def _flow(args: argparse.Namespace, hidden: tuple[int, ...], flow_steps: int) -> FlowPolicy:
    torch.manual_seed(0)
    return FlowPolicy(args.obs, args.act, FlowPolicyCfg(hidden_dims=hidden, flow_steps=flow_steps))


def _floor_step(flow: FlowPolicy, rows: int, fraction: float) -> Callable[[], object]:
    """2K velocity passes on `rows` + 2K on the compression rows, forward and backward.

    Uses the policy's own cheapest evaluation (obs part of the first layer once per row).
    """
    obs = torch.randn(rows, flow.obs_dim)
    sets = [obs] + ([obs[: math.ceil(fraction * rows)]] if fraction > 0 else [])

    def step() -> None:
        total = 0.0
        for s in sets:
            obs_feat, time_feat = flow._step_features(s)
            u = torch.zeros(s.shape[0], flow.action_dim)
            for i in range(2 * flow.flow_steps):
                u = u + flow._v(u, obs_feat + time_feat[i // 2])
            total = total + u.sum()
        total.backward()

    return step


def _floor_concat_step(flow: FlowPolicy, rows: int, fraction: float) -> Callable[[], object]:
    """The same passes through the plain velocity MLP on cat(u, s, e) (no factorisation)."""
    obs = torch.randn(rows, flow.obs_dim)
    sets = [obs] + ([obs[: math.ceil(fraction * rows)]] if fraction > 0 else [])

    def step() -> None:
        total = 0.0
        temb = flow.time_embeddings()
        for s in sets:
            u = torch.zeros(s.shape[0], flow.action_dim)
            for i in range(2 * flow.flow_steps):
                u = u + flow.velocity(u, s, temb[i // 2])
            total = total + u.sum()
        total.backward()

    return step


def _check_log_probs(flow: FlowPolicy, args: argparse.Namespace, dtype: torch.dtype) -> float:
    """max |log pi_genpo - log pi_jacobian| over up to 1024 rows in `dtype`."""
    flow = copy.deepcopy(flow).to(dtype)
    obs = torch.randn(min(args.batch, 1024), args.obs, dtype=dtype)
    jac = JacobianFlow(copy.deepcopy(flow), args.jacobian_chunk)
    with torch.no_grad():
        dummy, _ = flow.sample(obs)
        return (flow.log_prob(obs, dummy) - jac.log_prob(obs, dummy)).abs().max().item()


def _jacobian_rows(args: argparse.Namespace, hidden: tuple[int, ...]) -> int:
    """--jacobian-rows, or the rows that fit now; a UserError when not even one row fits."""
    if args.jacobian_rows > 0:
        return min(args.jacobian_rows, args.batch)
    per_row = jacobian_bytes_per_row(args.act, args.flow_steps, hidden)
    available = available_memory_bytes()
    rows = jacobian_rows(args.batch, per_row, available)
    if rows == 0:
        raise UserError(
            f"(b) needs ~{per_row / 2**20:.0f} MiB per row but {available / 2**30:.1f} GiB "
            "is available; pass --skip-jacobian"
        )
    return rows


def _sweep(args: argparse.Namespace, hidden: tuple[int, ...]) -> list[dict]:
    """(a) and (d) over flow_steps x compression fraction (compile as given by --compile)."""
    rows = []
    for flow_steps in (2, 3, 5):
        for fraction in (0.0, 0.25, 1.0):
            flow = _flow(args, hidden, flow_steps)
            steps = {
                "genpo": _ppo_step(flow, args, hidden, fraction, args.compile),
                "floor": _floor_step(flow, args.batch, fraction),
            }
            ms = _time_interleaved(steps, args.repeats, warmup=2 if args.compile else 1)
            ratio = ms["genpo"] / ms["floor"]
            rows.append(
                {
                    "flow_steps": flow_steps,
                    "compression_fraction": fraction,
                    "genpo_ms": ms["genpo"],
                    "floor_ms": ms["floor"],
                    "genpo_over_floor": ratio,
                }
            )
            print(
                f"  K={flow_steps} frac={fraction:<4} genpo {ms['genpo']:9.1f} ms  "
                f"floor {ms['floor']:9.1f} ms  genpo/floor {ratio:.2f}",
                flush=True,
            )
    return rows


def main(argv: list[str]) -> int:
    args = _parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    hidden = tuple(args.hidden)
    if not args.skip_jacobian:
        _jacobian_rows(args, hidden)  # refuses before the timing, not after it; sized again there
    K, frac = args.flow_steps, args.compression_fraction
    load = os.getloadavg()[0]
    print(f"CPU: {_cpu_model()}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"load average before start (other users): {load:.1f}")
    print(
        f"one minibatch step: batch {args.batch}, obs {args.obs}, act {args.act}, hidden "
        f"{list(hidden)}, K={K}, compression fraction {frac}, compile {args.compile}"
    )

    flow = _flow(args, hidden, K)
    torch.manual_seed(0)
    gauss = GaussianPolicy(args.obs, args.act, GaussianPolicyCfg(hidden_dims=hidden))
    steps = {
        "genpo_ms": _ppo_step(flow, args, hidden, frac, args.compile),
        "ppo_ms": _ppo_step(gauss, args, hidden, 0.0, args.compile),
        "floor_ms": _floor_step(flow, args.batch, frac),
        "floor_concat_ms": _floor_concat_step(flow, args.batch, frac),
    }
    res: dict = _time_interleaved(steps, args.repeats, warmup=2 if args.compile else 1)
    if not args.skip_jacobian:
        res["logprob_max_abs_diff"] = _check_log_probs(flow, args, torch.float32)
        res["logprob_max_abs_diff_f64"] = _check_log_probs(flow, args, torch.float64)
        rows = _jacobian_rows(args, hidden)
        jac = JacobianFlow(_flow(args, hidden, K), args.jacobian_chunk)
        # Paired with (a) step by step: the ratio survives load changes on a shared machine.
        paired = {"a": steps["genpo_ms"], "b": _ppo_step(jac, args, hidden, frac, False, rows)}
        pair_ms = _time_interleaved(paired, args.jacobian_repeats)
        res["jacobian_ms"] = pair_ms["b"] * args.batch / rows
        res["jacobian_rows"] = rows
        res["speedup_vs_jacobian"] = res["jacobian_ms"] / pair_ms["a"]
    res["genpo_over_floor"] = res["genpo_ms"] / res["floor_ms"]
    res["genpo_over_ppo"] = res["genpo_ms"] / res["ppo_ms"]

    print(f"{'variant':<34}{'ms / minibatch step':>22}")
    labels = {
        "genpo_ms": "(a) GenPO, Jacobian-free",
        "jacobian_ms": "(b) GenPO, jacrev + slogdet",
        "ppo_ms": "(c) Gaussian PPO",
        "floor_ms": "(d) floor: 2K(1+frac) MLP passes",
        "floor_concat_ms": "    floor, unfactorised MLP",
    }
    for key, label in labels.items():
        if key in res:
            print(f"{label:<34}{res[key]:>22.1f}")
    if res.get("jacobian_rows", args.batch) < args.batch:
        scale = args.batch / res["jacobian_rows"]
        print(f"    (b) timed on {res['jacobian_rows']} rows, scaled x{scale:.1f}")
    for key in (
        "speedup_vs_jacobian",
        "genpo_over_floor",
        "genpo_over_ppo",
        "logprob_max_abs_diff",
        "logprob_max_abs_diff_f64",
    ):
        if key in res:
            print(f"{key:<34}{res[key]:>22.3g}")
    if "logprob_max_abs_diff" in res and res["logprob_max_abs_diff"] > 1e-5:
        print("WARNING: log-probs of (a) and (b) differ by more than 1e-5")
    if args.sweep:
        print("sweep (a) and (d):")
        res["sweep"] = _sweep(args, hidden)
    keys = (
        "genpo_ms",
        "jacobian_ms",
        "jacobian_rows",
        "ppo_ms",
        "floor_ms",
        "speedup_vs_jacobian",
        "genpo_over_floor",
        "genpo_over_ppo",
    )
    print(json.dumps({k: round(res[k], 3) if k in res else None for k in keys}))
    return 0
