"""The lean I/O path against the SDK, bit for bit; frame validation before commit (both paths).

Messages are filled with random values through the SDK's own IDL objects; the lean layouts,
CRC, parser and builder must reproduce what the SDK's serializer and CRC produce.
"""

from __future__ import annotations

import numpy as np
import pytest
from unitree_sdk2py.idl.default import (
    unitree_go_msg_dds__LowCmd_,
    unitree_go_msg_dds__LowState_,
    unitree_hg_msg_dds__LowCmd_,
    unitree_hg_msg_dds__LowState_,
)
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowState_
from unitree_sdk2py.utils.crc import CRC

from deploy.io.crc import stamp_crc
from deploy.io.layout import CrcGather, crc32_mpeg2, layout_of
from deploy.io.lowcmd import make_lean_lowcmd_builder, make_lowcmd_builder
from deploy.io.lowstate import LeanLowStateParser, LowStateParser
from deploy.io.remote import RemoteState, encode_remote
from robots import GO2, H1

FACTORIES = {
    "go LowState": unitree_go_msg_dds__LowState_,
    "go LowCmd": unitree_go_msg_dds__LowCmd_,
    "hg LowState": unitree_hg_msg_dds__LowState_,
    "hg LowCmd": unitree_hg_msg_dds__LowCmd_,
}


def _randomize(obj, rng: np.random.Generator) -> None:
    """Random values in every primitive member of an SDK IDL object, in place."""
    for name, value in vars(obj).items():
        if hasattr(value, "__dataclass_fields__"):
            _randomize(value, rng)
        elif isinstance(value, list) and value and hasattr(value[0], "__dataclass_fields__"):
            for item in value:
                _randomize(item, rng)
        elif isinstance(value, list):
            setattr(obj, name, [_random_like(v, rng) for v in value])
        elif name != "crc":
            setattr(obj, name, _random_like(value, rng))


def _random_like(value, rng: np.random.Generator):
    if isinstance(value, float):
        return float(np.float32(rng.normal(0.0, 10.0)))
    return int(rng.integers(0, 100))  # fits every integer member, signed or not


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_crc_matches_sdk_bit_for_bit(kind: str) -> None:
    rng = np.random.default_rng(7)
    factory = FACTORIES[kind]
    gather = CrcGather(layout_of(type(factory())))
    for _ in range(30):
        msg = factory()
        _randomize(msg, rng)
        msg.crc = int(rng.integers(0, 2**32))  # the crc word itself is not covered
        assert gather.crc(msg.serialize()) == CRC().Crc(msg)


def test_crc32_mpeg2_check_value() -> None:
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7  # the catalogued CRC-32/MPEG-2 check value


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_layout_sizes_match_sdk_pack_formats(kind: str) -> None:
    lay = layout_of(type(FACTORIES[kind]()))
    sizes = {"go LowState": 1180, "go LowCmd": 812, "hg LowState": 2092, "hg LowCmd": 1004}
    assert lay.c_size == sizes[kind]  # the sizes unitree_sdk2py.utils.crc packs
    assert 4 + lay.cdr_size == len(FACTORIES[kind]().serialize())


@pytest.mark.parametrize("robot", [GO2, H1], ids=["go2", "h1"])
def test_lean_lowcmd_is_the_sdk_message_bit_for_bit(robot) -> None:
    rng = np.random.default_rng(3)
    sdk, lean = make_lowcmd_builder(robot), make_lean_lowcmd_builder(robot)
    n = robot.num_joints
    for step in range(20):
        if step % 5 == 4:
            kd = rng.uniform(0.5, 5.0, n)
            for b in (sdk, lean):
                b.set_damping(kd)
        else:
            q, kp, kd = rng.normal(0, 1, n), rng.uniform(0, 200, n), rng.uniform(0, 5, n)
            dq, tau = rng.normal(0, 3, n), rng.normal(0, 5, n)
            for b in (sdk, lean):
                b.set_targets(q, kp, kd, dq=dq, tau=tau)
        assert lean.build() == sdk.build().serialize()


def _state_message(robot, rng: np.random.Generator):
    msg = unitree_go_msg_dds__LowState_()
    for j in robot.joints:
        m = msg.motor_state[j.sdk_index]
        m.q = float(rng.uniform(j.q_min_rad, j.q_max_rad))
        m.dq = float(rng.uniform(-j.velocity_limit_rad_s, j.velocity_limit_rad_s))
        m.tau_est, m.temperature, m.lost = float(rng.normal()), int(rng.integers(20, 60)), 3
    quat = rng.normal(size=4)
    msg.imu_state.quaternion = (quat / np.linalg.norm(quat)).tolist()
    msg.imu_state.gyroscope = rng.normal(0, 2, 3).tolist()
    msg.imu_state.accelerometer = [0.3, -0.2, 9.8]
    msg.tick, msg.power_v = int(rng.integers(0, 2**32)), 28.7
    msg.wireless_remote = encode_remote(RemoteState(keys=0x0220, lx=0.25, ly=-0.5, rx=0.1))
    stamp_crc(msg)
    return msg


@pytest.mark.parametrize("robot", [GO2, H1], ids=["go2", "h1"])
def test_lean_parse_equals_sdk_parse(robot) -> None:
    rng = np.random.default_rng(11)
    sdk, lean = LowStateParser(robot), LeanLowStateParser(robot, LowState_)
    for _ in range(20):
        raw = _state_message(robot, rng).serialize()
        a, b = sdk.parse(LowState_.deserialize(raw)), lean.parse(raw)  # as DDS delivers them
        assert a is not None and b is not None
        for name in ("q_rad", "dq_rad_s", "tau_est_nm", "quat_wxyz", "gyro_rad_s", "accel_m_s2",
                     "rpy_rad", "temperature_c", "lost"):  # fmt: skip
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert (a.tick, a.power_v, a.remote) == (b.tick, b.power_v, b.remote)


def _corruptions():
    """(name, edit of a LowState object) for frames a parser must reject with a valid CRC."""

    def motor(field, value):
        return lambda m: setattr(m.motor_state[2], field, value)

    def imu(field, index, value):
        return lambda m: getattr(m.imu_state, field).__setitem__(index, value)

    return [
        ("gyro 1e6 rad/s", imu("gyroscope", 1, 1e6)),
        ("gyro just past 2000 deg/s", imu("gyroscope", 0, -36.0)),
        ("accel 1e4 m/s2", imu("accelerometer", 2, 1e4)),
        ("quaternion zero", lambda m: setattr(m.imu_state, "quaternion", [0.0] * 4)),
        ("quaternion norm 2", lambda m: setattr(m.imu_state, "quaternion", [2.0, 0, 0, 0])),
        ("q NaN", motor("q", float("nan"))),
        ("q far beyond range", motor("q", 50.0)),
        ("dq 1e5", motor("dq", 1e5)),
        ("tau inf", motor("tau_est", float("inf"))),
        ("power NaN", lambda m: setattr(m, "power_v", float("nan"))),
    ]


@pytest.mark.parametrize("path", ["sdk", "lean"])
@pytest.mark.parametrize("name,edit", _corruptions(), ids=[c[0] for c in _corruptions()])
def test_implausible_frame_with_valid_crc_is_not_committed(path, name, edit) -> None:
    rng = np.random.default_rng(5)
    parser = LowStateParser(GO2) if path == "sdk" else LeanLowStateParser(GO2, LowState_)

    def feed(msg):
        return parser.parse(msg if path == "sdk" else msg.serialize())

    good = _state_message(GO2, rng)
    committed = feed(good)
    before = committed._f.copy(), committed.tick
    bad = _state_message(GO2, rng)
    edit(bad)
    stamp_crc(bad)
    assert feed(bad) is None
    assert np.array_equal(parser.state._f, before[0]) and parser.state.tick == before[1]
    assert sum(parser.bad_frames.values()) == 1


@pytest.mark.parametrize("path", ["sdk", "lean"])
def test_bad_crc_frame_leaves_state_untouched(path) -> None:
    """Issue 11: the old parser wrote a bad-CRC frame's joints into the shared state."""
    rng = np.random.default_rng(9)
    parser = LowStateParser(GO2) if path == "sdk" else LeanLowStateParser(GO2, LowState_)
    good, bad = _state_message(GO2, rng), _state_message(GO2, rng)
    bad.crc ^= 0x10
    feed = (lambda m: parser.parse(m)) if path == "sdk" else (lambda m: parser.parse(m.serialize()))
    q_good = feed(good).q_rad.copy()
    assert feed(bad) is None
    np.testing.assert_array_equal(parser.state.q_rad, q_good)


@pytest.mark.parametrize("path", ["sdk", "lean"])
def test_crcless_source_only_until_a_valid_crc(path) -> None:
    rng = np.random.default_rng(13)
    lines: list[str] = []
    parser = (
        LowStateParser(GO2, allow_crcless=True, log=lines.append)
        if path == "sdk"
        else LeanLowStateParser(GO2, LowState_, allow_crcless=True, log=lines.append)
    )
    feed = (lambda m: parser.parse(m)) if path == "sdk" else (lambda m: parser.parse(m.serialize()))

    def unstamped():
        msg = _state_message(GO2, rng)
        msg.crc = 0
        return msg

    assert feed(unstamped()) is not None and feed(unstamped()) is not None
    assert len([ln for ln in lines if "no CRC" in ln]) == 1  # said once
    wrong = _state_message(GO2, rng)
    wrong.crc ^= 1
    assert feed(wrong) is None  # a non-zero wrong CRC is never accepted
    assert feed(_state_message(GO2, rng)) is not None  # a valid CRC: checking is on for good
    assert feed(unstamped()) is None
    strict = LowStateParser(GO2)  # the real robot: no exception at all
    assert strict.parse(unstamped()) is None
