"""genpo-eval: score a checkpoint or its exported policy.onnx on a task in the MuJoCo backend.

    genpo-eval runs/go2_flat/model_1500.pt --task go2_flat --episodes 16 --json eval.json
    genpo-eval runs/go2_flat/exported/policy.onnx --task go2_flat --commands scripted \
        --video walk.mp4

Runs the PLAY variant of the task (training/evaluation/play.py). A checkpoint and its export
see the same observations, so they must score the same: the sim-to-sim check of the export.
Prints a table, then the report as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from common.cli import add_set_argument, check_seed, user_errors_exit
from common.errors import UserError
from common.files import check_output_file, check_video_file, write_text_atomic
from common.gl import select_gl
from robots.assets import CONTACT_MODELS

PROG = "genpo-eval"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("policy", type=Path, help="training checkpoint (.pt) or exported .onnx")
    # Task names are not imported from training.tasks here: that imports mujoco, and --video
    # must choose MuJoCo's GL backend before. An unknown name is answered with the known ones.
    p.add_argument("--task", required=True, help="task to run: go2_flat, go2_rough, h1_flat, ...")
    p.add_argument("--episodes", type=int, default=4, help="episodes, run as parallel envs")
    p.add_argument("--duration-s", type=float, default=20.0, help="length of each episode")
    p.add_argument("--seed", type=int, default=0, help="seed of the envs (spawns, commands)")
    p.add_argument(
        "--commands",
        choices=("random", "scripted", "constant"),
        default="random",
        help="random: resampled as in training; scripted: forward, turn, sideways, stop "
        "(segments outside the robot's trained ranges are left out); constant: --cmd throughout",
    )
    p.add_argument(
        "--cmd",
        type=_command,
        metavar="VX,VY,WZ",
        help="the command of --commands constant (m/s, m/s, rad/s; within the trained ranges)",
    )
    p.add_argument(
        "--contact",
        choices=CONTACT_MODELS,
        default="training",
        help="contact solver: the task's (training) or the robot model file's (menagerie, "
        "genpo-sim's default), to score a policy on the contact physics genpo-sim runs",
    )
    p.add_argument("--video", type=Path, help="write an mp4 of env 0 (headless EGL/OSMesa)")
    p.add_argument("--json", type=Path, help="also write the report to this file")
    add_set_argument(p, "task config override applied after the PLAY settings (repeatable)")
    return p


def _command(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected three numbers vx,vy,wz, got {text!r}")
    return values


def _check_args(args: argparse.Namespace) -> None:
    if (args.commands == "constant") != (args.cmd is not None):
        raise UserError("--cmd VX,VY,WZ goes with --commands constant, and only with it")
    check_seed(args.seed)
    if args.episodes < 1:
        raise UserError(f"--episodes must be at least 1, got {args.episodes}")
    if not (math.isfinite(args.duration_s) and args.duration_s > 0):
        raise UserError(f"--duration-s must be a positive number of seconds, got {args.duration_s}")
    # before the evaluation and the GL backend's choice, not after them
    if args.json is not None:
        check_output_file(args.json, "--json")
    if args.video is not None:
        check_video_file(args.video)  # the recorder writes mp4 (libx264) only


@user_errors_exit(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _check_args(args)
    video_problem = None
    if args.video is not None:
        video_problem = select_gl()
        if video_problem:
            video_problem += "; no video was written"
    from training.evaluation.rollout import EvalOptions, evaluate, summary_rows

    opts = EvalOptions(
        policy_path=args.policy,
        task=args.task,
        episodes=args.episodes,
        duration_s=args.duration_s,
        seed=args.seed,
        commands=args.commands,
        constant_cmd=args.cmd,
        video=args.video,
        contact=args.contact,
        overrides=tuple(args.overrides),
    )
    report = evaluate(opts, video_problem)
    if report["video_error"]:
        print(f"{PROG}: warning: {report['video_error']}", file=sys.stderr)
    for label, value in summary_rows(report):
        print(f"{label:<24}{value}")
    line = json.dumps(report)
    if args.json is not None:
        write_text_atomic(args.json, line + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
