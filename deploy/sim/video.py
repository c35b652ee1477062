"""Offscreen video (--video out.mp4) and the live viewer; both optional and lazy.

Rendering needs an OpenGL backend (MUJOCO_GL=egl or osmesa on a headless machine; deploy.sim.gl
picks it before mujoco is imported) and encoding an `ffmpeg` program: the one on PATH, else the
one `imageio-ffmpeg` ships (the train extra, which is also where MuJoCo comes from); a missing
piece is a UserError naming it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import mujoco

from common.errors import UserError, first_line

FPS = 30
WIDTH, HEIGHT = 640, 480


class VideoRecorder:
    """Renders the scene every 1/FPS s of sim time and pipes raw frames into ffmpeg."""

    def __init__(self, model: mujoco.MjModel, path: Path) -> None:
        ffmpeg = _ffmpeg()
        try:
            self._renderer = mujoco.Renderer(model, HEIGHT, WIDTH)
        except Exception as exc:  # GL context creation fails in many backend-specific ways
            raise UserError(
                f"MuJoCo cannot render offscreen with MUJOCO_GL={os.environ.get('MUJOCO_GL')} "
                f"({first_line(exc)[:160]}); set MUJOCO_GL=egl (Debian libegl1 and libegl-mesa0) "
                "or MUJOCO_GL=osmesa (libosmesa6), or run without --video"
            ) from None
        self._proc = subprocess.Popen(
            [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
            + ["-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "-", "-pix_fmt", "yuv420p"]
            + [str(path)],
            stdin=subprocess.PIPE,
        )
        self._next_s = 0.0

    def on_tick(self, data: mujoco.MjData) -> None:
        if data.time < self._next_s:
            return
        self._next_s += 1.0 / FPS
        self._renderer.update_scene(data)
        assert self._proc.stdin is not None
        self._proc.stdin.write(self._renderer.render().tobytes())

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(timeout=30)


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg  # deferred: only --video needs it
    except ImportError:
        raise UserError(
            "--video needs ffmpeg: pip install imageio-ffmpeg (the train extra) or apt-get "
            "install ffmpeg"
        ) from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def display_available() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class LiveViewer:
    """MuJoCo's passive viewer, synced at ~60 Hz of wall time."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        import mujoco.viewer  # deferred: pulls in GLFW

        self._handle = mujoco.viewer.launch_passive(model, data)
        self._every = 8  # ticks between syncs: 500 Hz / 8 ~ 60 Hz
        self._count = 0

    def on_tick(self, data: mujoco.MjData) -> None:
        self._count += 1
        if self._count % self._every == 0 and self._handle.is_running():
            self._handle.sync()

    def close(self) -> None:
        self._handle.close()
