"""The real-time sim loop: one physics step, one motor-law evaluation, one LowState per tick.

Timestep: the Menagerie model's own 0.002 s, deliberately. It equals the 500 Hz LowState period,
so each tick senses, publishes and steps exactly once; it is also closer to the real motor
driver, which closes its PD loop far faster than the 0.005 s training step (a coarser step would
make kp/kd act on stale state and flatter the policy). Ticks follow absolute deadlines on the
monotonic clock; when the loop falls behind it keeps stepping (physics stays correct) and reports
how far behind real time it runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import mujoco
import numpy as np

from deploy.io.channels import DdsNode
from deploy.io.remote import RemoteState, encode_remote, key_mask
from deploy.sim.bridge import CommandIntake, Sensed, StatePublisher
from deploy.sim.control import ControlServer
from deploy.sim.faults import FaultConfig
from deploy.sim.model import SimModel
from robots.spec import RobotSpec

LATE_REPORT_S = 0.05  # a tick later than this counts as a real-time miss


class TickHook(Protocol):
    def on_tick(self, data: mujoco.MjData) -> None: ...


@dataclass
class SimOptions:
    robot: RobotSpec
    domain: int = 1
    iface: str = "lo"
    terrain: str = "flat"
    contact: str = "menagerie"  # robots.assets.CONTACT_MODELS
    start: str = "standing"
    band: bool = False
    hold_until_cmd: bool = True
    control_port: int = 0
    faults: FaultConfig = field(default_factory=FaultConfig)
    push_at_s: float | None = None  # scheduled push (sim time)
    push_force_n: tuple[float, float, float] = (0.0, 0.0, 0.0)
    push_duration_s: float = 0.1
    seed: int = 0


@dataclass
class TimingStats:
    steps: int = 0
    late_steps: int = 0
    max_late_s: float = 0.0
    started_s: float = 0.0

    def summary(self, dt_s: float) -> dict[str, float]:
        """Ticks are dt_s apart in sim time: real-time factor = ticks * dt / wall time."""
        wall_s = max(time.monotonic() - self.started_s, 1e-9)
        return {
            "steps": self.steps,
            "late_steps": self.late_steps,
            "max_late_ms": round(self.max_late_s * 1e3, 3),
            "real_time_factor": round(self.steps * dt_s / wall_s, 4),
        }


class Sim:
    """genpo-sim: physics, DDS bridge, control channel."""

    def __init__(self, opts: SimOptions) -> None:
        self.opts = opts
        self.sim = SimModel(opts.robot, opts.terrain, opts.seed, opts.contact)
        self.sim.reset(opts.start)
        node = DdsNode(opts.domain, opts.iface)
        self.intake = CommandIntake(node, opts.robot)
        self.publisher = StatePublisher(node, opts.robot, opts.faults)
        self._lock = threading.Lock()
        self._remote = RemoteState()
        self._presses: list[tuple[float, int]] = []  # (release at wall time, key mask)
        self._push_until_s = -1.0
        self._push_force = np.zeros(3)
        if opts.push_at_s is not None:
            self._scheduled_push = (opts.push_at_s, np.array(opts.push_force_n))
        else:
            self._scheduled_push = None
        self.band_on = opts.band  # released over the control channel ("band")
        self.stats = TimingStats()
        self._stop = threading.Event()
        self.control = ControlServer(opts.control_port, self._handle)

    # --- control channel -----------------------------------------------------------------
    def _handle(self, req: dict[str, Any]) -> dict[str, Any]:
        cmd = req["cmd"]
        with self._lock:
            if cmd == "truth":
                return {"ok": True, **self._truth()}
            if cmd == "sticks":
                sticks = {k: float(req[k]) for k in ("lx", "ly", "rx", "ry", "l2") if k in req}
                self._remote = RemoteState(**{**self._remote.__dict__, **sticks})
            elif cmd == "press":
                mask = key_mask(req["keys"])
                self._presses.append((time.monotonic() + float(req.get("hold_s", 0.3)), mask))
            elif cmd == "push":
                self._push_force = np.array(req["force_n"], dtype=np.float64)
                self._push_until_s = self.sim.data.time + float(req.get("duration_s", 0.1))
            elif cmd == "band":
                self.band_on = self.opts.band and bool(req["on"])
            elif cmd == "stop":
                self._stop.set()
            else:
                raise ValueError(f"unknown command {cmd!r}")
        return {"ok": True}

    def _truth(self) -> dict[str, Any]:
        return {
            **self.sim.truth(),
            "joint_names": list(self.opts.robot.joint_names),
            "cmd_received": self.intake.received,
            "cmd_bad_crc": self.intake.bad_crc,
            "state_published": self.publisher.published,
            "state_dropped": self.publisher.dropped,
            "state_bad_crc": self.publisher.corrupted,
            "held": self._held(),
            "band": self.band_on,
            "tick": self._tick_ms(),
            **self.stats.summary(self.sim.dt_s),
        }

    def _held(self) -> bool:
        return self.opts.hold_until_cmd and self.intake.first_valid_s is None

    # --- loop ------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def run(self, duration_s: float | None, hooks: Sequence[TickHook] = ()) -> dict[str, Any]:
        """Run in real time until `duration_s` of wall time, `stop()`, or a "stop" request.
        `hooks` (video, viewer) see the data after every tick."""
        dt = self.sim.dt_s
        self.stats.started_s = start = time.monotonic()
        deadline = start
        while not self._stop.is_set():
            now = time.monotonic()
            if duration_s is not None and now - start >= duration_s:
                break
            if deadline > now:
                time.sleep(deadline - now)
                now = time.monotonic()
            self._tick(now)
            for hook in hooks:
                hook.on_tick(self.sim.data)
            late = now - deadline
            if late > LATE_REPORT_S:
                self.stats.late_steps += 1
            self.stats.max_late_s = max(self.stats.max_late_s, late)
            deadline += dt
        self.control.close()
        return self.stats.summary(self.sim.dt_s)

    def _tick(self, now_s: float) -> None:
        with self._lock:
            remote = self._remote_bytes(now_s)
            q, dq = self.sim.q_rad.tolist(), self.sim.dq_rad_s.tolist()  # state k
            if not self._held():
                self._step_physics()  # tau and IMU of state k; qpos moves on to k+1
            sensed = self._sense(q, dq, remote)
        self.publisher.submit(sensed, now_s, self.stats.steps * self.sim.dt_s)
        self.stats.steps += 1

    def _step_physics(self) -> None:
        m, d, sim = self.sim.model, self.sim.data, self.sim
        mujoco.mj_step1(m, d)
        tau = sim.motor_law(self.intake.latest())
        d.ctrl[sim.actuator_ids] = tau
        sim.last_tau_nm = tau
        d.xfrc_applied[sim.root_id, :3] = self._external_force()
        mujoco.mj_step2(m, d)

    def _external_force(self) -> np.ndarray:
        t = self.sim.data.time
        if self._scheduled_push is not None and t >= self._scheduled_push[0]:
            self._push_force = self._scheduled_push[1]
            self._push_until_s = t + self.opts.push_duration_s
            self._scheduled_push = None
        force = self._push_force if t < self._push_until_s else np.zeros(3)
        if self.band_on:
            force = force + self.sim.band_force()
        return force

    def _sense(self, q: list[float], dq: list[float], remote: list[int]) -> Sensed:
        sim = self.sim
        quat, gyro, acc = sim.imu()
        return Sensed(
            tick=self._tick_ms(),
            q=q,
            dq=dq,
            tau=sim.last_tau_nm.tolist(),
            quat=quat.tolist(),
            gyro=gyro.tolist(),
            acc=acc.tolist(),
            remote=remote,
        )

    def _tick_ms(self) -> int:
        """Milliseconds of ticks, like the robot's counter: advances even while held."""
        return round(self.stats.steps * self.sim.dt_s * 1e3) & 0xFFFFFFFF

    def _remote_bytes(self, now_s: float) -> list[int]:
        self._presses = [(t, mask) for t, mask in self._presses if t > now_s]
        held = 0
        for _, mask in self._presses:
            held |= mask
        r = self._remote
        return encode_remote(RemoteState(held, r.lx, r.rx, r.ry, r.l2, r.ly))
