"""`genpo-sim --robot go2|h1`: a MuJoCo robot on the Unitree low-level DDS protocol.

Prints one JSON line {"event": "ready", ...} (with the control port) once DDS and the control
channel are up, and one {"event": "summary", ...} line at exit. Exit 2: a command-line mistake,
refused before MuJoCo or DDS start; exit 1: the run went on but its --video failed.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from common.compat import require_python

require_python("genpo-sim")  # before the imports that need mujoco

from common.cli import check_seed, user_errors_exit
from common.errors import UserError
from common.files import check_video_file
from common.gl import disable_gl, select_gl
from deploy.io.channels import SIM_DOMAIN
from deploy.sim import START_POSES
from deploy.sim.control import RequestError, check_push_duration, check_push_force
from deploy.sim.encoder import find_ffmpeg
from deploy.sim.faults import FaultConfig
from deploy.validate import DDS_DOMAIN_MAX, PORT_MAX, check_run
from robots import get_robot
from robots.assets import CONTACT_MODELS
from robots.contract import TERRAINS
from robots.spec import RobotSpec
from safety.envelope import within

if TYPE_CHECKING:
    from deploy.sim.runner import SimOptions

PUSH_FORCE_N = (0.0, 80.0, 0.0)  # --push-force-n default: a sideways shove of the base
PUSH_DURATION_S = 0.1


def _force(text: str) -> tuple[float, float, float]:
    parts = [float(p) for p in text.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("give the force as FX,FY,FZ in newtons, e.g. 0,80,0")
    return parts[0], parts[1], parts[2]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genpo-sim", description=__doc__.splitlines()[0])
    add = p.add_argument
    add("--robot", required=True, help="robot to simulate: go2 or h1")
    add("--domain", type=int, default=SIM_DOMAIN,
        help=f"DDS domain, 0-{DDS_DOMAIN_MAX} (default {SIM_DOMAIN}: simulation)")  # fmt: skip
    add("--iface", default="lo", help="network interface DDS binds to (default lo)")
    add("--terrain", choices=TERRAINS, default="flat", help="flat plane or rough height field")
    add(
        "--contact",
        choices=CONTACT_MODELS,
        default="menagerie",
        help="contact solver: the "
        "model file's (default) or the training backend's (cone, impratio, iterations)",
    )
    add("--start", choices=START_POSES, default="standing", help="start pose (default standing)")
    add("--band", action="store_true", help="hang the robot in an elastic band (H1 bring-up)")
    add("--no-hold", action="store_true", help="run physics before the first LowCmd arrives "
        "(default: the robot is held still, as on a stand, until a controller speaks)")  # fmt: skip
    add("--duration", type=float, default=None, help="stop after this many seconds "
        "(default: run until stopped)")  # fmt: skip
    add("--control-port", type=int, default=0, help="UDP port of the control channel on "
        f"127.0.0.1, 0-{PORT_MAX} (default 0: any free port, in the ready line)")  # fmt: skip
    add("--video", type=Path, default=None, help="record an .mp4 offscreen (needs "
        "EGL or OSMesa, and ffmpeg; default: none)")  # fmt: skip
    add("--headless", action="store_true", help="no live viewer even when a display exists")
    add("--latency-ms", type=float, default=0.0, help="added LowState latency (default 0)")
    add("--jitter-ms", type=float, default=0.0, help="uniform +- jitter on that latency")
    add("--drop-rate", type=float, default=0.0, help="fraction of LowState messages dropped")
    add(
        "--freeze-after-s",
        type=float,
        default=None,
        help="LowState stops changing after this run time (s)",
    )
    add("--bad-crc-rate", type=float, default=0.0, help="fraction of LowState with a bad CRC")
    add("--push-at-s", type=float, default=None, help="sim time of a scheduled push on the base")
    add("--push-force-n", type=_force, default=None, help="push force FX,FY,FZ in N (default "
        f"{','.join(f'{f:g}' for f in PUSH_FORCE_N)}); needs --push-at-s")  # fmt: skip
    add("--push-duration-s", type=float, default=None, help="how long the push lasts (default "
        f"{PUSH_DURATION_S:g} s); needs --push-at-s")  # fmt: skip
    add("--seed", type=int, default=0, help="seed for terrain and fault randomness")
    return p


def _check_args(args: argparse.Namespace) -> tuple[RobotSpec, FaultConfig, str | None]:
    """The robot, the LowState faults and the ffmpeg program of --video (None without it);
    UserError for any command-line mistake, before MuJoCo, DDS or the control socket start.
    NaN and inf are out of every range."""
    robot = get_robot(args.robot)
    check_seed(args.seed)
    try:
        faults = FaultConfig(
            latency_ms=args.latency_ms,
            jitter_ms=args.jitter_ms,
            drop_rate=args.drop_rate,
            freeze_after_s=args.freeze_after_s,
            bad_crc_rate=args.bad_crc_rate,
            seed=args.seed,
        )
    except ValueError as exc:
        raise UserError(f"bad fault option: {exc}") from None
    check_run(args.duration, args.domain)  # genpo-deploy's rules for --duration and --domain
    if not 0 <= args.control_port <= PORT_MAX:
        raise UserError(
            f"--control-port {args.control_port} must be a UDP port in [0, {PORT_MAX}] "
            "(0: any free port)"
        )
    push_options = {"--push-force-n": args.push_force_n, "--push-duration-s": args.push_duration_s}
    for option, value in push_options.items():
        if value is not None and args.push_at_s is None:
            raise UserError(f"{option} goes with --push-at-s (the sim time of the push)")
    if args.push_at_s is not None and not within(args.push_at_s, 0.0, math.inf):
        raise UserError(f"--push-at-s {args.push_at_s:g} must be a sim time of at least 0 s")
    try:  # the control channel's "push" rules
        if args.push_force_n is not None:
            check_push_force(args.push_force_n, "--push-force-n")
        if args.push_duration_s is not None:
            check_push_duration(args.push_duration_s, "--push-duration-s")
    except RequestError as exc:
        raise UserError(str(exc)) from None
    ffmpeg = None
    if args.video is not None:
        check_video_file(args.video)  # .mp4, not a directory, a folder it can write in
        ffmpeg = find_ffmpeg()
    return robot, faults, ffmpeg


def _options(args: argparse.Namespace, robot: RobotSpec, faults: FaultConfig) -> SimOptions:
    from deploy.sim.runner import SimOptions  # imports mujoco: only after the GL choice

    return SimOptions(
        robot=robot,
        domain=args.domain,
        iface=args.iface,
        terrain=args.terrain,
        contact=args.contact,
        start=args.start,
        band=args.band,
        hold_until_cmd=not args.no_hold,
        control_port=args.control_port,
        faults=faults,
        push_at_s=args.push_at_s,
        push_force_n=PUSH_FORCE_N if args.push_force_n is None else args.push_force_n,
        push_duration_s=PUSH_DURATION_S if args.push_duration_s is None else args.push_duration_s,
        seed=args.seed,
    )


def _emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def run(args: argparse.Namespace) -> int:
    robot, faults, ffmpeg = _check_args(args)
    if args.video is None:
        disable_gl()  # nothing renders offscreen: a broken MUJOCO_GL cannot stop the sim
    else:
        problem = select_gl()
        if problem:
            raise UserError(f"--video needs rendering: {problem}; or run without --video")
    from deploy.sim.runner import Sim  # imports mujoco: after the GL choice
    from deploy.sim.video import LiveViewer, VideoRecorder, display_available

    sim = Sim(_options(args, robot, faults))
    hooks: list[LiveViewer | VideoRecorder] = []
    video = None
    if ffmpeg is not None:  # found exactly when --video was given
        video = VideoRecorder(sim.sim.model, args.video, ffmpeg)
        hooks.append(video)
    if not args.headless and display_available():
        hooks.append(LiveViewer(sim.sim.model, sim.sim.data))
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sim.stop())
    _emit("ready", robot=args.robot, domain=args.domain, iface=args.iface,
          control_port=sim.control.port, dt_s=sim.sim.dt_s)  # fmt: skip
    try:
        summary = sim.run(args.duration, hooks)
    finally:
        for hook in hooks:
            hook.close()
    _emit("summary", **summary, cmd_bad_crc=sim.intake.bad_crc)
    if summary["real_time_factor"] < 0.95:
        print(f"genpo-sim could not keep up: ran at {summary['real_time_factor']:.2f}x real "
              f"time ({summary['late_steps']} ticks over 50 ms late)", file=sys.stderr)  # fmt: skip
    if video is not None and video.failure:  # the sim ran on; the exit code says the video failed
        print(f"genpo-sim: error: {video.failure}; the simulation itself ran to its end",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


@user_errors_exit("genpo-sim")
def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
