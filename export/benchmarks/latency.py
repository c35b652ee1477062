"""Latency of the exported GenPO graph next to a same-size MLP, measured in one run.

    python -m export.bench latency          # Go2-rough size: obs 235, act 12, [512, 256, 128], K 5
    python -m export.bench latency --smoke  # tiny networks, few calls (CI)

ONNX Runtime CPU, batch 1, intra_op_num_threads = inter_op_num_threads = 1, 200 warm-up calls
then 10,000 timed ones (performance.md). Prints a table and one JSON line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from common.cli import BenchmarkParser, nonnegative_int, positive_int
from common.machine import cpu_model
from export.graph import reference_action, unrolled_module
from export.onnx_io import export_module, runner, session
from export.verify import latency_us, max_abs_error
from robots.policy_graph import OBS_INPUT
from training.config import FlowPolicyCfg, GaussianPolicyCfg
from training.gaussian import GaussianPolicy
from training.genpo import FlowPolicy

TARGET_P50_US, TARGET_P99_US, TARGET_RATIO = 60.0, 150.0, 3.0


class NaiveFlow(nn.Module):
    """The flow exported as written in training (no rewrites): the baseline of the rewrites."""

    def __init__(self, policy: FlowPolicy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy.act(obs)


def _measure(module: nn.Module, obs_dim: int, warmup: int, calls: int) -> dict[str, Any]:
    model = export_module(module, obs_dim)
    sess = session(model)
    feed = {OBS_INPUT: np.zeros((1, obs_dim), dtype=np.float32)}
    stats = latency_us(lambda: sess.run(None, feed), warmup, calls)
    return {**stats, "nodes": len(model.graph.node), "_run": runner(sess)}


def run_bench(
    obs_dim: int, action_dim: int, hidden: tuple[int, ...], flow_steps: int, warmup: int, calls: int
) -> dict[str, Any]:
    """Export the three graphs, check flow parity, time each; returns the JSON record."""
    torch.manual_seed(0)
    # A head gain of 1 makes v non-trivial, so the parity check means something.
    flow = FlowPolicy(
        obs_dim,
        action_dim,
        FlowPolicyCfg(hidden_dims=hidden, flow_steps=flow_steps, velocity_out_gain=1.0),
    ).eval()
    mlp = GaussianPolicy(obs_dim, action_dim, GaussianPolicyCfg(hidden_dims=hidden)).eval()
    results = {
        "genpo": _measure(unrolled_module(flow, None, False), obs_dim, warmup, calls),
        "mlp": _measure(unrolled_module(mlp, None, False), obs_dim, warmup, calls),
        "genpo_naive": _measure(NaiveFlow(flow), obs_dim, warmup, calls),
    }
    obs = np.random.default_rng(0).standard_normal((256, obs_dim)).astype(np.float32)
    parity = max_abs_error(
        results["genpo"]["_run"](obs), reference_action(flow, None, torch.from_numpy(obs))
    )
    for r in results.values():
        r.pop("_run")
    g = results["genpo"]
    return {
        "bench": "export.latency",
        "cpu": cpu_model(),
        "torch": torch.__version__,
        "onnxruntime": __import__("onnxruntime").__version__,
        "config": {"obs": obs_dim, "act": action_dim, "hidden": list(hidden), "K": flow_steps},
        "results_us": results,
        "genpo_over_mlp_p50": round(g["p50"] / results["mlp"]["p50"], 2),
        "naive_over_genpo_p50": round(results["genpo_naive"]["p50"] / g["p50"], 2),
        "parity_max_abs_err": parity,
        "targets": {"p50_us": TARGET_P50_US, "p99_us": TARGET_P99_US, "ratio": TARGET_RATIO},
    }


def print_table(record: dict[str, Any]) -> None:
    cfg = record["config"]
    print(f"CPU: {record['cpu']}; ORT {record['onnxruntime']}, batch 1, 1 thread")
    print(f"obs {cfg['obs']}, act {cfg['act']}, hidden {cfg['hidden']}, K {cfg['K']}")
    print(f"{'graph':<12} {'nodes':>6} {'p50 us':>9} {'p99 us':>9} {'max us':>9}")
    for name, r in record["results_us"].items():
        print(f"{name:<12} {r['nodes']:>6} {r['p50']:>9.1f} {r['p99']:>9.1f} {r['max']:>9.1f}")
    print(
        f"genpo / mlp p50: {record['genpo_over_mlp_p50']:.2f}x (target <= {TARGET_RATIO}x); "
        f"naive / genpo p50: {record['naive_over_genpo_p50']:.2f}x; "
        f"parity {record['parity_max_abs_err']:.2g}"
    )


def main(argv: Sequence[str]) -> int:
    parser = BenchmarkParser(
        prog="python -m export.bench latency", description=__doc__.split("\n")[0]
    )
    add = parser.add_argument
    add("--obs-dim", type=positive_int, default=235, help="observation size (default 235)")
    add("--action-dim", type=positive_int, default=12, help="action size (default 12)")
    add(
        "--hidden",
        type=positive_int,
        nargs="+",
        default=[512, 256, 128],
        help="default 512 256 128",
    )
    add("--flow-steps", type=positive_int, default=5, help="flow steps K (default 5)")
    add("--warmup", type=nonnegative_int, default=200, help="warm-up calls (default 200)")
    add("--calls", type=positive_int, default=10_000, help="timed calls (default 10000)")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny networks and 50 calls, for CI (default off)"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.obs_dim, args.hidden, args.flow_steps, args.warmup, args.calls = 20, [16], 2, 5, 50
    record = run_bench(
        args.obs_dim, args.action_dim, tuple(args.hidden), args.flow_steps, args.warmup, args.calls
    )
    print_table(record)
    print(json.dumps(record, sort_keys=True))
    return 0
