"""`genpo-deploy`: run a GenPO policy on a Unitree Go2 / H1 (or genpo-sim) behind safety layers.

Start-up refuses, with one sentence and exit code 2 and before any DDS traffic, an artifact for
another robot, joint count or observation size, an unknown schema version, golden vectors that do
not reproduce on this machine, a setting or artifact field outside its documented envelope
(safety/envelope.py, deploy/validate.py), or a --log it cannot write. Once DDS is open the run
always ends damped with one JSON line on stdout ("error" names what ended it abnormally);
progress and warnings go to stderr without ever blocking a loop (deploy/log.py). SIGINT,
SIGTERM, SIGHUP and SIGQUIT each end the run damped. Exit codes: 0 done (the robot left damped),
1 internal error or recorder fault (damped), 2 refused.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.cli import user_errors_exit
from common.config import to_dict
from common.errors import UserError
from deploy.commands import FixedCommand, StickCommand, fixed_command
from deploy.config import DeployCfg, load_deploy_cfg
from deploy.daemon import Daemon, RunOptions
from deploy.damping import build_damping, exit_damping
from deploy.io.netif import check_sim_interface
from deploy.link import RobotLink, dds_iface, open_link
from deploy.log import QueuedLog
from deploy.metrics import LoopMetrics
from deploy.motor_loop import Chords, MotorLoop, Shared
from deploy.policy import time_inference
from deploy.policy_loop import PolicyLoop
from deploy.preflight import LoadedPolicy, default_policy_path, load_policy
from deploy.recorder import FlightRecorder, check_log_dir
from deploy.timing import fast_gil_handoff, lock_memory, realtime_section
from deploy.validate import (
    check_against_policy,
    check_run,
    check_settings,
    check_stand_pose,
    chord_mask,
    damping_kd,
)
from robots import get_robot
from robots.artifact import Artifact
from robots.spec import RobotSpec
from safety import Cause, JointLimits, joint_limits

# Each ends the run damped: Ctrl-C, kill, a dropped SSH session (HUP), Ctrl-\ (QUIT).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
LOG_FLUSH_S = 1.0  # at exit, how long queued log lines may take to reach stderr
DEFAULT_LOG_DIR = Path("logs/deploy")  # --log


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
    add("--cmd", default=None, help="fixed velocity command vx,vy,wz (default: remote sticks); "
        "vx,vy,0 holds the heading the robot has when the policy starts (IMU yaw)")  # fmt: skip
    add("--no-heading-hold", action="store_true", help="with --cmd vx,vy,0: command wz = 0 "
        "as given (the policy's own yaw drift stays)")  # fmt: skip
    add("--duration", type=float, default=None, help="seconds until DAMP and exit (default: "
        "run until a signal: INT, TERM, HUP or QUIT)")  # fmt: skip
    add("--log", type=Path, default=None, help="directory for the MCAP flight recorder log "
        f"(default: {DEFAULT_LOG_DIR})")  # fmt: skip
    add("--no-log", action="store_true", help="turn the flight recorder off (not with --log)")
    add("--io", choices=("lean", "sdk"), default="lean", help="LowState/LowCmd I/O path: "
        "lean (serialized samples, numpy) or sdk (IDL objects); default %(default)s")  # fmt: skip
    add("--estop", default=None, help="e-stop chord of remote keys (default L2+B)")
    add("--check", action="store_true", help="self-check, exit sending nothing: DDS iface "
        "(--ip/--iface), artifact, golden vectors on this runtime, --log, inference "
        "budget")  # fmt: skip
    add("--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a deploy setting (DeployCfg), e.g. safety.max_tilt_deg=45")  # fmt: skip
    return p


# Never blocks: the motor loop and the signal handler log (deploy/log.py).
log = QueuedLog("genpo-deploy")


@dataclass(frozen=True)
class Plan:
    """Everything checked before DDS opens: what the daemon runs with."""

    robot: RobotSpec
    cfg: DeployCfg  # defaults <- configs/deploy/ <- --set, inside the envelope
    policy: LoadedPolicy  # the artifact, its golden vectors reproduced on this runtime
    keys: Chords  # the remote's e-stop, stand and policy chords
    damping: Any  # the prebuilt damping LowCmd (deploy.damping.build_damping), never rewritten
    limits: JointLimits  # target range, rate and torque bounds the motor loop enforces
    fixed: FixedCommand | None  # --cmd (checked against the training ranges), else the sticks
    iface: str | None = None  # --check: the DDS interface, found before any inference


def chords(cfg: DeployCfg) -> Chords:
    r = cfg.remote
    return Chords(
        estop=chord_mask(r.estop, "remote.estop"),
        stand=chord_mask(r.stand, "remote.stand"),
        policy=chord_mask(r.policy, "remote.policy"),
    )


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


def prepare(args: argparse.Namespace) -> Plan:
    """Everything that can refuse, before DDS: robot, command line, settings and their envelope,
    chords, the damping message, (--check: the DDS interface,) artifact (envelope, golden),
    limits."""
    robot = get_robot(args.robot)
    check_run(args.duration, args.domain)
    if args.sim:
        check_sim_interface(args.ip, args.iface)
    if args.no_heading_hold and args.cmd is None:
        raise UserError("--no-heading-hold goes with --cmd (the sticks give the yaw rate)")
    if args.no_log and args.log is not None:
        raise UserError("--log DIR and --no-log contradict each other; pass one of them")
    estop = [] if args.estop is None else [f"remote.estop={args.estop}"]
    cfg = load_deploy_cfg(robot.name, args.sim, tuple(args.set) + tuple(estop))
    check_settings(cfg, robot, args.sim)
    keys = chords(cfg)
    damping = build_damping(robot, damping_kd(cfg, robot))
    iface = None
    if args.check:  # the golden vectors below are the first inference
        from deploy.io.netif import resolve_interface

        iface = resolve_interface(args.ip, dds_iface(args.iface, args.ip, args.sim))
    path = args.policy if args.policy is not None else default_policy_path(robot.name)
    policy = load_policy(Path(path), robot, log)
    contract = policy.artifact.contract
    check_against_policy(cfg, contract.control_dt_s)
    fixed = None
    if args.cmd is not None:
        ranges = contract.command_ranges
        fixed = FixedCommand(
            fixed_command(args.cmd, ranges), ranges[2], hold_heading=not args.no_heading_hold
        )
    range_factor = target_range_factor(cfg.safety.target_range_factor, policy.artifact)
    limits = joint_limits(
        robot,
        command_dt_s=1.0 / cfg.timing.command_hz,
        target_speed_factor=cfg.safety.target_speed_factor,
        torque_factor=cfg.safety.torque_factor,
        range_factor=range_factor,
        kp=np.array(policy.artifact.robot.kp),
        kd=np.array(policy.artifact.robot.kd) + cfg.motion.extra_kd,
    )
    action = contract.action
    check_stand_pose(limits, np.array(action.offset), action.joint_names, range_factor)
    return Plan(robot, cfg, policy, keys, damping, limits, fixed, iface)


def log_dir(args: argparse.Namespace) -> Path | None:
    """The flight recorder's directory: --log, its default, or None with --no-log."""
    return None if args.no_log else (DEFAULT_LOG_DIR if args.log is None else args.log)


def target_range_factor(configured: float, artifact: Artifact) -> float:
    """The daemon's joint-target clamp: safety.target_range_factor, or the tighter clamp the
    policy was trained under (its artifact's task settings), so that it never meets targets it
    never saw. Only ever the tighter of the two."""
    trained = artifact.trained_target_range
    if trained is None or trained >= configured:
        return configured
    log(
        f"joint targets held to {trained:g} of each joint's range, as the policy was trained "
        f"(safety.target_range_factor {configured:g})"
    )
    return trained


def open_recorder(args: argparse.Namespace, plan: Plan) -> FlightRecorder | None:
    """The flight recorder, opened before DDS: an unwritable --log or a disk without room for
    recorder.max_bytes is refused here, with nothing on the wire."""
    directory = log_dir(args)
    if directory is None:
        return None
    robot, cfg, policy = plan.robot, plan.cfg, plan.policy
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"deploy_{robot.name}_{stamp}.mcap"
    rec = FlightRecorder.open_checked(path, cfg.recorder.max_bytes, cfg.recorder.flush_s, log)
    rec.record(time.monotonic_ns(), "/deploy/header", {
        "robot": robot.name,
        "policy_path": str(policy.path.resolve()),
        "artifact_sha256": policy.sha256,
        "task": policy.artifact.contract.task,
        "command": args.cmd,
        "sim": args.sim,
        "config": to_dict(cfg),
        # the joint-target bounds the safety layer enforces (the configured clamp, or the
        # tighter one the policy was trained under), policy joint order
        "target_bounds_rad": [plan.limits.q_lo_rad.tolist(), plan.limits.q_hi_rad.tolist()],
    })  # fmt: skip
    return rec


def build_daemon(
    *,
    args: argparse.Namespace,
    plan: Plan,
    link: RobotLink,
    recorder: FlightRecorder | None,
) -> Daemon:
    """The two loops and their supervisor over an open link (the inference budget is timed
    here, on the machine and at the priority the policy will run at)."""
    from deploy.io.source import SourceWatch

    robot, cfg, policy = plan.robot, plan.cfg, plan.policy
    contract = policy.artifact.contract
    io = link.loop_io
    shared = Shared(artifact_ok=True, budget_ok=budget_gate(policy, cfg))
    metrics = LoopMetrics(cfg.timing.command_hz)
    source = SourceWatch(log, sim_sources=args.sim, where=link.where,
                         remote_silent_s=cfg.remote.silent_s)  # fmt: skip
    motor = MotorLoop(
        shared=shared, take=io.take, parser=io.parser, builder=io.builder, publish=io.publish,
        limits=plan.limits, chords=plan.keys, settings=cfg,
        default_q=np.array(contract.action.offset), damping_msg=plan.damping,
        policy_period_s=contract.control_dt_s, metrics=metrics, recorder=recorder, log=log,
        source=source,
    )  # fmt: skip
    fixed = plan.fixed
    if fixed is not None and fixed.holds:
        log("heading hold: wz steers back to the heading at the policy's start (IMU yaw)")
    sticks = None
    if fixed is None:
        sticks = StickCommand(contract.command_ranges, cfg.commands.deadband,
                              cfg.commands.slew_per_s)  # fmt: skip
    policy_loop = PolicyLoop(
        shared=shared, motor=motor, runtime=policy.runtime, contract=contract, sticks=sticks,
        fixed=fixed, metrics=metrics, recorder=recorder, log=log,
    )  # fmt: skip
    sim_control = _sim_control(args, cfg)
    options = RunOptions(
        auto=args.auto,
        duration_s=args.duration,
        sim=args.sim,
        nominal_height_m=robot.nominal_base_height_m,
        sim_truth=sim_control.truth if sim_control else None,
        release_band=sim_control.release_band if sim_control else None,
        foreign_monitors=link.monitors,
    )
    return Daemon(cfg=cfg, shared=shared, motor=motor, policy=policy_loop, metrics=metrics,
                  recorder=recorder, options=options, log=log)  # fmt: skip


def _sim_control(args: argparse.Namespace, cfg: DeployCfg):
    if not args.sim or cfg.sim.control_port <= 0:
        return None
    from deploy.sim.control import SimControlClient  # stdlib-only module: no mujoco import

    return SimControlClient(cfg.sim.control_port, timeout_s=0.2)


def run(args: argparse.Namespace) -> int:
    """The operator's procedure: prepare (every refusal, before DDS) -> open the link -> build
    the daemon -> run it; the robot ends damped and one JSON line comes out."""
    plan = prepare(args)
    recorder = open_recorder(args, plan)
    p = plan.policy
    log(f"policy {p.path} ({p.artifact.contract.task}, sha256 {p.sha256[:12]}, golden "
        f"max err {p.golden_err:.2g})")  # fmt: skip
    if recorder is not None:
        log(f"flight recorder: {recorder.path}")
    try:
        link = open_link(plan.robot, sim=args.sim, domain=args.domain, iface=args.iface,
                         ip=args.ip, io_path=args.io, log=log)  # fmt: skip
    except BaseException:
        if recorder is not None:
            recorder.close()
        raise
    try:
        result, code = drive(args, plan, link, recorder)
    finally:
        if recorder is not None:
            recorder.close()
        link.close()
    print(json.dumps(result), flush=True)
    return code


def drive(
    args: argparse.Namespace, plan: Plan, link: RobotLink, recorder: FlightRecorder | None
) -> tuple[dict[str, Any], int]:
    """Build and run the daemon on an open link; whatever happens the robot ends damped (the
    prebuilt message, through deploy.damping.exit_damping) and a result comes back: (JSON line
    content, exit code)."""
    daemon = None
    try:
        daemon = build_daemon(args=args, plan=plan, link=link, recorder=recorder)

        def on_signal(signum: int, _frame: Any) -> None:
            # Nothing else here (no log, no lock): the supervisor acts on it and says so.
            daemon.signal_name = signal.Signals(signum).name
            daemon.signal = Cause.SIGNAL

        for sig in STOP_SIGNALS:
            signal.signal(sig, on_signal)
        lock_memory(log)
        fast_gil_handoff()
        result = daemon.run()
        return result, 0 if "error" not in result else 1
    except BaseException as exc:  # any failure still ends damped, with the JSON line
        if daemon is not None:
            daemon.stop.set()
            daemon.motor.closed = True
            daemon.final_damping()
        else:  # no loop exists yet: the same message through the link's publish path
            io = link.loop_io
            period_s = 1.0 / plan.cfg.timing.command_hz
            exit_damping(io.publish, io.builder.wire(plan.damping), period_s, log)
        log(traceback.format_exc().rstrip())  # after damping: nothing may delay it
        return _failed_result(daemon, exc), 1


def _failed_result(daemon: Daemon | None, exc: BaseException) -> dict[str, Any]:
    """The JSON line of a run that raised: what the metrics hold, and the error."""
    result: dict[str, Any] = {}
    if daemon is not None:
        try:
            result = daemon.metrics.final(fell=False)
        except Exception:  # the line must still come out
            result = {}
    return {**result, "error": f"{exc!r}"}


def check(args: argparse.Namespace) -> int:
    """`--check` (the end of `scripts/setup.sh deploy`): no DDS entity is created, so nothing can
    reach a robot, and nothing is written. The interface is found before any inference, --log is
    judged as a run judges it. Exit 0 when the policy fits its inference budget, 1 when not,
    2 refused."""
    plan = prepare(args)
    robot, policy = plan.robot, plan.policy
    directory = log_dir(args)
    if directory is not None:
        check_log_dir(directory, plan.cfg.recorder.max_bytes)  # what open_recorder would refuse
    budget_ok = budget_gate(policy, plan.cfg)
    verdict = "ok" if budget_ok else "over_budget"
    print(json.dumps({"check": verdict, "robot": robot.name, "policy": str(policy.path),
                      "artifact_sha256": policy.sha256, "golden_max_err": policy.golden_err,
                      "iface": plan.iface}), flush=True)  # fmt: skip
    return 0 if budget_ok else 1


@user_errors_exit("genpo-deploy")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return check(args) if args.check else run(args)
    finally:
        log.flush(LOG_FLUSH_S)  # the queued lines before the error sentence or the exit
