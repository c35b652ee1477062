"""Offscreen video (--video out.mp4) and the live viewer; both optional and lazy.

Rendering needs an OpenGL backend (MUJOCO_GL=egl or osmesa on a headless machine; common.gl
picks it before mujoco is imported) and encoding an `ffmpeg` program (deploy.sim.encoder finds it
before anything starts: the one on PATH, else the one `imageio-ffmpeg` ships, the train extra,
which is also where MuJoCo comes from); a missing piece is a UserError naming it. A video that
fails mid-run does not stop the sim: `VideoRecorder.failure` says why once it is closed.
"""

from __future__ import annotations

import os
from pathlib import Path

import mujoco

from common.errors import UserError, first_line
from deploy.sim.encoder import Mp4Encoder

FPS = 30
WIDTH, HEIGHT = 640, 480


class VideoRecorder:
    """Renders the scene every 1/FPS s of sim time and pipes raw frames into ffmpeg (`ffmpeg`:
    the program `find_ffmpeg` checked). Once the encoder fails, no more frames are rendered."""

    def __init__(self, model: mujoco.MjModel, path: Path, ffmpeg: str) -> None:
        try:
            self._renderer = mujoco.Renderer(model, HEIGHT, WIDTH)
        except Exception as exc:  # GL context creation fails in many backend-specific ways
            raise UserError(
                f"MuJoCo cannot render offscreen with MUJOCO_GL={os.environ.get('MUJOCO_GL')} "
                f"({first_line(exc)[:160]}); set MUJOCO_GL=egl (Debian libegl1 and libegl-mesa0) "
                "or MUJOCO_GL=osmesa (libosmesa6), or run without --video"
            ) from None
        self._encoder = Mp4Encoder(ffmpeg, path, WIDTH, HEIGHT, FPS)
        self._next_s = 0.0
        self.failure: str | None = None  # after close: one sentence when the video failed

    def on_tick(self, data: mujoco.MjData) -> None:
        if data.time < self._next_s or self._encoder.failed:
            return
        self._next_s += 1.0 / FPS
        self._renderer.update_scene(data)
        self._encoder.write(self._renderer.render().tobytes())

    def close(self) -> None:
        self.failure = self._encoder.close()


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
