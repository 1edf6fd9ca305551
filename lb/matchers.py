"""ACL match methods (`-m str|beg|end|sub|reg|dir|dom|len|int|ip|found|bool|bin|meth`).

Each method registers once with how it parses a pattern and which index
holds its patterns. The index is what makes a 100k-entry list cost what a
10-entry one does: exact strings sit in a dict (HAProxy's `idx=tree`),
prefixes in one dict per prefix length, addresses in one dict per mask
length; only the methods HAProxy itself scans (`sub`, `reg`, `end`, `int`
ranges…) are lists (`idx=list`). `get acl` reports the same kind as HAProxy.

An index holds pattern entries (`lb.patterns.PatEntry`) and answers
`match(value)` with the first matching entry or None; `value` is the sample
already cast to what the method compares (str, int or an address).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# ------------------------------------------------------------------ addresses


def _parse_addr(text: str) -> tuple[int, int] | None:
    """`(family, value)` of an address (4 or 6); None when it is not one."""
    try:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        pass
    try:
        v = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except OSError:
        return None
    if v >> 32 == 0xFFFF:
        return 4, v & 0xFFFFFFFF
    return 6, v


# Samples (`src`, `req.hdr(x-forwarded-for)`…) repeat: cached. Pattern files do not go
# through the cache (100k load-time addresses would only evict the live ones).
parse_addr = lru_cache(maxsize=65536)(_parse_addr)


def parse_net(text: str) -> tuple[int, int, int]:
    """`(family, masklen, network)` of `addr[/mask]` (mask as length or dotted)."""
    addr, _, mask = text.partition("/")
    a = _parse_addr(addr)
    if a is None:
        raise ValueError(f"'{text}' is not a valid IPv4 or IPv6 address.")
    fam, v = a
    bits = 32 if fam == 4 else 128
    if not mask:
        n = bits
    elif mask.isdigit():
        n = int(mask)
        if n > bits:
            raise ValueError(f"'{text}' is not a valid IPv4 or IPv6 address.")
    else:
        m = _parse_addr(mask)
        if m is None or m[0] != 4 or fam != 4:
            raise ValueError(f"'{text}' is not a valid IPv4 or IPv6 address.")
        n = bin(m[1]).count("1")
    return fam, n, v >> (bits - n) if n else 0


# ------------------------------------------------------------------ integers


def parse_int_range(text: str) -> tuple[int | None, int | None]:
    """`N`, `N:M`, `:M` or `N:` into (low, high), None for an open side."""

    def num(t: str) -> int:
        if not re.fullmatch(r"[+-]?\d+", t):
            raise ValueError(f"'{text}' is not a number.")
        return int(t)

    if ":" in text:
        lo, _, hi = text.partition(":")
        return (num(lo) if lo else None, num(hi) if hi else None)
    v = num(text)
    return v, v


INT_OPERATORS: dict[str, Callable[[int], str]] = {
    "eq": lambda v: str(v),
    "ge": lambda v: f"{v}:",
    "gt": lambda v: f"{v + 1}:",
    "le": lambda v: f":{v}",
    "lt": lambda v: f":{v - 1}",
}


# ------------------------------------------------------------------ indexes
#
# A key of a dict index maps to its entry itself, or to a list of entries when the
# same pattern was added more than once (first added first): no one-element list per
# pattern, so a 100k-entry file costs 100k dict slots and no extra objects for the
# cyclic garbage collector to walk.


def _put(d: dict[Any, Any], k: Any, entry: Any) -> None:
    cur = d.get(k)
    if cur is None:
        d[k] = entry
    elif type(cur) is list:
        cur.append(entry)
    else:
        d[k] = [cur, entry]


def _take(d: dict[Any, Any], k: Any, entry: Any) -> None:
    cur = d.get(k)
    if cur is None:
        return
    if type(cur) is list:
        rest = [e for e in cur if e is not entry]
        if not rest:
            del d[k]
        else:
            d[k] = rest if len(rest) > 1 else rest[0]
    elif cur is entry:
        del d[k]


class Index:
    """Patterns of one expression; subclasses choose the structure."""

    tree = False

    def __init__(self, icase: bool = False) -> None:
        self.icase = icase

    def key(self, text: str) -> Any:
        return text.lower() if self.icase else text

    def add(self, entry: Any) -> None:
        raise NotImplementedError

    def remove(self, entry: Any) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def match(self, value: Any) -> Any:
        raise NotImplementedError


class ListIndex(Index):
    """Patterns scanned in order: `test(parsed, value)` decides."""

    def __init__(self, icase: bool, parse: Callable[[str, bool], Any], test: Callable) -> None:
        super().__init__(icase)
        self.items: list[tuple[Any, Any]] = []
        self.parse = parse
        self.test = test

    def add(self, entry: Any) -> None:
        self.items.append((self.parse(entry.text, self.icase), entry))

    def remove(self, entry: Any) -> None:
        self.items = [it for it in self.items if it[1] is not entry]

    def clear(self) -> None:
        self.items = []

    def match(self, value: Any) -> Any:
        if self.icase and isinstance(value, str):
            value = value.lower()
        test = self.test
        for p, e in self.items:
            if test(p, value):
                return e
        return None


class ExactIndex(Index):
    """Exact strings in a dict (first added wins among duplicates)."""

    def __init__(self, icase: bool = False) -> None:
        super().__init__(icase)
        self.tree = not icase
        self.d: dict[Any, Any] = {}

    def add(self, entry: Any) -> None:
        _put(self.d, self.key(entry.text), entry)

    def remove(self, entry: Any) -> None:
        _take(self.d, self.key(entry.text), entry)

    def clear(self) -> None:
        self.d = {}

    def match(self, value: Any) -> Any:
        if self.icase:
            value = value.lower()
        e = self.d.get(value)
        return e[0] if type(e) is list else e


class PrefixIndex(Index):
    """Prefixes in one dict per length; the longest matching prefix wins."""

    def __init__(self, icase: bool = False) -> None:
        super().__init__(icase)
        self.tree = not icase
        self.by_len: dict[int, dict[str, Any]] = {}
        self.lens: list[int] = []

    def add(self, entry: Any) -> None:
        k = self.key(entry.text)
        d = self.by_len.get(len(k))
        if d is None:
            d = self.by_len[len(k)] = {}
            self.lens = sorted(self.by_len, reverse=True)
        _put(d, k, entry)

    def remove(self, entry: Any) -> None:
        k = self.key(entry.text)
        d = self.by_len.get(len(k))
        if d is None:
            return
        _take(d, k, entry)
        if not d:
            del self.by_len[len(k)]
            self.lens = sorted(self.by_len, reverse=True)

    def clear(self) -> None:
        self.by_len = {}
        self.lens = []

    def match(self, value: Any) -> Any:
        if self.icase:
            value = value.lower()
        n = len(value)
        by_len = self.by_len
        for ln in self.lens:
            if ln <= n:
                e = by_len[ln].get(value[:ln])
                if e is not None:
                    return e[0] if type(e) is list else e
        return None


class NetIndex(Index):
    """Networks in one dict per (family, mask length); the longest mask wins."""

    tree = True

    def __init__(self, icase: bool = False) -> None:
        super().__init__(False)
        self.v4: dict[int, dict[int, Any]] = {}
        self.v6: dict[int, dict[int, Any]] = {}
        self.l4: list[int] = []
        self.l6: list[int] = []

    def add(self, entry: Any) -> None:
        fam, n, net = parse_net(entry.text)
        by = self.v4 if fam == 4 else self.v6
        d = by.get(n)
        if d is None:
            d = by[n] = {}
            self._lens()
        _put(d, net, entry)

    def _lens(self) -> None:
        self.l4 = sorted(self.v4, reverse=True)
        self.l6 = sorted(self.v6, reverse=True)

    def remove(self, entry: Any) -> None:
        fam, n, net = parse_net(entry.text)
        by = self.v4 if fam == 4 else self.v6
        d = by.get(n)
        if d is None:
            return
        _take(d, net, entry)
        if not d:
            del by[n]
            self._lens()

    def clear(self) -> None:
        self.v4, self.v6, self.l4, self.l6 = {}, {}, [], []

    def match(self, value: Any) -> Any:
        """`value` is an address text (or a parsed `(family, int)`)."""
        a = parse_addr(value) if isinstance(value, str) else value
        if a is None:
            return None
        fam, v = a
        if fam == 4:
            by, lens, bits = self.v4, self.l4, 32
        else:
            by, lens, bits = self.v6, self.l6, 128
        for n in lens:
            e = by[n].get(v >> (bits - n))
            if e is not None:
                return e[0] if type(e) is list else e
        return None


# ------------------------------------------------------------------ registry


@dataclass(frozen=True, slots=True)
class MatchKind:
    """One match method: `cast` names the sample form the index compares."""

    name: str
    make_index: Callable[[bool], Index]
    cast: str  # "str" | "int" | "ip" | "bin" | "none" | "bool"
    needs_patterns: bool = True


MATCHERS: dict[str, MatchKind] = {}


def matcher(name: str, cast: str, make_index: Callable[[bool], Index], needs: bool = True) -> None:
    MATCHERS[name] = MatchKind(name, make_index, cast, needs)


def _str(t: str, icase: bool) -> str:
    return t.lower() if icase else t


def _words(delims: str) -> Callable[[str, bool], Any]:
    cls = re.escape(delims)

    def parse(t: str, icase: bool) -> Any:
        core = t.strip(delims)
        return re.compile(rf"(?:^|[{cls}]){re.escape(core)}(?:$|[{cls}])", re.I if icase else 0)

    return parse


def _regex(t: str, icase: bool) -> Any:
    try:
        return re.compile(t, re.I if icase else 0)
    except re.error as exc:
        raise ValueError(f"regex '{t}' is invalid: {exc}") from None


def _range(t: str, icase: bool) -> tuple[int | None, int | None]:
    return parse_int_range(t)


def _in_range(p: tuple[int | None, int | None], v: int) -> bool:
    lo, hi = p
    return (lo is None or v >= lo) and (hi is None or v <= hi)


def _bin(t: str, icase: bool) -> bytes:
    try:
        return bytes.fromhex(t)
    except ValueError:
        raise ValueError(f"'{t}' is not a valid hexadecimal string.") from None


def _list(parse: Callable[[str, bool], Any], test: Callable) -> Callable[[bool], Index]:
    return lambda icase: ListIndex(icase, parse, test)


matcher("str", "str", ExactIndex)
matcher("beg", "str", PrefixIndex)
matcher("end", "str", _list(_str, lambda p, v: v.endswith(p)))
matcher("sub", "str", _list(_str, lambda p, v: p in v))
matcher("reg", "str", _list(_regex, lambda p, v: p.search(v) is not None))
matcher("dir", "str", _list(_words("/?"), lambda p, v: p.search(v) is not None))
matcher("dom", "str", _list(_words("/?.:"), lambda p, v: p.search(v) is not None))
matcher("len", "len", _list(_range, _in_range))
matcher("int", "int", _list(_range, _in_range))
matcher("ip", "ip", NetIndex)
matcher("bin", "bin", _list(_bin, lambda p, v: p == v))
matcher("meth", "str", ExactIndex)
matcher("found", "none", _list(_str, lambda p, v: False), needs=False)
matcher("bool", "bool", _list(_str, lambda p, v: False), needs=False)

# The match a fetch gets without `-m`, from its output type.
DEFAULT_MATCH = {
    "str": "str",
    "int": "int",
    "bool": "bool",
    "ip": "ip",
    "bin": "bin",
    "meth": "meth",
}


def check_pattern(kind: MatchKind, text: str, icase: bool = False) -> None:
    """Raise ValueError (HAProxy's sentence) when `text` is no pattern for `kind`."""
    idx = kind.make_index(icase)

    class _E:
        pass

    e = _E()
    e.text = text  # type: ignore[attr-defined]
    idx.add(e)
