"""Which local network interface reaches the robot (stdlib only: socket + fcntl ioctls).

DDS binds to an interface name, not a peer address: `--ip 192.168.123.161` means "the local
interface whose subnet holds that address", checked for an answer from the robot before binding.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from common.errors import UserError

_SIOCGIFADDR = 0x8915
_SIOCGIFNETMASK = 0x891B
_ARP_TABLE = Path("/proc/net/arp")
_ARP_COMPLETE = 0x2
_DISCARD_PORT = 9  # a datagram here makes the kernel resolve the peer's MAC; nobody must answer


@dataclass(frozen=True)
class Interface:
    name: str
    network: ipaddress.IPv4Interface | None  # address/prefix; None when it has no IPv4 address

    def describe(self) -> str:
        return f"{self.name} {self.network.with_prefixlen if self.network else '(no IPv4)'}"


def list_interfaces() -> list[Interface]:
    """Every local interface with its IPv4 address and prefix."""
    return [Interface(name, _ipv4_of(name)) for _, name in socket.if_nameindex()]


def _ipv4_of(name: str) -> ipaddress.IPv4Interface | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("256s", name.encode()[:15])
        try:
            addr = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)[20:24]
            mask = fcntl.ioctl(sock.fileno(), _SIOCGIFNETMASK, request)[20:24]
        except OSError:  # EADDRNOTAVAIL: no IPv4 address on this interface
            return None
    return ipaddress.IPv4Interface(f"{socket.inet_ntoa(addr)}/{socket.inet_ntoa(mask)}")


def _found() -> str:
    return ", ".join(i.describe() for i in list_interfaces()) or "none"


_SIOCGIFFLAGS = 0x8913
_IFF_LOOPBACK = 0x8


def is_loopback(name: str) -> bool:
    """True when interface `name` exists and is a loopback interface (IFF_LOOPBACK)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("256s", name.encode()[:15])
        try:
            flags = struct.unpack_from("H", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request), 16)
        except OSError:  # ENODEV: no such interface
            return False
    return bool(flags[0] & _IFF_LOOPBACK)


def check_sim_interface(ip: str | None, iface: str | None) -> None:
    """--sim: the simulator runs on this machine, so DDS stays on loopback. A robot's address or
    network interface with --sim would put sim settings (looser watchdogs, CRC-less frames, no
    sport-mode release, no battery floor) on a real robot: UserError."""
    if ip is not None:
        raise UserError(
            f"--sim talks to genpo-sim on this machine over loopback; --ip {ip} names a robot "
            "(drop --sim to drive it)"
        )
    if iface is not None and not is_loopback(check_interface(iface)):
        raise UserError(
            f"--sim talks to genpo-sim on this machine over loopback; {iface!r} is not a "
            "loopback interface (use --iface lo, or drop --sim to drive a robot)"
        )


def check_interface(name: str) -> str:
    """`name` if it exists; a UserError listing the interfaces otherwise."""
    if name not in {n for _, n in socket.if_nameindex()}:
        raise UserError(f"network interface {name!r} does not exist; interfaces found: {_found()}")
    return name


def interface_for_ip(ip: str, wait_s: float = 0.0, poll_s: float = 0.5) -> Interface:
    """The local interface whose subnet contains `ip`, waiting up to `wait_s` for a link (and its
    address) to come up. UserError naming the interfaces and subnets found otherwise."""
    try:
        target = ipaddress.IPv4Address(ip)
    except ValueError:
        raise UserError(f"--ip {ip!r} is not an IPv4 address (e.g. 192.168.123.161)") from None
    deadline = time.monotonic() + wait_s
    while True:
        for iface in list_interfaces():
            if iface.network is not None and target in iface.network.network:
                return iface
        if time.monotonic() >= deadline:
            raise UserError(
                f"no local interface is on the subnet of {ip}; interfaces found: {_found()}; "
                f"connect the robot's cable and give this computer an address on that subnet "
                f"(e.g. 192.168.123.99/24), or pass --iface"
            )
        time.sleep(poll_s)


def wait_reachable(ip: str, iface: Interface, timeout_s: float, poll_s: float = 0.2) -> None:
    """Wait until `ip` answers ARP on `iface` (no root or ping needed); UserError on timeout."""
    if iface.network is not None and ipaddress.IPv4Address(ip) == iface.network.ip:
        return  # our own address (or loopback): nothing to resolve
    if iface.name == "lo" or ipaddress.IPv4Address(ip).is_loopback:
        return
    deadline = time.monotonic() + timeout_s
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        while True:
            with contextlib.suppress(OSError):  # no route yet: keep trying until the deadline
                sock.sendto(b"", (ip, _DISCARD_PORT))
            if _arp_resolved(ip, iface.name):
                return
            if time.monotonic() >= deadline:
                raise UserError(
                    f"{ip} does not answer on {iface.describe()} after {timeout_s:.0f} s; "
                    f"check that the robot is on and the cable is in"
                )
            time.sleep(poll_s)


def _arp_resolved(ip: str, iface_name: str) -> bool:
    try:
        lines = _ARP_TABLE.read_text().splitlines()[1:]
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[0] == ip and fields[5] == iface_name:
            return int(fields[2], 16) & _ARP_COMPLETE != 0
    return False


def resolve_interface(
    ip: str | None, iface: str | None, wait_s: float = 10.0, reach_timeout_s: float = 5.0
) -> str:
    """Interface name for DDS: `iface` when given (it must exist), else the one that reaches
    `ip`. Exactly one of the two is needed."""
    if iface is not None:
        return check_interface(iface)
    if ip is None:
        raise UserError("give the robot's address with --ip (or the interface with --iface)")
    found = interface_for_ip(ip, wait_s=wait_s)
    wait_reachable(ip, found, timeout_s=reach_timeout_s)
    return found.name
