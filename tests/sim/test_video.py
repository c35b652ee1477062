"""genpo-sim --video: a real offscreen-rendered mp4 (EGL here; skipped where no GL renders)."""

from __future__ import annotations

import os
import subprocess
import sys
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
