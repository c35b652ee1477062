"""The 40-byte wireless-remote block carried in LowState.wireless_remote (robots.md layout).

Bytes 2-3 hold the key bitmask (little-endian u16); float32 little-endian sticks follow:
lx @4, rx @8, ry @12, L2 (analog) @16, ly @20. The rest is reserved and left zero when encoding.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

REMOTE_BYTES = 40
KEY_BITS: dict[str, int] = {
    "R1": 0,
    "L1": 1,
    "Start": 2,
    "Select": 3,
    "R2": 4,
    "L2": 5,
    "F1": 6,
    "F2": 7,
    "A": 8,
    "B": 9,
    "X": 10,
    "Y": 11,
    "Up": 12,
    "Right": 13,
    "Down": 14,
    "Left": 15,
}
_KEYS = struct.Struct("<H")
_STICKS = struct.Struct("<5f")  # lx, rx, ry, L2, ly at byte offsets 4..23
_KEYS_OFFSET = 2
_STICKS_OFFSET = 4


@dataclass(frozen=True)
class RemoteState:
    """Decoded remote: key bitmask and stick values in [-1, 1] (analog L2 in [0, 1])."""

    keys: int = 0
    lx: float = 0.0
    rx: float = 0.0
    ry: float = 0.0
    l2: float = 0.0
    ly: float = 0.0

    def pressed(self, *names: str) -> bool:
        """True when every key in `names` is held (e.g. pressed("L2", "B") for the e-stop chord)."""
        mask = key_mask(names)
        return (self.keys & mask) == mask

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(name for name, bit in KEY_BITS.items() if self.keys >> bit & 1)


def key_mask(names: Iterable[str]) -> int:
    """Bitmask of key `names`; ValueError naming an unknown key (a typo must not pass silently)."""
    mask = 0
    for name in names:
        if name not in KEY_BITS:
            raise ValueError(f"unknown remote key {name!r}; keys: {', '.join(KEY_BITS)}")
        mask |= 1 << KEY_BITS[name]
    return mask


def decode_remote(data: Sequence[int] | bytes) -> RemoteState:
    """Parse the 40 wireless_remote bytes (a list of ints from the IDL, or bytes)."""
    raw = bytes(data)
    if len(raw) != REMOTE_BYTES:
        raise ValueError(f"wireless_remote must be {REMOTE_BYTES} bytes, got {len(raw)}")
    (keys,) = _KEYS.unpack_from(raw, _KEYS_OFFSET)
    lx, rx, ry, l2, ly = _STICKS.unpack_from(raw, _STICKS_OFFSET)
    return RemoteState(keys=keys, lx=lx, rx=rx, ry=ry, l2=l2, ly=ly)


def encode_remote(state: RemoteState) -> list[int]:
    """The 40 wireless_remote bytes for `state`, as the list of ints the IDL field holds."""
    raw = bytearray(REMOTE_BYTES)
    _KEYS.pack_into(raw, _KEYS_OFFSET, state.keys & 0xFFFF)
    _STICKS.pack_into(raw, _STICKS_OFFSET, state.lx, state.rx, state.ry, state.l2, state.ly)
    return list(raw)
