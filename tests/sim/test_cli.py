"""genpo-sim CLI: user mistakes are one sentence and exit 2; the remote reaches LowState."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.sim.launch import SimProcess
from robots import GO2
from tests.sim.conftest import SimClient


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "deploy.sim", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


# A sim that would start: each test below changes one thing (a later --duration replaces this one).
SIM = ("--robot", "go2", "--headless", "--domain", "125", "--duration", "1")


def _refused(out: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit 2 with the one sentence `genpo-sim: error: ...` holding `message`, nothing else."""
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("genpo-sim: error: ") and out.stderr.count("\n") == 1, out.stderr
    assert message in out.stderr and out.stdout == ""


def test_unknown_robot_and_interface_exit_2_without_traceback() -> None:
    for args, message in (
        (("--robot", "go3"), "unknown robot 'go3'"),
        (("--robot", "go2", "--iface", "nosuch0", "--domain", "122"), "'nosuch0' does not exist"),
        (("--robot", "go2", "--drop-rate", "2", "--domain", "122"), "drop_rate must be in"),
    ):
        out = _run(*args, "--duration", "1", "--headless")
        assert out.returncode == 2, out.stderr
        assert message in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--control-port", "70000"), "--control-port 70000 must be a UDP port in [0, 65535]"),
        (("--control-port", "-1"), "--control-port -1 must be a UDP port in [0, 65535]"),
        (("--duration", "0"), "--duration 0 must be a positive number of seconds"),
        (("--duration", "-1"), "--duration -1 must be a positive number of seconds"),
        (("--duration", "nan"), "--duration nan must be a positive number of seconds"),
        (("--duration", "inf"), "--duration inf must be a positive number of seconds"),
        (("--domain", "300"), "--domain 300 must be a DDS domain id in [0, 232]"),
        (("--push-force-n", "10,0,0"), "--push-force-n goes with --push-at-s"),
        (("--push-duration-s", "0.5"), "--push-duration-s goes with --push-at-s"),
        # NaN and inf: every float option of the sim refuses them (they compared False and ran)
        (("--seed", "-1"), "--seed must be 0 or more, got -1"),
        (("--latency-ms", "nan"), "latency_ms must be a finite number >= 0, got nan"),
        (("--latency-ms", "inf"), "latency_ms must be a finite number >= 0, got inf"),
        (("--jitter-ms", "nan"), "jitter_ms must be a finite number >= 0, got nan"),
        (("--freeze-after-s", "nan"), "freeze_after_s must be a finite number >= 0, got nan"),
        (("--drop-rate", "nan"), "drop_rate must be in [0, 1], got nan"),
        (("--push-at-s", "nan"), "--push-at-s nan must be a sim time of at least 0 s"),
        (("--push-at-s", "inf"), "--push-at-s inf must be a sim time of at least 0 s"),
        (
            ("--push-at-s", "1", "--push-force-n", "0,nan,0"),
            "--push-force-n must be a number in [-2000, 2000], got nan",
        ),
        (
            ("--push-at-s", "1", "--push-force-n", "inf,0,0"),
            "--push-force-n must be a number in [-2000, 2000], got inf",
        ),
        (
            ("--push-at-s", "1", "--push-duration-s", "nan"),
            "--push-duration-s must be a number in [0, 60], got nan",
        ),
    ],
)
def test_bad_numbers_are_refused_before_the_sim_starts(args: tuple[str, ...], message: str) -> None:
    _refused(_run(*SIM, *args), message)


def test_a_control_port_in_use_is_one_sentence() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = str(taken.getsockname()[1])
        out = _run(*SIM, "--control-port", port)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"cannot use UDP port {port} on 127.0.0.1 (Address already in use)" in out.stderr


@pytest.mark.parametrize(
    ("video", "message"),
    [
        ("{tmp}", "--video '{tmp}' is a directory"),
        ("{tmp}/clip.mp4", "--video '{tmp}/clip.mp4' is a directory"),  # made below
        ("/proc/sim.mp4", "folder of --video '/proc' is not writable"),
        ("{tmp}/sim.txt", "--video '{tmp}/sim.txt' must name an .mp4 file"),
        ("{tmp}/file/sim.mp4", "cannot create folder of --video '{tmp}/file'"),
    ],
)
def test_an_unwritable_video_path_is_refused_up_front(
    tmp_path: Path, video: str, message: str
) -> None:
    if video.startswith("/proc") and not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    (tmp_path / "clip.mp4").mkdir()
    (tmp_path / "file").write_text("")
    env = {**os.environ, "MUJOCO_GL": "egl"}  # a backend that works: the path alone is wrong
    out = _run(*SIM, "--video", video.format(tmp=tmp_path), env=env)
    _refused(out, message.format(tmp=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "file"]  # nothing written


@pytest.mark.parametrize("exe", ["missing", "not-a-program"])
def test_a_missing_ffmpeg_is_refused_before_anything_starts(tmp_path: Path, exe: str) -> None:
    """No ffmpeg on PATH and IMAGEIO_FFMPEG_EXE naming none that runs: one sentence, exit 2, no
    ready line (before, DDS came up first and the video writer's Popen raised a traceback)."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "not-a-program").write_text("not ffmpeg\n")  # exists, not executable
    env = {**os.environ, "PATH": str(tmp_path / "bin"), "IMAGEIO_FFMPEG_EXE": str(tmp_path / exe)}
    out = _run(*SIM, "--video", str(tmp_path / "sim.mp4"), env=env)
    _refused(out, "--video needs ffmpeg")
    if importlib.util.find_spec("imageio_ffmpeg") is not None:  # else: "none is installed"
        assert f"'{tmp_path / exe}' (from IMAGEIO_FFMPEG_EXE) does not run" in out.stderr
    assert not (tmp_path / "sim.mp4").exists()


def _osmesa_renders() -> bool:
    probe = "import mujoco; mujoco.Renderer(mujoco.MjModel.from_xml_string('<mujoco/>'), 8, 8)"
    env = {**os.environ, "MUJOCO_GL": "osmesa"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, timeout=60)
    return done.returncode == 0


@pytest.mark.parametrize("backend", ["bogus", "osmesa"])
def test_a_renderer_that_cannot_start_is_one_sentence(tmp_path: Path, backend: str) -> None:
    if backend == "osmesa" and _osmesa_renders():
        pytest.skip("osmesa renders here (libosmesa6 is installed)")
    env = {**os.environ, "MUJOCO_GL": backend}  # `import mujoco` itself fails with either
    out = _run(*SIM, "--video", str(tmp_path / "sim.mp4"), env=env)
    _refused(out, f"--video needs rendering: no headless OpenGL backend works here ({backend}: ")
    assert "libosmesa6 (MUJOCO_GL=osmesa)" in out.stderr and not list(tmp_path.iterdir())


def test_a_broken_gl_backend_does_not_stop_a_sim_without_video() -> None:
    """Nothing renders offscreen without --video: MUJOCO_GL=osmesa (no libosmesa) or a typo in
    it made `import mujoco` raise before the sim started."""
    env = {**os.environ, "MUJOCO_GL": "bogus"}
    out = _run(*SIM, "--duration", "0.2", env=env)
    assert out.returncode == 0, out.stderr
    assert '"event": "summary"' in out.stdout


def test_a_scheduled_push_takes_the_default_force_and_duration() -> None:
    from deploy.sim.cli import PUSH_DURATION_S, PUSH_FORCE_N, _check_args, _options, build_parser

    args = build_parser().parse_args(["--robot", "go2", "--push-at-s", "1.5"])
    robot, faults, ffmpeg = _check_args(args)
    opts = _options(args, robot, faults)
    assert ffmpeg is None  # no --video
    assert opts.push_at_s == 1.5 and opts.push_force_n == PUSH_FORCE_N == (0.0, 80.0, 0.0)
    assert opts.push_duration_s == PUSH_DURATION_S == 0.1


def test_sticks_and_buttons_reach_wireless_remote() -> None:
    with SimProcess("go2", 123, 30.0) as sim:
        client = SimClient(GO2, 123)
        client.state()  # connected: DDS discovery can take longer than the press lasts
        sim.control.set_sticks(ly=0.5, rx=-0.25)
        sim.control.press("L2", "B", hold_s=0.5)
        time.sleep(0.1)
        remote = client.state().remote
        time.sleep(0.6)
        released = client.state().remote
    assert remote.ly == 0.5 and remote.rx == -0.25 and remote.pressed("L2", "B")
    assert not released.pressed("L2") and released.ly == 0.5
