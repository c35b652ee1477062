"""Byte layouts of a fixed-size IDL message: its CDR wire form and the C struct the SDK CRCs.

The lean I/O path reads and writes serialized samples in place instead of building Python
objects. Offsets come from the serializer's own description of the type (CycloneDDS's machines,
the code `IdlStruct.serialize` runs), and the C layout follows the C alignment rules the SDK's
CRC packs with (`unitree_sdk2py.utils.crc`): both are checked bit for bit against the SDK in
tests/deploy_io/test_lean_io.py.

CDR (XCDR1 and XCDR2 alike for these types: no member is wider than 4 bytes) aligns each
primitive to its size relative to the payload start and never pads a struct's end; C also aligns
a struct to its widest member and pads its end to that alignment.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from cyclonedds.idl import _machinery as machines

CDR_HEADER_BYTES = 4  # encapsulation id (2) + options (2) before the payload
# Little-endian encapsulations of a final struct: CDR_LE (XCDR1) and CDR2_LE (XCDR2).
LITTLE_ENDIAN_HEADERS = (b"\x00\x01", b"\x00\x07")
_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "f": 4}


@dataclass(frozen=True)
class Leaf:
    """One primitive member (or array of primitives) of the message."""

    path: str  # e.g. "motor_state[3].q"
    code: str  # struct format code of one element
    count: int  # elements (1 for a scalar)
    cdr: int  # byte offset in the CDR payload
    c: int  # byte offset in the C struct

    @property
    def size(self) -> int:
        return _SIZES[self.code]


@dataclass(frozen=True)
class Layout:
    """Every leaf of one message type, the CDR payload size and the C struct size."""

    leaves: tuple[Leaf, ...]
    cdr_size: int
    c_size: int

    def leaf(self, path: str) -> Leaf:
        for leaf in self.leaves:
            if leaf.path == path:
                return leaf
        raise KeyError(path)

    def word(self, path: str) -> int:
        """Index of the 4-aligned member `path` in the raw sample viewed as 32-bit words."""
        offset = CDR_HEADER_BYTES + self.leaf(path).cdr
        if offset % 4:
            raise ValueError(f"{path} is not 4-byte aligned in the sample")
        return offset // 4


def _align(pos: int, alignment: int) -> int:
    return (pos + alignment - 1) // alignment * alignment


def _struct_machine(idl_type: type) -> Any:
    idl = idl_type.__idl__
    idl.populate()
    return idl.v0_machine


def _c_alignment(machine: Any) -> int:
    if isinstance(machine, machines.StructMachine):
        return max(_c_alignment(m) for m in machine.members_machines.values())
    if isinstance(machine, machines.InstanceMachine):
        return _c_alignment(_struct_machine(machine.type))
    if isinstance(machine, machines.ArrayMachine):
        return _c_alignment(machine.submachine)
    return machine.alignment


class _Walker:
    def __init__(self) -> None:
        self.cdr = 0
        self.c = 0
        self.leaves: list[Leaf] = []

    def primitive(self, path: str, code: str, count: int) -> None:
        size = _SIZES[code]
        self.cdr, self.c = _align(self.cdr, size), _align(self.c, size)
        self.leaves.append(Leaf(path, code, count, self.cdr, self.c))
        self.cdr += size * count
        self.c += size * count

    def walk(self, machine: Any, path: str) -> None:
        if isinstance(machine, machines.StructMachine):
            alignment = _c_alignment(machine)
            self.c = _align(self.c, alignment)
            for name, member in machine.members_machines.items():
                self.walk(member, f"{path}.{name}" if path else name)
            self.c = _align(self.c, alignment)
        elif isinstance(machine, machines.InstanceMachine):
            self.walk(_struct_machine(machine.type), path)
        elif isinstance(machine, machines.ArrayMachine):
            for i in range(machine.size):
                self.walk(machine.submachine, f"{path}[{i}]")
        elif isinstance(machine, machines.ByteArrayMachine):
            self.primitive(path, "B", machine.size)
        elif isinstance(machine, machines.PlainCdrV2ArrayOfPrimitiveMachine):
            self.primitive(path, machine.code[-1], machine.length)
        elif isinstance(machine, machines.PrimitiveMachine):
            self.primitive(path, machine.code, 1)
        else:
            raise TypeError(f"{path}: {type(machine).__name__} is not a fixed-size member")


def layout_of(idl_type: type) -> Layout:
    """The CDR and C layouts of a fixed-size IDL struct type (LowState_ / LowCmd_, go or hg)."""
    walker = _Walker()
    walker.walk(_struct_machine(idl_type), "")
    return Layout(tuple(walker.leaves), walker.cdr, walker.c)


# --- CRC ------------------------------------------------------------------------------------
# Unitree's CRC is CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, MSB first, no final xor) over
# the C struct read as little-endian 32-bit words, the last word (the crc itself) excluded.
# zlib's CRC-32 is the bit-reflected twin of the same polynomial and init, so over bit-reversed
# bytes, with its final xor undone and its result bit-reversed, it gives CRC-32/MPEG-2: one C call.
_REV8 = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 of `data` (bytes fed most significant bit first)."""
    reflected = zlib.crc32(data.translate(_REV8)) ^ 0xFFFFFFFF
    return int.from_bytes(reflected.to_bytes(4, "little").translate(_REV8), "big")


class CrcGather:
    """Computes the SDK's CRC straight from a serialized sample.

    One index array maps every byte the CRC reads (C layout, each 32-bit word most significant
    byte first) to its byte in the sample; C padding points at a zero byte appended after it."""

    def __init__(self, layout: Layout) -> None:
        words = layout.c_size // 4 - 1  # the SDK leaves out the last word (the crc)
        c_to_sample = np.full(layout.c_size, -1, dtype=np.int64)  # -1: padding
        for leaf in layout.leaves:
            n = leaf.size * leaf.count
            c_to_sample[leaf.c : leaf.c + n] = CDR_HEADER_BYTES + leaf.cdr + np.arange(n)
        self.sample_bytes = CDR_HEADER_BYTES + layout.cdr_size
        c_to_sample[c_to_sample < 0] = self.sample_bytes  # the appended zero byte
        order = (np.arange(4 * words) // 4) * 4 + 3 - np.arange(4 * words) % 4  # MSB first
        self._index = c_to_sample[order]
        self._ext = np.zeros(self.sample_bytes + 1, dtype=np.uint8)
        self._out = np.zeros(4 * words, dtype=np.uint8)

    def crc(self, sample: bytes | bytearray | memoryview) -> int:
        """The CRC the SDK computes for the message serialized in `sample`."""
        self._ext[: self.sample_bytes] = np.frombuffer(sample, np.uint8, self.sample_bytes)
        np.take(self._ext, self._index, out=self._out)
        return crc32_mpeg2(self._out.tobytes())
