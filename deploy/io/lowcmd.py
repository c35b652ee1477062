"""The one typed way to write LowCmd: no caller touches IDL fields (a typo like `qd` cannot happen).

A builder owns one preallocated message. Callers set targets in policy (IsaacLab) joint order;
the builder maps them to SDK motor slots by name (robots spec), fills mode/q/dq/tau/kp/kd, stamps
the SDK CRC and hands back the same message object every time.

    builder = make_lowcmd_builder(GO2)
    builder.set_targets(q_policy, kp=GO2.values("kp"), kd=GO2.values("kd"))
    writer.write(builder.build())

`go` (Go2, H1: unitree_go IDL) and `hg` (H1-2, G1: unitree_hg IDL, 35 slots, mode_pr and
mode_machine) are two implementations of one interface.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowCmd_, unitree_hg_msg_dds__LowCmd_

from common.compat import zip_strict
from deploy.io.crc import stamp_crc
from deploy.io.layout import CrcGather, layout_of
from robots.spec import POS_STOP, RobotSpec

GO_HEAD = (0xFE, 0xEF)
GO_LEVEL_LOW = 0xFF  # level_flag for low-level control
HG_MODE_ENABLE = 0x01  # hg motors: 1 = enabled (FOC), 0 = off
HG_MODE_PR = 0  # hg ankle control: 0 = pitch/roll (series), 1 = A/B (parallel)


class LowCmdBuilder(ABC):
    """Fills one preallocated LowCmd from policy-order arrays; `build()` returns it CRC-stamped."""

    __slots__ = ("robot", "_msg", "_motors", "_q", "_dq", "_tau", "_kp", "_kd")

    def __init__(self, robot: RobotSpec) -> None:
        self.robot = robot
        self._msg = self._new_message()
        if len(self._msg.motor_cmd) != robot.num_motor_slots:
            raise ValueError(
                f"{robot.name}: {robot.num_motor_slots} motor slots in the spec, "
                f"{len(self._msg.motor_cmd)} in the {robot.idl_family} LowCmd"
            )
        slots = robot.isaac_to_sdk.tolist()
        self._motors = [self._msg.motor_cmd[s] for s in slots]  # policy order
        modes = self._motor_modes()
        for motor, mode in zip_strict(self._motors, modes):
            motor.mode = mode
        n = robot.num_joints
        self._q = np.zeros(n)
        self._dq = np.zeros(n)
        self._tau = np.zeros(n)
        self._kp = np.zeros(n)
        self._kd = np.zeros(n)

    @abstractmethod
    def _new_message(self) -> Any:
        """A fresh IDL LowCmd with the family's header fields set."""

    @abstractmethod
    def _motor_modes(self) -> list[int]:
        """Mode byte of each policy-order motor."""

    @property
    def num_joints(self) -> int:
        return self.robot.num_joints

    def set_targets(
        self,
        q_policy: np.ndarray,
        kp: np.ndarray | float,
        kd: np.ndarray | float,
        dq: np.ndarray | float | None = None,
        tau: np.ndarray | float | None = None,
    ) -> None:
        """Position targets [num_joints] (rad, policy order) with gains; dq (rad/s) and tau (N m)
        feed-forward default to zero. Scalars broadcast. Raises ValueError on a wrong shape or a
        non-finite value: a NaN must never reach a motor."""
        self._put(self._q, q_policy, "q_policy")
        self._put(self._kp, kp, "kp")
        self._put(self._kd, kd, "kd")
        self._put(self._dq, 0.0 if dq is None else dq, "dq")
        self._put(self._tau, 0.0 if tau is None else tau, "tau")

    def set_damping(self, kd: np.ndarray | float) -> None:
        """Damping only: kp 0, tau 0, velocity target 0, position term disabled (POS_STOP)."""
        self._q[:] = POS_STOP
        self._kp[:] = 0.0
        self._dq[:] = 0.0
        self._tau[:] = 0.0
        self._put(self._kd, kd, "kd")

    def build(self) -> Any:
        """The preallocated message holding the current targets, CRC-stamped. Publish it before
        the next `set_*` call: the same object is reused."""
        rows = zip_strict(
            self._motors,
            self._q.tolist(),
            self._dq.tolist(),
            self._tau.tolist(),
            self._kp.tolist(),
            self._kd.tolist(),
        )
        for motor, q, dq, tau, kp, kd in rows:
            motor.q = q
            motor.dq = dq
            motor.tau = tau
            motor.kp = kp
            motor.kd = kd
        stamp_crc(self._msg)
        return self._msg

    def wire(self, msg: Any) -> Any:
        """`msg` (an SDK LowCmd, e.g. the prebuilt damping) in the form `build()` returns."""
        return msg

    def _put(self, dst: np.ndarray, value: np.ndarray | float, name: str) -> None:
        if isinstance(value, (float, int)):  # the common scalars (dq, tau = 0): no array
            if not math.isfinite(value):
                raise ValueError(f"{name} holds a non-finite value: {value}")
            dst.fill(value)
            return
        src = np.asarray(value, dtype=np.float64)
        if src.ndim != 0 and src.shape != dst.shape:
            raise ValueError(f"{name} must have shape {dst.shape} (policy order), got {src.shape}")
        if not np.isfinite(src).all():
            raise ValueError(f"{name} holds a non-finite value: {src}")
        dst[:] = src


class GoLowCmdBuilder(LowCmdBuilder):
    """unitree_go LowCmd (Go2, H1): head 0xFE 0xEF, level_flag 0xFF, 20 motor slots."""

    __slots__ = ()

    def _new_message(self) -> Any:
        msg = unitree_go_msg_dds__LowCmd_()
        msg.head[0], msg.head[1] = GO_HEAD
        msg.level_flag = GO_LEVEL_LOW
        msg.gpio = 0
        return msg

    def _motor_modes(self) -> list[int]:
        return [self.robot.joint(n).motor_mode for n in self.robot.policy_joint_names]


class HgLowCmdBuilder(LowCmdBuilder):
    """unitree_hg LowCmd (H1-2, G1): 35 slots, mode_pr, and mode_machine echoed from LowState."""

    __slots__ = ()

    def _new_message(self) -> Any:
        msg = unitree_hg_msg_dds__LowCmd_()
        msg.mode_pr = HG_MODE_PR
        return msg

    def _motor_modes(self) -> list[int]:
        return [HG_MODE_ENABLE] * self.robot.num_joints

    def set_mode_machine(self, mode_machine: int) -> None:
        """Echo LowState.mode_machine (the robot ignores commands for another machine type)."""
        self._msg.mode_machine = int(mode_machine)


_BUILDERS: dict[str, type[LowCmdBuilder]] = {"go": GoLowCmdBuilder, "hg": HgLowCmdBuilder}


def make_lowcmd_builder(robot: RobotSpec) -> LowCmdBuilder:
    """The builder for the robot's IDL family."""
    return _BUILDERS[robot.idl_family](robot)


# --- lean path ------------------------------------------------------------------------------
class _LeanBuild:
    """`--io lean`: `build()` writes the targets into a preallocated serialized LowCmd and
    returns its bytes (published with `deploy.io.lean.raw_writer`), bit for bit what the SDK
    builder + serializer + CRC produce: header fields and motor modes come from the SDK message
    serialized once; per build only the five float rows and the CRC word are rewritten."""

    __slots__ = ()

    def __init__(self, robot: RobotSpec) -> None:
        super().__init__(robot)
        n = robot.num_joints
        self._rows = np.zeros((5, n))  # q, dq, tau, kp, kd (policy order); set_* fill the rows
        self._q, self._dq, self._tau, self._kp, self._kd = self._rows
        self._msg.crc = 0
        self._buf = bytearray(self._msg.serialize())
        lay = layout_of(type(self._msg))
        slots = robot.isaac_to_sdk.tolist()
        self._words = np.array(
            [
                [lay.word(f"motor_cmd[{k}].{f}") for k in slots]
                for f in ("q", "dq", "tau", "kp", "kd")
            ]
        )
        self._f32 = np.frombuffer(self._buf, np.float32, len(self._buf) // 4)
        self._u32 = np.frombuffer(self._buf, np.uint32, len(self._buf) // 4)
        self._crc = CrcGather(lay)
        self._crc_word = lay.word("crc")

    def build(self) -> bytes:
        """The serialized, CRC-stamped LowCmd holding the current targets."""
        self._f32[self._words] = self._rows
        self._u32[self._crc_word] = self._crc.crc(self._buf)
        return bytes(self._buf)

    def wire(self, msg: Any) -> bytes:
        """`msg` serialized once, as `build()`'s bytes are (CRC as stamped in `msg`)."""
        return bytes(msg.serialize())


_LEAN_SLOTS = ("_rows", "_buf", "_words", "_f32", "_u32", "_crc", "_crc_word")


class LeanGoLowCmdBuilder(_LeanBuild, GoLowCmdBuilder):
    __slots__ = _LEAN_SLOTS


class LeanHgLowCmdBuilder(_LeanBuild, HgLowCmdBuilder):
    __slots__ = _LEAN_SLOTS

    def set_mode_machine(self, mode_machine: int) -> None:
        super().set_mode_machine(mode_machine)
        self._msg.crc = 0
        self._buf[:] = self._msg.serialize()  # rare (once at start): re-serialize the header


_LEAN_BUILDERS: dict[str, type[LowCmdBuilder]] = {
    "go": LeanGoLowCmdBuilder,
    "hg": LeanHgLowCmdBuilder,
}


def make_lean_lowcmd_builder(robot: RobotSpec) -> LowCmdBuilder:
    """The lean builder for the robot's IDL family (`build()` returns serialized bytes)."""
    return _LEAN_BUILDERS[robot.idl_family](robot)
