"""Bad input table: every row is refused before DDS opens (exit 2, one sentence on stderr, no
traceback) and a real DDS spy on rt/lowcmd sees nothing. genpo-deploy runs in this process (its
refusals happen before any thread or DDS entity exists), bounded by --auto --duration should a
row ever be accepted."""

from __future__ import annotations

import json
import math
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deploy.cli as cli
from common.errors import UserError
from deploy import preflight
from deploy.cli import main
from robots import GO2
from safety.envelope import DAMPING_KD_RANGE, GAIN_MARGIN, MAX_STATE_DAMP_S
from tests.deploy.conftest import LowCmdSpy
from tests.deploy.test_deploy_units import _with_metadata

DOMAIN = 170


def _scale(key: str, factor: float):
    def edit(doc):
        doc["robot"][key] = [v * factor for v in doc["robot"][key]]

    return edit


def _set(path: tuple, value):
    def edit(doc):
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value(node[path[-1]]) if callable(value) else value

    return edit


TAMPERS = {
    "kp_x10": (_scale("kp", 10.0), "'robot.kp'"),
    "kd_negative": (_scale("kd", -1.0), "'robot.kd'"),
    "action_scale_x10": (_set(("contract", "action", "scale"), lambda v: 10 * v),
                         "'contract.action.scale'"),
    "offsets_plus_0.6": (_set(("contract", "action", "offset"), lambda v: [x + 0.6 for x in v]),
                         "'contract.action.offset'"),
    "default_pose_plus_0.6": (_set(("robot", "default_q_rad"), lambda v: [x + 0.6 for x in v]),
                              "'robot.default_q_rad'"),
    "control_dt_1e-4": (_set(("contract", "control_dt_s"), 1e-4), "'contract.control_dt_s'"),
    "control_dt_5": (_set(("contract", "control_dt_s"), 5.0), "'contract.control_dt_s'"),
    "command_ranges_50": (_set(("contract", "command_ranges"), [[-50, 50]] * 3),
                          "'contract.command_ranges[0]'"),
    "obs_scale_-1e6": (_set(("contract", "obs_terms", 0, "scale"), -1e6),
                       "'contract.obs_terms[0].scale'"),
    "golden_atol_1e9": (_set(("golden", "atol"), 1e9), "'golden.atol'"),
    "golden_atol_nan": (_set(("golden", "atol"), math.nan), "'golden.atol'"),
    "kd_null": (_set(("robot", "kd"), lambda v: [None] * len(v)),
                "'robot.kd' must be a list of numbers"),
    "kp_text": (_set(("robot", "kp"), lambda v: [f"{x} " for x in v]),
                "'robot.kp' must be a list of numbers"),
    "kp_bool": (_set(("robot", "kp"), lambda v: [True] * len(v)),
                "'robot.kp' must be a list of numbers"),
    "offset_text": (_set(("contract", "action", "offset"), lambda v: [str(x) for x in v]),
                    "'action.offset' must be a list of numbers"),
    "command_ranges_text": (_set(("contract", "command_ranges"), [["-1", "1"]] * 3),
                            "'command_ranges' must hold (lo, hi) numbers"),
}  # fmt: skip


@pytest.fixture(scope="module")
def tampered(artifacts, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tampered")
    return {
        name: _with_metadata(artifacts["go2"], root / f"{name}.onnx", edit)
        for name, (edit, _) in TAMPERS.items()
    }


@pytest.fixture(scope="module")
def spy():
    s = LowCmdSpy(DOMAIN, GO2.sdk_indices.tolist())
    yield s
    s.close()


def _read_only_dir(tmp_path: Path) -> Path:
    """A directory no file can be created in (root ignores permission bits: use sysfs)."""
    if os.geteuid() == 0:
        return Path("/sys/kernel/genpo-deploy-log")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    return ro


# (extra argv, a fragment the one sentence must contain); --log is added by the test.
SETTINGS = [
    (["--set", "motion.damping_kd=-2"], "motion.damping_kd = -2.0"),
    (["--set", "motion.damping_kd=.nan"], "motion.damping_kd = nan"),
    (["--set", "motion.damping_kd=1e6"], "motion.damping_kd"),
    (["--estop", "+"], "remote.estop = '+'"),
    (["--estop", ""], "remote.estop = ''"),
    (["--set", "remote.estop="], "remote.estop = ''"),
    (["--estop", "L2+Banana"], "unknown remote key 'Banana'"),
    (["--estop", "Up+Down"], "cannot hold Down and Up together"),
    (["--estop", "L2+Left+Right"], "cannot hold Left and Right together"),
    (["--estop", "L1+L2+R1+R2"], "must hold at most 3 keys"),
    (["--set", "safety.loop_stall_s=5"], "safety.loop_stall_s = 5.0"),
    (["--set", "safety.loop_stall_s=0.001"], "safety.loop_stall_s = 0.001"),
    (["--set", "safety.max_lost_per_window=1000000"], "safety.max_lost_per_window = 1000000"),
    (["--ip", "192.168.123.161"], "--sim talks to genpo-sim on this machine over loopback"),
    (["--set", "remote.stand=L2+B"], "remote.stand"),
    (["--set", "safety.state_hold_s=0"], "safety.state_hold_s = 0.0"),
    (["--set", "safety.state_damp_s=5"], "safety.state_damp_s"),
    (["--set", "timing.command_hz=0"], "timing.command_hz = 0.0"),
    (["--set", "timing.budget_calls=0"], "timing.budget_calls = 0"),
    (["--set", "safety.torque_factor=-1"], "safety.torque_factor = -1.0"),
    (["--set", "safety.target_speed_factor=2"], "safety.target_speed_factor"),
    (["--set", "safety.target_range_factor=1.1"], "safety.target_range_factor = 1.1"),
    (["--set", "safety.target_range_factor=0"], "safety.target_range_factor = 0.0"),
    (["--set", "sim.control_port=70000"], "sim.control_port = 70000"),
    (["--set", "motion.extra_kd=-1"], "motion.extra_kd = -1.0"),
    (["--set", "motion.extra_kd=.nan"], "motion.extra_kd = nan"),
    (["--set", "motion.extra_kd=6"], "motion.extra_kd = 6.0"),
    (["--set", "remote.silent_s=0"], "remote.silent_s = 0.0"),
    (["--set", "remote.silent_s=.nan"], "remote.silent_s = nan"),
    (["--set", "remote.silent_s=.inf"], "remote.silent_s = inf"),
    (["--set", "recorder.max_bytes=1000000000000000"], "the flight recorder needs"),
    (["--duration", "0"], "--duration 0"),
    (["--duration", "-1"], "--duration -1"),
    (["--duration", "nan"], "--duration nan"),
    (["--domain", "999"], "--domain 999"),
    (["--cmd", "5,0,0"], "outside the policy's training ranges"),
    (["--no-heading-hold"], "--no-heading-hold goes with --cmd"),
    (["--no-log"], "--log DIR and --no-log contradict each other"),
]


def _refused(argv: list[str], capsys, spy: LowCmdSpy) -> str:
    before = len(spy.cmds)
    rc = main(argv)
    time.sleep(0.05)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2, (argv, err)
    assert out == "" and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("genpo-deploy: error: "), err
    assert len(spy.cmds) == before, f"{argv}: messages on the wire"
    return lines[0]


def _argv(policy: Path, log: Path, *extra: str) -> list[str]:
    return ["--robot", "go2", "--sim", "--domain", str(DOMAIN), "--policy", str(policy),
            "--auto", "--duration", "2", "--log", str(log), *extra]  # fmt: skip


@pytest.mark.parametrize(("extra", "fragment"), SETTINGS, ids=[" ".join(a) for a, _ in SETTINGS])
def test_bad_setting_refused_before_dds(extra, fragment, artifacts, spy, capsys, tmp_path):
    line = _refused(_argv(artifacts["go2"], tmp_path, *extra), capsys, spy)
    assert fragment in line
    if "flight recorder" not in line:
        assert not list(tmp_path.iterdir()), "a refused run must not leave a log"


@pytest.mark.parametrize("name", list(TAMPERS))
def test_tampered_artifact_refused_before_dds(name, tampered, spy, capsys, tmp_path):
    line = _refused(_argv(tampered[name], tmp_path), capsys, spy)
    assert TAMPERS[name][1] in line


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--set", "safety.min_battery_v=0"], "safety.min_battery_v = 0.0 must be in [24, 33.6]"),
        (["--set", "safety.min_battery_v=50"], "safety.min_battery_v = 50.0"),
    ],
)
def test_robot_settings_refused_before_dds(extra, fragment, artifacts, spy, capsys, tmp_path):
    """Without --sim (a robot: here on loopback, refused before DDS opens) the battery trip
    cannot be switched off or set above a full pack."""
    robot = ["--robot", "go2", "--iface", "lo", "--domain", str(DOMAIN)]
    argv = [*robot, "--policy", str(artifacts["go2"]), "--auto", "--duration", "2", "--log",
            str(tmp_path), *extra]  # fmt: skip
    assert fragment in _refused(argv, capsys, spy)


def test_sim_on_a_network_interface_refused_before_dds(artifacts, spy, capsys, tmp_path):
    """--sim puts sim settings (looser watchdogs, CRC-less frames) on the link: loopback only."""
    from deploy.io.netif import is_loopback

    others = [name for _, name in socket.if_nameindex() if not is_loopback(name)]
    if not others:
        pytest.skip("this machine has no network interface besides loopback")
    line = _refused(_argv(artifacts["go2"], tmp_path, "--iface", others[0]), capsys, spy)
    assert f"{others[0]!r} is not a loopback interface" in line


def test_policy_that_is_a_directory_refused_before_dds(spy, capsys, tmp_path):
    line = _refused(_argv(tmp_path, tmp_path / "log"), capsys, spy)
    assert f"policy file {tmp_path} is a directory" in line


def test_unwritable_log_refused_before_dds(artifacts, spy, capsys, tmp_path):
    line = _refused(_argv(artifacts["go2"], _read_only_dir(tmp_path)), capsys, spy)
    assert "cannot write the flight recorder log" in line


def _check_argv(policy: Path, *extra: str) -> list[str]:
    return ["--robot", "go2", "--check", "--policy", str(policy), "--set",
            "timing.budget_calls=100", *extra]  # fmt: skip


def test_check_names_a_bad_interface_before_any_inference(
    artifacts, spy, capsys, tmp_path, monkeypatch
):
    """--check finds the DDS interface before the golden vectors or the budget run the policy."""
    loaded = []

    def load_policy(*args, **kwargs):  # the golden vectors: the first inference
        loaded.append(args)
        return preflight.load_policy(*args, **kwargs)

    monkeypatch.setattr(cli, "load_policy", load_policy)
    argv = _check_argv(artifacts["go2"], "--iface", "genpo-nope0", "--log", str(tmp_path))
    line = _refused(argv, capsys, spy)
    assert "network interface 'genpo-nope0' does not exist" in line
    assert loaded == [], "the policy ran before the interface was checked"


@pytest.mark.parametrize("problem", ["unwritable", "no-room"])
def test_check_refuses_a_log_a_run_would_refuse(problem, artifacts, spy, capsys, tmp_path):
    """--check judges --log as a run does (deploy.recorder.check_log_dir), writing nothing."""
    if problem == "unwritable":
        extra, fragment = ["--log", str(_read_only_dir(tmp_path) / "sub")], "cannot write the"
    else:
        extra = ["--log", str(tmp_path / "new"), "--set", "recorder.max_bytes=1000000000000000"]
        fragment = "the flight recorder needs 1000000000000000 bytes"
    assert fragment in _refused(_check_argv(artifacts["go2"], "--iface", "lo", *extra), capsys, spy)
    assert not (tmp_path / "new").exists() and not list(tmp_path.rglob("*.mcap"))


def test_check_with_a_new_log_folder_passes_and_creates_nothing(artifacts, capsys, tmp_path):
    log = tmp_path / "new" / "logs"
    assert main(_check_argv(artifacts["go2"], "--iface", "lo", "--log", str(log))) in (0, 1)
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["iface"] == "lo" and result["check"] in ("ok", "over_budget")
    assert not (tmp_path / "new").exists()


def test_tampered_artifacts_differ_only_in_their_field(artifacts, tampered):
    """The table's artifacts are the valid one with one field changed (else a refusal could come
    from something else)."""
    from deploy.policy import OrtPolicy

    base = json.loads(OrtPolicy(artifacts["go2"]).metadata())
    for path in tampered.values():
        doc = json.loads(OrtPolicy(path).metadata())
        changed = [k for k in base if json.dumps(base[k]) != json.dumps(doc[k])]
        assert len(changed) == 1, (path.name, changed)


POOL = {
    "motion.damping_kd": ["0", "4", "-2", ".nan", "1e6", ".inf"],
    "remote.estop": ["L2+B", "", "+", "R1+R2", "Start", "L2+Nope"],
    "timing.command_hz": ["500", "250", "0", "-1", "1e9", "60"],
    "safety.state_hold_s": ["0.006", "0", "0.03", "1"],
    "safety.state_damp_s": ["0.01", "0.06", "0", "0.5"],
    "safety.torque_factor": ["1", "0.5", "-1", "3"],
    "safety.target_speed_factor": ["1", "0.5", "0", "2"],
    "safety.target_range_factor": ["1", "0.9", "0", "1.5", ".nan"],
    "timing.budget_calls": ["100", "0", "-5"],
    "sim.control_port": ["0", "70000", "-1"],
}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(picks=st.dictionaries(st.sampled_from(sorted(POOL)), st.integers(0, 5), max_size=4))
def test_cli_fuzz_refuses_or_plans_inside_the_envelope(picks, artifacts, spy, capsys, tmp_path):
    """The CLI's whole pre-DDS path (prepare): a refusal is exit 2 with one sentence and nothing
    on the wire; an accepted plan has damping, chords, gains and limits inside the envelope."""
    sets = [f"{k}={POOL[k][i % len(POOL[k])]}" for k, i in picks.items()]
    argv = _argv(artifacts["go2"], tmp_path, *[a for s in sets for a in ("--set", s)])
    try:
        plan = cli.prepare(cli.build_parser().parse_args(argv))
    except UserError:
        _refused(argv, capsys, spy)
        return
    motors = [plan.damping.motor_cmd[s] for s in GO2.sdk_indices.tolist()]
    assert all(m.kp == 0 and DAMPING_KD_RANGE[0] <= m.kd <= DAMPING_KD_RANGE[1] for m in motors)
    assert plan.keys.estop != 0 and plan.keys.estop not in (plan.keys.stand, plan.keys.policy)
    lim, period = plan.limits, 1.0 / plan.cfg.timing.command_hz
    assert np.all(lim.max_step_rad <= GO2.values("velocity_limit_rad_s") * period + 1e-12)
    assert np.all(lim.tau_max_nm <= GO2.values("torque_limit_nm"))
    assert np.all(lim.q_lo_rad >= GO2.values("q_min_rad") - 1e-12) and np.all(
        lim.q_lo_rad < lim.q_hi_rad
    )
    assert np.all(lim.q_hi_rad <= GO2.values("q_max_rad") + 1e-12)
    assert np.all(lim.kp <= GAIN_MARGIN * GO2.values("kp")) and np.all(lim.kd > 0)
    s = plan.cfg.safety
    assert period < s.state_hold_s <= s.state_damp_s <= MAX_STATE_DAMP_S
