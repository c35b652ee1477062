"""DDS participants, readers and writers for the Unitree low-level topics (CycloneDDS 0.10).

The SDK's ChannelFactory holds one domain per process, and its RPC clients (MotionSwitcher) need
it: the first `open_dds` in a process therefore goes through `ChannelFactoryInitialize(domain,
iface)`. Later calls for other domains (tests and benchmarks run several in one process) create
their domain directly with the same interface binding.
"""

from __future__ import annotations

import inspect
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from cyclonedds.core import Listener
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from unitree_sdk2py.core.channel import ChannelFactoryInitialize

from common.errors import UserError
from deploy.io.netif import check_interface, resolve_interface

SIM_DOMAIN = 1  # convention: simulation on domain 1, loopback
ROBOT_DOMAIN = 0

_CONFIG = """<?xml version="1.0" encoding="UTF-8" ?>
<CycloneDDS><Domain Id="any"><General><Interfaces>
<NetworkInterface name="{iface}" priority="default" multicast="default"/>
</Interfaces></General></Domain></CycloneDDS>"""

_lock = threading.Lock()
_domains: dict[int, tuple[str, Any]] = {}  # domain id -> (interface, Domain or None if SDK-owned)
_sdk_domain: int | None = None


def sdk_domain() -> int | None:
    """Domain the SDK's ChannelFactory (and so its RPC clients) is bound to, if any."""
    return _sdk_domain


def _ensure_domain(domain_id: int, iface: str) -> None:
    global _sdk_domain
    with _lock:
        if domain_id in _domains:
            bound = _domains[domain_id][0]
            if bound != iface:
                raise UserError(
                    f"DDS domain {domain_id} is already bound to {bound} in this process, "
                    f"not {iface}"
                )
            return
        try:
            if _sdk_domain is None:
                ChannelFactoryInitialize(domain_id, iface)
                _sdk_domain = domain_id
                _domains[domain_id] = (iface, None)
            else:
                _domains[domain_id] = (iface, Domain(domain_id, _CONFIG.format(iface=iface)))
        except Exception as exc:  # DDSException, or the SDK's bare Exception
            raise UserError(
                f"could not start DDS domain {domain_id} on interface {iface} ({exc})"
            ) from None


class DdsNode:
    """One DDS participant on (domain, interface) with typed readers and writers."""

    def __init__(self, domain_id: int, iface: str) -> None:
        check_interface(iface)
        _ensure_domain(domain_id, iface)
        self.domain_id = domain_id
        self.iface = iface
        self.participant = DomainParticipant(domain_id)
        self._topics: dict[str, Topic] = {}

    def topic(self, name: str, idl_type: type) -> Topic:
        if name not in self._topics:
            self._topics[name] = Topic(self.participant, name, idl_type)
        return self._topics[name]

    def writer(self, name: str, idl_type: type) -> DataWriter:
        """Default QoS, as the Unitree SDK uses (interoperates with the robot)."""
        return DataWriter(self.participant, self.topic(name, idl_type))

    def reader(
        self, name: str, idl_type: type, on_sample: Callable[[Any], None] | None = None
    ) -> DataReader:
        """A reader; with `on_sample`, every sample is taken in the DDS listener thread and passed
        to it (keep it short: it holds the GIL).

        The listener holds `on_sample` weakly when it is a bound method: the owner keeps the
        reader, and a strong reference back would make a cycle that the garbage collector may
        tear down listener-first while DDS still calls it (a segfault in CycloneDDS Python)."""
        if on_sample is None:
            return DataReader(self.participant, self.topic(name, idl_type))
        target = weakref.WeakMethod(on_sample) if inspect.ismethod(on_sample) else lambda: on_sample

        def on_data(reader: DataReader | None) -> None:
            handler = target()
            if reader is None or handler is None:  # being deleted
                return
            for sample in reader.take(N=16):
                handler(sample)

        listener = Listener(on_data_available=on_data)
        return DataReader(self.participant, self.topic(name, idl_type), listener=listener)


class LatestSample:
    """Keeps the newest sample of a topic with its arrival time and a running count.

    The listener only stores a reference; parsing happens in the consumer's thread."""

    def __init__(self, node: DdsNode, name: str, idl_type: type) -> None:
        self._cond = threading.Condition()
        self.sample: Any = None
        self.received_s = 0.0
        self.count = 0
        self.reader = node.reader(name, idl_type, self._on_sample)

    def _on_sample(self, sample: Any) -> None:
        with self._cond:
            self.sample = sample
            self.received_s = time.monotonic()
            self.count += 1
            self._cond.notify_all()

    def close(self) -> None:
        """Detach the listener (waits for a running callback) and drop the reader."""
        self.reader.set_listener(None)
        del self.reader

    def wait_newer(self, count: int, timeout_s: float) -> Any:
        """The newest sample once more than `count` have arrived; None on timeout."""
        with self._cond:
            if self._cond.wait_for(lambda: self.count > count, timeout=timeout_s):
                return self.sample
            return None


def open_dds(
    domain_id: int, iface: str | None = None, ip: str | None = None, wait_s: float = 10.0
) -> DdsNode:
    """A DDS node bound to `iface`, or to the interface that reaches `ip` (robots.md Network)."""
    return DdsNode(domain_id, resolve_interface(ip, iface, wait_s=wait_s))
