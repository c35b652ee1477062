"""Interface discovery from --ip / --iface: loopback works, mistakes give one clear UserError."""

from __future__ import annotations

import pytest

from common.errors import UserError
from deploy.io.channels import open_dds
from deploy.io.netif import interface_for_ip, list_interfaces, resolve_interface


def test_loopback_found_from_ip() -> None:
    assert interface_for_ip("127.0.0.1").name == "lo"
    assert resolve_interface("127.0.0.1", None) == "lo"
    assert any(i.name == "lo" and str(i.network) == "127.0.0.1/8" for i in list_interfaces())


def test_unknown_interface_lists_what_exists() -> None:
    with pytest.raises(UserError, match=r"'nosuch0' does not exist; interfaces found: .*lo 127"):
        resolve_interface(None, "nosuch0")
    with pytest.raises(UserError, match="does not exist"):
        open_dds(104, iface="nosuch0")


def test_ip_on_no_local_subnet_lists_subnets_after_waiting() -> None:
    with pytest.raises(UserError, match=r"no local interface .* 203\.0\.113\.7.*lo 127\.0\.0\.1/8"):
        interface_for_ip("203.0.113.7", wait_s=0.3, poll_s=0.1)


def test_malformed_ip() -> None:
    with pytest.raises(UserError, match="not an IPv4 address"):
        resolve_interface("192.168.123", None)
    with pytest.raises(UserError, match="--ip"):
        resolve_interface(None, None)
