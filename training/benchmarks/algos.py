"""PPO, GenPO, GMPO and GMPG from scratch on one task, same envs, seeds and CPU budget.

    python -m training.bench algos                              # go2_flat, 2 seeds, 5 CPU-min
    python -m training.bench algos --budget-cpu-min 60 --seeds 1,2,3   # a longer comparison

Every (algo, seed) is one `genpo-train`-equivalent run (same config loading, env, runner) in
its own process at `nice`, `--parallel` at a time. Fairness on a shared CPU: each run stops when
its own process CPU time (all its threads: torch and MuJoCo, one each) reaches the budget, so
other jobs on the machine cost wall time, not training. Evaluations (performance.md's protocol:
8 episodes x 20 s, random commands, zero latent) run every `--eval-every-cpu-min` on a
checkpoint, and their CPU time is not charged to the budget.

Writes into --out: per run curve.jsonl, evals.jsonl and checkpoints; ALGOS_RESULTS.md (table:
time to walk, training tracking at equal env steps and at the budget, evaluation at the
budget), algos.png (tracking vs env steps and vs CPU minutes), and prints the table and one
JSON line. "Tracking" during training is the tracking terms' episode reward over its maximum
(sum of the track_* weights); falls count as zero for the rest of the episode.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common.cli import (
    BenchmarkParser,
    bounded_int,
    int_list,
    positive_float,
    positive_int,
)
from common.errors import UserError
from common.files import writable_dir

ALGOS = ("ppo", "genpo", "gmpo", "gmpg")
DEFAULT_SEEDS = (1, 2)
SMOOTH = 5  # logged values averaged for "tracking at ..." (episodes end every few iterations)
# The launch settings the report shows (--report-only reads them from launch.json).
LAUNCH_KEYS = {"task", "num_envs", "seeds", "torch_threads", "parallel", "nice",
               "eval_every_cpu_min", "eval_episodes"}  # fmt: skip


def _parse(argv: list[str]) -> argparse.Namespace:
    p = BenchmarkParser(
        prog="python -m training.bench algos",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--task", default="go2_flat", help="training task")
    p.add_argument(
        "--algos", default=None, help=f"comma-separated algorithms (default: {','.join(ALGOS)})"
    )
    p.add_argument(
        "--seeds",
        type=int_list(0),
        default=None,
        help="comma-separated seeds, each algo runs all (default: "
        f"{','.join(map(str, DEFAULT_SEEDS))})",
    )
    p.add_argument(
        "--budget-cpu-min", type=positive_float, default=5.0, help="process CPU-min per run"
    )
    p.add_argument("--num-envs", type=positive_int, default=512, help="parallel envs per run")
    p.add_argument("--torch-threads", type=positive_int, default=1, help="torch threads per run")
    p.add_argument("--parallel", type=positive_int, default=2, help="runs at a time")
    p.add_argument("--nice", type=bounded_int(-20, 19), default=10, help="niceness of the runs")
    p.add_argument(
        "--eval-every-cpu-min", type=positive_float, default=2.5, help="evaluation period"
    )
    p.add_argument("--eval-episodes", type=positive_int, default=8, help="episodes per evaluation")
    p.add_argument("--out", type=Path, default=None, help="default: runs/bench_algos/<time>")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="re-aggregate an existing --out (at --budget-cpu-min, which may be lower than "
        "the runs'; its runs and the other settings are read from its launch.json)",
    )
    p.add_argument("--worker", nargs=2, metavar=("ALGO", "SEED"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    """Check everything the runs need first (a UserError: one sentence, exit 2), then launch
    them; 1 when a run failed (its log in --out says why), after the report of the others."""
    args = _parse(argv)
    if args.worker:
        _worker(args, args.worker[0], int(args.worker[1]))
        return 0
    if args.report_only:
        if args.algos is not None or args.seeds is not None:
            raise UserError(
                "--report-only re-aggregates the runs its --out's launch.json lists; leave out "
                "--algos and --seeds"
            )
        out, args.algos, args.seeds = _earlier_run(args.out)
    algos = _algos(args.algos if args.algos is not None else ",".join(ALGOS))
    args.algos = ",".join(algos)  # as launch.json records it
    if args.seeds is None:
        args.seeds = list(DEFAULT_SEEDS)
    runs = [(a, s) for s in args.seeds for a in algos]
    failed: list[str] = []
    if not args.report_only:
        from training.tasks import check_task  # the task's own checks run in the workers

        check_task(args.task)
        out = args.out or Path("runs") / "bench_algos" / time.strftime("%Y%m%d-%H%M%S")
        taken = [f"{a}_s{s}" for a, s in runs if (out / f"{a}_s{s}" / "run.yaml").exists()]
        if taken:
            raise UserError(
                f"--out '{out}' already holds run(s) {', '.join(taken)}; pass another --out, "
                "or add --report-only to re-aggregate them"
            )
        writable_dir(out, "output directory", "--out")
        failed = _run_all(args, out, runs)
    from training.benchmarks.algos_report import report

    report(out, runs, args)
    if failed:
        logs = ", ".join(str(out / f"{name}.log") for name in failed)
        print(f"bench algos: {len(failed)} of {len(runs)} runs failed; see {logs}", file=sys.stderr)
        return 1
    return 0


def _algos(text: str) -> list[str]:
    algos = list(dict.fromkeys(a for a in text.split(",") if a))
    unknown = sorted(set(algos) - set(ALGOS))
    if unknown or not algos:
        what = (
            f"unknown algo(s) {', '.join(unknown)}"
            if unknown
            else f"--algos {text!r} names no algorithm"
        )
        raise UserError(f"{what}; use: {', '.join(ALGOS)}")
    return algos


def _earlier_run(out: Path | None) -> tuple[Path, str, list[int]]:
    """--out of --report-only: the directory of an earlier launch, and the algos and seeds its
    launch.json lists."""
    if out is None:
        raise UserError("--report-only re-aggregates an earlier run: pass its directory as --out")
    launch = out / "launch.json"
    if not launch.is_file():
        if out.is_dir():
            what = "holds no launch.json"
        else:
            what = "is not a directory" if out.exists() else "does not exist"
        raise UserError(
            f"--out '{out}' {what}; --report-only needs the --out of an earlier "
            "`python -m training.bench algos`"
        )
    try:
        settings = json.loads(launch.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read '{launch}' ({exc}); --report-only needs it intact") from None
    if (
        not isinstance(settings, dict)
        or not {*LAUNCH_KEYS, "algos"}.issubset(settings)
        or not all(isinstance(settings[k], str) for k in ("algos", "seeds"))
    ):
        raise UserError(f"'{launch}' is not a launch.json of `python -m training.bench algos`")
    try:
        seeds = int_list(0)(settings["seeds"])
    except argparse.ArgumentTypeError:
        raise UserError(f"'{launch}' lists no valid seeds; --report-only needs it intact") from None
    out = writable_dir(out, "output directory", "--out")  # the report goes into it
    return out, settings["algos"], seeds


def _run_all(args: argparse.Namespace, out: Path, runs: list[tuple[str, int]]) -> list[str]:
    """Launch the runs as child processes, at most args.parallel at a time; the names
    (`<algo>_s<seed>`) of those that failed."""
    launch = {k: v for k, v in vars(args).items() if k not in ("out", "worker", "report_only")}
    launch["seeds"] = ",".join(map(str, args.seeds))  # as typed, as the report shows it
    (out / "launch.json").write_text(json.dumps(launch, indent=1))
    pending, active, failed = list(runs), [], []
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _launch_and_wait(args, out, pending, active, failed)
    except KeyboardInterrupt:
        # Stopped early (Ctrl-C, SIGTERM): the curves so far are on disk; report at the CPU
        # time every run reached (--report-only --budget-cpu-min T re-aggregates them).
        for _algo, _seed, proc, log in active:
            proc.terminate()
            proc.wait()
            log.close()
        print("bench algos: interrupted; reporting what the runs logged", flush=True)
    return failed


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _launch_and_wait(
    args: argparse.Namespace,
    out: Path,
    pending: list[tuple[str, int]],
    active: list,
    failed: list[str],
) -> None:
    passthrough = [
        "--task", args.task, "--budget-cpu-min", str(args.budget_cpu_min),
        "--num-envs", str(args.num_envs), "--torch-threads", str(args.torch_threads),
        "--eval-every-cpu-min", str(args.eval_every_cpu_min),
        "--eval-episodes", str(args.eval_episodes), "--out", str(out),
    ]  # fmt: skip
    while pending or active:
        while pending and len(active) < args.parallel:
            algo, seed = pending.pop(0)
            log = open(out / f"{algo}_s{seed}.log", "w")  # noqa: SIM115 (closed below)
            cmd = ["nice", "-n", str(args.nice), sys.executable, "-m", "training.bench", "algos"]
            cmd += [*passthrough, "--worker", algo, str(seed)]
            print(f"bench algos: start {algo} seed {seed}", flush=True)
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ)
            active.append((algo, seed, proc, log))
        time.sleep(2.0)
        for item in list(active):
            algo, seed, proc, log = item
            if proc.poll() is not None:
                log.close()
                active.remove(item)
                status = "done" if proc.returncode == 0 else f"FAILED ({proc.returncode})"
                if proc.returncode != 0:
                    failed.append(f"{algo}_s{seed}")
                print(f"bench algos: {algo} seed {seed} {status}", flush=True)


def _worker(args: argparse.Namespace, algo: str, seed: int) -> None:
    """One run: train until this process has used the CPU budget; evaluate on the way."""
    import torch

    torch.set_num_threads(max(1, args.torch_threads))
    from training.cli import build_parser, make_backend_env, plan, write_run_file
    from training.runner import OnPolicyRunner
    from training.tasks import task_config, task_contract
    from training.tasks.config import policy_settings

    run_dir = args.out / f"{algo}_s{seed}"
    cli_args = [args.task, "--algo", algo, "--seed", str(seed), "--no-progress",
                "--num-envs", str(args.num_envs), "--run-dir", str(run_dir),
                "--set", "env.sim.num_threads=1",
                "--set", "runner.save_interval=1000000"]  # fmt: skip
    p = plan(build_parser().parse_args(cli_args))
    write_run_file(p)
    task_cfg = task_config(p.task, p.env_overrides)  # as genpo-train builds its env and runner
    contract = task_contract(task_cfg)
    env = make_backend_env(p, seed, contract)
    settings = policy_settings(task_cfg)
    runner = OnPolicyRunner(env, p.train_cfg, run_dir, "cpu", contract.to_dict(), settings)
    weights = {t.term: t.weight for t in task_cfg.rewards if t.term.startswith("track_")}
    clock = _BudgetClock(args.budget_cpu_min * 60.0)
    curve = open(run_dir / "curve.jsonl", "w")  # noqa: SIM115 (closed below)
    next_eval = [args.eval_every_cpu_min * 60.0]

    def on_iteration(iteration: int, scalars: dict[str, float]) -> bool:
        cpu_s = clock.charged()
        steps = iteration * p.num_envs * p.train_cfg.runner.num_steps_per_env
        terms = [scalars.get(f"episode_terms/rew_{k}") for k in weights]
        tracking = None if None in terms else sum(terms) / sum(weights.values())
        row = {"iteration": iteration, "env_steps": steps, "cpu_s": cpu_s,
               "wall_s": clock.wall(), "tracking": tracking,
               "mean_return": scalars.get("episode/mean_return")}  # fmt: skip
        curve.write(json.dumps(row) + "\n")
        curve.flush()
        done = cpu_s >= clock.budget_s
        if cpu_s >= next_eval[0] and not done:
            next_eval[0] += args.eval_every_cpu_min * 60.0
            with clock.uncharged():
                _evaluate(runner, run_dir, args, row)
        return done

    runner.learn(10**9, on_iteration=on_iteration)
    curve.close()
    with clock.uncharged():
        last = json.loads((run_dir / "curve.jsonl").read_text().splitlines()[-1])
        _evaluate(runner, run_dir, args, last, saved=True)


def _evaluate(runner, run_dir: Path, args: argparse.Namespace, row: dict, saved=False) -> None:
    """performance.md's walk protocol on a checkpoint of the current weights."""
    from training.evaluation.rollout import EvalOptions, evaluate

    path = run_dir / f"model_{runner.current_iteration}.pt"
    if not saved:
        runner.save(path)
    report = evaluate(EvalOptions(path, args.task, episodes=args.eval_episodes, duration_s=20.0))
    keep = ("tracking_reward_fraction", "falls", "walks", "rmse_combined", "mean_return")
    with open(run_dir / "evals.jsonl", "a") as f:
        f.write(json.dumps({**row, **{k: report[k] for k in keep}}) + "\n")


class _BudgetClock:
    """Process CPU time (all threads) charged to training; evaluations are excluded."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.cpu0 = time.process_time()
        self.wall0 = time.perf_counter()
        self.excluded_s = 0.0

    def charged(self) -> float:
        return time.process_time() - self.cpu0 - self.excluded_s

    def wall(self) -> float:
        return time.perf_counter() - self.wall0

    @contextmanager
    def uncharged(self) -> Iterator[None]:
        start = time.process_time()
        try:
            yield
        finally:
            self.excluded_s += time.process_time() - start
