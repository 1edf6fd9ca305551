"""XXH32 and XXH64 in pure Python (the published algorithms), for the `xxh32`/`xxh64`
converters; no compiled dependency for two rarely used converters."""

from __future__ import annotations

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
P32 = (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1)
P64 = (
    0x9E3779B185EBCA87,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0x85EBCA77C2B2AE63,
    0x27D4EB2F165667C5,
)


def _rl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & M32


def _rl64(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & M64


def xxh32(data: bytes, seed: int = 0) -> int:
    p1, p2, p3, p4, p5 = P32
    n = len(data)
    i = 0
    if n >= 16:
        v = [(seed + p1 + p2) & M32, (seed + p2) & M32, seed & M32, (seed - p1) & M32]
        while i + 16 <= n:
            for k in range(4):
                w = int.from_bytes(data[i : i + 4], "little")
                v[k] = (_rl32((v[k] + w * p2) & M32, 13) * p1) & M32
                i += 4
        h = (_rl32(v[0], 1) + _rl32(v[1], 7) + _rl32(v[2], 12) + _rl32(v[3], 18)) & M32
    else:
        h = (seed + p5) & M32
    h = (h + n) & M32
    while i + 4 <= n:
        h = (h + int.from_bytes(data[i : i + 4], "little") * p3) & M32
        h = (_rl32(h, 17) * p4) & M32
        i += 4
    while i < n:
        h = (h + data[i] * p5) & M32
        h = (_rl32(h, 11) * p1) & M32
        i += 1
    h ^= h >> 15
    h = (h * p2) & M32
    h ^= h >> 13
    h = (h * p3) & M32
    h ^= h >> 16
    return h


def _round64(acc: int, w: int) -> int:
    acc = (acc + w * P64[1]) & M64
    return (_rl64(acc, 31) * P64[0]) & M64


def _merge64(h: int, v: int) -> int:
    h ^= _round64(0, v)
    return (h * P64[0] + P64[3]) & M64


def xxh64(data: bytes, seed: int = 0) -> int:
    p1, p2, p3, p4, p5 = P64
    n = len(data)
    i = 0
    if n >= 32:
        v = [(seed + p1 + p2) & M64, (seed + p2) & M64, seed & M64, (seed - p1) & M64]
        while i + 32 <= n:
            for k in range(4):
                v[k] = _round64(v[k], int.from_bytes(data[i : i + 8], "little"))
                i += 8
        h = (_rl64(v[0], 1) + _rl64(v[1], 7) + _rl64(v[2], 12) + _rl64(v[3], 18)) & M64
        for k in range(4):
            h = _merge64(h, v[k])
    else:
        h = (seed + p5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h ^= _round64(0, int.from_bytes(data[i : i + 8], "little"))
        h = (_rl64(h, 27) * p1 + p4) & M64
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i : i + 4], "little") * p1) & M64
        h = (_rl64(h, 23) * p2 + p3) & M64
        i += 4
    while i < n:
        h ^= (data[i] * p5) & M64
        h = (_rl64(h, 11) * p1) & M64
        i += 1
    h ^= h >> 33
    h = (h * p2) & M64
    h ^= h >> 29
    h = (h * p3) & M64
    h ^= h >> 32
    return h
