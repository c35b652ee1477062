"""Daemon pieces without DDS: observation, commands, stand/blend, runtime, recorder + replay,
start-up refusals, config."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from common.errors import UserError
from deploy.commands import FixedCommand, StickCommand, fixed_command
from deploy.config import DeployCfg, load_deploy_cfg
from deploy.metrics import Samples
from deploy.motion import StandTrajectory, blend
from deploy.observation import ObservationBuilder
from deploy.policy import OrtPolicy
from deploy.preflight import default_policy_path, load_policy
from deploy.recorder import FlightRecorder, read_log
from deploy.replay import replay
from robots import GO2, H1
from robots.artifact import ARTIFACT_KEY
from robots.contract import make_contract
from robots.frames import from_yaw, projected_gravity
from robots.policy_graph import OBS_INPUT
from tests.conftest import REPO


def test_observation_follows_contract_order_offsets_clip_and_scale():
    contract = make_contract(GO2, "flat")
    b = ObservationBuilder(contract)
    q = np.array(contract.action.offset) + 0.1
    dq = np.full(12, 200.0)  # beyond the 100 clip
    last = np.arange(12, dtype=np.float32)
    out = np.zeros(contract.obs_dim, dtype=np.float32)
    b.build(np.array([1.0, 0, 0, 0]), np.array([0.1, 0.2, 0.3]), np.array([0.5, 0, -0.2]),
            q, dq, last, out)  # fmt: skip
    sl = contract.obs_slices()
    np.testing.assert_allclose(out[sl["base_ang_vel"]], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(out[sl["projected_gravity"]], [0, 0, -1])
    np.testing.assert_allclose(out[sl["velocity_commands"]], [0.5, 0, -0.2], rtol=1e-6)
    np.testing.assert_allclose(out[sl["joint_pos"]], 0.1, rtol=1e-5)  # q - default
    np.testing.assert_allclose(out[sl["joint_vel"]], 100.0)  # clipped
    np.testing.assert_allclose(out[sl["actions"]], last)


def test_projected_gravity_rolled_90_degrees_points_along_y():
    half = math.radians(90) / 2
    quat = np.array([math.cos(half), math.sin(half), 0.0, 0.0])  # roll +90 deg about x
    g = projected_gravity(quat, np.zeros(3))
    np.testing.assert_allclose(g, [0.0, -1.0, 0.0], atol=1e-12)


def test_observation_builder_refuses_undeployable_terms():
    contract = make_contract(GO2, "flat")
    bad = contract.__class__(**{**contract.__dict__, "obs_terms": contract.critic_terms[:1]})
    with pytest.raises(UserError, match="cannot provide"):
        ObservationBuilder(bad)


@pytest.mark.parametrize(
    ("lx", "ly", "rx", "expected"),
    [
        (0.0, 1.0, 0.0, (1.0, 0.0, 0.0)),  # full forward
        (1.0, 0.0, 0.0, (0.0, -1.0, 0.0)),  # stick right -> vy = -lx
        (0.0, 0.0, -1.0, (0.0, 0.0, 1.0)),  # wz = -rx
        (0.05, 0.05, 0.05, (0.0, 0.0, 0.0)),  # inside the deadband
        (0.0, 5.0, 0.0, (1.0, 0.0, 0.0)),  # beyond full stick
        (0.0, float("nan"), 0.0, (0.0, 0.0, 0.0)),  # a broken stick reads zero
    ],
)
def test_sticks_map_with_signs_deadband_and_ranges(lx, ly, rx, expected):
    c = StickCommand(GO2.command_ranges, deadband=0.08, slew_per_s=1e9)
    np.testing.assert_allclose(c.update(lx, ly, rx, 0.02), expected, atol=1e-12)


def test_sticks_respect_forward_only_ranges_and_slew():
    h1 = StickCommand(H1.command_ranges, deadband=0.0, slew_per_s=2.0)  # vx in [0, 1], vy = 0
    np.testing.assert_allclose(h1.update(1.0, -1.0, 0.0, 1.0), [0.0, 0.0, 0.0])
    go2 = StickCommand(GO2.command_ranges, deadband=0.0, slew_per_s=2.0)
    assert go2.update(0.0, 1.0, 0.0, 0.02)[0] == pytest.approx(0.04)  # 2 /s over 20 ms


def test_fixed_command_checked_against_training_ranges():
    np.testing.assert_allclose(fixed_command("0.5,0,-0.3", GO2.command_ranges), [0.5, 0, -0.3])
    with pytest.raises(UserError, match="outside the policy's training ranges"):
        fixed_command("0.5,0.2,0", H1.command_ranges)  # H1 trains with vy = 0
    with pytest.raises(UserError, match="three"):
        fixed_command("fast", GO2.command_ranges)


def test_fixed_walking_command_holds_the_heading_of_its_first_tick():
    """wz = clip(0.5 * wrap(heading0 - yaw)) into the wz range; across +-pi by the short way."""
    wz_range = GO2.command_ranges[2]
    hold = FixedCommand(np.array([0.5, 0.0, 0.0]), wz_range)
    assert hold.holds
    start = 3.1  # just short of +pi
    np.testing.assert_allclose(hold.update(from_yaw(start)), [0.5, 0.0, 0.0])
    # drifted 0.2 rad left, across the wrap: steer right at 0.5 * 0.2
    cmd = hold.update(from_yaw(start + 0.2 - 2 * math.pi))
    assert cmd[2] == pytest.approx(-0.1) and cmd[0] == 0.5
    assert hold.update(from_yaw(start - 0.3))[2] == pytest.approx(0.15)  # drifted right
    assert hold.update(from_yaw(start - 3.0))[2] == pytest.approx(wz_range[1])  # clipped
    # a commanded turn, standing still, or hold turned off: wz as given
    for command, on in (([0.5, 0.0, 0.3], True), ([0.0, 0.0, 0.0], True), ([0.5, 0.0, 0.0], False)):
        fixed = FixedCommand(np.array(command), wz_range, hold_heading=on)
        fixed.update(from_yaw(0.0))
        assert not fixed.holds and fixed.update(from_yaw(1.0))[2] == command[2]


def test_stand_trajectory_bounds_joint_speed_and_starts_at_measured_pose():
    start, goal = np.zeros(3), np.array([0.6, -1.2, 0.3])
    traj = StandTrajectory(start, goal, speed_rad_s=0.6, min_s=0.5)
    assert traj.duration_s == pytest.approx(2.0)  # 1.2 rad at 0.6 rad/s
    np.testing.assert_allclose(traj.targets(0.0), start)
    steps = np.diff([traj.targets(t).copy() for t in np.arange(0, 2.2, 0.01)], axis=0)
    assert np.max(np.abs(steps)) <= 0.6 * 0.01 + 1e-12
    np.testing.assert_allclose(traj.targets(5.0), goal)
    np.testing.assert_allclose(blend(np.zeros(2), np.ones(2), 0.25, 0.5), [0.5, 0.5])
    # already at the goal with motion.stand_min_s = 0: a zero-length stand, at the goal
    there = StandTrajectory(goal, goal, speed_rad_s=0.6, min_s=0.0)
    assert there.duration_s == 0.0 and there.done(0.0)
    np.testing.assert_array_equal(there.targets(0.0), goal)


def test_ort_runtime_matches_session_run_and_golden(artifacts):
    rt = OrtPolicy(artifacts["go2"])
    obs = np.random.default_rng(0).standard_normal((5, rt.obs.shape[0])).astype(np.float32)
    ref = rt.session.run(None, {OBS_INPUT: obs})[0]
    np.testing.assert_array_equal(rt.run_batch(obs), ref)
    loaded = load_policy(artifacts["go2"], GO2)
    assert loaded.golden_err < 1e-5 and len(loaded.sha256) == 64


def _with_metadata(src: Path, dst: Path, edit) -> Path:
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    doc = json.loads(props[ARTIFACT_KEY])
    edit(doc)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {**props, ARTIFACT_KEY: json.dumps(doc)})
    onnx.save_model(model, str(dst))
    return dst


def test_refusals_name_the_problem(artifacts, tmp_path):
    with pytest.raises(UserError, match="exported for robot 'h1' but this is 'go2'"):
        load_policy(artifacts["h1"], GO2)

    def version(doc):
        doc["schema_version"] = 99

    with pytest.raises(UserError, match="schema version 99"):
        load_policy(_with_metadata(artifacts["go2"], tmp_path / "v.onnx", version), GO2)

    def golden(doc):
        doc["golden"]["actions"][0][0] += 0.5

    with pytest.raises(UserError, match="golden vectors differ"):
        load_policy(_with_metadata(artifacts["go2"], tmp_path / "g.onnx", golden), GO2)
    with pytest.raises(UserError, match="does not exist"):
        load_policy(tmp_path / "missing.onnx", GO2)


def test_daemon_clamps_targets_no_looser_than_the_policy_was_trained(artifacts, tmp_path):
    """The target clamp is safety.target_range_factor, or the tighter one the artifact records
    the policy was trained under; a malformed record is refused before anything is sent."""
    from deploy import cli

    def trained(factor, name):
        def edit(doc):
            doc["provenance"]["task_settings"] = {"sim.target_range_factor": factor}

        return _with_metadata(artifacts["go2"], tmp_path / f"{name}.onnx", edit)

    def planned(policy, *sets):
        argv = ["--robot", "go2", "--sim", "--policy", str(policy), "--no-log", *sets]
        return cli.prepare(cli.build_parser().parse_args(argv)).limits

    # The flight recorder's header states the bounds that were enforced.
    args = cli.build_parser().parse_args(
        ["--robot", "go2", "--sim", "--policy", str(trained(0.5, "half")), "--log", str(tmp_path)]
    )
    recorder = cli.open_recorder(args, cli.prepare(args))
    recorder.close()
    header = next(m for topic, _, m in read_log(recorder.path) if topic == "/deploy/header")
    half = GO2.scaled_limits(0.5, GO2.policy_joint_names)
    np.testing.assert_allclose(header["target_bounds_rad"], np.stack(half))

    tighter = ("--set", "safety.target_range_factor=0.4")
    cases = [
        (artifacts["go2"], (), 1.0),  # nothing recorded: the daemon's own
        (trained(0.5, "half"), (), 0.5),  # trained tighter: the trained clamp
        (trained(0.5, "half"), tighter, 0.4),  # the operator's is tighter still: theirs
        (trained(0.0, "none"), (), 1.0),  # trained without a clamp: the daemon's own
    ]
    for policy, sets, factor in cases:
        limits = planned(policy, *sets)
        lo, hi = GO2.scaled_limits(factor, GO2.policy_joint_names)
        np.testing.assert_allclose(limits.q_lo_rad, lo, err_msg=f"{policy.name} {sets}")
        np.testing.assert_allclose(limits.q_hi_rad, hi, err_msg=f"{policy.name} {sets}")
    with pytest.raises(UserError, match="records sim.target_range_factor=1.5, not a number"):
        planned(trained(1.5, "bad"))
    # Bounds that leave the stand pose outside, configured or trained, are refused before DDS:
    # Go2's rear thighs stand at 1.0 rad, which a range factor below 0.40 excludes.
    for policy, sets in ((artifacts["go2"], ("--set", "safety.target_range_factor=0.35")),
                         (trained(0.35, "narrow"), ())):  # fmt: skip
        with pytest.raises(UserError, match="leave R._thigh_joint's default 1.000 rad outside"):
            planned(policy, *sets)

    def not_a_mapping(doc):
        doc["provenance"]["task_settings"] = [0.5]

    with pytest.raises(UserError, match="policy artifact: task_settings is not a mapping"):
        planned(_with_metadata(artifacts["go2"], tmp_path / "list.onnx", not_a_mapping))


def test_default_policy_prefers_newest_export(tmp_path):
    with pytest.raises(UserError, match="no policy found for go2"):
        default_policy_path("go2", tmp_path)
    shipped = tmp_path / "assets/policies/go2_flat/policy.onnx"
    shipped.parent.mkdir(parents=True)
    shipped.write_bytes(b"x")
    assert default_policy_path("go2", tmp_path) == shipped
    run = tmp_path / "runs/go2_flat/2026-01-01/exported/policy.onnx"
    run.parent.mkdir(parents=True)
    run.write_bytes(b"x")
    assert default_policy_path("go2", tmp_path) == run
    with pytest.raises(UserError, match="no policy found for h1"):
        default_policy_path("h1", tmp_path)  # go2 runs are not h1 policies


def test_recorder_log_replays_bit_for_bit(artifacts, tmp_path):
    rt = OrtPolicy(artifacts["go2"])
    rec = FlightRecorder(tmp_path / "log.mcap", max_bytes=10**7, flush_s=0.05)
    sha = load_policy(artifacts["go2"], GO2).sha256
    header = {"robot": "go2", "policy_path": str(artifacts["go2"]), "artifact_sha256": sha}
    rec.record(0, "/deploy/header", header)
    rng = np.random.default_rng(1)
    for i in range(20):
        rt.obs[:] = rng.standard_normal(rt.obs.shape[0]).astype(np.float32)
        rec.record(i, "/deploy/policy", {"obs": rt.obs.tolist(), "action": rt.infer().tolist()})
    rec.close()
    assert sum(t == "/deploy/policy" for t, _, _ in read_log(tmp_path / "log.mcap")) == 20
    result = replay(tmp_path / "log.mcap")
    assert result["matched"] == 20 and result["mismatched"] == 0 and result["artifact_sha256_ok"]
    other = replay(tmp_path / "log.mcap", artifacts["go2_nan"])  # another policy cannot match
    assert other["mismatched"] == 20 and not other["artifact_sha256_ok"]


def test_recorder_stops_at_its_size_bound(tmp_path):
    messages = []
    rec = FlightRecorder(tmp_path / "big.mcap", max_bytes=20_000, flush_s=0.02, log=messages.append)
    for i in range(2000):
        rec.record(i, "/deploy/command", {"targets": [0.1] * 12})
    rec.close()
    assert rec.full and "recording stopped" in messages[0]
    assert (tmp_path / "big.mcap").stat().st_size < 40_000
    assert 0 < len(read_log(tmp_path / "big.mcap")) < 2000


def test_deploy_config_layers_robot_sim_and_overrides():
    cfg = load_deploy_cfg("h1", sim=True, overrides=("safety.max_tilt_deg=45",))
    assert cfg.motion.stand_speed_rad_s == 0.4  # configs/deploy/h1.yaml
    assert cfg.safety.state_damp_s == 0.06 and cfg.safety.min_battery_v == 0.0  # sim.yaml
    assert cfg.safety.max_tilt_deg == 45.0
    assert load_deploy_cfg("go2", sim=False).safety.min_battery_v == 24.0
    assert DeployCfg().remote.estop == "L2+B"
    with pytest.raises(UserError, match="unknown config key"):
        load_deploy_cfg("go2", sim=False, overrides=("safety.max_tilt=1",))


def test_samples_summary():
    s = Samples(4)
    assert s.summary()["p99"] is None
    for v in (1.0, 2.0, 3.0, 4.0, 100.0):  # capacity 4: the oldest is overwritten
        s.add(v)
    assert s.summary()["max"] == 100.0 and s.count == 5


def test_check_verifies_artifact_budget_and_interface_and_refuses_another_robot(artifacts):
    def check(policy: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "deploy", "--robot", "go2", "--check",
                               "--iface", "lo", "--policy", str(policy)],
                              cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip

    ok = check(artifacts["go2"])
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout.strip().splitlines()[-1])
    assert result["check"] == "ok" and result["iface"] == "lo" and result["golden_max_err"] < 1e-4
    refused = check(artifacts["h1"])
    assert refused.returncode == 2 and refused.stdout == ""
    assert "exported for robot 'h1' but this is 'go2'" in refused.stderr
