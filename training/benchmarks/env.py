"""Env-steps/s of a task vs raw MuJoCo stepping of the same model, side by side in one run.

    python -m training.bench env --task go2_flat [--num-envs 256] [--threads 0] [--repeats 5]

Both arms use the task's compiled model, `num_envs` simulations, the same thread count, and
`decimation` physics steps per env step, driven by the same random joint targets. The raw arm is
`Batch.step` with ctrl written from numpy: the simulator's own limit, with no task logic,
observations, rewards or resets. Blocks alternate and the median rate of each arm is reported,
with the share of the task's wall time spent inside MuJoCo (robust to load from other users).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from mujoco.batch import Batch

from common.cli import BenchmarkParser, nonnegative_int, positive_int
from common.machine import cpu_model as _cpu_model
from training.tasks import TASKS, make_env

ACTION_STD = 0.5  # random policy outputs: enough motion for realistic contacts, few falls


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="go2_flat", choices=sorted(TASKS), help="task name")
    add = parser.add_argument
    add("--num-envs", type=positive_int, default=256, help="simulations (default 256)")
    add("--threads", type=nonnegative_int, default=0, help="MuJoCo threads, 0 = all CPUs")
    add("--steps", type=positive_int, default=50, help="env steps per timed block")
    add("--repeats", type=positive_int, default=5, help="timed blocks per arm")
    add("--seed", type=nonnegative_int, default=0)


def run(args: argparse.Namespace) -> dict:
    overrides = [f"sim.num_threads={args.threads}"]
    env = make_env(args.task, args.num_envs, args.seed, overrides=overrides)
    model = env.backend.model
    raw = Batch(model, args.num_envs, nthread=args.threads)
    ctrl = raw.bind("ctrl")
    gen = torch.Generator().manual_seed(args.seed)
    shape = (args.steps, args.num_envs, env.num_actions)
    actions = torch.randn(shape, generator=gen) * ACTION_STD
    targets = env.contract.action.targets(actions.double().numpy())
    targets = targets[:, :, np.argsort(env.backend.compiled.actuator_ids)]

    physics_share = []

    def env_block() -> float:
        physics_before = env.backend.physics_time_s
        start = time.perf_counter()
        for a in actions:
            env.step(a)
        elapsed = time.perf_counter() - start
        physics_share.append((env.backend.physics_time_s - physics_before) / elapsed)
        return args.steps * args.num_envs / elapsed

    def raw_block() -> float:
        # Start from the task's current states, so both arms simulate the same situations.
        raw.bind("qpos")[:] = env.backend.qpos
        raw.bind("qvel")[:] = env.backend.qvel
        start = time.perf_counter()
        for t in targets:
            ctrl[:] = t
            raw.step(nstep=env.decimation)
        return args.steps * args.num_envs / (time.perf_counter() - start)

    env_block(), raw_block()  # warm-up
    env_rates, raw_rates = [], []
    for _ in range(args.repeats):
        env_rates.append(env_block())
        raw_rates.append(raw_block())
    env_rate, raw_rate = float(np.median(env_rates)), float(np.median(raw_rates))
    return {
        "task": args.task,
        "num_envs": args.num_envs,
        "threads": raw.nthread,
        "decimation": env.decimation,
        "sim_dt": env.sim_dt,
        "env_steps_per_s": round(env_rate, 1),
        "raw_env_steps_per_s": round(raw_rate, 1),
        "raw_physics_steps_per_s": round(raw_rate * env.decimation, 1),
        "ratio": round(env_rate / raw_rate, 3),
        # Share of the task's wall time spent inside MuJoCo: the ratio with the machine's load
        # and the simulated states factored out (1 - share = cost of task logic).
        "physics_share": round(float(np.median(physics_share[1:])), 3),
        "cpu": _cpu_model(),
    }


def print_result(result: dict) -> None:
    dec = result["decimation"]
    rows = (
        ("task", result["env_steps_per_s"]),
        ("raw mujoco", result["raw_env_steps_per_s"]),
    )
    print(f"{'arm':<12}{'env-steps/s':>14}{'physics-steps/s':>18}")
    for name, rate in rows:
        print(f"{name:<12}{rate:>14.0f}{rate * dec:>18.0f}")
    print(
        f"ratio task / raw: {result['ratio']:.3f} ({result['task']}, {result['num_envs']} envs, "
        f"{result['threads']} threads, {result['cpu']})"
    )
    print(f"share of task time inside MuJoCo: {result['physics_share']:.3f}")
    print(json.dumps(result))


def main(argv: list[str]) -> int:
    parser = BenchmarkParser(
        prog="python -m training.bench env",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    print_result(run(parser.parse_args(argv)))
    return 0
