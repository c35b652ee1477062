"""`python -m deploy.bench loop`: the daemon against genpo-sim, timed.

Starts genpo-sim (its threads at SCHED_FIFO when permitted: on the robot LowState comes from the
motor controller, not from a Python process competing for the CPU), runs `genpo-deploy --sim
--auto` for `--duration` seconds, and reports the daemon's own figures: command-period jitter
(target p99 <= 250 us), LowState -> LowCmd latency (target p99 <= 1 ms), missed policy
deadlines and inference time, for each I/O path (`--io sdk|lean|both`, default both, run one
after the other on the same machine). Prints a table, then one JSON line (also written to --out
when given).
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
from common.machine import cpu_model as _cpu_model
from deploy.preflight import REPO_ROOT, default_policy_path
from deploy.sim.launch import SimProcess

TARGETS = {"cmd_period_jitter_us": 250.0, "state_to_cmd_us": 1000.0}


def _boost(pid: int, priority: int, cpus: set[int]) -> bool:
    """SCHED_FIFO (and, given CPUs, affinity) for every thread of process `pid`."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(priority))
            if cpus:
                os.sched_setaffinity(int(tid), cpus)
    except OSError:
        return False
    return True


def run_loop(
    robot: str, policy: Path, duration_s: float, domain: int, pin: bool, io: str = "lean"
) -> dict[str, Any]:
    """One sim + daemon run; returns the daemon's final JSON plus the machine."""
    with SimProcess(
        robot, domain, duration_s + 60.0, *(("--band",) if robot == "h1" else ())
    ) as sim:
        # --pin: the sim on the first CPU, the daemon's loops on the last (as on the robot, where
        # the motor controller is another computer and the daemon gets a core of its own)
        n = os.cpu_count() or 1
        boosted = _boost(sim.proc.pid, 40, {0} if pin and n > 1 else set())
        pinning = ["--set", f"timing.cpus=[{n - 1}]"] if pin and n > 1 else []
        cmd = [sys.executable, "-m", "deploy", "--robot", robot, "--sim", "--domain", str(domain),
               "--policy", str(policy), "--auto", "--duration", str(duration_s),
               "--set", f"sim.control_port={sim.ready['control_port']}",
               "--set", f"timing.metrics_every_s={max(duration_s, 1.0)}", "--io", io,
               *pinning]  # fmt: skip
        done = subprocess.run(
            cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=duration_s + 60
        )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"genpo-deploy failed (rc {done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1])
    load1, _, _ = os.getloadavg()
    result["machine"] = {"cpu": _cpu_model(), "cores": os.cpu_count(), "load1_at_end": load1,
                         "sim_sched_fifo": boosted}  # fmt: skip
    result["robot"], result["duration_s"], result["pinned"], result["io"] = (
        robot,
        duration_s,
        pin,
        io,
    )
    return result


def _table(r: dict[str, Any]) -> str:
    rows = [("command-period jitter (us)", "cmd_period_jitter_us"),
            ("LowState -> LowCmd (us)", "state_to_cmd_us"),
            ("inference (us)", "inference_us")]  # fmt: skip
    out = [f"{'--io ' + r['io']:34} {'p50':>9} {'p99':>9} {'max':>9}  target p99"]
    for label, key in rows:
        s = r[key]
        target = f"<= {TARGETS[key]:.0f}" if key in TARGETS else ""
        out.append(f"{label:34} {s['p50']!s:>9} {s['p99']!s:>9} {s['max']!s:>9}  {target}")
    out.append(f"policy ticks {r['policy_ticks']}, missed policy deadlines "
               f"{r['deadline_misses']}, states {r['states_visited']}")  # fmt: skip
    m = r["machine"]
    out.append(f"{m['cpu']}, {m['cores']} cores, load {m['load1_at_end']:.1f}")
    return "\n".join(out)


@user_errors_exit("python -m deploy.bench loop")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m deploy.bench loop", description=__doc__)
    p.add_argument("--robot", default="go2", help="go2 or h1 (default go2)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--policy", type=Path, default=None,
                   help="policy.onnx (default: as genpo-deploy picks it)")  # fmt: skip
    p.add_argument("--domain", type=int, default=199, help="DDS domain (default 199)")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    p.add_argument("--pin", action="store_true", help="sim on CPU 0, daemon loops on the last")
    p.add_argument("--io", choices=("sdk", "lean", "both"), default="both",
                   help="I/O path(s) of the daemon (default both, one run each)")  # fmt: skip
    args = p.parse_args(argv)
    policy = args.policy or default_policy_path(args.robot)
    paths = ("sdk", "lean") if args.io == "both" else (args.io,)
    results = {io: run_loop(args.robot, policy, args.duration, args.domain, args.pin, io)
               for io in paths}  # fmt: skip
    print("\n\n".join(_table(r) for r in results.values()))
    text = json.dumps({"bench": "loop", "paths": results})
    print(text, flush=True)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0
