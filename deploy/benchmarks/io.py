"""`python -m deploy.bench io`: cost of one command-loop I/O tick over real CycloneDDS on lo.

Stages per iteration (microseconds): take the newest LowState from a DDS reader (deserialize),
parse it into policy-order arrays (with and without the CRC check), fill and CRC-stamp a LowCmd,
publish it (serialize + send). A writer in the same process feeds the LowState, as the robot would.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowState_
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

from deploy.io.channels import open_dds
from deploy.io.crc import stamp_crc
from deploy.io.lowcmd import make_lowcmd_builder
from deploy.io.lowstate import LowStateParser
from robots import get_robot
from robots.compat import zip_strict
from robots.machine import cpu_model

STAGES = ("take", "parse", "parse_crc", "build", "publish", "total")


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter_ns()
    out = fn()
    return out, (time.perf_counter_ns() - t0) / 1e3


def run(robot_name: str, domain: int, iterations: int, warmup: int) -> dict[str, dict]:
    robot = get_robot(robot_name)
    node = open_dds(domain, iface="lo")
    state_writer = node.writer(robot.topics.lowstate, LowState_)
    state_reader = node.reader(robot.topics.lowstate, LowState_)
    cmd_writer = node.writer(robot.topics.lowcmd, LowCmd_)
    fast = LowStateParser(robot, verify_crc=False)
    checked = LowStateParser(robot, verify_crc=True)
    builder = make_lowcmd_builder(robot)
    msg = unitree_go_msg_dds__LowState_()
    stamp_crc(msg)
    q0, kp, kd = robot.values("default_q_rad"), robot.values("kp"), robot.values("kd")
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for i in range(warmup + iterations):
        state_writer.write(msg)  # the "robot" side, not timed
        time.sleep(0.0005)  # let it arrive, as a 500 Hz stream would
        got, t_take = _timed(lambda: state_reader.take(N=1))
        if not got:
            continue
        _, t_parse = _timed(lambda g=got: fast.parse(g[0]))
        _, t_crc = _timed(lambda g=got: checked.parse(g[0]))
        cmd, t_build = _timed(lambda: (builder.set_targets(q0, kp, kd), builder.build())[1])
        _, t_pub = _timed(lambda c=cmd: cmd_writer.write(c))
        if i >= warmup:  # the daemon's path: take, parse with CRC check, build, publish
            total = t_take + t_crc + t_build + t_pub
            row = (t_take, t_parse, t_crc, t_build, t_pub, total)
            for stage, value in zip_strict(STAGES, row):
                samples[stage].append(value)
    return {
        stage: {
            "p50_us": round(float(np.percentile(v, 50)), 1),
            "p99_us": round(float(np.percentile(v, 99)), 1),
            "max_us": round(float(np.max(v)), 1),
            "n": len(v),
        }
        for stage, v in samples.items()
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.bench io", description=__doc__)
    parser.add_argument("--robot", default="go2", help="go2 or h1 (default go2)")
    parser.add_argument("--domain", type=int, default=149, help="DDS domain on lo (default 149)")
    parser.add_argument("--iterations", type=int, default=2000, help="timed ticks (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed ticks first")
    args = parser.parse_args(argv)
    stats = run(args.robot, args.domain, args.iterations, args.warmup)
    print(f"I/O tick costs, {args.robot}, CycloneDDS on lo, {cpu_model()}")
    print(f"{'stage':<10} {'p50 us':>9} {'p99 us':>9} {'max us':>9}")
    for stage, row in stats.items():
        print(f"{stage:<10} {row['p50_us']:>9.1f} {row['p99_us']:>9.1f} {row['max_us']:>9.1f}")
    print(json.dumps({"bench": "io", "robot": args.robot, "cpu": cpu_model(), "stages": stats}))
    return 0
