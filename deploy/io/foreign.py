"""Detect another process publishing on rt/lowcmd (a second daemon, a forgotten script), or a
second rt/lowstate writer (a sim left running beside the robot, a replay tool): this module lists
the writers; `safety.foreign_publisher` is the one rule on how many each topic tolerates
(lowcmd 0, lowstate 1).

Uses DDS discovery (the built-in DCPSPublication topic) rather than message content: it sees a
foreign writer as soon as it is discovered, before and while it sends, costs no LowCmd
deserialization, and names the writer's participant. Our own writers are excluded by GUID.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication
from cyclonedds.core import InstanceState
from cyclonedds.pub import DataWriter

from deploy.io.channels import DdsNode


@dataclass(frozen=True)
class ForeignWriter:
    writer_guid: uuid.UUID
    participant_guid: uuid.UUID
    type_name: str


class ForeignWriterMonitor:
    """Lists live writers on `topic` that are not in `own_writers`; `tolerated` is how many of
    them the topic may have (for safety.foreign_publisher). Poll at a low rate (1-10 Hz)
    outside the motor loop's hot path; `poll()` reads the discovery cache."""

    def __init__(
        self,
        node: DdsNode,
        topic: str,
        own_writers: tuple[DataWriter, ...] = (),
        tolerated: int = 0,
    ) -> None:
        self._topic = topic
        self.tolerated = tolerated
        self._own = {w.get_guid() for w in own_writers}
        self._reader = BuiltinDataReader(node.participant, BuiltinTopicDcpsPublication)
        self._alive: dict[uuid.UUID, ForeignWriter] = {}

    def poll(self) -> list[ForeignWriter]:
        """Foreign writers alive now (discovery updates within ~0.1-1 s on a LAN)."""
        for sample in self._reader.take(N=256):
            key = sample.key
            if sample.sample_info.instance_state != InstanceState.Alive:
                self._alive.pop(key, None)
            elif sample.topic_name == self._topic and key not in self._own:
                self._alive[key] = ForeignWriter(key, sample.participant_key, sample.type_name)
        return [w for k, w in self._alive.items() if k not in self._own]
