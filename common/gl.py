"""MuJoCo's offscreen GL backend, chosen before `mujoco` is imported (genpo-eval, genpo-sim).

MuJoCo reads MUJOCO_GL once, when it is imported, and a backend whose system library is missing
makes `import mujoco` itself fail (osmesa without libosmesa: an AttributeError inside PyOpenGL).
So `select_gl` runs first and probes each candidate in a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys

CANDIDATES = ("egl", "osmesa")
DEBIAN_PACKAGES = {"egl": "libegl1 and libegl-mesa0", "osmesa": "libosmesa6"}
_PROBE = "import mujoco; mujoco.Renderer(mujoco.MjModel.from_xml_string('<mujoco/>'), 8, 8)"


def select_gl() -> str | None:
    """Set MUJOCO_GL to a backend that renders here (MUJOCO_GL's own when set, else the first of
    CANDIDATES) and return None; else switch rendering off, so that `import mujoco` still works,
    and return a sentence naming what to install. Nothing to choose once mujoco is imported."""
    if "mujoco" in sys.modules:
        return None
    wanted = os.environ.get("MUJOCO_GL", "").strip().lower()
    reasons = []
    for backend in (wanted,) if wanted else CANDIDATES:
        reason = _probe(backend)
        if not reason:
            os.environ["MUJOCO_GL"] = backend
            return None
        reasons.append(f"{backend}: {reason}")
    disable_gl()
    install = " or ".join(f"{p} (MUJOCO_GL={b})" for b, p in DEBIAN_PACKAGES.items())
    return (
        f"no headless OpenGL backend works here ({'; '.join(reasons)}); install the Debian "
        f"package {install}"
    )


def disable_gl() -> None:
    """No offscreen rendering in this process: a broken MUJOCO_GL cannot stop `import mujoco`
    (MuJoCo's live viewer opens its own GLFW window regardless)."""
    if "mujoco" not in sys.modules:
        os.environ["MUJOCO_GL"] = "disabled"


def _probe(backend: str) -> str:
    """'' when MuJoCo renders with `backend` in a child process; else the child's last line."""
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
