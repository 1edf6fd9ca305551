"""Stick-table key types: text or sample value <-> the compact key kept in the table.

Keys are stored in the cheapest Python form that sorts like HAProxy's tree:
an IPv4 address as its 32-bit integer, an IPv6 one as its 128-bit integer,
an `integer` key as an int, a string as `str` (cut to `len`), binary as
`bytes` (padded to `len`). Parsing from text (`set table … key K`) and from
a sample (`track-sc0 src`) both come here.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_AF4 = socket.AF_INET
_AF6 = socket.AF_INET6
_pton = socket.inet_pton
_from_bytes = int.from_bytes


# No cache in front of these: `inet_pton` + `int.from_bytes` cost a few hundred
# ns, while an LRU cache missing on every new client (a large table fed by
# many addresses) costs several times that in eviction churn.


def ipv4_int(text: Any) -> int | None:
    """The 32-bit value of a dotted IPv4 address (also the v4 of `::ffff:a.b.c.d`).

    None for anything else, including values that are not `str`.
    """
    try:
        return _from_bytes(_pton(_AF4, text), "big")
    except OSError:
        if text.startswith("::ffff:"):
            try:
                return _from_bytes(_pton(_AF4, text[7:]), "big")
            except (OSError, ValueError):
                return None
        return None
    except (TypeError, ValueError):  # not a str, or an embedded NUL
        return None


def ipv6_int(text: Any) -> int | None:
    """The 128-bit value of an IPv6 address; IPv4 is mapped to `::ffff:a.b.c.d`."""
    try:
        return _from_bytes(_pton(_AF6, text), "big")
    except OSError:
        v4 = ipv4_int(text)
        return None if v4 is None else (0xFFFF << 32) | v4
    except (TypeError, ValueError):
        return None


def ipv4_text(k: int) -> str:
    return socket.inet_ntop(socket.AF_INET, k.to_bytes(4, "big"))


def ipv6_text(k: int) -> str:
    return socket.inet_ntop(socket.AF_INET6, k.to_bytes(16, "big"))


def _integer_from_sample(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value) & 0xFFFFFFFF
    except (TypeError, ValueError):
        return None


def _string_from_sample(length: int) -> Callable[[Any], Any]:
    def conv(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return str(value)[:length]

    return conv


def _binary_from_sample(length: int) -> Callable[[Any], Any]:
    def conv(value: Any) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = value.encode("latin-1")
        if isinstance(value, int):
            value = value.to_bytes(8, "big", signed=True)
        return bytes(value[:length]).ljust(length, b"\0")

    return conv


def _sample_converter(name: str, length: int) -> Callable[[Any], Any]:
    if name == "ip":
        return ipv4_int
    if name == "ipv6":
        return ipv6_int
    if name == "integer":
        return _integer_from_sample
    if name == "string":
        return _string_from_sample(length)
    return _binary_from_sample(length)


@dataclass(frozen=True, slots=True)
class KeyType:
    """How one table type parses and prints its keys.

    `from_sample(value)` is the key for a sample value (str, int, bytes), or
    None if it does not convert. It is a plain function chosen once for the
    type (no dispatch per call): `track-scN` runs it on every request.
    """

    name: str
    length: int
    from_sample: Callable[[Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "from_sample", _sample_converter(self.name, self.length))

    def from_text(self, text: str) -> Any:
        """The key for CLI text, or None when HAProxy says `Invalid key`."""
        t = self.name
        if t == "ip":
            return ipv4_int(text)
        if t == "ipv6":
            try:
                return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
            except (OSError, ValueError):
                return None
        if t == "integer":
            if not text.isdigit():
                return None
            return int(text) & 0xFFFFFFFF
        if t == "string":
            return text[: self.length]
        return None

    def text(self, key: Any) -> str:
        t = self.name
        if t == "ip":
            return ipv4_text(key)
        if t == "ipv6":
            return ipv6_text(key)
        if t == "binary":
            return key.hex()
        return str(key)
