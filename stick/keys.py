"""Stick-table key types: text or sample value <-> the compact key kept in the table.

Keys are stored in the cheapest Python form that sorts like HAProxy's tree:
an IPv4 address as its 32-bit integer, an IPv6 one as its 128-bit integer,
an `integer` key as an int, a string as `str` (cut to `len`), binary as
`bytes` (padded to `len`). Parsing from text (`set table … key K`) and from
a sample (`track-sc0 src`) both come here.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=65536)
def ipv4_int(text: str) -> int | None:
    """The 32-bit value of a dotted IPv4 address (also the v4 of `::ffff:a.b.c.d`)."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        if text.startswith("::ffff:"):
            try:
                return int.from_bytes(socket.inet_pton(socket.AF_INET, text[7:]), "big")
            except OSError:
                return None
        return None


@lru_cache(maxsize=65536)
def ipv6_int(text: str) -> int | None:
    """The 128-bit value of an IPv6 address; IPv4 is mapped to `::ffff:a.b.c.d`."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except OSError:
        v4 = ipv4_int(text)
        return None if v4 is None else (0xFFFF << 32) | v4


def ipv4_text(k: int) -> str:
    return socket.inet_ntop(socket.AF_INET, k.to_bytes(4, "big"))


def ipv6_text(k: int) -> str:
    return socket.inet_ntop(socket.AF_INET6, k.to_bytes(16, "big"))


@dataclass(frozen=True, slots=True)
class KeyType:
    """How one table type parses and prints its keys."""

    name: str
    length: int

    def from_text(self, text: str) -> Any:
        """The key for CLI text, or None when HAProxy says `Invalid key`."""
        t = self.name
        if t == "ip":
            return ipv4_int(text)
        if t == "ipv6":
            try:
                return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
            except OSError:
                return None
        if t == "integer":
            if not text.isdigit():
                return None
            return int(text) & 0xFFFFFFFF
        if t == "string":
            return text[: self.length]
        return None

    def from_sample(self, value: Any) -> Any:
        """The key for a sample value (str, int, bytes), or None if it does not convert."""
        t = self.name
        if value is None:
            return None
        if t == "ip":
            return ipv4_int(value) if isinstance(value, str) else None
        if t == "ipv6":
            return ipv6_int(value) if isinstance(value, str) else None
        if t == "integer":
            if isinstance(value, bool | int):
                return int(value) & 0xFFFFFFFF
            try:
                return int(value) & 0xFFFFFFFF
            except (TypeError, ValueError):
                return None
        if t == "string":
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            return str(value)[: self.length]
        if isinstance(value, str):
            value = value.encode("latin-1")
        if isinstance(value, int):
            value = value.to_bytes(8, "big", signed=True)
        return bytes(value[: self.length]).ljust(self.length, b"\0")

    def text(self, key: Any) -> str:
        t = self.name
        if t == "ip":
            return ipv4_text(key)
        if t == "ipv6":
            return ipv6_text(key)
        if t == "binary":
            return key.hex()
        return str(key)
