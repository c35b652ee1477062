"""Offscreen video of env 0 with a camera that follows the base (mujoco.Renderer, headless GL).

MuJoCo picks its GL backend from MUJOCO_GL when `mujoco` is first imported, so `select_gl`
must run before that. It probes each candidate in a child process: a backend whose system
library is missing can make `import mujoco` itself fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

CANDIDATES = ("egl", "osmesa")
DEBIAN_PACKAGES = {"egl": "libegl1 and libegl-mesa0", "osmesa": "libosmesa6"}
WIDTH, HEIGHT = 640, 480  # within MuJoCo's default offscreen buffer
_PROBE = "import mujoco; mujoco.Renderer(mujoco.MjModel.from_xml_string('<mujoco/>'), 8, 8)"


def select_gl() -> str | None:
    """Set MUJOCO_GL to a backend that renders here; else a sentence saying what to install."""
    if "mujoco" in sys.modules:  # too late to choose: the recorder tries what was imported
        return None
    wanted = os.environ.get("MUJOCO_GL", "").strip().lower()
    reasons = []
    for backend in (wanted,) if wanted else CANDIDATES:
        reason = _probe(backend)
        if not reason:
            os.environ["MUJOCO_GL"] = backend
            return None
        reasons.append(f"{backend}: {reason}")
    # `import mujoco` would fail with the broken backend: run without rendering.
    os.environ["MUJOCO_GL"] = "disabled"
    install = " or ".join(f"{p} (MUJOCO_GL={b})" for b, p in DEBIAN_PACKAGES.items())
    return (
        f"no headless OpenGL backend works here ({'; '.join(reasons)}); install the Debian "
        f"package {install}; no video was written"
    )


def _probe(backend: str) -> str:
    env = {**os.environ, "MUJOCO_GL": backend}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        return "timed out"
    if done.returncode == 0:
        return ""
    lines = done.stderr.strip().splitlines()
    return lines[-1][:160] if lines else f"exit code {done.returncode}"


class VideoRecorder:
    """Frames of simulation 0 of a mujoco.batch.Batch, written to an mp4 by `close`."""

    def __init__(self, path: str | Path, model, body_id: int, fps: float, distance_m: float):
        import imageio.v2 as imageio  # deferred: only --video needs it
        import mujoco

        self._mujoco = mujoco
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model = model
        self.data = mujoco.MjData(model)
        self.renderer = mujoco.Renderer(model, HEIGHT, WIDTH)
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        self.camera.trackbodyid = body_id
        self.camera.distance = distance_m
        self.camera.elevation = -20.0
        self.camera.azimuth = 135.0
        # libx264 ships inside imageio-ffmpeg; no system ffmpeg is needed.
        self.writer = imageio.get_writer(self.path, fps=fps, codec="libx264", quality=7)
        self.frames = 0

    def capture(self, batch) -> None:
        batch.get_data(0, self.data)
        self._mujoco.mj_forward(self.model, self.data)
        self.renderer.update_scene(self.data, camera=self.camera)
        # Shadows and reflections made a frame ~5x slower on the software (llvmpipe) renderer.
        self.renderer.scene.flags[self._mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        self.renderer.scene.flags[self._mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        self.writer.append_data(np.asarray(self.renderer.render()))
        self.frames += 1

    def close(self) -> int:
        """Finish the file; returns the number of frames written."""
        self.writer.close()
        self.renderer.close()
        return self.frames
