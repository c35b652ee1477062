"""Offscreen video of env 0 with a camera that follows the base (mujoco.Renderer, headless GL).

MuJoCo picks its GL backend from MUJOCO_GL when `mujoco` is first imported, so
`common.gl.select_gl` must run before that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 640, 480  # within MuJoCo's default offscreen buffer


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
