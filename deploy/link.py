"""The open DDS side of a run: what `genpo-deploy` opens after every check passed.

`open_link` imports CycloneDDS and the SDK lazily, so refusals before it never touch DDS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.errors import UserError
from robots.spec import RobotSpec


class RobotLink:
    """The loops' LowState / LowCmd I/O (deploy.io.lean.LoopIo), where it listens (for messages),
    the foreign-writer monitors, and the DDS entities kept alive for them."""

    def __init__(
        self,
        loop_io: Any,  # deploy.io.lean.LoopIo (not imported here: it imports CycloneDDS)
        where: str,
        monitors: tuple[Any, ...] = (),  # deploy.io.foreign.ForeignWriterMonitor
        reader: Any = None,
        writer: Any = None,
        node: Any = None,
    ) -> None:
        self.loop_io = loop_io
        self.where = where
        self.monitors = monitors
        self.reader = reader
        self.writer = writer
        self.node = node

    def close(self) -> None:
        """Drop the DDS entities in order (monitors, loop I/O, reader, writer, participant) while
        the process is intact; the link is unusable afterwards."""
        for name in ("monitors", "loop_io", "reader", "writer", "node"):
            self.__dict__.pop(name, None)


def dds_iface(iface: str | None, ip: str | None, sim: bool) -> str | None:
    """The interface DDS binds to: --iface, else loopback under --sim without --ip, else None
    (the one that reaches --ip)."""
    return iface or ("lo" if sim and ip is None else None)


def open_link(
    robot: RobotSpec,
    *,
    sim: bool,
    domain: int | None,
    iface: str | None,
    ip: str | None,
    io_path: str,
    log: Callable[[str], None],
) -> RobotLink:
    """DDS participant, LowCmd writer, LowState reader, the I/O path (`io_path`, "lean" or
    "sdk") and the foreign-writer monitors; on the real Go2, sport mode released first."""
    from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

    from deploy.io.channels import SIM_DOMAIN, open_dds
    from deploy.io.foreign import ForeignWriterMonitor
    from deploy.io.lean import make_loop_io

    if robot.idl_family != "go":
        raise UserError(f"{robot.name} uses unitree_{robot.idl_family} messages; not wired yet")
    domain = domain if domain is not None else (SIM_DOMAIN if sim else 0)
    node = open_dds(domain, iface=dds_iface(iface, ip, sim), ip=ip)
    if not sim and robot.name == "go2":
        from deploy.io.sport_mode import release_sport_mode

        release_sport_mode(domain, log=log)
    writer = node.writer(robot.topics.lowcmd, LowCmd_)
    # No listener: the motor loop takes samples itself, so LowState deserialization runs in
    # the loop that needs it instead of a DDS thread holding the GIL.
    reader = node.reader(robot.topics.lowstate, LowState_)
    loop_io = make_loop_io(io_path, robot, reader, writer, LowState_, allow_crcless=sim, log=log)
    where = f"{robot.topics.lowstate} (DDS domain {domain}, interface {node.iface})"
    # One LowCmd writer (ours) and one LowState writer (the robot) may exist; more trips.
    monitors = (
        ForeignWriterMonitor(node, robot.topics.lowcmd, (writer,)),
        ForeignWriterMonitor(node, robot.topics.lowstate, tolerated=1),
    )
    return RobotLink(loop_io, where, monitors, reader=reader, writer=writer, node=node)
