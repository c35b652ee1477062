"""CRC-32 of Unitree low-level messages, computed by the SDK (the robot checks the same function).

The SDK packs the message into its C struct layout and runs its CRC library over it; we only wrap
it so callers stamp and verify without touching the `crc` field by hand.
"""

from __future__ import annotations

from typing import Any

from unitree_sdk2py.utils.crc import CRC

_CRC = CRC()  # a singleton in the SDK; loading its C library once is enough


def crc32(msg: Any) -> int:
    """CRC the robot expects in `msg.crc` (LowCmd_ / LowState_, go or hg IDL)."""
    return _CRC.Crc(msg)


def stamp_crc(msg: Any) -> None:
    """Write the CRC into `msg.crc` (last step before publishing)."""
    msg.crc = _CRC.Crc(msg)


def crc_ok(msg: Any) -> bool:
    """True when `msg.crc` matches its content."""
    return msg.crc == _CRC.Crc(msg)
