"""Unitree's own simulator, headless: their `simulate_python` bridge class on their model.

Runs what their `unitree_mujoco.py` runs (ChannelFactoryInitialize, UnitreeSdk2Bridge, mj_step
every SIMULATE_DT in real time) without the viewer, which needs a display. Nothing of theirs is
copied: the bridge and config are imported from `<root>/simulate_python` and the model loaded
from `<root>/unitree_robots/<robot>/scene.xml`.

    python tests/unitree_mujoco/harness.py <root> [--seconds S] [--robot h1 --band]

stdout: one JSON line `{"ready": ...}` once publishing, then `{"t", "pos", "quat"}` of the root
body every 0.1 s of sim time. stdin: a line `estop` holds L2+B in the LowState remote bytes, as
their gamepad code writes them; `release` lets go; `unband` lets go of the elastic band.

--robot sets their config.ROBOT (as a user edits config.py); --band is their ENABLE_ELASTIC_BAND:
their ElasticBand pulls the body they attach it to (H1: torso_link) toward (0, 0, 3) m every
step, as their simulation thread does. `unband` is their key 9 (enable off), and also clears the
force: their loop stops writing `xfrc_applied` when the band is off but never zeroes it, so the
last band force would stay on the robot for good.
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


def _import_bridge(root: Path, robot: str | None):
    sys.path.insert(0, str(root / "simulate_python"))
    config = importlib.import_module("config")
    if robot is not None:
        config.ROBOT = robot  # before their bridge module reads it (its IDL choice)
    try:
        importlib.import_module("pygame")
    except ImportError:
        # Their bridge imports pygame at module level for the gamepad only; no gamepad is used
        # here (SetupJoystick is never called), so an empty module stands in for it.
        sys.modules["pygame"] = types.ModuleType("pygame")
    bridge = importlib.import_module("unitree_sdk2py_bridge")
    return config, bridge


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("root", type=Path)
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--domain", type=int, default=None, help="DDS domain (default: their config)")
    p.add_argument("--scene", type=Path, default=None, help="MJCF scene (default: theirs)")
    p.add_argument("--robot", default=None, help="their config.ROBOT (default: theirs, go2)")
    p.add_argument("--band", action="store_true", help="their ENABLE_ELASTIC_BAND")
    args = p.parse_args()
    config, bridge_mod = _import_bridge(args.root.resolve(), args.robot)
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
    band = bridge_mod.ElasticBand() if args.band else None
    band_body = model.body("torso_link" if config.ROBOT in ("h1", "g1") else "base_link").id

    def commands() -> None:
        for line in sys.stdin:
            word = line.strip()
            with lock:
                if word == "unband" and band is not None:
                    band.enable = False
                    data.xfrc_applied[band_body, :3] = 0.0
                    continue
                keys = L2_B if word == "estop" else 0
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
            if band is not None and band.enable:
                data.xfrc_applied[band_body, :3] = band.Advance(data.qpos[:3], data.qvel[:3])
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
