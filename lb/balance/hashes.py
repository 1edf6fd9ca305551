"""The hash functions `hash-type` can name, computed the way HAProxy does.

Keys are bytes, each read as an unsigned value 0..255 (checked against
HAProxy 2.6 with non-ASCII header values). All results are 32-bit unsigned.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

MASK32 = 0xFFFFFFFF


def sdbm(key: bytes) -> int:
    """sdbm: h = c + (h << 6) + (h << 16) - h, i.e. h * 65599 + c."""
    h = 0
    for b in key:
        h = (h * 65599 + b) & MASK32
    return h


def djb2(key: bytes) -> int:
    """djb2 (Bernstein): h = h * 33 + c, starting from 5381."""
    h = 5381
    for b in key:
        h = (h * 33 + b) & MASK32
    return h


def wt6(key: bytes) -> int:
    """HAProxy's own wt6: two 32-bit lanes mixed with data-dependent rotations."""
    h0 = 0xA53C965A
    h1 = 0x5CA6953A
    s0 = 6
    s1 = 18
    for b in key:
        h0 = ~(h0 ^ b) & MASK32
        h1 = ~(h1 + b) & MASK32
        # a rotation by 0 must stay h1 itself (a C shift by 32 would not be)
        t = ((h1 << s0) | (h1 >> (32 - s0))) & MASK32 if s0 else h1
        h1 = ((h0 << s1) | (h0 >> (32 - s1))) & MASK32 if s1 else h0
        h0 = t
        t = ((h0 >> 16) ^ h1) & 0xFFFF
        s0 = t & 0x1F
        s1 = t >> 11
    return h0 ^ h1


def crc32(key: bytes) -> int:
    """CRC-32 (IEEE 802.3, reflected; the same value as :func:`zlib.crc32`)."""
    return zlib.crc32(key)


def full_hash(a: int) -> int:
    """Bob Jenkins' 32-bit integer avalanche, then a multiply spreading keys.

    Used for the `avalanche` modifier, for consistent-hash node keys and as
    the default modifier of `hash-type consistent`.
    """
    a &= MASK32
    a = ((a + 0x7ED55D16) + (a << 12)) & MASK32
    a = (a ^ 0xC761C23C) ^ (a >> 19)
    a = ((a + 0x165667B1) + (a << 5)) & MASK32
    a = ((a + 0xD3A2646C) ^ (a << 9)) & MASK32
    a = ((a + 0xFD7046C5) + (a << 3)) & MASK32
    a = (a ^ 0xB55A4F09) ^ (a >> 16)
    return (a * 3221225473) & MASK32


HashFunction = Callable[[bytes], int]

#: names accepted after `hash-type <method>`
HASH_FUNCTIONS: dict[str, HashFunction] = {
    "sdbm": sdbm,
    "djb2": djb2,
    "wt6": wt6,
    "crc32": crc32,
}
