"""genpo-eval --video: a short mp4 of env 0 when a headless GL backend works here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_video_has_the_expected_frames(policies: dict[str, Path], tmp_path: Path) -> None:
    iio = pytest.importorskip("imageio.v3", reason="--video needs imageio + imageio-ffmpeg")
    pytest.importorskip("imageio_ffmpeg", reason="--video needs imageio-ffmpeg")
    video, report_path = tmp_path / "walk.mp4", tmp_path / "eval.json"
    # A child process: MuJoCo chooses its GL backend at import, which this process has done.
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    cmd = [sys.executable, "-m", "training.evaluation.cli", str(policies["checkpoint"]), "--task"]
    cmd += ["go2_flat", "--episodes", "1", "--duration-s", "0.2", "--video", str(video)]
    done = subprocess.run(
        [*cmd, "--json", str(report_path)], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())
    if report["video_error"]:
        assert not video.exists() and report["video"] is None
        pytest.skip(report["video_error"])
    # 0.2 s = 10 policy steps at 50 Hz, rendered every 2nd step (25 fps), unless it fell.
    frames = iio.imread(video)
    expected = -(-round(report["mean_episode_length_steps"]) // 2)
    assert report["video_frames"] == len(frames) == expected
    assert frames.shape[1:] == (480, 640, 3)
    assert frames.std() > 5.0  # a rendered scene, not a blank buffer
