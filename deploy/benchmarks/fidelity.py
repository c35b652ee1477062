"""`python -m deploy.bench fidelity`: sim-to-sim fidelity of one policy under a constant command.

Steady-state forward speed (`steady_vx_m_s`: mean body-frame vx after robots.contract's
STEADY_SETTLE_S of walking) in `genpo-eval --commands constant` (the training simulator) and
through `genpo-sim` + `genpo-deploy --sim --cmd` (ground truth from the sim's control channel),
once per genpo-sim contact model (`--contact menagerie|training`). The ratio deploy / eval is the
fidelity figure (target: within 10 %, docs/performance.md). Each tool runs as a subprocess, so
this module imports neither training nor mujoco. Prints a table, then one JSON line.
DDS: hold `flock /tmp/genpo-dds.lock` around it on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from common.cli import user_errors_exit
from common.machine import cpu_model
from deploy.preflight import REPO_ROOT
from deploy.sim.launch import SimProcess

TARGET_RATIO_ERROR = 0.10


def _json_line(cmd: list[str], timeout_s: float) -> dict[str, Any]:
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{cmd[2]} failed (rc {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def eval_speed(args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "training.evaluation.cli", str(args.policy), "--task", args.task,
           "--episodes", str(args.episodes), "--duration-s", str(args.duration),
           "--commands", "constant", "--cmd", args.cmd]  # fmt: skip
    return _json_line(cmd, timeout_s=600)


def deploy_speed(args: argparse.Namespace, contact: str) -> dict[str, Any]:
    extra = ("--band",) if args.robot == "h1" else ()
    with SimProcess(
        args.robot, args.domain, args.duration + 90.0, "--contact", contact, *extra
    ) as sim:
        cmd = [sys.executable, "-m", "deploy", "--robot", args.robot, "--sim",
               "--domain", str(args.domain), "--policy", str(args.policy), "--auto",
               "--cmd", args.cmd, "--duration", str(args.duration),
               "--set", f"sim.control_port={sim.ready['control_port']}"]  # fmt: skip
        return _json_line(cmd, timeout_s=args.duration + 60)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    reference = eval_speed(args)["steady_vx_m_s"]
    rows = {}
    for contact in args.contact:
        result = deploy_speed(args, contact)
        speed = result["steady_vx_m_s"]
        rows[contact] = {
            "steady_vx_m_s": speed,
            "ratio": None if speed is None else round(speed / reference, 4),
            "vel_tracking_rmse": result["vel_tracking_rmse"],
            "fell": result["fell"],
        }
    return {
        "policy": str(args.policy),
        "task": args.task,
        "cmd": args.cmd,
        "eval_steady_vx_m_s": round(reference, 4),
        "deploy": rows,
        "target_ratio": [1 - TARGET_RATIO_ERROR, 1 + TARGET_RATIO_ERROR],
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "load1": os.getloadavg()[0]},
    }


def _table(r: dict[str, Any]) -> str:
    lines = [f"{'path':<34}{'steady vx (m/s)':>16}{'ratio':>8}{'rmse':>8}",
             f"{'genpo-eval (training sim)':<34}{r['eval_steady_vx_m_s']:>16.4f}{1.0:>8.3f}"
             f"{'':>8}"]  # fmt: skip
    for contact, row in r["deploy"].items():
        speed = "n/a" if row["steady_vx_m_s"] is None else f"{row['steady_vx_m_s']:.4f}"
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.3f}"
        label = f"sim+deploy, --contact {contact}"
        lines.append(f"{label:<34}{speed:>16}{ratio:>8}{row['vel_tracking_rmse'] or 0:>8.3f}")
    return "\n".join(lines)


@user_errors_exit("python -m deploy.bench fidelity")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m deploy.bench fidelity", description=__doc__)
    default = REPO_ROOT / "assets" / "policies" / "go2_flat" / "policy.onnx"
    p.add_argument("--policy", type=Path, default=default, help="exported policy.onnx")
    p.add_argument("--task", default="go2_flat", help="its task (genpo-eval --task)")
    p.add_argument("--robot", default="go2", help="its robot (genpo-sim / genpo-deploy --robot)")
    p.add_argument("--cmd", default="0.5,0,0", help="constant command vx,vy,wz")
    p.add_argument("--duration", type=float, default=20.0, help="seconds per run")
    p.add_argument("--episodes", type=int, default=2, help="genpo-eval episodes")
    p.add_argument(
        "--contact",
        nargs="+",
        default=["menagerie", "training"],
        help="genpo-sim --contact values to run (genpo-sim checks them)",
    )
    p.add_argument("--domain", type=int, default=60, help="DDS domain of the runs")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    args = p.parse_args(argv)
    result = measure(args)
    print(_table(result))
    line = json.dumps(result)
    if args.out is not None:
        args.out.write_text(line + "\n")
    print(line)
    return 0
