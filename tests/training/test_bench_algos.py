"""The algorithm comparison's bookkeeping: budget truncation, equal-step comparison, walks."""

from __future__ import annotations

import pytest

from training import bench
from training.benchmarks.algos_report import (
    first_walk,
    summarize,
    table,
    tracking_at,
    truncate,
)


def _curve(steps_per_it: int, cpu_per_it: float, n: int, slope: float) -> list[dict]:
    return [
        {
            "iteration": i,
            "env_steps": i * steps_per_it,
            "cpu_s": i * cpu_per_it,
            "wall_s": 2 * i * cpu_per_it,
            "tracking": slope * i,
            "mean_return": 10 * slope * i,
        }
        for i in range(1, n + 1)
    ]


def test_truncate_keeps_the_rows_up_to_the_budget_and_the_evals_made_by_then() -> None:
    curve = _curve(100, 10.0, 10, 0.01)  # cpu 10, 20, ..., 100 s
    evals = [{"cpu_s": 30.0, "walks": False}, {"cpu_s": 90.0, "walks": True}]
    kept, kept_evals = truncate(curve, evals, 45.0)
    assert [r["cpu_s"] for r in kept] == [10, 20, 30, 40, 50]  # the first past 45 ends it
    assert kept_evals == evals[:1] and first_walk(kept_evals) is None
    assert first_walk(evals) == evals[1]


def test_tracking_is_compared_at_the_env_steps_every_run_reached() -> None:
    # A fast arm (4x the env steps per CPU-s) and a slow one, same budget: the equal-step
    # comparison happens at the slow arm's last step count, 5 x 100 = 500.
    runs = {
        ("ppo", 1): (_curve(400, 10.0, 5, 0.1), []),
        ("gmpo", 1): (_curve(100, 10.0, 5, 0.01), [{"cpu_s": 50.0, "walks": None}]),
    }
    summary = summarize(runs, budget_s=50.0)
    assert summary["equal_env_steps"] == 500
    ppo = summary["runs"]["ppo_s1"]
    # ppo at <= 500 steps: only iteration 1 (400 steps), tracking 0.1.
    assert ppo["tracking_equal_steps"] == pytest.approx(0.1)
    # at the budget: mean of the last 5 values 0.1..0.5 = 0.3.
    assert ppo["tracking_budget"] == pytest.approx(0.3)
    assert ppo["return_equal_steps"] == pytest.approx(1.0)  # returns: 10 x tracking here
    assert summary["runs"]["gmpo_s1"]["walk_cpu_min"] is None
    assert tracking_at(_curve(100, 1.0, 3, 0.0), 1000) == 0.0  # zero is a value
    no_episode_yet = [{**r, "tracking": None} for r in _curve(100, 1.0, 3, 0.1)]
    assert tracking_at(no_episode_yet, 1000) is None


def test_unknown_algo_exits_2(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    assert bench.main(["algos", "--algos", "ppo,sac", "--out", str(tmp_path / "b")]) == 2
    assert "unknown algo(s) sac" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()  # refused before any run


def test_table_has_one_row_per_algo_with_the_seed_mean() -> None:
    walked = {"cpu_s": 40.0, "env_steps": 400, "walks": True, "tracking_reward_fraction": 0.85,
              "falls": 0}  # fmt: skip
    runs = {
        ("ppo", 1): (_curve(100, 10.0, 5, 0.1), [walked]),
        ("ppo", 2): (_curve(100, 10.0, 5, 0.2), []),
    }
    text = table(summarize(runs, 50.0), ["ppo", "gmpo"], 50 / 60, 8)
    rows = text.splitlines()[2:]
    assert len(rows) == 1 and rows[0].startswith("| ppo | 5 (5, 5) | 0.00 (0.00, 0.00) |")
    assert "0.7 CPU-min / 0.00M; not in 0.833333 CPU-min" in rows[0]
    assert "0.450 (0.300, 0.600)" in rows[0]  # tracking at the budget: mean (seed 1, seed 2)
    assert "0.850 (0) @ 0.7, -" in rows[0]


def test_a_tiny_comparison_trains_and_evaluates_every_algo(tmp_path) -> None:
    """The real runs, tiny: each worker builds its env and runner as genpo-train does, trains
    within its CPU budget, is evaluated, and lands in the JSON line (a worker that crashes at
    start leaves no iterations)."""
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    out = str(tmp_path / "b")
    cmd = [sys.executable, "-m", "training.bench", "algos", "--algos", "ppo,genpo",
           "--seeds", "1", "--num-envs", "4", "--budget-cpu-min", "0.03",
           "--eval-every-cpu-min", "0.02", "--eval-episodes", "1", "--out", out]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = json.loads(done.stdout.strip().splitlines()[-1])["runs"]
    assert set(runs) == {"ppo_s1", "genpo_s1"}
    for run in runs.values():
        assert run["iterations"] >= 1 and run["eval_tracking"] is not None
    # --report-only re-aggregates the runs launch.json lists, not the defaults (4 algos x 2 seeds)
    again = subprocess.run(cmd[:4] + ["--report-only", "--budget-cpu-min", "0.03", "--out", out],
                           cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["runs"] == runs
    refused = subprocess.run(cmd[:4] + ["--report-only", "--seeds", "3", "--out", out],
                             cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 2 and "leave out --algos and --seeds" in refused.stderr
