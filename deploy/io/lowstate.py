"""LowState -> preallocated numpy arrays in policy joint order (the daemon's view of the robot).

A frame is parsed into a scratch state and committed to the state the policy and the safety
layers read only when it is valid: CRC, every number finite, and physically plausible (joint
q / dq within the robot's limits plus a tolerance, gyro and accelerometer within the IMU's
full-scale range, a unit quaternion). A rejected frame leaves the committed state untouched and
is counted as bad; it does not refresh the LowState watchdog, so a stream of them trips like a
stale one.

Two parsers fill the same `RobotState`: `LowStateParser` from the SDK's IDL objects (`--io sdk`)
and `LeanLowStateParser` straight from the serialized sample (`--io lean`): a few numpy gathers,
no per-field Python objects, the CRC computed from the same bytes (deploy.io.layout).

The parser maps SDK motor slots to policy (IsaacLab) joints by name through the robots spec. When
the IMU sits on a link behind a joint (H1: torso), orientation and gyro are rotated back into the
root (pelvis) frame through that joint's angle and velocity, because the policy was trained on
root-frame angular velocity and projected gravity.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from common.compat import zip_strict
from deploy.io.crc import crc32
from deploy.io.layout import LITTLE_ENDIAN_HEADERS, CrcGather, layout_of
from deploy.io.remote import REMOTE_BYTES, RemoteState, decode_remote
from robots.frames import quat_mul, quat_to_rpy, rotate_about_axis
from robots.spec import RobotSpec

# Plausibility margins: wide enough that a real reading near a limit is kept (the safety layers
# then decide, e.g. STATE_OUT_OF_RANGE at 0.05 rad / 1.5x), narrow enough that a corrupt frame
# is not.
Q_TOLERANCE_RAD = 0.5  # beyond the joint's hard range
DQ_TOLERANCE = 3.0  # multiple of the joint's velocity limit
QUAT_NORM_TOLERANCE = 0.05  # | |q| - 1 |


class RobotState:
    """Robot state; all float arrays are views into one buffer so a commit is one copy."""

    __slots__ = (
        "_f",
        "_i",
        "q_rad",
        "dq_rad_s",
        "tau_est_nm",
        "imu_quat_raw",
        "imu_gyro_raw",
        "accel_m_s2",
        "quat_wxyz",
        "gyro_rad_s",
        "rpy_rad",
        "temperature_c",
        "lost",
        "tick",
        "power_v",
        "remote",
        "crc_ok",
        "received_s",
    )

    def __init__(self, num_joints: int) -> None:
        n = num_joints
        self._f = np.zeros(3 * n + 20)
        self._i = np.zeros(2 * n, dtype=np.int64)
        f = self._f
        self.q_rad = f[0:n]  # policy order
        self.dq_rad_s = f[n : 2 * n]
        self.tau_est_nm = f[2 * n : 3 * n]
        self.imu_quat_raw = f[3 * n : 3 * n + 4]  # as the IMU reported (its own link)
        self.imu_gyro_raw = f[3 * n + 4 : 3 * n + 7]
        self.accel_m_s2 = f[3 * n + 7 : 3 * n + 10]  # specific force, root body orientation
        self.quat_wxyz = f[3 * n + 10 : 3 * n + 14]  # root body in world
        self.gyro_rad_s = f[3 * n + 14 : 3 * n + 17]  # root body frame
        self.rpy_rad = f[3 * n + 17 : 3 * n + 20]
        self.imu_quat_raw[0] = self.quat_wxyz[0] = 1.0
        self.temperature_c = self._i[0:n]
        self.lost = self._i[n : 2 * n]  # motor's lost-frame counter
        self.tick = 0
        self.power_v = 0.0
        self.remote = RemoteState()
        self.crc_ok = False  # True once a frame was committed (committed frames passed the CRC)
        self.received_s = 0.0  # time.monotonic() of the parse

    def copy_from(self, other: RobotState) -> None:
        self._f[:] = other._f
        self._i[:] = other._i
        self.tick, self.power_v, self.remote = other.tick, other.power_v, other.remote
        self.crc_ok, self.received_s = other.crc_ok, other.received_s


class _FrameFilter:
    """Scratch state, verdicts and the commit shared by both parsers."""

    def __init__(
        self,
        robot: RobotSpec,
        verify_crc: bool,
        allow_crcless: bool,
        log: Callable[[str], None] | None,
    ) -> None:
        self.robot = robot
        self.state = RobotState(robot.num_joints)  # committed: valid frames only
        self.scratch = RobotState(robot.num_joints)
        self._verify_crc = verify_crc
        self._allow_crcless = allow_crcless
        self._log = log
        self.crc_seen = False  # a frame with a valid CRC arrived: CRC checking stays on for good
        self.crcless = False  # accepting frames whose crc field was never set (see crc_accepts)
        self.frames = 0
        self.bad_frames: dict[str, int] = {}  # reason -> count
        names = robot.policy_joint_names
        self._q_lo = robot.values("q_min_rad", names) - Q_TOLERANCE_RAD
        self._q_hi = robot.values("q_max_rad", names) + Q_TOLERANCE_RAD
        self._dq_max = DQ_TOLERANCE * robot.values("velocity_limit_rad_s", names)
        self._gyro_max = robot.imu_gyro_range_rad_s
        self._accel_max = robot.imu_accel_range_m_s2
        # One interval per raw value (q, dq, tau_est, imu quat, gyro, accel: the head of `_f`),
        # so the common case is one vector comparison; NaN fails both sides, inf the finite max.
        n, big = robot.num_joints, np.finfo(np.float64).max
        quat_max = 1.0 + QUAT_NORM_TOLERANCE
        self._lo = np.concatenate([self._q_lo, -self._dq_max, np.full(n, -big),
                                   np.full(4, -quat_max), np.full(3, -self._gyro_max),
                                   np.full(3, -self._accel_max)])  # fmt: skip
        self._hi = np.concatenate([self._q_hi, self._dq_max, np.full(n, big),
                                   np.full(4, quat_max), np.full(3, self._gyro_max),
                                   np.full(3, self._accel_max)])  # fmt: skip
        self._ok = np.zeros(self._lo.shape, dtype=bool)
        self._ok_hi = np.zeros(self._lo.shape, dtype=bool)
        self._imu_index: int | None = None
        self._imu_axis = np.zeros(3)
        if robot.imu_joint is not None:
            if robot.imu_joint_axis is None:
                raise ValueError(f"{robot.name}: imu_joint needs imu_joint_axis")
            self._imu_index = names.index(robot.imu_joint)
            self._imu_axis = np.asarray(robot.imu_joint_axis, dtype=np.float64)
        self._imu_axis_t = tuple(self._imu_axis.tolist())

    def crc_accepts(self, sent: int, computed: int) -> bool:
        """CRC verdict. With `allow_crcless` (simulators such as unitree_mujoco never compute
        one), a frame whose crc field is 0 is accepted while the source has never sent a valid
        CRC; after one valid CRC every frame must match."""
        if not self._verify_crc or sent == computed:
            self.crc_seen = True
            self.crcless = False
            return True
        if self._allow_crcless and sent == 0 and not self.crc_seen:
            if not self.crcless and self._log is not None:
                self._log(
                    "LowState carries no CRC (crc field 0, never a valid one): accepting "
                    "unverified frames from this simulator until a valid CRC arrives"
                )
            self.crcless = True
            return True
        return False

    def reject(self, reason: str) -> None:
        count = self.bad_frames.get(reason, 0)
        self.bad_frames[reason] = count + 1
        if count == 0 and self._log is not None:
            self._log(f"LowState frame rejected ({reason}); rejected frames do not count as fresh")

    def plausible(self) -> bool:
        """The scratch frame can be real (fast path of `implausible`)."""
        s = self.scratch
        raw = s._f[: self._lo.shape[0]]
        np.greater_equal(raw, self._lo, out=self._ok)
        np.less_equal(raw, self._hi, out=self._ok_hi)
        self._ok &= self._ok_hi
        if not (self._ok.all() and math.isfinite(s.power_v)):
            return False
        return abs(float(np.dot(s.imu_quat_raw, s.imu_quat_raw)) - 1.0) <= QUAT_NORM_TOLERANCE

    def implausible(self) -> str | None:
        """Why the scratch frame cannot be real, or None."""
        s = self.scratch
        if not (np.isfinite(s._f).all() and np.isfinite(s.power_v)):
            return "non-finite value"
        if np.any(s.q_rad < self._q_lo) or np.any(s.q_rad > self._q_hi):
            return "joint position beyond its range"
        if np.any(np.abs(s.dq_rad_s) > self._dq_max):
            return "joint velocity beyond its limit"
        if np.abs(s.imu_gyro_raw).max() > self._gyro_max:
            return "gyro beyond the IMU's range"
        if np.abs(s.accel_m_s2).max() > self._accel_max:
            return "accelerometer beyond the IMU's range"
        if abs(float(s.imu_quat_raw @ s.imu_quat_raw) - 1.0) > QUAT_NORM_TOLERANCE:
            return "IMU quaternion not unit length"
        return None

    def commit(self, crc_ok: bool) -> RobotState | None:
        """Validate the scratch frame; copy it into `state` when valid. None: rejected."""
        self.frames += 1
        s = self.scratch
        if not crc_ok:
            self.reject("bad CRC")
            return None
        if not self.plausible():
            self.reject(self.implausible() or "implausible")
            return None
        self._imu_to_root()
        s.crc_ok = True
        s.received_s = time.monotonic()
        self.state.copy_from(s)
        return self.state

    def _imu_to_root(self) -> None:
        s = self.scratch
        if self._imu_index is None:
            s.quat_wxyz[:] = s.imu_quat_raw
            s.gyro_rad_s[:] = s.imu_gyro_raw
            s.rpy_rad[:] = quat_to_rpy(s.quat_wxyz)
            return
        angle = float(s.q_rad[self._imu_index])
        rate = float(s.dq_rad_s[self._imu_index])
        axis = self._imu_axis_t
        s.quat_wxyz[:] = imu_to_root_quat(s.imu_quat_raw, axis, angle)
        s.gyro_rad_s[:] = imu_to_root_gyro(s.imu_gyro_raw, axis, angle, rate)
        # orientation only; lever-arm terms neglected
        s.accel_m_s2[:] = rotate_about_axis(axis, angle, s.accel_m_s2.tolist())
        s.rpy_rad[:] = quat_to_rpy(s.quat_wxyz)


class LowStateParser(_FrameFilter):
    """`--io sdk`: parses the SDK's go-IDL LowState_ objects."""

    def __init__(
        self,
        robot: RobotSpec,
        verify_crc: bool = True,
        allow_crcless: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(robot, verify_crc, allow_crcless, log)
        self._slots = robot.isaac_to_sdk.tolist()

    def parse(self, msg: Any) -> RobotState | None:
        """The committed state after `msg`, or None when `msg` was rejected (see module doc)."""
        s = self.scratch
        motors = msg.motor_state
        for i, slot in enumerate(self._slots):
            m = motors[slot]
            s.q_rad[i] = m.q
            s.dq_rad_s[i] = m.dq
            s.tau_est_nm[i] = m.tau_est
            s.temperature_c[i] = m.temperature
            s.lost[i] = m.lost
        imu = msg.imu_state
        s.imu_quat_raw[:] = imu.quaternion
        s.imu_gyro_raw[:] = imu.gyroscope
        s.accel_m_s2[:] = imu.accelerometer
        s.tick = msg.tick
        s.power_v = msg.power_v
        s.remote = decode_remote(msg.wireless_remote)
        return self.commit(self.crc_accepts(msg.crc, crc32(msg)))


class LeanLowStateParser(_FrameFilter):
    """`--io lean`: parses the serialized sample (bytes as DDS delivered them) in place."""

    def __init__(
        self,
        robot: RobotSpec,
        idl_type: type,
        verify_crc: bool = True,
        allow_crcless: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(robot, verify_crc, allow_crcless, log)
        lay = layout_of(idl_type)
        self._crc = CrcGather(lay)
        self._size = self._crc.sample_bytes
        slots = robot.isaac_to_sdk.tolist()
        words = [lay.word(f"motor_state[{k}].{f}") for f in ("q", "dq", "tau_est") for k in slots]
        for name, count in (("quaternion", 4), ("gyroscope", 3), ("accelerometer", 3)):
            first = lay.word(f"imu_state.{name}")
            words += range(first, first + count)
        self._float_words = np.array(words, dtype=np.int64)
        self._floats = np.zeros(len(words), dtype=np.float32)
        self._temp_bytes = np.array(
            [4 + lay.leaf(f"motor_state[{k}].temperature").cdr for k in slots], dtype=np.int64
        )
        self._lost_words = np.array([lay.word(f"motor_state[{k}].lost") for k in slots])
        self._tick, self._power, self._crc_word = (
            lay.word("tick"),
            lay.word("power_v"),
            lay.word("crc"),
        )
        self._remote = 4 + lay.leaf("wireless_remote").cdr
        self._remote_raw, self._remote_state = bytes(REMOTE_BYTES), RemoteState()
        if lay.leaf("wireless_remote").count != REMOTE_BYTES:
            raise ValueError("wireless_remote is not the 40-byte block")

    def parse(self, raw: bytes) -> RobotState | None:
        """The committed state after the serialized LowState `raw`, or None when rejected."""
        if len(raw) < self._size or raw[:2] not in LITTLE_ENDIAN_HEADERS:
            self.frames += 1
            self.reject("unexpected encoding or size")
            return None
        s = self.scratch
        words = len(raw) // 4
        f32 = np.frombuffer(raw, np.float32, words)
        u32 = np.frombuffer(raw, np.uint32, words)
        np.take(f32, self._float_words, out=self._floats)
        s._f[: self._floats.shape[0]] = self._floats
        n = self.robot.num_joints
        u8 = np.frombuffer(raw, np.uint8, self._size)
        s._i[:n] = u8[self._temp_bytes]
        s._i[n:] = u32[self._lost_words]
        s.tick = int(u32[self._tick])
        s.power_v = float(f32[self._power])
        remote = raw[self._remote : self._remote + REMOTE_BYTES]
        if remote != self._remote_raw:  # mostly unchanged between frames: decode on change
            self._remote_raw, self._remote_state = remote, decode_remote(remote)
        s.remote = self._remote_state
        return self.commit(self.crc_accepts(int(u32[self._crc_word]), self._crc.crc(raw)))


def imu_to_root_gyro(
    imu_gyro: np.ndarray, axis: Sequence[float], angle_rad: float, rate_rad_s: float
) -> list[float]:
    """Root angular velocity (root frame) from the IMU link's: the joint's own rate removed,
    then rotated back through the joint."""
    gyro = [g - a * rate_rad_s for g, a in zip_strict(imu_gyro.tolist(), axis)]
    return rotate_about_axis(axis, angle_rad, gyro)


def imu_to_root_quat(imu_quat: np.ndarray, axis: Sequence[float], angle_rad: float) -> np.ndarray:
    """Root orientation from the IMU link's: q_root = q_imu * conj(q_joint(angle))."""
    half = 0.5 * angle_rad
    c, s = math.cos(half), math.sin(half)
    return quat_mul(imu_quat, (c, -axis[0] * s, -axis[1] * s, -axis[2] * s))
