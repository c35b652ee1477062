"""`genpo-deploy`: run a GenPO policy on a Unitree Go2 / H1 (or genpo-sim) behind safety layers.

Start-up refuses, with one sentence and exit code 2 and before any DDS traffic, an artifact for
another robot, joint count or observation size, an unknown schema version, or golden vectors
that do not reproduce on this machine. The run ends with one JSON line on stdout; progress and
warnings go to stderr. Exit codes: 0 done (the robot left damped), 1 internal error (damped),
2 refused.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from deploy.command_loop import Chords, CommandLoop, Shared
from deploy.commands import StickCommand, fixed_command
from deploy.config import DeployCfg, load_deploy_cfg
from deploy.daemon import Daemon, RunOptions
from deploy.io.remote import key_mask
from deploy.metrics import LoopMetrics
from deploy.policy import time_inference
from deploy.policy_loop import PolicyLoop
from deploy.preflight import LoadedPolicy, default_policy_path, load_policy
from deploy.recorder import FlightRecorder
from deploy.timing import fast_gil_handoff, lock_memory, realtime_section
from robots import get_robot
from robots.cli import user_errors_exit
from robots.config import to_dict
from robots.errors import UserError
from robots.spec import RobotSpec
from safety import Cause, joint_limits


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genpo-deploy", description=__doc__.splitlines()[0])
    add = p.add_argument
    add("--robot", required=True, help="go2 or h1")
    add("--ip", default=None, help="robot IP; DDS binds to the local interface on its subnet")
    add("--iface", default=None, help="network interface for DDS (overrides --ip; --sim: lo)")
    add("--sim", action="store_true", help="talk to genpo-sim: domain 1 on lo, sim-only metrics")
    add("--domain", type=int, default=None, help="DDS domain (default 0; 1 with --sim)")
    add("--policy", type=Path, default=None, help="policy.onnx (default: newest "
        "runs/<robot>_*/**/exported/policy.onnx, else assets/policies/<robot>_flat/)")  # fmt: skip
    add("--auto", action="store_true", help="walk CONNECT->PASSIVE->STAND->POLICY on a timer, "
        "DAMP at --duration, then exit")  # fmt: skip
    add("--cmd", default=None, help="fixed velocity command vx,vy,wz (default: remote sticks)")
    add("--duration", type=float, default=None, help="seconds until DAMP and exit (default: "
        "run until SIGINT/SIGTERM)")  # fmt: skip
    add("--log", type=Path, default=Path("logs/deploy"), help="directory for the MCAP flight "
        "recorder log (default: %(default)s)")  # fmt: skip
    add("--no-log", action="store_true", help="turn the flight recorder off")
    add("--estop", default=None, help="e-stop chord of remote keys (default L2+B)")
    add("--check", action="store_true", help="self-check, exit sending nothing: artifact, "
        "golden vectors on this runtime, inference budget, DDS iface (--ip/--iface)")  # fmt: skip
    add("--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a deploy setting (DeployCfg), e.g. safety.max_tilt_deg=45")  # fmt: skip
    return p


def log(text: str) -> None:
    print(f"genpo-deploy: {text}", file=sys.stderr, flush=True)


def chords(cfg: DeployCfg) -> Chords:
    def mask(text: str) -> int:
        try:
            return key_mask(k.strip() for k in text.split("+") if k.strip())
        except ValueError as exc:
            raise UserError(f"remote chord {text!r}: {exc}") from None

    r = cfg.remote
    return Chords(estop=mask(r.estop), stand=mask(r.stand), policy=mask(r.policy))


def budget_gate(policy: LoadedPolicy, cfg: DeployCfg) -> bool:
    """Time inference now, at the policy loop's priority (a measurement at normal priority on a
    busy machine reports other processes, not the policy); POLICY is refused when p99 exceeds
    its share of the control period."""
    with realtime_section(cfg.timing.rt_priority - 1, log):
        lat = time_inference(policy.runtime, cfg.timing.budget_calls)
    p99 = float(np.percentile(lat, 99))
    budget_us = cfg.safety.budget_share * policy.artifact.contract.control_dt_s * 1e6
    ok = p99 <= budget_us
    verdict = "ok" if ok else "POLICY will be refused"
    log(f"inference p50 {np.median(lat):.0f} us, p99 {p99:.0f} us, budget {budget_us:.0f} us: "
        f"{verdict}")  # fmt: skip
    return ok


def prepare(args: argparse.Namespace) -> tuple[RobotSpec, DeployCfg, LoadedPolicy, Chords]:
    """Everything that can refuse, before DDS: robot, config, chords, artifact, golden."""
    robot = get_robot(args.robot)
    overrides = list(args.set) + ([f"remote.estop={args.estop}"] if args.estop else [])
    cfg = load_deploy_cfg(robot.name, args.sim, tuple(overrides))
    keys = chords(cfg)
    path = args.policy if args.policy is not None else default_policy_path(robot.name)
    policy = load_policy(Path(path), robot, log)
    log(f"policy {path} ({policy.artifact.contract.task}, sha256 {policy.sha256[:12]}, golden "
        f"max err {policy.golden_err:.2g})")  # fmt: skip
    if args.cmd is not None:
        fixed_command(args.cmd, policy.artifact.contract.command_ranges)
    return robot, cfg, policy, keys


def open_robot(args: argparse.Namespace, robot: RobotSpec) -> dict[str, Any]:
    """DDS node, LowCmd writer, LowState reader, foreign-writer monitor (imports DDS lazily so
    refusals never touch it)."""
    from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

    from deploy.io.channels import SIM_DOMAIN, open_dds
    from deploy.io.foreign import ForeignWriterMonitor

    if robot.idl_family != "go":
        raise UserError(f"{robot.name} uses unitree_{robot.idl_family} messages; not wired yet")
    domain = args.domain if args.domain is not None else (SIM_DOMAIN if args.sim else 0)
    iface = args.iface or ("lo" if args.sim and args.ip is None else None)
    node = open_dds(domain, iface=iface, ip=args.ip)
    if not args.sim and robot.name == "go2":
        from deploy.io.sport_mode import release_sport_mode

        release_sport_mode(domain, log=log)
    writer = node.writer(robot.topics.lowcmd, LowCmd_)
    # No listener: the command loop takes samples itself, so LowState deserialization (~0.2 ms
    # each in Python) runs in the loop that needs it instead of a DDS thread holding the GIL.
    reader = node.reader(robot.topics.lowstate, LowState_)

    def take_newest() -> Any:
        newest = None
        for sample in reader.take(N=32):
            if hasattr(sample, "tick"):  # skip InvalidSample markers (a writer went away)
                newest = sample
        return newest

    monitor = ForeignWriterMonitor(node, robot.topics.lowcmd, (writer,))
    return {"node": node, "writer": writer, "reader": reader, "take": take_newest,
            "monitor": monitor}  # fmt: skip


def build_daemon(args, robot, cfg, policy, keys, io, recorder) -> Daemon:
    from deploy.io.lowcmd import make_lowcmd_builder
    from deploy.io.lowstate import LowStateParser

    contract = policy.artifact.contract
    facts = policy.artifact.robot
    shared = Shared(artifact_ok=True, budget_ok=budget_gate(policy, cfg))
    metrics = LoopMetrics(cfg.timing.command_hz)
    limits = joint_limits(
        robot,
        command_dt_s=1.0 / cfg.timing.command_hz,
        target_speed_factor=cfg.safety.target_speed_factor,
        torque_factor=cfg.safety.torque_factor,
        kp=np.array(facts.kp),
        kd=np.array(facts.kd),
    )
    command = CommandLoop(
        shared, io["take"], LowStateParser(robot), make_lowcmd_builder(robot),
        io["writer"].write, limits, keys, cfg, np.array(contract.action.offset),
        cfg.motion.damping_kd or robot.damping_kd, contract.control_dt_s, metrics, recorder, log,
    )  # fmt: skip
    sticks = None
    fixed = None
    if args.cmd is not None:
        fixed = fixed_command(args.cmd, contract.command_ranges)
    else:
        sticks = StickCommand(contract.command_ranges, cfg.commands.deadband,
                              cfg.commands.slew_per_s)  # fmt: skip
    policy_loop = PolicyLoop(
        shared, command, threading.Lock(), policy.runtime, contract, sticks, fixed,
        metrics, recorder, log,
    )  # fmt: skip
    options = RunOptions(
        auto=args.auto,
        duration_s=args.duration,
        sim=args.sim,
        sim_truth=_sim_truth(args, cfg),
        foreign_writers=lambda: len(io["monitor"].poll()),
        nominal_height_m=robot.nominal_base_height_m,
    )
    return Daemon(cfg, shared, command, policy_loop, metrics, recorder, options, log)


def _sim_truth(args: argparse.Namespace, cfg: DeployCfg):
    if not args.sim or cfg.sim.control_port <= 0:
        return None
    from deploy.sim.control import SimControlClient  # stdlib-only module: no mujoco import

    client = SimControlClient(cfg.sim.control_port, timeout_s=0.2)
    return client.truth


def open_recorder(args, robot, cfg, policy) -> FlightRecorder | None:
    if args.no_log:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(args.log) / f"deploy_{robot.name}_{stamp}.mcap"
    rec = FlightRecorder(path, cfg.recorder.max_bytes, cfg.recorder.flush_s, log)
    rec.record(time.monotonic_ns(), "/deploy/header", {
        "robot": robot.name,
        "policy_path": str(policy.path.resolve()),
        "artifact_sha256": policy.sha256,
        "task": policy.artifact.contract.task,
        "command": args.cmd,
        "sim": args.sim,
        "config": to_dict(cfg),
    })  # fmt: skip
    log(f"flight recorder: {path}")
    return rec


def run(args: argparse.Namespace) -> int:
    robot, cfg, policy, keys = prepare(args)  # refusals happen here, before DDS
    io = open_robot(args, robot)
    recorder = open_recorder(args, robot, cfg, policy)
    daemon = None
    try:
        daemon = build_daemon(args, robot, cfg, policy, keys, io, recorder)

        def on_signal(signum: int, _frame: Any) -> None:
            daemon.signal = Cause.SIGNAL
            log(f"signal {signal.Signals(signum).name}: damping, then exit")

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, on_signal)
        lock_memory(log)
        fast_gil_handoff()
        result = daemon.run()
    except BaseException:
        if daemon is not None:
            daemon.stop.set()
            daemon.final_damping()
        else:
            _damp_now(robot, io)
        raise
    finally:
        if recorder is not None:
            recorder.close()
        close_robot(io)
    print(json.dumps(result), flush=True)
    return 1 if daemon.failed is not None else 0


def close_robot(io: dict[str, Any]) -> None:
    """Drop the DDS entities in order (monitor, reader, writer) while the process is intact."""
    for key in ("monitor", "take", "reader", "writer"):
        io.pop(key, None)


def _damp_now(robot: RobotSpec, io: dict[str, Any]) -> None:
    from deploy.io.lowcmd import make_lowcmd_builder

    builder = make_lowcmd_builder(robot)
    builder.set_damping(robot.damping_kd)
    for _ in range(10):
        io["writer"].write(builder.build())
        time.sleep(0.002)


def check(args: argparse.Namespace) -> int:
    """`--check` (the end of `scripts/setup.sh deploy`): no DDS entity is created, so nothing can
    reach a robot. Exit 0 when the policy fits its inference budget, 1 when not, 2 refused."""
    from deploy.io.netif import resolve_interface

    robot, cfg, policy, _ = prepare(args)
    budget_ok = budget_gate(policy, cfg)
    iface = resolve_interface(args.ip, args.iface or ("lo" if args.sim else None))
    verdict = "ok" if budget_ok else "over_budget"
    print(json.dumps({"check": verdict, "robot": robot.name, "policy": str(policy.path),
                      "artifact_sha256": policy.sha256, "golden_max_err": policy.golden_err,
                      "iface": iface}), flush=True)  # fmt: skip
    return 0 if budget_ok else 1


@user_errors_exit("genpo-deploy")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return check(args) if args.check else run(args)
