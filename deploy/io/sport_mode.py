"""Release Unitree's sport mode on a Go2 before low-level control (robots.md: CheckMode ->
StandDown -> ReleaseMode through the MotionSwitcher service, with a timeout).

Uses the SDK's RPC clients, which ride on the SDK's ChannelFactory: call `open_dds` for the
robot's domain first (the first `open_dds` in a process initializes that factory).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from unitree_sdk2py.comm.motion_switcher.motion_switcher_client import MotionSwitcherClient
from unitree_sdk2py.go2.sport.sport_client import SportClient

from common.errors import UserError
from deploy.io import channels

# unitree_sdk2py.rpc.internal: RPC_ERR_CLIENT_SEND (no service matched the request channel) and
# RPC_ERR_CLIENT_API_TIMEOUT (matched, but no reply in time) both mean "nobody answered".
NO_ANSWER_CODES = {3102: "no motion_switcher service was found", 3104: "the reply timed out"}


def _check_mode(client: MotionSwitcherClient, timeout_s: float) -> str:
    code, data = client.CheckMode()
    if code != 0 or data is None:
        reason = NO_ANSWER_CODES.get(code, f"the call failed with code {code}")
        raise UserError(
            f"the robot did not release sport mode: {reason} within {timeout_s:.1f} s; check "
            f"--ip/--iface and the DDS domain, and that this is a Go2 EDU with a current firmware"
        )
    return str(data.get("name", ""))


def release_sport_mode(
    domain_id: int, timeout_s: float = 5.0, log: Callable[[str], None] = print
) -> None:
    """Stand the robot down and release whatever high-level mode it runs; logs what it found.

    Returns once the robot reports no active mode; UserError on timeout."""
    if channels.sdk_domain() != domain_id:
        raise UserError(
            f"the Unitree SDK is bound to DDS domain {channels.sdk_domain()}, not {domain_id}; "
            f"open the robot's domain first in this process"
        )
    switcher = MotionSwitcherClient()
    switcher.SetTimeout(timeout_s)
    switcher.Init()
    mode = _check_mode(switcher, timeout_s)
    log(f"robot reports motion mode {mode!r}" if mode else "robot reports no active motion mode")
    deadline = time.monotonic() + timeout_s
    while mode:
        sport = SportClient()
        sport.SetTimeout(timeout_s)
        sport.Init()
        code = sport.StandDown()
        log(f"StandDown -> code {code}; releasing mode {mode!r}")
        time.sleep(1.0)  # let it lie down before the motors go passive
        switcher.ReleaseMode()
        time.sleep(0.5)
        mode = _check_mode(switcher, timeout_s)
        if mode and time.monotonic() > deadline:
            raise UserError(
                f"the robot still reports mode {mode!r} after ReleaseMode; release it from "
                f"the Unitree app, then retry"
            )
    log("sport mode released: low-level control is free")
