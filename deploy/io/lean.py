"""The daemon's LowState / LowCmd I/O, two interchangeable paths (`genpo-deploy --io sdk|lean`).

sdk: the SDK's IDL objects (CycloneDDS deserializes every LowState field into Python objects,
     the SDK packs them again for the CRC; ~0.6 ms p50 per tick on a 2-core CPU).
lean: serialized samples in and out. CycloneDDS Python hands over the raw CDR bytes of a sample
     (`ddspy_take`) and accepts them for a write (`ddspy_write`); the parser reads the fields it
     needs with numpy gathers and the builder rewrites a preallocated sample
     (deploy.io.lowstate.LeanLowStateParser, deploy.io.lowcmd.make_lean_lowcmd_builder).

Both produce the same RobotState and put the same bytes on the wire
(tests/deploy_io/test_lean_io.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cyclonedds._clayer import ddspy_take, ddspy_write
from cyclonedds.core import DDSException
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader

from deploy.io.lowcmd import LowCmdBuilder, make_lean_lowcmd_builder, make_lowcmd_builder
from deploy.io.lowstate import LeanLowStateParser, LowStateParser
from robots.spec import RobotSpec

IO_PATHS = ("sdk", "lean")
TAKE_BATCH = 32  # samples drained per take; only the newest is parsed


def raw_take(reader: DataReader) -> bytes | None:
    """The newest valid serialized sample waiting in `reader`, or None."""
    got = ddspy_take(reader._ref, TAKE_BATCH)
    if isinstance(got, int):
        raise DDSException(got, f"taking from {reader!r}")
    newest = None
    for data, info in got:
        if info.valid_data:  # skip the markers of a writer that went away
            newest = data
    return newest


def sdk_take(reader: DataReader) -> Any:
    """The newest valid sample as an SDK IDL object, or None."""
    newest = None
    for sample in reader.take(N=TAKE_BATCH):
        if hasattr(sample, "tick"):  # skip InvalidSample markers
            newest = sample
    return newest


def raw_writer(writer: DataWriter) -> Callable[[bytes], None]:
    """Publishes an already serialized sample through `writer`."""
    ref = writer._ref

    def write(data: bytes) -> None:
        ret = ddspy_write(ref, data)
        if ret < 0:
            raise DDSException(ret, f"writing to {writer!r}")

    return write


@dataclass
class LoopIo:
    """What the motor loop calls each tick."""

    take: Callable[[], Any]  # newest LowState (object or bytes) or None
    parser: LowStateParser | LeanLowStateParser
    builder: LowCmdBuilder
    publish: Callable[[Any], None]


def make_loop_io(
    kind: str,
    robot: RobotSpec,
    reader: DataReader,
    writer: DataWriter,
    state_type: type,
    allow_crcless: bool = False,
    log: Callable[[str], None] | None = None,
) -> LoopIo:
    """The `kind` ("sdk" or "lean") I/O path over an open LowState reader and LowCmd writer."""
    if kind == "lean":
        return LoopIo(
            take=lambda: raw_take(reader),
            parser=LeanLowStateParser(robot, state_type, allow_crcless=allow_crcless, log=log),
            builder=make_lean_lowcmd_builder(robot),
            publish=raw_writer(writer),
        )
    if kind == "sdk":
        return LoopIo(
            take=lambda: sdk_take(reader),
            parser=LowStateParser(robot, allow_crcless=allow_crcless, log=log),
            builder=make_lowcmd_builder(robot),
            publish=writer.write,
        )
    raise ValueError(f"unknown I/O path {kind!r}; choose {' or '.join(IO_PATHS)}")
