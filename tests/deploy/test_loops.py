"""MotorLoop, PolicyLoop and Daemon driven directly, in this process, on a fake clock: real LowState
messages (a standing Go2 with CRC), the real parser, LowCmd builder, safety layers and contract;
`take` and `publish` are plain callables and the policy runtime returns scripted actions. No DDS,
no simulator, no threads: every tick is called by the test at the time it names."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from deploy.commands import FixedCommand, StickCommand
from deploy.config import DeployCfg, load_deploy_cfg
from deploy.daemon import Daemon, RunOptions
from deploy.damping import EXIT_DAMPING_MESSAGES, build_damping
from deploy.io.lowcmd import make_lowcmd_builder
from deploy.io.lowstate import LowStateParser
from deploy.io.remote import RemoteState, encode_remote, key_mask
from deploy.metrics import LoopMetrics
from deploy.motor_loop import Chords, MotorLoop, PolicyOutput, Shared
from deploy.policy_loop import PolicyLoop
from robots import GO2
from robots.contract import PolicyContract, make_contract
from robots.spec import POS_STOP
from safety import Cause, Mode, joint_limits
from tests.deploy.standing import StandingRobot

MS = 1_000_000  # ns
KD = 4.0  # the configured damping kd (the robot's own is 3): damping must carry this one
CONTRACT = make_contract(GO2, "flat")
CHORDS = Chords(key_mask(["L2", "B"]), key_mask(["Start"]), key_mask(["A"]))


class Clock:
    """A monotonic clock the test moves by hand (ns)."""

    def __init__(self) -> None:
        self.now = 1_000 * MS

    def __call__(self) -> int:
        return self.now


class Robot:
    """`take()`: the standing robot's next LowState, with the remote keys held, or None while
    `silent` (a LowState stream that stopped)."""

    def __init__(self) -> None:
        self.standing = StandingRobot(GO2)
        self.silent = False

    def hold(self, *keys: str) -> None:
        mask = key_mask(keys) if keys else 0
        self.standing.msg.wireless_remote = encode_remote(RemoteState(keys=mask))

    def take(self):
        return None if self.silent else self.standing.take()


class Wire:
    """`publish`: keeps (q targets in policy order, kp, kd) of every LowCmd (the builder reuses
    one message object, so the values are copied)."""

    def __init__(self) -> None:
        self.slots = GO2.isaac_to_sdk.tolist()
        self.sent: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def __call__(self, msg) -> None:
        m = [msg.motor_cmd[s] for s in self.slots]
        self.sent.append(tuple(np.array([getattr(x, f) for x in m]) for f in ("q", "kp", "kd")))

    def last_is_damping(self) -> bool:
        q, kp, kd = self.sent[-1]
        return bool(np.all(kp == 0) and np.all(q == POS_STOP) and np.all(kd == KD))


class ScriptedRuntime:
    """A policy runtime whose action is set by the test (the loops, not the network, are tested)."""

    name = "scripted"

    def __init__(self, contract: PolicyContract = CONTRACT) -> None:
        self.obs = np.zeros(contract.obs_dim, dtype=np.float32)
        self.noise = None
        self.action = np.zeros(CONTRACT.num_actions, dtype=np.float32)
        self.calls = 0

    def infer(self) -> np.ndarray:
        self.calls += 1
        return self.action


class Rig:
    """A MotorLoop (and PolicyLoop, Daemon) over Robot / Wire / Clock."""

    def __init__(
        self,
        cfg: DeployCfg | None = None,
        contract: PolicyContract = CONTRACT,
        fixed: FixedCommand | None = None,
        **options,
    ) -> None:
        self.cfg = cfg or _cfg()
        self.clock, self.robot, self.wire = Clock(), Robot(), Wire()
        self.lines: list[str] = []
        self.shared = Shared(artifact_ok=True, budget_ok=True)
        self.metrics = LoopMetrics(self.cfg.timing.command_hz)
        self.period_ns = int(round(1e9 / self.cfg.timing.command_hz))
        self.motor = MotorLoop(
            shared=self.shared, take=self.robot.take, parser=LowStateParser(GO2),
            builder=make_lowcmd_builder(GO2), publish=self.wire,
            limits=joint_limits(GO2, command_dt_s=self.period_ns * 1e-9), chords=CHORDS,
            settings=self.cfg, default_q=np.array(CONTRACT.action.offset),
            damping_msg=build_damping(GO2, KD), policy_period_s=CONTRACT.control_dt_s,
            metrics=self.metrics, recorder=None, log=self.lines.append, clock=self.clock,
        )  # fmt: skip
        self.runtime = ScriptedRuntime(contract)
        self.policy = PolicyLoop(
            shared=self.shared, motor=self.motor, runtime=self.runtime, contract=contract,
            sticks=None if fixed else StickCommand(CONTRACT.command_ranges, 0.08, 2.0), fixed=fixed,
            metrics=self.metrics, recorder=None, log=self.lines.append, clock=self.clock,
        )  # fmt: skip
        opts = {"auto": False, "duration_s": None, "sim": False, "nominal_height_m": 0.3}
        self.daemon = Daemon(
            cfg=self.cfg, shared=self.shared, motor=self.motor, policy=self.policy,
            metrics=self.metrics, recorder=None, options=RunOptions(**{**opts, **options}),
            log=self.lines.append, clock=self.clock,
        )  # fmt: skip

    def tick(self, n: int = 1, every: Callable[[], None] | None = None) -> None:
        """`n` motor periods: the clock advances, the motor loop ticks, then `every()`."""
        for _ in range(n):
            self.clock.now += self.period_ns
            self.motor.tick(self.clock.now)
            if every is not None:
                every()

    def ticks_until(self, done: Callable[[], bool], limit: int = 5000) -> int:
        for i in range(limit):
            if done():
                return i
            self.tick()
        raise AssertionError(f"not reached in {limit} ticks; mode {self.shared.mode}")

    def press(self, *keys: str) -> None:
        """A chord pressed for two ticks, then released (the loop acts on rising edges)."""
        self.robot.hold(*keys)
        self.tick(2)
        self.robot.hold()
        self.tick()

    def to_stand_done(self) -> None:
        self.ticks_until(lambda: self.shared.mode is Mode.PASSIVE)
        self.press("Start")
        assert self.shared.mode is Mode.STAND
        self.ticks_until(lambda: self.shared.stand_done)

    def to_policy(self) -> None:
        self.to_stand_done()
        self.press("A")
        assert self.shared.mode is Mode.POLICY


def _cfg(**motion) -> DeployCfg:
    cfg = load_deploy_cfg("go2", sim=True)
    return replace(cfg, motion=replace(cfg.motion, damping_kd=KD, **motion))


# --- MotorLoop ------------------------------------------------------------------------------


def test_remote_chords_walk_the_state_machine_on_rising_edges():
    rig = Rig()
    rig.tick()
    assert rig.shared.mode is Mode.CONNECT  # one LowState: its tick has not advanced yet
    rig.tick()
    assert rig.shared.mode is Mode.PASSIVE  # an advancing tick, a verified artifact
    rig.press("A")  # POLICY from PASSIVE: not a transition the chords offer
    assert rig.shared.mode is Mode.PASSIVE
    rig.press("Start")
    assert rig.shared.mode is Mode.STAND
    rig.robot.hold("A")  # held before standing is done: asks once, is refused, not repeated
    rig.tick()
    assert rig.shared.mode is Mode.STAND
    rig.ticks_until(lambda: rig.shared.stand_done)
    assert rig.shared.mode is Mode.STAND, "a held button must not ask again"
    rig.robot.hold()
    rig.tick()  # released
    rig.press("A")
    assert rig.shared.mode is Mode.POLICY
    assert rig.metrics.states_visited == ["PASSIVE", "STAND", "POLICY"]


@pytest.mark.parametrize("mode", [Mode.PASSIVE, Mode.STAND, Mode.POLICY])
def test_estop_damps_within_the_tick_that_sees_it(mode):
    rig = Rig()
    rig.ticks_until(lambda: rig.shared.mode is Mode.PASSIVE)
    if mode is not Mode.PASSIVE:
        rig.press("Start")
    if mode is Mode.POLICY:
        rig.ticks_until(lambda: rig.shared.stand_done)
        rig.press("A")
    assert rig.shared.mode is mode
    sent = len(rig.wire.sent)
    rig.robot.hold("L2", "B")
    rig.tick()
    assert rig.shared.mode is Mode.DAMP
    assert len(rig.wire.sent) > sent and rig.wire.last_is_damping()
    assert rig.metrics.safety_events == [str(Cause.ESTOP)]
    rig.robot.hold()
    rig.press("Start")  # nothing leaves DAMP
    assert rig.shared.mode is Mode.DAMP and rig.wire.last_is_damping()


def test_stale_state_holds_the_last_targets_then_damps_at_the_thresholds():
    rig = Rig()
    s = rig.cfg.safety
    hold_ns, damp_ns = round(s.state_hold_s * 1e9), round(s.state_damp_s * 1e9)
    calf = GO2.joints[2]
    rig.robot.standing.msg.motor_state[calf.sdk_index].q = calf.default_q_rad + 0.3
    rig.ticks_until(lambda: rig.shared.mode is Mode.PASSIVE)
    rig.press("Start")
    rig.tick(20)
    assert rig.shared.mode is Mode.STAND and not rig.shared.stand_done  # targets still moving
    rig.robot.silent = True
    stopped_ns = rig.motor.state_ns
    sent = []  # (LowState age (ns) when the published message was prepared, its targets)
    while rig.shared.mode is Mode.STAND:
        rig.tick()
        sent.append((rig.clock.now - stopped_ns - rig.period_ns, rig.wire.sent[-1][0]))
    tripped_ns = sent.pop()[0] + rig.period_ns  # that tick published damping at once
    moving = [q for age, q in sent if age <= hold_ns]
    held = [q for age, q in sent if age > hold_ns]
    assert len({q.tobytes() for q in moving}) > 2, "the stand trajectory kept going while fresh"
    assert held and all(np.array_equal(q, moving[-1]) for q in held)  # hold the last targets
    assert damp_ns < tripped_ns <= damp_ns + rig.period_ns
    assert rig.shared.mode is Mode.DAMP and rig.wire.last_is_damping()
    assert rig.metrics.safety_events == [str(Cause.STALE_STATE)]


def test_policy_blends_in_from_the_stand_targets_over_blend_s():
    blend_s = 0.1
    rig = Rig(_cfg(blend_s=blend_s))
    rig.to_policy()
    start = rig.motor.prev_targets.copy()
    goal = start + 0.01  # well inside the rate and torque limits: only the blend shapes it
    since, period_s = rig.shared.mode_since_ns, rig.period_ns * 1e-9
    rig.shared.policy_out = PolicyOutput(1, rig.clock.now, rig.clock.now, goal)
    seen = []

    def fresh_output() -> None:  # the policy output stays fresh, so no deadline trips
        rig.shared.policy_out.done_ns = rig.clock.now
        seen.append(((rig.clock.now - since) * 1e-9, rig.wire.sent[-1][0]))

    rig.tick(int(1.5 * blend_s / period_s), every=fresh_output)
    assert rig.shared.mode is Mode.POLICY
    for t_s, q in seen[1:]:  # published at t_s, prepared one motor period earlier
        w = min(1.0, (t_s - period_s) / blend_s)
        np.testing.assert_allclose(q, start + w * (goal - start), rtol=0, atol=1e-12)
    assert any(0.4 < (t - period_s) / blend_s < 0.6 for t, _ in seen[1:])
    np.testing.assert_allclose(seen[-1][1], goal, rtol=0, atol=1e-12)


def test_policy_output_missing_damps_after_two_periods():
    rig = Rig()
    rig.to_policy()
    entered = rig.shared.mode_since_ns
    rig.ticks_until(lambda: rig.shared.mode is Mode.DAMP)
    late_s = (rig.clock.now - entered) * 1e-9
    period, grace = CONTRACT.control_dt_s, rig.cfg.safety.policy_grace_s
    assert 2 * period + grace < late_s <= 2 * period + grace + 2 * rig.period_ns * 1e-9
    assert rig.metrics.safety_events == [str(Cause.POLICY_STALE)] and rig.wire.last_is_damping()


# --- PolicyLoop -----------------------------------------------------------------------------


def test_policy_tick_publishes_its_targets_at_once_and_only_in_policy():
    rig = Rig(_cfg(blend_s=0.0))
    rig.to_stand_done()
    rig.policy.tick(rig.clock.now)
    assert rig.runtime.calls == 0, "the policy runs only in POLICY"
    rig.press("A")
    sent = len(rig.wire.sent)
    rig.runtime.action[:] = 0.02 / CONTRACT.action.scale
    rig.policy.tick(rig.clock.now)
    assert rig.runtime.calls == 1 and len(rig.wire.sent) == sent + 1  # no wait for a motor tick
    expected = np.array(CONTRACT.action.offset) + 0.02
    np.testing.assert_allclose(rig.wire.sent[-1][0], expected, atol=1e-6)
    assert rig.shared.mode is Mode.POLICY


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_action_damps_at_once(bad):
    rig = Rig()
    rig.to_policy()
    rig.runtime.action[3] = bad
    sent = len(rig.wire.sent)
    rig.policy.tick(rig.clock.now)
    # the policy tick's own publish is damping: no motor tick in between, no target from it
    assert len(rig.wire.sent) == sent + 1 and rig.wire.last_is_damping()
    assert rig.shared.mode is Mode.DAMP
    assert rig.metrics.safety_events == [str(Cause.NONFINITE_ACTION)]


def test_estop_in_the_state_the_policy_loop_took_damps_in_its_publish():
    """The policy loop, not the motor loop, takes the LowState that carries the e-stop chord:
    its publish is damping, never a target computed after the chord was read."""
    rig = Rig(_cfg(blend_s=0.0))
    rig.to_policy()
    rig.runtime.action[:] = 0.02 / CONTRACT.action.scale
    rig.policy.tick(rig.clock.now)
    assert not rig.wire.last_is_damping()
    rig.robot.hold("L2", "B")
    sent = len(rig.wire.sent)
    rig.policy.tick(rig.clock.now)
    assert len(rig.wire.sent) == sent + 1 and rig.wire.last_is_damping()
    assert rig.shared.mode is Mode.DAMP and rig.metrics.safety_events == [str(Cause.ESTOP)]


def test_a_state_only_the_policy_loop_took_is_still_checked():
    """Tilt and motor health run on every parsed state, whichever loop took it: an overheated
    motor in the state the policy loop read damps in that publish."""
    rig = Rig(_cfg(blend_s=0.0))
    rig.to_policy()
    rig.policy.tick(rig.clock.now)
    motor = rig.robot.standing.msg.motor_state[GO2.joints[0].sdk_index]
    motor.temperature = int(rig.cfg.safety.max_temperature_c) + 10
    sent = len(rig.wire.sent)
    rig.policy.tick(rig.clock.now)  # takes the hot state; the motor loop never sees it
    assert len(rig.wire.sent) == sent + 1 and rig.wire.last_is_damping()
    assert rig.metrics.safety_events == [str(Cause.OVER_TEMPERATURE)]


def test_policy_publish_holds_the_last_targets_while_the_state_is_late():
    """A policy output published while the LowState is older than state_hold_s goes through the
    hold rule (the last safe targets), as a motor tick would, not a step toward new targets."""
    rig = Rig(_cfg(blend_s=0.0))
    rig.to_policy()
    rig.runtime.action[:] = 0.0
    rig.policy.tick(rig.clock.now)
    held = rig.wire.sent[-1][0].copy()
    rig.robot.silent = True
    rig.clock.now += round(0.5 * (rig.cfg.safety.state_hold_s + rig.cfg.safety.state_damp_s) * 1e9)
    moved = held + 0.05
    rig.shared.policy_out = PolicyOutput(99, rig.clock.now, rig.clock.now, moved)
    rig.motor.publish_policy(rig.clock.now)
    assert rig.shared.mode is Mode.POLICY
    np.testing.assert_array_equal(rig.wire.sent[-1][0], held)
    rig.robot.silent = False
    rig.tick(2)  # a fresh state: the same output now moves the targets (rate-limited)
    assert np.all(rig.wire.sent[-1][0] > held)


def test_a_process_frozen_as_a_whole_is_not_a_stalled_loop():
    """The supervisor itself woke late (the OS or a garbage collection froze the process): the
    motor loop's silence is not held against it; it ticks again and the run goes on."""
    rig = Rig()
    rig.to_stand_done()
    rig.daemon.supervise()
    rig.clock.now += round((rig.cfg.safety.loop_stall_s + 0.5) * 1e9)  # every thread froze
    rig.daemon.supervise()
    assert not rig.daemon.finished()
    rig.tick()
    rig.clock.now += 100 * MS
    rig.daemon.supervise()
    assert not rig.daemon.finished() and rig.metrics.safety_events == []


def test_a_stalled_motor_loop_ends_the_run_with_an_error():
    rig = Rig()
    rig.to_stand_done()
    rig.motor.ticked_ns = rig.clock.now
    rig.clock.now += round(rig.cfg.safety.loop_stall_s * 1e9) - MS
    rig.daemon.supervise()
    assert not rig.daemon.finished()
    rig.clock.now += 2 * MS  # no tick started for longer than loop_stall_s
    rig.daemon.supervise()
    assert rig.daemon.finished()
    assert rig.metrics.safety_events == [str(Cause.LOOP_STALLED)]
    assert "motor loop stalled" in rig.daemon.result()["error"]


def test_policy_input_stacks_the_artifacts_history_from_the_first_policy_tick():
    """A 3-frame contract: the first POLICY tick fills every frame with its own (as an episode
    start in training), then each tick drops the oldest frame and appends the newest."""
    contract = make_contract(GO2, "flat", history_length=3)
    d, act = contract.frame_dim, contract.obs_slices()["actions"]  # act: in the newest frame
    rig = Rig(contract=contract)
    rig.to_policy()
    rig.policy.tick(rig.clock.now)  # its action is 0: the next frame's last action
    obs = rig.runtime.obs
    np.testing.assert_array_equal(obs, np.tile(obs[-d:], 3))
    rig.runtime.action = np.full(contract.num_actions, 0.1, dtype=np.float32)
    frames = [obs[-d:].copy()] * 3
    for _ in range(3):
        rig.tick()
        rig.policy.tick(rig.clock.now)
        frames = [*frames[1:], obs[-d:].copy()]
        np.testing.assert_array_equal(obs, np.concatenate(frames))
    assert np.allclose(obs[act], 0.1)  # newest frame: the last tick's action
    assert np.allclose(obs[act.start - 2 * d : act.stop - 2 * d], 0.0)  # oldest: the first's


def test_policy_observation_carries_the_stick_command():
    rig = Rig()
    rig.to_policy()
    rig.robot.standing.msg.wireless_remote = encode_remote(RemoteState(ly=1.0))
    rig.tick()
    rig.policy.tick(rig.clock.now)
    vx = rig.runtime.obs[CONTRACT.obs_slices()["velocity_commands"]][0]
    assert vx > 0  # slewed towards the forward command
    assert np.isclose(vx, 2.0 * CONTRACT.control_dt_s)  # one period of slew_per_s = 2


def test_fixed_command_holds_the_heading_from_the_end_of_the_blend_in():
    """--cmd 0.5,0,0: wz = 0 through the blend-in whatever the yaw; the first tick after it takes
    the IMU yaw as the heading; a robot then turned 0.2 rad left is commanded wz = -0.5 * 0.2."""
    rig = Rig(fixed=FixedCommand(np.array([0.5, 0.0, 0.0]), CONTRACT.command_ranges[2]))
    rig.to_policy()
    wz = CONTRACT.obs_slices()["velocity_commands"].start + 2
    imu = rig.robot.standing.msg.imu_state

    def set_yaw(yaw: float) -> None:
        imu.quaternion = [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]

    def policy_tick() -> float:
        rig.tick()
        rig.policy.tick(rig.clock.now)
        return float(rig.runtime.obs[wz])

    set_yaw(0.9)
    assert policy_tick() == 0.0  # blending: wz as given, no heading taken
    set_yaw(0.5)
    blend_ticks = int(rig.cfg.motion.blend_s * rig.cfg.timing.command_hz)
    rig.tick(blend_ticks, every=lambda: rig.policy.tick(rig.clock.now))  # fresh output
    assert rig.shared.mode is Mode.POLICY
    assert policy_tick() == 0.0  # the heading: 0.5 rad (not 0.9, seen while blending)
    set_yaw(0.7)
    assert policy_tick() == pytest.approx(-0.1, abs=1e-6)
    assert rig.runtime.obs[wz - 2] == pytest.approx(0.5)


# --- Daemon (the supervisor) ---------------------------------------------------------------


def _supervise_every(rig: Rig, period_s: float = 0.1) -> Callable[[], None]:
    every = int(period_s * 1e9 / rig.period_ns)
    count = [0]

    def step() -> None:
        count[0] += 1
        if count[0] % every == 0:
            rig.daemon.supervise()

    return step


def test_auto_walks_to_policy_and_ends_damped_at_duration():
    rig = Rig(auto=True, duration_s=4.0)
    supervise = _supervise_every(rig)

    def step() -> None:
        supervise()
        out = rig.shared.policy_out
        if rig.shared.mode is Mode.POLICY and out is None:  # stands in for the policy loop
            rig.shared.policy_out = out = PolicyOutput(1, 0, 0, rig.motor.prev_targets.copy())
        if out is not None:
            out.done_ns = rig.clock.now

    rig.tick(int(4.5e9 / rig.period_ns), every=step)
    assert rig.metrics.states_visited == ["PASSIVE", "STAND", "POLICY", "DAMP"]
    assert rig.metrics.safety_events == [str(Cause.END_OF_RUN)]
    damped_s = (rig.shared.mode_since_ns - rig.daemon._t0_ns) * 1e-9
    assert 4.0 <= damped_s <= 4.0 + 0.1 + 2 * rig.period_ns * 1e-9  # within a supervisor period
    assert rig.daemon.finished() and rig.wire.last_is_damping()


@pytest.mark.parametrize(("writers", "tolerated", "trips"), [(1, 0, True), (1, 1, False)])
def test_foreign_writers_trip_through_the_safety_rule(writers, tolerated, trips):
    class Monitor:
        def __init__(self) -> None:
            self.tolerated = tolerated

        def poll(self) -> list:
            return ["writer"] * writers

    rig = Rig(foreign_monitors=(Monitor(),))
    rig.to_stand_done()
    rig.daemon.supervise()
    rig.tick()
    assert (rig.shared.mode is Mode.DAMP) is trips
    if trips:
        assert rig.metrics.safety_events == [str(Cause.FOREIGN_PUBLISHER)]


def test_signal_damps_and_final_damping_sends_the_configured_kd():
    rig = Rig()
    rig.to_stand_done()
    rig.daemon.signal = Cause.SIGNAL
    rig.daemon.supervise()
    rig.tick()
    assert rig.shared.mode is Mode.DAMP and rig.wire.last_is_damping()
    assert not rig.daemon.finished()  # damping is sent for a while before exit
    rig.tick(int(rig.cfg.auto.exit_after_damp_s * 1e9 / rig.period_ns) + 1)
    assert rig.daemon.finished()
    sent = len(rig.wire.sent)
    rig.daemon.final_damping()
    assert len(rig.wire.sent) == sent + EXIT_DAMPING_MESSAGES
    assert all(
        np.all(kp == 0) and np.all(kd == KD) and np.all(q == POS_STOP)
        for q, kp, kd in rig.wire.sent[sent:]
    )
