"""Wireless-remote bytes: layout from robots.md, encode/decode round trip."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.io.remote import KEY_BITS, RemoteState, decode_remote, encode_remote, key_mask

_stick = st.floats(-1.0, 1.0, width=32)


def test_layout_matches_robots_md() -> None:
    raw = bytes(encode_remote(RemoteState(keys=key_mask(["L2", "B"]), lx=0.5, rx=-0.25, ly=1.0)))
    assert len(raw) == 40
    assert struct.unpack_from("<H", raw, 2)[0] == (1 << 5) | (1 << 9)
    assert struct.unpack_from("<f", raw, 4)[0] == 0.5  # lx
    assert struct.unpack_from("<f", raw, 8)[0] == -0.25  # rx
    assert struct.unpack_from("<f", raw, 20)[0] == 1.0  # ly
    assert raw[24:] == bytes(16)


@given(st.integers(0, 0xFFFF), _stick, _stick, _stick, st.floats(0.0, 1.0, width=32), _stick)
def test_round_trip(keys: int, lx: float, rx: float, ry: float, l2: float, ly: float) -> None:
    state = RemoteState(keys=keys, lx=lx, rx=rx, ry=ry, l2=l2, ly=ly)
    assert decode_remote(encode_remote(state)) == state


def test_pressed_chord_and_names() -> None:
    state = RemoteState(keys=key_mask(["L2", "B", "Up"]))
    assert state.pressed("L2", "B")
    assert not state.pressed("L2", "A")
    assert set(state.key_names) == {"L2", "B", "Up"}
    assert len(KEY_BITS) == 16


def test_unknown_key_and_wrong_length_raise() -> None:
    with pytest.raises(ValueError, match="unknown remote key"):
        key_mask(["L3"])
    with pytest.raises(ValueError, match="40 bytes"):
        decode_remote(bytes(39))
