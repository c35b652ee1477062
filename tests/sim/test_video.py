"""genpo-sim --video: a real offscreen-rendered mp4 (EGL here; skipped where no GL renders)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

_PROBE = "import mujoco; mujoco.Renderer(mujoco.MjModel.from_xml_string('<mujoco/>'), 8, 8)"


def _egl_renders() -> bool:
    env = {**os.environ, "MUJOCO_GL": "egl"}
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, timeout=60)
    return done.returncode == 0


@pytest.mark.skipif(not _egl_renders(), reason="no EGL rendering here (libegl1, libegl-mesa0)")
def test_sim_writes_a_video_of_its_run(tmp_path: Path) -> None:
    import json

    import imageio.v2 as imageio

    out = tmp_path / "sim.mp4"
    env = {**os.environ, "MUJOCO_GL": "egl"}
    cmd = [sys.executable, "-m", "deploy.sim", "--robot", "go2", "--domain", "124",
           "--duration", "3.0", "--headless", "--no-hold", "--video", str(out)]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    reader = imageio.get_reader(str(out))
    frames = [f for f in reader]
    assert frames[0].shape == (480, 640, 3)
    # Frames follow sim time at 30 fps. Software rendering slows the real-time loop a lot,
    # so the sim time reached comes from the sim's own summary line.
    events = [json.loads(ln) for ln in done.stdout.splitlines() if ln.startswith("{")]
    summary = next(e for e in events if e["event"] == "summary")
    ready = next(e for e in events if e["event"] == "ready")
    sim_time_s = summary["steps"] * ready["dt_s"]
    assert len(frames) >= 2
    assert abs(len(frames) - sim_time_s * 30) <= 2
    assert frames[0].std() > 5  # a rendered scene, not a blank frame


@pytest.mark.skipif(not _egl_renders(), reason="no EGL rendering here (libegl1, libegl-mesa0)")
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_video_that_fails_mid_run_ends_the_sim_with_exit_1(tmp_path: Path) -> None:
    """A full disk under the video (the .mp4 is a link to /dev/full: every write is ENOSPC):
    ffmpeg fails after the run started; the sim runs to its end, prints its summary, and exits 1
    with one sentence saying the video failed (before: exit 141 and no summary, the writer's
    BrokenPipeError taken for a closed stdout; a failure at close: exit 0)."""
    import json

    video = tmp_path / "sim.mp4"
    video.symlink_to("/dev/full")
    env = {**os.environ, "MUJOCO_GL": "egl"}
    cmd = [sys.executable, "-m", "deploy.sim", "--robot", "go2", "--domain", "127",
           "--duration", "2.0", "--headless", "--no-hold", "--video", str(video)]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 1, done.stderr
    events = [json.loads(ln)["event"] for ln in done.stdout.splitlines() if ln.startswith("{")]
    assert events == ["ready", "summary"], done.stdout
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"genpo-sim: error: --video '{video}' failed: ffmpeg exited with code ")
    assert "No space left on device" in last and last.endswith(
        "the simulation itself ran to its end"
    )
    # ffmpeg's own error lines are summed up in that sentence, not copied to stderr
    assert sum("--video" in line for line in done.stderr.splitlines()) == 1
    assert "@ 0x" not in done.stderr


@pytest.mark.skipif(not _egl_renders(), reason="no EGL rendering here (libegl1, libegl-mesa0)")
def test_ctrl_c_in_a_terminal_ends_the_sim_and_keeps_its_video(tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals the whole foreground process group. ffmpeg runs in a session
    of its own, so only genpo-sim takes the SIGINT: it ends its run, closes the video and exits
    0 with a playable file (before: ffmpeg took the SIGINT too, exited 255, and genpo-sim
    reported the video as failed, exit 1)."""
    import imageio.v2 as imageio

    out = tmp_path / "sim.mp4"
    env = {**os.environ, "MUJOCO_GL": "egl"}
    cmd = [sys.executable, "-m", "deploy.sim", "--robot", "go2", "--domain", "128",
           "--duration", "60", "--headless", "--no-hold", "--video", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        assert '"ready"' in ready, ready
        time.sleep(2.0)
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does: the whole group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "failed" not in err and "Traceback" not in err
    assert len([f for f in imageio.get_reader(str(out))]) >= 1  # list() asks len(): inf


# The encoder alone (no GL, no mujoco): small frames, the real ffmpeg the sim would use.
_W, _H = 64, 48


def _frames(count: int) -> list[bytes]:
    return [bytes([40 * i % 256]) * (_W * _H * 3) for i in range(count)]


def _encoder(path: Path):
    from deploy.sim.encoder import Mp4Encoder, find_ffmpeg

    return Mp4Encoder(find_ffmpeg(), path, _W, _H, 30)


def test_the_encoder_writes_an_mp4_and_reports_no_failure(tmp_path: Path) -> None:
    encoder = _encoder(tmp_path / "ok.mp4")
    for frame in _frames(10):
        encoder.write(frame)
    assert encoder.close() is None and not encoder.failed
    assert (tmp_path / "ok.mp4").stat().st_size > 0


def test_an_ffmpeg_killed_mid_run_is_one_sentence_not_an_exception(tmp_path: Path) -> None:
    """The real ffmpeg process killed between frames: later writes hit a broken pipe and are
    dropped (no exception reaches the sim loop); close says who ended it."""
    encoder = _encoder(tmp_path / "killed.mp4")
    encoder.write(_frames(1)[0])
    encoder._proc.kill()  # the one private reach: the writer's own subprocess, killed for real
    encoder._proc.wait()
    for frame in _frames(5):
        encoder.write(frame)  # BrokenPipeError before; now recorded
    assert encoder.failed
    failure = encoder.close()
    assert failure == f"--video '{tmp_path / 'killed.mp4'}' failed: ffmpeg was killed by SIGKILL"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_an_ffmpeg_that_fails_only_at_close_is_reported(tmp_path: Path) -> None:
    """One frame fits in the pipe and the encoder's lookahead: the full disk shows only when the
    file is finished, in ffmpeg's exit status (which close ignored before: genpo-sim exit 0)."""
    video = tmp_path / "full.mp4"
    video.symlink_to("/dev/full")
    encoder = _encoder(video)
    encoder.write(_frames(1)[0])
    assert not encoder.failed
    failure = encoder.close()
    assert failure is not None and failure.startswith(f"--video '{video}' failed: ffmpeg exited")
    assert "No space left on device" in failure
