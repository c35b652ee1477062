"""Property over the lean I/O path (10,000 hypothesis cases in the default suite).

1. ANY LowState frame (any float32 in the fields the daemon reads, valid or corrupt CRC): the
   lean parser and the SDK parser agree on commit vs reject and on every committed value, and a
   committed state is finite and physically plausible.
2. ANY policy targets on ANY committed state: what the lean builder puts on the wire decodes
   (with the SDK's deserializer) to the SDK builder's exact bytes, carries the SDK's CRC, and
   holds targets inside the soft joint limits with the artifact's gains.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_
from unitree_sdk2py.utils.crc import CRC

from deploy.benchmarks.io import standing_lowstate
from deploy.io.layout import CrcGather, layout_of
from deploy.io.lowcmd import make_lean_lowcmd_builder, make_lowcmd_builder
from deploy.io.lowstate import (
    DQ_TOLERANCE,
    Q_TOLERANCE_RAD,
    QUAT_NORM_TOLERANCE,
    LeanLowStateParser,
    LowStateParser,
)
from robots import GO2, H1
from safety import joint_limits, safe_targets

ROBOTS = {"go2": GO2, "h1": H1}
LAYOUT = layout_of(LowState_)
CRC_GATHER = CrcGather(LAYOUT)
LIMITS = {n: joint_limits(r, command_dt_s=0.002) for n, r in ROBOTS.items()}
PARSERS = {n: (LeanLowStateParser(r, LowState_), LowStateParser(r)) for n, r in ROBOTS.items()}
BUILDERS = {n: (make_lean_lowcmd_builder(r), make_lowcmd_builder(r)) for n, r in ROBOTS.items()}
FIELDS = [f"motor_state[{k}].{f}" for k in range(20) for f in ("q", "dq", "tau_est")] + [
    f"imu_state.{name}" for name in ("quaternion", "gyroscope", "accelerometer")
]
F32 = st.one_of(
    st.floats(width=32, allow_nan=True, allow_infinity=True),
    st.sampled_from([np.nan, np.inf, -np.inf, 3.4e38, -3.4e38, 0.0, 1e6, -1e6, 36.0, 1.0]),
)


def _template(robot) -> bytes:
    return bytes(standing_lowstate(robot).serialize())


TEMPLATES = {n: _template(r) for n, r in ROBOTS.items()}


@st.composite
def frames(draw, name: str) -> bytes:
    """The standing template with a few fields overwritten by any float32; CRC valid or not."""
    buf = bytearray(TEMPLATES[name])
    f32 = np.frombuffer(buf, np.float32)
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        leaf = LAYOUT.leaf(field)
        index = LAYOUT.word(field) + draw(st.integers(0, leaf.count - 1))
        f32[index] = np.float32(draw(F32))
    if draw(st.booleans()):  # a near-miss unit quaternion, either side of the tolerance
        f32[LAYOUT.word("imu_state.quaternion")] = draw(st.floats(0.875, 1.125, width=32))
    u32 = np.frombuffer(buf, np.uint32)
    crc = CRC_GATHER.crc(buf)
    u32[LAYOUT.word("crc")] = crc ^ draw(st.sampled_from([0, 0, 0, 1, 1 << 31]))
    return bytes(buf)


def _plausible(state, robot) -> bool:
    names = robot.policy_joint_names
    lo = robot.values("q_min_rad", names) - Q_TOLERANCE_RAD
    hi = robot.values("q_max_rad", names) + Q_TOLERANCE_RAD
    dq_max = DQ_TOLERANCE * robot.values("velocity_limit_rad_s", names)
    return bool(
        np.isfinite(state._f).all()
        and np.all((state.q_rad >= lo) & (state.q_rad <= hi))
        and np.all(np.abs(state.dq_rad_s) <= dq_max)
        and np.abs(state.imu_gyro_raw).max() <= robot.imu_gyro_range_rad_s
        and abs(np.linalg.norm(state.imu_quat_raw) - 1.0) <= QUAT_NORM_TOLERANCE + 1e-6
    )


@settings(max_examples=6000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(ROBOTS)))
def test_lean_parse_agrees_with_sdk_and_commits_only_valid_frames(data, name):
    robot, (lean, sdk) = ROBOTS[name], PARSERS[name]
    raw = data.draw(frames(name), label="frame")
    a = lean.parse(raw)
    b = sdk.parse(LowState_.deserialize(raw))
    assert (a is None) == (b is None)
    if a is not None:
        np.testing.assert_array_equal(a._f, b._f)
        np.testing.assert_array_equal(a._i, b._i)
        assert _plausible(a, robot)


ANY = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308, 0.0]),
)


def _vec(n: int, element) -> st.SearchStrategy[np.ndarray]:
    return st.lists(element, min_size=n, max_size=n).map(lambda v: np.array(v, dtype=np.float64))


@settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(ROBOTS)))
def test_lean_lowcmd_on_the_wire_is_the_sdk_message_inside_the_limits(data, name):
    robot, lim = ROBOTS[name], LIMITS[name]
    lean_parser = PARSERS[name][0]
    state = lean_parser.parse(data.draw(frames(name), label="frame")) or lean_parser.state
    n = robot.num_joints
    wanted, prev = data.draw(_vec(n, ANY), label="targets"), data.draw(_vec(n, ANY), label="prev")
    out, _ = safe_targets(wanted, state.q_rad, state.dq_rad_s, prev, lim)
    lean, sdk = BUILDERS[name]
    lean.set_targets(out, lim.kp, lim.kd)
    sdk.set_targets(out, lim.kp, lim.kd)
    wire = lean.build()
    assert wire == sdk.build().serialize()
    msg = LowCmd_.deserialize(wire)
    assert msg.crc == CRC().Crc(msg)
    slots = robot.isaac_to_sdk
    q = np.array([msg.motor_cmd[s].q for s in slots])
    kp = np.array([msg.motor_cmd[s].kp for s in slots])
    ulp = 1e-6  # float32 on the wire
    assert np.all(q >= lim.q_lo_rad - ulp) and np.all(q <= lim.q_hi_rad + ulp)
    np.testing.assert_allclose(kp, lim.kp, rtol=1e-6)
