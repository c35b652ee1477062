"""The rate limit holds per published message, whatever published it: with the policy loop
publishing between regular command ticks, consecutive LowCmd targets on the wire never differ by
more than one max_step (the issue measured 2x: 0.12 vs 0.06 rad). The whole daemon runs in this
process (both loop threads, a policy whose targets run away at 1 rad per period, a standing-robot
LowState source); the writer keeps a copy of every message's targets."""

from __future__ import annotations

import numpy as np

import deploy.cli as cli
from robots import GO2
from robots.spec import POS_STOP
from tests.deploy.artifacts import ramping_artifact
from tests.deploy.standing import standing_link


class Wire:
    """A LowCmd writer that keeps (q targets in policy order, is_damping) of every message."""

    def __init__(self) -> None:
        self.slots = GO2.isaac_to_sdk.tolist()
        self.sent: list[tuple[np.ndarray, bool]] = []

    def write(self, msg) -> None:
        q = np.array([msg.motor_cmd[s].q for s in self.slots])
        kp = np.array([msg.motor_cmd[s].kp for s in self.slots])
        self.sent.append((q, bool(np.all(kp == 0) and np.all(q >= 0.99 * POS_STOP))))


def test_consecutive_published_targets_within_one_step(artifacts, monkeypatch, tmp_path):
    policy = ramping_artifact(artifacts["go2"], tmp_path / "ramping.onnx")
    monkeypatch.setattr(cli, "lock_memory", lambda log: None)  # not the pytest process's pages
    args = cli.build_parser().parse_args(
        ["--robot", "go2", "--sim", "--policy", str(policy), "--auto", "--duration",
         "5", "--no-log", "--set", "timing.budget_calls=100", "--set", "auto.stand_hold_s=0.2",
         "--set", "motion.blend_s=0"]
    )  # fmt: skip
    plan = cli.prepare(args)
    wire = Wire()
    result, code = cli.drive(args, plan, standing_link(GO2, wire), None)
    assert code == 0 and "POLICY" in result["states_visited"], result
    assert result["policy_ticks"] > 20
    targets = [q for q, damping in wire.sent if not damping]
    steps = np.abs(np.diff(np.array(targets), axis=0))
    max_step = plan.limits.max_step_rad
    assert np.all(steps <= max_step * (1 + 1e-9)), f"largest step {steps.max():.4f} rad"
    assert np.any(steps >= 0.99 * max_step), "the policy never pushed the rate limit"
