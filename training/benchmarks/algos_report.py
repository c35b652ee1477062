"""Aggregate `python -m training.bench algos` runs: markdown table, PNG of the curves, JSON."""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from common.machine import cpu_model
from training.benchmarks.algos import SMOOTH

COLORS = {"ppo": "tab:gray", "genpo": "tab:blue", "gmpo": "tab:orange", "gmpg": "tab:green"}


def read_run(run_dir: Path) -> tuple[list[dict], list[dict]]:
    """(curve rows, evaluation rows) of one run; empty lists where a file is missing."""

    def rows(name: str) -> list[dict]:
        path = run_dir / name
        return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []

    return rows("curve.jsonl"), rows("evals.jsonl")


def tracking_at(curve: list[dict], env_steps: float, key: str = "tracking") -> float | None:
    """Mean of the last SMOOTH logged values of `key` (tracking by default) at or before
    env_steps."""
    values = [r[key] for r in curve if r["env_steps"] <= env_steps and r[key] is not None]
    return statistics.fmean(values[-SMOOTH:]) if values else None


def first_walk(evals: list[dict]) -> dict | None:
    """The first evaluation that met performance.md's walk criterion, or None."""
    return next((e for e in evals if e.get("walks")), None)


def truncate(curve: list[dict], evals: list[dict], budget_s: float) -> tuple[list, list]:
    """The rows up to the first at or past the budget, and the evaluations made by then."""
    end = next((i for i, r in enumerate(curve) if r["cpu_s"] >= budget_s), len(curve) - 1)
    curve = curve[: end + 1]
    last_s = curve[-1]["cpu_s"] if curve else 0.0
    return curve, [e for e in evals if e["cpu_s"] <= last_s]


def summarize(runs: dict[tuple[str, int], tuple[list[dict], list[dict]]], budget_s: float) -> dict:
    """Per-run figures at the budget, plus the common env-step count where all are compared."""
    finished = {k: truncate(*v, budget_s) for k, v in runs.items() if v[0]}
    equal_steps = min((c[-1]["env_steps"] for c, _ in finished.values()), default=0)
    per_run = {}
    for (algo, seed), (curve, evals) in finished.items():
        walk = first_walk(evals)
        final_eval = evals[-1] if evals else {}
        per_run[f"{algo}_s{seed}"] = {
            "algo": algo,
            "seed": seed,
            "iterations": curve[-1]["iteration"],
            "env_steps": curve[-1]["env_steps"],
            "cpu_min": curve[-1]["cpu_s"] / 60.0,
            "wall_min": curve[-1]["wall_s"] / 60.0,
            "tracking_equal_steps": tracking_at(curve, equal_steps),
            "tracking_budget": tracking_at(curve, math.inf),
            "return_equal_steps": tracking_at(curve, equal_steps, "mean_return"),
            "return_budget": tracking_at(curve, math.inf, "mean_return"),
            "eval_tracking": final_eval.get("tracking_reward_fraction"),
            "eval_falls": final_eval.get("falls"),
            "eval_cpu_min": final_eval["cpu_s"] / 60.0 if final_eval else None,
            "walk_cpu_min": walk["cpu_s"] / 60.0 if walk else None,
            "walk_env_steps": walk["env_steps"] if walk else None,
        }
    return {"equal_env_steps": equal_steps, "runs": per_run}


def _cell(values: list[float | None], fmt: str) -> str:
    """'mean (v1, v2)' over seeds; '-' for a missing value."""
    shown = ", ".join("-" if v is None else format(v, fmt) for v in values)
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return shown
    return f"{format(statistics.fmean(present), fmt)} ({shown})"


def table(summary: dict, algos: list[str], budget_cpu_min: float, episodes: int) -> str:
    steps_m = summary["equal_env_steps"] / 1e6
    head = (
        "| algo | iterations | env steps (M) | wall min | time to walk | "
        f"tracking @ {steps_m:.2f}M steps | tracking @ {budget_cpu_min:g} CPU-min | "
        f"return @ {steps_m:.2f}M steps | return @ {budget_cpu_min:g} CPU-min | "
        f"last eval: tracking (falls / {episodes}) @ CPU-min |\n" + "|---" * 10 + "|"
    )
    lines = [head]
    for algo in algos:
        runs = [r for r in summary["runs"].values() if r["algo"] == algo]
        if not runs:
            continue

        def col(key: str, runs: list[dict] = runs) -> list:
            return [r[key] for r in runs]

        walks = [
            f"{r['walk_cpu_min']:.1f} CPU-min / {r['walk_env_steps'] / 1e6:.2f}M"
            if r["walk_cpu_min"] is not None
            else f"not in {budget_cpu_min:g} CPU-min"
            for r in runs
        ]
        evals = ", ".join(
            "-"
            if r["eval_tracking"] is None
            else f"{r['eval_tracking']:.3f} ({r['eval_falls']}) @ {r['eval_cpu_min']:.1f}"
            for r in runs
        )
        steps = _cell([v / 1e6 for v in col("env_steps")], ".2f")
        lines.append(
            f"| {algo} | {_cell(col('iterations'), '.0f')} | {steps} | "
            f"{_cell(col('wall_min'), '.1f')} | {'; '.join(walks)} | "
            f"{_cell(col('tracking_equal_steps'), '.3f')} | "
            f"{_cell(col('tracking_budget'), '.3f')} | "
            f"{_cell(col('return_equal_steps'), '.2f')} | {_cell(col('return_budget'), '.2f')} | "
            f"{evals} |"
        )
    return "\n".join(lines)


def plot(runs: dict, path: Path) -> None:
    """Tracking vs env steps (left) and vs process CPU minutes (right), one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    styles = ["-", "--", ":", "-."]
    for (algo, seed), (curve, _) in sorted(runs.items()):
        pts = [r for r in curve if r["tracking"] is not None]
        if not pts:
            continue
        style = styles[seed % len(styles)]
        y = [r["tracking"] for r in pts]
        kw = {"color": COLORS.get(algo), "linestyle": style, "label": f"{algo} s{seed}"}
        axes[0].plot([r["env_steps"] / 1e6 for r in pts], y, **kw)
        axes[1].plot([r["cpu_s"] / 60.0 for r in pts], y, **kw)
    axes[0].set_xlabel("env steps (M)")
    axes[1].set_xlabel("process CPU minutes (training only)")
    axes[0].set_ylabel("training tracking reward / max")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def report(out: Path, runs: list[tuple[str, int]], args: argparse.Namespace) -> None:
    data = {(a, s): read_run(out / f"{a}_s{s}") for a, s in runs}
    summary = summarize(data, args.budget_cpu_min * 60.0)
    short = [k for k, r in summary["runs"].items() if r["cpu_min"] < args.budget_cpu_min]
    if short:
        print(f"bench algos: below the budget (stopped early): {', '.join(short)}")
    algos = list(dict.fromkeys(a for a, _ in runs))
    launch_file = out / "launch.json"
    launch = json.loads(launch_file.read_text()) if launch_file.is_file() else vars(args)
    launch = {**launch, "budget_cpu_min": args.budget_cpu_min}
    text = table(summary, algos, args.budget_cpu_min, launch["eval_episodes"])
    setup = (
        f"{launch['task']}, {launch['num_envs']} envs, seeds {launch['seeds']}, budget "
        f"{args.budget_cpu_min:g} process CPU-min per run (torch {launch['torch_threads']} "
        f"thread, MuJoCo 1 thread), {launch['parallel']} runs at a time at nice "
        f"{launch['nice']}, evaluations every {launch['eval_every_cpu_min']:g} CPU-min; "
        f"CPU: {cpu_model()}"
    )
    md = out / "ALGOS_RESULTS.md"
    md.write_text(f"# Algorithms compared ({setup})\n\n{text}\n")
    plot(data, out / "algos.png")
    print(setup)
    print(text)
    print(f"bench algos: wrote {md} and {out / 'algos.png'}")
    print(json.dumps({"setup": setup, **summary}))
