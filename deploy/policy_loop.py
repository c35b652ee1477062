"""The policy loop (the artifact's control period, 50 Hz for the shipped tasks).

Runs only in POLICY. Each tick: under the motor loop's lock, take the newest LowState through
the motor loop (one reader, one parser, its watchdogs see it) and copy what the policy reads
-> velocity command -> observation -> NaN guard -> inference -> NaN guard -> targets = offset +
scale * clip(action) -> under the lock again, the motor loop publishes them at once through
its safety pipeline. The LowState -> LowCmd latency is therefore obs + inference + safety +
serialize, not that plus up to a motor period. Policy ticks sit half a motor period away
from the regular motor ticks so the two rarely contend for the lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from deploy.commands import FixedCommand, StickCommand
from deploy.metrics import LoopMetrics
from deploy.motor_loop import MotorLoop, PolicyOutput, Shared
from deploy.observation import ObservationBuilder
from deploy.policy import PolicyRuntime
from deploy.recorder import FlightRecorder
from robots.contract import PolicyContract
from safety import Cause, Mode, finite_action, finite_obs


class PolicyLoop:
    """One `tick()` per control period while the mode is POLICY."""

    def __init__(
        self,
        *,
        shared: Shared,
        motor: MotorLoop,
        runtime: PolicyRuntime,
        contract: PolicyContract,
        sticks: StickCommand | None,
        fixed: FixedCommand | None,
        metrics: LoopMetrics,
        recorder: FlightRecorder | None,
        log: Callable[[str], None],
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.s = shared
        self.motor = motor
        self.clock = clock
        self.runtime = runtime
        self.obs_builder = ObservationBuilder(contract)
        self.period_s = contract.control_dt_s
        self.sticks = sticks
        self.fixed = fixed
        self.command = np.zeros(3) if fixed is None else fixed.command.copy()
        self.action_map = contract.action
        self.last_action = np.zeros(contract.num_actions, dtype=np.float32)
        self.metrics = metrics
        self.recorder = recorder
        self.log = log
        self.seq = 0
        n = contract.num_actions
        self.q, self.dq = np.zeros(n), np.zeros(n)
        self.quat, self.gyro = np.array([1.0, 0, 0, 0]), np.zeros(3)
        self.tick_id = 0

    def _read_state(self) -> int | None:
        """Newest LowState copied into the policy's buffers; returns when it was taken (ns)."""
        with self.motor.lock:
            st = self.motor.refresh_state()
            if st is None:
                return None
            self.q[:], self.dq[:] = st.q_rad, st.dq_rad_s
            self.quat[:], self.gyro[:] = st.quat_wxyz, st.gyro_rad_s
            self.tick_id = int(st.tick)
            return self.motor.state_ns

    def tick(self, now_ns: int) -> None:
        if self.s.mode is not Mode.POLICY:
            return
        taken_ns = self._read_state()
        if taken_ns is None:
            return  # no output this period: the motor loop counts the miss and reuses
        start_ns = self.clock()  # state in hand: the LowState -> LowCmd clock starts
        age_us = (start_ns - taken_ns) * 1e-3
        if self.sticks is not None:
            lx, ly, rx = self.s.sticks
            self.command = self.sticks.update(lx, ly, rx, self.period_s)
        elif self.fixed is not None:  # the heading is held from the end of the blend-in on
            blended_s = (start_ns - self.s.mode_since_ns) * 1e-9 - self.motor.cfg.motion.blend_s
            self.command = self.fixed.update(self.quat, steer=blended_s >= 0.0)
        obs = self.obs_builder.build(
            self.quat, self.gyro, self.command, self.q, self.dq, self.last_action, self.runtime.obs
        )
        bad = finite_obs(obs)
        t0 = time.perf_counter_ns()
        action = self.runtime.infer()
        infer_us = (time.perf_counter_ns() - t0) * 1e-3
        bad = bad or finite_action(action)
        # A fresh array: the command loop keeps reading it after this tick releases the lock.
        targets = self.action_map.targets(action)
        self.last_action[:] = action
        self.seq += 1
        with self.motor.lock:
            if bad is not None:
                self.s.trips.append(bad)  # the publish below damps instead
            else:
                self.s.policy_out = PolicyOutput(self.seq, start_ns, self.clock(), targets)
            self.motor.publish_policy(self.clock())
        self.metrics.policy_ticks += 1
        self.metrics.inference_us.add(infer_us)
        self.metrics.state_age_us.add(age_us)
        self._record(start_ns, obs, action, infer_us, age_us, bad)

    def _record(self, start_ns, obs, action, infer_us, age_us, bad: Cause | None) -> None:
        if self.recorder is None:
            return
        self.recorder.record(
            start_ns,
            "/deploy/policy",
            {
                "seq": self.seq,
                "t_ns": start_ns,
                "lowstate_tick": self.tick_id,
                "q": self.q.tolist(),
                "dq": self.dq.tolist(),
                "quat_wxyz": self.quat.tolist(),
                "gyro": self.gyro.tolist(),
                "command": self.command.tolist(),
                "obs": obs.tolist(),
                "action": action.tolist(),
                "inference_us": round(infer_us, 1),
                "lowstate_age_us": round(age_us, 1),
                "guard": None if bad is None else str(bad),
            },
        )
