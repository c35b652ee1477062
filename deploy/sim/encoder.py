"""The ffmpeg side of genpo-sim's --video: found up front, fed raw frames, its failure reported.

No mujoco here: the CLI looks for ffmpeg with the other --video checks, before the GL choice,
MuJoCo and DDS. A video that fails mid-run (ffmpeg dies, the disk fills) never stops the sim: the
encoder stops taking frames and `close` returns one sentence saying why, which the CLI turns into
a non-zero exit.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from common.errors import UserError

CLOSE_TIMEOUT_S = 30.0  # ffmpeg finishes the file after its input ends
_INSTALL = "pip install imageio-ffmpeg (the train extra) or apt-get install ffmpeg"
_LOG_PREFIX = re.compile(r"^\[[^\]]*\]\s*")  # ffmpeg's "[out#0/mp4 @ 0x55...] "


def find_ffmpeg() -> str:
    """The ffmpeg program --video encodes with: the one on PATH, else the one `imageio-ffmpeg`
    ships (or its IMAGEIO_FFMPEG_EXE); UserError naming what to install when there is none or it
    does not run (`ffmpeg -version` fails)."""
    exe, source = shutil.which("ffmpeg"), "on PATH"
    if exe is None:
        try:
            import imageio_ffmpeg  # deferred: only --video needs it
        except ImportError:
            raise UserError(f"--video needs ffmpeg and none is installed; {_INSTALL}") from None
        source = "IMAGEIO_FFMPEG_EXE" if os.environ.get("IMAGEIO_FFMPEG_EXE") else "imageio-ffmpeg"
        try:
            exe = imageio_ffmpeg.get_ffmpeg_exe()
        except RuntimeError:
            raise UserError(
                f"--video needs ffmpeg and {source} has none here; {_INSTALL}"
            ) from None
        source = f"from {source}"
    try:
        done = subprocess.run([exe, "-version"], capture_output=True, timeout=30)
        problem = "" if done.returncode == 0 else f"exit code {done.returncode}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = getattr(exc, "strerror", None) or type(exc).__name__
    if problem:
        fix = "fix or unset it" if source == "from IMAGEIO_FFMPEG_EXE" else _INSTALL
        raise UserError(f"--video needs ffmpeg: '{exe}' ({source}) does not run ({problem}); {fix}")
    return exe


class Mp4Encoder:
    """Raw RGB frames piped into `ffmpeg`, encoded to the .mp4 at `path` (H.264, yuv420p)."""

    def __init__(self, ffmpeg: str, path: Path, width: int, height: int, fps: int) -> None:
        self.path = path
        # ffmpeg's own messages, read for the failure sentence (closed in close())
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self._broke = ""  # why frames stopped going in, when they did
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
                + ["-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-pix_fmt", "yuv420p"]
                + [str(path)],
                stdin=subprocess.PIPE,
                stderr=self._log,
                # its own session: a terminal's Ctrl-C reaches genpo-sim only, which then ends
                # the input and ffmpeg finishes the file (on SIGINT ffmpeg exits 255)
                start_new_session=True,
            )
        except OSError as exc:  # removed or broken since find_ffmpeg
            self._proc = None
            self._broke = f"ffmpeg did not start ({exc.strerror or type(exc).__name__})"

    @property
    def failed(self) -> bool:
        """True once a frame could not be written: later frames are dropped unwritten."""
        return bool(self._broke)

    def write(self, frame: bytes) -> None:
        if self._broke or self._proc is None or self._proc.stdin is None:
            return
        try:
            self._proc.stdin.write(frame)
        except OSError as exc:  # BrokenPipeError: ffmpeg exited
            self._broke = f"ffmpeg stopped taking frames ({exc.strerror or type(exc).__name__})"

    def close(self) -> str | None:
        """Finish the file: None when ffmpeg wrote it, else one sentence saying the video failed
        and why (ffmpeg's exit status and first error line)."""
        why = self._broke
        if self._proc is not None:
            code = self._finish()
            if code is None:
                why = f"ffmpeg did not finish within {CLOSE_TIMEOUT_S:g} s"
            elif code < 0:
                why = f"ffmpeg was killed by {_signal_name(-code)}"
            elif code > 0:
                why = f"ffmpeg exited with code {code}"
            said = self._first_error() if code else ""
            why += f" ({said})" if said else ""
        self._log.close()
        return f"--video '{self.path}' failed: {why}" if why else None

    def _finish(self) -> int | None:
        """ffmpeg's exit status once its input is closed; None when it had to be killed."""
        assert self._proc is not None and self._proc.stdin is not None
        with contextlib.suppress(OSError):  # the flush fails as a write does; the pipe closes
            self._proc.stdin.close()
        try:
            return self._proc.wait(timeout=CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            return None

    def _first_error(self) -> str:
        self._log.seek(0)
        for line in self._log.read().decode(errors="replace").splitlines():
            line = _LOG_PREFIX.sub("", line).strip()
            if line:
                return line[:160]
        return ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
