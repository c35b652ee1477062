"""The policy loop (the artifact's control period, 50 Hz for the shipped tasks).

Runs only in POLICY. Each tick: parse the newest LowState (its own parser: the freshest state,
no lock with the command loop) -> velocity command -> observation -> NaN guard -> inference ->
NaN guard -> targets = offset + scale * clip(action) -> hand to the command loop, and run one
extra command-loop tick at once (same lock, same safety pipeline) so the LowState -> LowCmd path
is parse + obs + inference + safety + serialize, not that plus up to a command period. Policy
ticks sit half a command period away from the regular command ticks so the two rarely collide.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from deploy.command_loop import PolicyOutput, Shared
from deploy.commands import StickCommand
from deploy.io.lowstate import LowStateParser, RobotState
from deploy.metrics import LoopMetrics
from deploy.observation import ObservationBuilder
from deploy.policy import PolicyRuntime
from deploy.recorder import FlightRecorder
from robots.contract import PolicyContract
from safety import Cause, Mode, finite_action, finite_obs


class PolicyLoop:
    """One `tick()` per control period while the mode is POLICY."""

    def __init__(
        self,
        shared: Shared,
        state_source: Any,
        parser: LowStateParser,
        runtime: PolicyRuntime,
        contract: PolicyContract,
        sticks: StickCommand | None,
        fixed_command: np.ndarray | None,
        metrics: LoopMetrics,
        recorder: FlightRecorder | None,
        log: Callable[[str], None],
        publish_now: Callable[[RobotState, int, float], None] | None = None,
    ) -> None:
        self.s = shared
        self.publish_now = publish_now
        self.source = state_source
        self.parser = parser
        self.runtime = runtime
        self.obs_builder = ObservationBuilder(contract)
        self.period_s = contract.control_dt_s
        self.sticks = sticks
        self.command = np.zeros(3) if fixed_command is None else np.array(fixed_command)
        a = contract.action
        self.offset = np.asarray(a.offset, dtype=np.float64)
        self.scale = a.scale
        self.clip = np.inf if a.clip is None else a.clip
        self.last_action = np.zeros(contract.num_actions, dtype=np.float32)
        self.metrics = metrics
        self.recorder = recorder
        self.log = log
        self.seq = 0

    def tick(self, now_ns: int) -> None:
        if self.s.mode is not Mode.POLICY:
            return
        start_ns = time.monotonic_ns()
        count, received_s = self.source.count, self.source.received_s
        state = self.parser.parse(self.source.sample)
        if not state.crc_ok:
            return  # no output this period: the command loop counts the miss and reuses
        age_us = (start_ns - int(received_s * 1e9)) * 1e-3
        if self.sticks is not None:
            lx, ly, rx = self.s.sticks
            self.command = self.sticks.update(lx, ly, rx, self.period_s)
        obs = self.obs_builder.build(
            state.quat_wxyz,
            state.gyro_rad_s,
            self.command,
            state.q_rad,
            state.dq_rad_s,
            self.last_action,
            self.runtime.obs,
        )
        bad = finite_obs(obs)
        t0 = time.perf_counter_ns()
        action = self.runtime.infer()
        infer_us = (time.perf_counter_ns() - t0) * 1e-3
        bad = bad or finite_action(action)
        targets = self.offset + self.scale * np.clip(action, -self.clip, self.clip)
        self.last_action[:] = action
        self.seq += 1
        if bad is not None:
            self.s.trips.append(bad)
        else:
            self.s.policy_out = PolicyOutput(self.seq, start_ns, time.monotonic_ns(), targets)
        if self.publish_now is not None:
            # the command loop's pipeline, now, on the state just parsed: safety, then LowCmd
            self.publish_now(state, count, received_s)
        self.metrics.policy_ticks += 1
        self.metrics.inference_us.add(infer_us)
        self.metrics.state_age_us.add(age_us)
        self._record(start_ns, state, obs, action, infer_us, age_us, bad)

    def _record(self, start_ns, state, obs, action, infer_us, age_us, bad: Cause | None) -> None:
        if self.recorder is None:
            return
        self.recorder.record(
            start_ns,
            "/deploy/policy",
            {
                "seq": self.seq,
                "t_ns": start_ns,
                "lowstate_tick": int(state.tick),
                "q": state.q_rad.tolist(),
                "dq": state.dq_rad_s.tolist(),
                "quat_wxyz": state.quat_wxyz.tolist(),
                "gyro": state.gyro_rad_s.tolist(),
                "command": self.command.tolist(),
                "obs": obs.tolist(),
                "action": action.tolist(),
                "inference_us": round(infer_us, 1),
                "lowstate_age_us": round(age_us, 1),
                "guard": None if bad is None else str(bad),
            },
        )
