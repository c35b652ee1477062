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

import json
import os
import sys
from pathlib import Path
from typing import Any

from common.cli import BenchmarkParser, bounded_int, positive_float, user_errors_exit
from common.errors import UserError
from common.files import check_output_file
from common.machine import cpu_model as _cpu_model
from deploy.benchmarks.children import json_line, sim_process
from deploy.preflight import default_policy_path
from deploy.validate import DDS_DOMAIN_MAX
from robots import get_robot

PROG = "python -m deploy.bench loop"

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
    """One sim + daemon run; returns the daemon's final JSON plus the machine. A child's refusal
    of its arguments (genpo-sim, genpo-deploy: a policy for another robot, ...) is a UserError."""
    with sim_process(
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
        result = json_line(cmd, timeout_s=duration_s + 60)
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


@user_errors_exit(PROG)
def main(argv: list[str] | None = None) -> int:
    p = BenchmarkParser(prog=PROG, description=__doc__)
    p.add_argument("--robot", default="go2", help="go2 or h1 (default go2)")
    p.add_argument("--duration", type=positive_float, default=60.0, help="seconds (default 60)")
    p.add_argument("--policy", type=Path, default=None,
                   help="policy.onnx (default: as genpo-deploy picks it)")  # fmt: skip
    p.add_argument("--domain", type=bounded_int(0, DDS_DOMAIN_MAX), default=199,
                   help="DDS domain (default 199)")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    p.add_argument("--pin", action="store_true", help="sim on CPU 0, daemon loops on the last")
    p.add_argument("--io", choices=("sdk", "lean", "both"), default="both",
                   help="I/O path(s) of the daemon (default both, one run each)")  # fmt: skip
    args = p.parse_args(argv)
    # What can be checked here is, before the sim starts (the artifact itself: genpo-deploy's).
    get_robot(args.robot)
    if args.out is not None:
        check_output_file(args.out, "--out")
    policy = args.policy or default_policy_path(args.robot)
    if not policy.is_file():
        raise UserError(f"policy file {policy} does not exist; pass --policy PATH")
    policy = policy.resolve()  # genpo-deploy runs in the repository, maybe not here
    paths = ("sdk", "lean") if args.io == "both" else (args.io,)
    results = {io: run_loop(args.robot, policy, args.duration, args.domain, args.pin, io)
               for io in paths}  # fmt: skip
    print("\n\n".join(_table(r) for r in results.values()))
    text = json.dumps({"bench": "loop", "paths": results})
    print(text, flush=True)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0
