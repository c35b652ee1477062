"""The damping path cannot fail: an exception injected at each stage of the loops (or in the
supervisor) still ends with the prebuilt damping LowCmd on the wire, with the configured kd, and a
result carrying the error. The daemon runs in this process on real CycloneDDS (loopback) with a
real policy; a standing-robot LowState source replaces genpo-sim; a DDS spy records rt/lowcmd."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_

import deploy.cli as cli
from deploy.damping import EXIT_DAMPING_MESSAGES, build_damping
from deploy.io.channels import open_dds
from deploy.io.crc import crc_ok
from robots import GO2
from robots.spec import POS_STOP
from safety import Mode
from safety.envelope import EnvelopeError
from tests.deploy.conftest import LowCmdSpy
from tests.deploy.standing import standing_link

DOMAIN = 172
KD = 4.0  # not the robot's 3: damping must carry the configured value


class Injected(RuntimeError):
    pass


def _args(*extra: str):
    return cli.build_parser().parse_args(
        ["--robot", "go2", "--sim", "--domain", str(DOMAIN), "--policy", str(POLICY[0]),
         "--auto", "--duration", "30", "--no-log", "--set", f"motion.damping_kd={KD}",
         "--set", "timing.budget_calls=100", "--set", "auto.stand_hold_s=0.2", *extra]
    )  # fmt: skip


POLICY: list = []


def _once(fn: Callable, ready: Callable[[], bool], fired: list) -> Callable:
    """`fn` that raises Injected on its first call once `ready()` holds."""

    def wrapped(*a, **k):
        if not fired and ready():
            fired.append(time.time_ns())
            raise Injected("injected fault")
        return fn(*a, **k)

    return wrapped


STAGES = ["take", "parse", "checks", "requests", "prepare", "publish", "observation", "infer",
          "policy_publish", "supervisor"]  # fmt: skip


def _inject(stage: str, daemon, ready, fired) -> None:
    c, p = daemon.motor, daemon.policy
    targets = {
        "take": (c, "take"), "parse": (c.parser, "parse"), "checks": (c, "_checks"),
        "requests": (c, "_apply_requests"), "prepare": (c, "_prepare"),
        "publish": (c, "publish"), "observation": (p.obs_builder, "build"),
        "infer": (p.runtime, "infer"), "policy_publish": (c, "publish_policy"),
        "supervisor": (daemon, "supervise"),
    }  # fmt: skip
    obj, name = targets[stage]
    setattr(obj, name, _once(getattr(obj, name), ready, fired))


@pytest.fixture(scope="module")
def spy():
    s = LowCmdSpy(DOMAIN, GO2.sdk_indices.tolist())
    yield s
    s.close()


@pytest.mark.parametrize("stage", STAGES)
def test_exception_at_any_stage_ends_with_prebuilt_damping(stage, artifacts, spy, monkeypatch):
    POLICY[:] = [artifacts["go2"]]
    monkeypatch.setattr(cli, "lock_memory", lambda log: None)  # not the pytest process's pages
    args = _args()
    plan = cli.prepare(args)
    writer = open_dds(DOMAIN, iface="lo").writer("rt/lowcmd", LowCmd_)
    link = standing_link(GO2, writer)
    built = cli.build_daemon
    fired: list[int] = []

    def build(**kw):
        daemon = built(**kw)
        _inject(stage, daemon, lambda: daemon.s.mode is Mode.POLICY, fired)
        return daemon

    monkeypatch.setattr(cli, "build_daemon", build)
    start = len(spy.cmds)
    result, code = cli.drive(args, plan, link, None)
    time.sleep(0.3)  # loopback delivery to the spy
    assert fired, f"{stage}: the run never reached POLICY: {result}"
    assert code == 1 and "injected fault" in result["error"], result
    after = [(t, d, kd) for t, d, kd in spy.cmds[start:] if t >= fired[0]]
    damping = [kd for _, d, kd in after if d]
    assert len(damping) >= EXIT_DAMPING_MESSAGES, (stage, len(after))
    assert after[-1][1], "the last LowCmd on the wire must be damping"
    assert set(damping) == {KD}


def test_damping_message_is_built_and_checked_once():
    msg = build_damping(GO2, KD)
    motors = [msg.motor_cmd[s] for s in GO2.sdk_indices.tolist()]
    assert all(m.kp == 0 and m.kd == KD and m.q == POS_STOP for m in motors) and crc_ok(msg)
    assert build_damping(GO2, KD) is not msg  # each daemon owns its own, nobody rewrites it
    for bad in (-2.0, float("nan"), 0.0, 1e6):
        with pytest.raises(EnvelopeError):
            build_damping(GO2, bad)


class _Kept:
    """A LowCmd writer that keeps (kp, kd, q) of slot 0 of every message."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, float, float]] = []

    def write(self, msg) -> None:
        m = msg.motor_cmd[int(GO2.sdk_indices[0])]
        self.sent.append((m.kp, m.kd, m.q))


def test_failure_before_the_daemon_exists_still_damps_with_the_configured_kd(
    artifacts, monkeypatch
):
    """Building the daemon raises (after the link opened): the same prebuilt message still goes
    out through the link's publish path, EXIT_DAMPING_MESSAGES times."""
    POLICY[:] = [artifacts["go2"]]
    args = _args()
    plan = cli.prepare(args)
    wire = _Kept()

    def broken(**_kw):
        raise Injected("injected fault")

    monkeypatch.setattr(cli, "build_daemon", broken)
    result, code = cli.drive(args, plan, standing_link(GO2, wire), None)
    assert code == 1 and "injected fault" in result["error"], result
    assert wire.sent == [(0.0, KD, POS_STOP)] * EXIT_DAMPING_MESSAGES
