"""`python -m deploy.bench io`: cost of one motor-loop I/O tick over real CycloneDDS on lo, for
both I/O paths side by side (`genpo-deploy --io sdk|lean`, deploy.io.lean).

Stages per tick (microseconds): take the newest LowState from a DDS reader (sdk: deserialized
into IDL objects; lean: its serialized bytes), parse it into policy-order arrays with the CRC
check and the plausibility checks, fill and CRC-stamp a LowCmd, publish it (sdk: serialize +
send; lean: send). `own` = take + parse + build: the daemon's Python work; `publish` is reported
apart (for lean it is the DDS transport call alone); `total` is all four. A writer in the same
process feeds the LowState, as the robot would; both paths read the same samples, interleaved.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np
from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowState_
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

from common.cli import BenchmarkParser, bounded_int, nonnegative_int, positive_int
from common.compat import zip_strict
from common.errors import UserError
from common.machine import cpu_model
from deploy.io.channels import open_dds
from deploy.io.crc import stamp_crc
from deploy.io.lean import IO_PATHS, LoopIo, make_loop_io
from deploy.validate import DDS_DOMAIN_MAX
from robots import get_robot
from robots.spec import RobotSpec

STAGES = ("take", "parse", "build", "publish", "own", "total")
TARGET_OWN_P99_US = 150.0


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter_ns()
    out = fn()
    return out, (time.perf_counter_ns() - t0) / 1e3


def standing_lowstate(robot: RobotSpec) -> object:
    """A plausible, CRC-stamped LowState: the default pose, upright, still."""
    msg = unitree_go_msg_dds__LowState_()
    for j in robot.joints:
        msg.motor_state[j.sdk_index].q = j.default_q_rad
    msg.imu_state.quaternion = [1.0, 0.0, 0.0, 0.0]
    msg.imu_state.accelerometer = [0.0, 0.0, 9.81]
    msg.power_v = 28.8
    return msg


def _tick(io: LoopIo, q: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> tuple[float, ...] | None:
    got, t_take = _timed(io.take)
    if got is None:
        return None
    state, t_parse = _timed(lambda: io.parser.parse(got))
    if state is None:
        raise RuntimeError("the benchmark's LowState was rejected")
    cmd, t_build = _timed(lambda: (io.builder.set_targets(q, kp, kd), io.builder.build())[1])
    _, t_pub = _timed(lambda: io.publish(cmd))
    own = t_take + t_parse + t_build
    return t_take, t_parse, t_build, t_pub, own, own + t_pub


def run(robot_name: str, domain: int, iterations: int, warmup: int) -> dict[str, dict]:
    robot = get_robot(robot_name)
    node = open_dds(domain, iface="lo")
    state_writer = node.writer(robot.topics.lowstate, LowState_)
    ios = {
        kind: make_loop_io(
            kind,
            robot,
            node.reader(robot.topics.lowstate, LowState_),
            node.writer(robot.topics.lowcmd, LowCmd_),
            LowState_,
        )
        for kind in IO_PATHS
    }
    msg = standing_lowstate(robot)
    q0, kp, kd = robot.values("default_q_rad"), robot.values("kp"), robot.values("kd")
    samples = {kind: {stage: [] for stage in STAGES} for kind in IO_PATHS}
    for i in range(warmup + iterations):
        msg.tick = i
        stamp_crc(msg)
        state_writer.write(msg)  # the "robot" side, not timed
        time.sleep(0.0005)  # let it arrive, as a 500 Hz stream would
        q = q0 + 1e-4 * (i % 100)  # targets change every tick, as in STAND and POLICY
        order = IO_PATHS if i % 2 == 0 else IO_PATHS[::-1]
        for kind in order:
            row = _tick(ios[kind], q, kp, kd)
            if row is not None and i >= warmup:
                for stage, value in zip_strict(STAGES, row):
                    samples[kind][stage].append(value)
    for kind, stages in samples.items():
        if not stages["total"]:
            raise UserError(
                f"the {kind} path read no LowState in {iterations} timed ticks; pass more "
                "--iterations or --warmup"
            )
    return {kind: _stats(stages) for kind, stages in samples.items()}


def _stats(stages: dict[str, list[float]]) -> dict[str, dict]:
    return {
        stage: {
            "p50_us": round(float(np.percentile(v, 50)), 1),
            "p99_us": round(float(np.percentile(v, 99)), 1),
            "max_us": round(float(np.max(v)), 1),
            "n": len(v),
        }
        for stage, v in stages.items()
    }


def main(argv: list[str]) -> int:
    parser = BenchmarkParser(prog="python -m deploy.bench io", description=__doc__)
    add = parser.add_argument
    add("--robot", default="go2", help="go2 or h1 (default go2)")
    add("--domain", type=bounded_int(0, DDS_DOMAIN_MAX), default=149,
        help="DDS domain on lo (default 149)")  # fmt: skip
    add("--iterations", type=positive_int, default=10000, help="timed ticks (default 10000)")
    add("--warmup", type=nonnegative_int, default=200, help="untimed ticks first")
    args = parser.parse_args(argv)
    stats = run(args.robot, args.domain, args.iterations, args.warmup)
    print(f"I/O tick costs (us), {args.robot}, CycloneDDS on lo, {cpu_model()}")
    print(f"{'stage':<9}" + "".join(f"{k + ' p50':>11}{k + ' p99':>11}" for k in IO_PATHS))
    for stage in STAGES:
        cells = "".join(
            f"{stats[k][stage]['p50_us']:>11.1f}{stats[k][stage]['p99_us']:>11.1f}"
            for k in IO_PATHS
        )
        print(f"{stage:<9}{cells}")
    own = stats["lean"]["own"]["p99_us"]
    met = own <= TARGET_OWN_P99_US
    print(f"lean own p99 {own:.1f} us vs target {TARGET_OWN_P99_US:.0f} us: "
          f"{'met' if met else 'missed'}")  # fmt: skip
    print(json.dumps({"bench": "io", "robot": args.robot, "cpu": cpu_model(), "paths": stats,
                      "target_own_p99_us": TARGET_OWN_P99_US, "lean_target_met": met}))  # fmt: skip
    return 0
