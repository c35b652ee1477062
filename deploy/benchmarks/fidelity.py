"""`python -m deploy.bench fidelity`: sim-to-sim fidelity of one policy under a constant command.

Steady-state forward speed (`steady_vx_m_s`: mean body-frame vx after robots.contract's
STEADY_SETTLE_S of walking) in `genpo-eval --commands constant` (the training simulator) and
through `genpo-sim` + `genpo-deploy --sim --cmd --no-heading-hold` (the same fixed command as
genpo-eval's, which holds no heading; ground truth from the sim's control channel),
once per contact model (`--contact` of both tools): `training` (the task's solver settings) and
`menagerie` (the model file's, genpo-sim's default). Two figures per contact model keep the two
causes apart: `ratio` = deploy / eval on the same contacts (the deploy path's fidelity;
target: within 10 %, docs/performance.md) and `eval_vs_training` = eval on these contacts / eval
on the training ones (the physics of the contact model alone). Each tool runs as a subprocess, so
this module imports neither training nor mujoco. Prints a table, then one JSON line.
DDS: hold `flock /tmp/genpo-dds.lock` around it on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from common.cli import BenchmarkParser, bounded_int, positive_float, positive_int, user_errors_exit
from common.errors import UserError
from common.files import check_output_file
from common.machine import cpu_model
from deploy.benchmarks.children import json_line, sim_process
from deploy.preflight import REPO_ROOT
from deploy.validate import DDS_DOMAIN_MAX
from robots import get_robot
from robots.assets import CONTACT_MODELS

PROG = "python -m deploy.bench fidelity"
TARGET_RATIO_ERROR = 0.10


def eval_speed(args: argparse.Namespace, contact: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "training.evaluation.cli", str(args.policy), "--task", args.task,
           "--episodes", str(args.episodes), "--duration-s", str(args.duration),
           "--commands", "constant", "--cmd", args.cmd, "--contact", contact]  # fmt: skip
    cmd += [a for value in args.eval_set for a in ("--set", value)]
    return json_line(cmd, timeout_s=600)


def deploy_speed(args: argparse.Namespace, contact: str) -> dict[str, Any]:
    extra = ("--band",) if args.robot == "h1" else ()
    with sim_process(
        args.robot, args.domain, args.duration + 90.0, "--contact", contact, *extra
    ) as sim:
        cmd = [sys.executable, "-m", "deploy", "--robot", args.robot, "--sim",
               "--domain", str(args.domain), "--policy", str(args.policy), "--auto",
               "--cmd", args.cmd, "--no-heading-hold", "--duration", str(args.duration),
               "--set", f"sim.control_port={sim.ready['control_port']}"]  # fmt: skip
        return json_line(cmd, timeout_s=args.duration + 60)


def _ratio(num: float | None, den: float | None) -> float | None:
    """num / den to 4 decimals; None when either is missing (a run that never reached steady
    walking reports no speed)."""
    return None if num is None or not den else round(num / den, 4)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    contacts = dict.fromkeys(("training", *args.contact))  # training's is every row's reference
    evals = {c: eval_speed(args, c)["steady_vx_m_s"] for c in contacts}
    rows = {}
    for contact in args.contact:
        result = deploy_speed(args, contact)
        speed = result["steady_vx_m_s"]
        rows[contact] = {
            "eval_steady_vx_m_s": None if evals[contact] is None else round(evals[contact], 4),
            "steady_vx_m_s": speed,
            "ratio": _ratio(speed, evals[contact]),
            "eval_vs_training": _ratio(evals[contact], evals["training"]),
            "vel_tracking_rmse": result["vel_tracking_rmse"],
            "fell": result["fell"],
        }
    return {
        "policy": str(args.policy),
        "task": args.task,
        "cmd": args.cmd,
        "eval_set": list(args.eval_set),
        "deploy": rows,
        "target_ratio": [1 - TARGET_RATIO_ERROR, 1 + TARGET_RATIO_ERROR],
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "load1": os.getloadavg()[0]},
    }


def _table(r: dict[str, Any]) -> str:
    def num(v: float | None, fmt: str) -> str:
        return "n/a" if v is None else format(v, fmt)

    lines = [f"{'contacts':<12}{'eval vx':>10}{'deploy vx':>11}{'deploy/eval':>13}"
             f"{'eval/training':>15}{'rmse':>8}"]  # fmt: skip
    for contact, row in r["deploy"].items():
        lines.append(
            f"{contact:<12}{num(row['eval_steady_vx_m_s'], '.4f'):>10}"
            f"{num(row['steady_vx_m_s'], '.4f'):>11}"
            f"{num(row['ratio'], '.3f'):>13}{num(row['eval_vs_training'], '.3f'):>15}"
            f"{num(row['vel_tracking_rmse'], '.3f'):>8}"
        )
    return "\n".join(lines)


def _command(text: str) -> str:
    """--cmd: three finite numbers vx,vy,wz (the policy's ranges: genpo-deploy checks them)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected three numbers vx,vy,wz, got {text!r}")
    return text


def _override(text: str) -> str:
    """--eval-set: KEY=VALUE (genpo-eval checks the key and the value)."""
    key, sep, _ = text.partition("=")
    if not (sep and key.strip()):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return text


def _check(args: argparse.Namespace) -> None:
    """Before the first child starts: what the children would refuse, as far as it is cheap
    to see here (an unknown task of the right robot, a policy they cannot load: theirs)."""
    get_robot(args.robot)
    if not args.task.startswith(f"{args.robot}_"):
        raise UserError(
            f"--task {args.task} is not a task of --robot {args.robot} "
            f"({args.robot}_flat, {args.robot}_rough, ...)"
        )
    if not args.policy.is_file():
        raise UserError(f"policy file {args.policy} does not exist; pass --policy PATH")
    args.policy = args.policy.resolve()  # the children run in the repository, maybe not here
    if args.out is not None:
        check_output_file(args.out, "--out")


@user_errors_exit(PROG)
def main(argv: list[str] | None = None) -> int:
    p = BenchmarkParser(prog=PROG, description=__doc__)
    default = REPO_ROOT / "assets" / "policies" / "go2_flat" / "policy.onnx"
    p.add_argument("--policy", type=Path, default=default, help="exported policy.onnx")
    p.add_argument("--task", default="go2_flat", help="its task (genpo-eval --task)")
    p.add_argument("--robot", default="go2", help="its robot (genpo-sim / genpo-deploy --robot)")
    p.add_argument("--cmd", type=_command, default="0.5,0,0", help="constant command vx,vy,wz")
    p.add_argument("--duration", type=positive_float, default=20.0, help="seconds per run")
    p.add_argument("--episodes", type=positive_int, default=2, help="genpo-eval episodes")
    p.add_argument(
        "--contact",
        nargs="+",
        default=["menagerie", "training"],
        choices=CONTACT_MODELS,
        help="contact models to run (genpo-sim --contact)",
    )
    p.add_argument(
        "--eval-set",
        action="append",
        type=_override,
        default=[],
        metavar="KEY=VALUE",
        help="extra genpo-eval --set, e.g. sim.target_range_factor=1 for a policy trained with "
        "the daemon's target clamp (the contact solver comes from --contact)",
    )
    p.add_argument("--domain", type=bounded_int(0, DDS_DOMAIN_MAX), default=60,
                   help="DDS domain of the runs")  # fmt: skip
    p.add_argument("--out", type=Path, help="also write the JSON here")
    args = p.parse_args(argv)
    _check(args)
    result = measure(args)
    print(_table(result))
    line = json.dumps(result)
    if args.out is not None:
        args.out.write_text(line + "\n")
    print(line)
    return 0
