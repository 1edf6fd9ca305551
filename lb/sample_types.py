"""Sample values and casts between HAProxy's sample types.

Samples are plain Python values chosen for speed: `str` for `str`, `ip` and
`meth` samples (addresses stay in their text form until a matcher or a
table key needs their integer), `int` for `sint`, `bool` for `bool`,
`bytes` for `bin`. None is "no sample". Casts run only where a compiled
expression crosses types, decided once at compile time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

TYPES = ("bool", "int", "ip", "str", "bin", "meth", "any")
_INT_PREFIX = re.compile(r"\s*([+-]?\d+)")


def to_str(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, bytes | bytearray):
        return bytes(v).decode("latin-1")
    return str(v)


def to_int(v: Any) -> int | None:
    if v is None or isinstance(v, int):
        return int(v) if v is not None else None
    if isinstance(v, bytes | bytearray):
        v = bytes(v).decode("latin-1")
    m = _INT_PREFIX.match(v)
    return int(m.group(1)) if m else None


def to_bool(v: Any) -> bool | None:
    if v is None:
        return None
    if isinstance(v, str | bytes):
        i = to_int(v)
        return bool(i) if i is not None else bool(v)
    return bool(v)


def to_bin(v: Any) -> bytes | None:
    if v is None or isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("latin-1")
    if isinstance(v, bool):
        return b"\x01" if v else b"\x00"
    return int(v).to_bytes(8, "big", signed=True)


CASTS: dict[str, Callable[[Any], Any]] = {
    "str": to_str,
    "meth": to_str,
    "ip": to_str,
    "int": to_int,
    "bool": to_bool,
    "bin": to_bin,
}


def cast_fn(src: str, dst: str) -> Callable[[Any], Any] | None:
    """The cast from `src` to `dst`, or None when none is needed."""
    if dst == "any" or src == dst:
        return None
    if dst == "ip" and src in ("str", "ip"):
        return None
    if src in ("str", "meth", "ip") and dst in ("str", "meth"):
        return None
    return CASTS[dst]
