"""Unitree's own simulator, headless: their `simulate_python` bridge class on their model.

Runs what their `unitree_mujoco.py` runs (ChannelFactoryInitialize, UnitreeSdk2Bridge, mj_step
every SIMULATE_DT in real time) without the viewer, which needs a display. Nothing of theirs is
copied: the bridge and config are imported from `<root>/simulate_python` and the model loaded
from `<root>/unitree_robots/<robot>/scene.xml`.

    python tests/unitree_mujoco/harness.py <root> [--seconds S]

stdout: one JSON line `{"ready": ...}` once publishing, then `{"t", "pos", "quat"}` of the root
body every 0.1 s of sim time. stdin: a line `estop` holds L2+B in the LowState remote bytes, as
their gamepad code writes them; `release` lets go.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import threading
import time
import types
from pathlib import Path

import mujoco

L2_B = (1 << 5) | (1 << 9)  # remote key bits (robots.md): L2 = 5, B = 9


def _import_bridge(root: Path):
    sys.path.insert(0, str(root / "simulate_python"))
    try:
        importlib.import_module("pygame")
    except ImportError:
        # Their bridge imports pygame at module level for the gamepad only; no gamepad is used
        # here (SetupJoystick is never called), so an empty module stands in for it.
        sys.modules["pygame"] = types.ModuleType("pygame")
    config = importlib.import_module("config")
    bridge = importlib.import_module("unitree_sdk2py_bridge")
    return config, bridge


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("root", type=Path)
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--domain", type=int, default=None, help="DDS domain (default: their config)")
    p.add_argument("--scene", type=Path, default=None, help="MJCF scene (default: theirs)")
    args = p.parse_args()
    config, bridge_mod = _import_bridge(args.root.resolve())
    from unitree_sdk2py.core.channel import ChannelFactoryInitialize

    scene = args.scene or args.root / "unitree_robots" / config.ROBOT / "scene.xml"
    domain = config.DOMAIN_ID if args.domain is None else args.domain
    model = mujoco.MjModel.from_xml_path(str(scene))
    data = mujoco.MjData(model)
    # Their scene.xml has a bar at x = 1.2 m and stairs from 2.3 m in front of the spawn point; a
    # flat-ground policy walking forward would meet them in seconds. Spawn facing -x (yaw pi),
    # onto open floor; nothing of their model changes.
    data.qpos[3:7] = [0.0, 0.0, 0.0, 1.0]
    model.opt.timestep = config.SIMULATE_DT
    ChannelFactoryInitialize(domain, config.INTERFACE)
    bridge = bridge_mod.UnitreeSdk2Bridge(model, data)
    lock = threading.Lock()

    def commands() -> None:
        for line in sys.stdin:
            keys = L2_B if line.strip() == "estop" else 0
            with lock:
                bridge.low_state.wireless_remote[2] = keys & 0xFF
                bridge.low_state.wireless_remote[3] = keys >> 8

    threading.Thread(target=commands, daemon=True).start()
    print(json.dumps({"ready": {"robot": config.ROBOT, "domain": domain,
                                "dt": config.SIMULATE_DT}}), flush=True)  # fmt: skip
    start = time.perf_counter()
    steps, report_every = 0, max(1, round(0.1 / config.SIMULATE_DT))
    while data.time < args.seconds:
        step_start = time.perf_counter()
        with lock:
            mujoco.mj_step(model, data)
        steps += 1
        if steps % report_every == 0:
            row = {
                "t": round(data.time, 3),
                "wall": round(time.perf_counter() - start, 3),
                "pos": data.qpos[:3].round(4).tolist(),
                "quat": data.qpos[3:7].round(4).tolist(),
            }
            print(json.dumps(row), flush=True)
        sleep = model.opt.timestep - (time.perf_counter() - step_start)
        if sleep > 0:
            time.sleep(sleep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
