"""Hash-based algorithms: source, uri, url_param, hdr(<name>).

Each algorithm is a *key function* turning a request into a 32-bit hash (or
None when its key is absent), plus a *lookup*: the weight map (`hash-type
map-based`, the default) or the ring (`hash-type consistent`). When the key
is absent the pick falls back to round robin over the same map or ring, as
HAProxy does.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lb.balance.base import ConnTrackingNoop, PickContext, ServerLike, select_group
from lb.balance.chash import Ring
from lb.balance.ctext import atoi
from lb.balance.hashes import HASH_FUNCTIONS, HashFunction, full_hash
from lb.balance.lbmap import build_map
from lb.balance.roundrobin import walk_map

_HASH_TYPE_METHODS = ("map-based", "consistent")


@dataclass(frozen=True, slots=True)
class HashType:
    """A parsed `hash-type` line."""

    consistent: bool = False
    function: str = "sdbm"
    avalanche: bool = False


def parse_hash_type(words: Sequence[str]) -> HashType:
    """Validate the words after `hash-type`; an empty list is the default.

    `consistent` without a function means sdbm with avalanche (HAProxy's
    documented default); naming a function turns the implicit avalanche off.
    """
    if not words:
        return HashType()
    method = words[0]
    if method == "avalanche":
        raise ValueError(
            "experimental feature 'hash-type avalanche' is not supported anymore, "
            "please use 'hash-type map-based sdbm avalanche' instead."
        )
    if method not in _HASH_TYPE_METHODS:
        raise ValueError("'hash-type' only supports 'consistent' and 'map-based'.")
    consistent = method == "consistent"
    if len(words) < 2 or not words[1]:
        return HashType(consistent=consistent, avalanche=consistent)
    function = words[1]
    if function not in HASH_FUNCTIONS:
        raise ValueError(
            "'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions."
        )
    avalanche = False
    if len(words) > 2 and words[2]:
        if words[2] != "avalanche":
            raise ValueError(
                "'hash-type' only supports 'avalanche' as a modifier for hash functions."
            )
        avalanche = True
    return HashType(consistent=consistent, function=function, avalanche=avalanche)


KeyFunction = Callable[[PickContext], "int | None"]


def source_key(avalanche: bool) -> KeyFunction:
    """Client address: its 32-bit big-endian words XORed together.

    No hash function is involved (HAProxy ignores it for `source`), only the
    optional avalanche. IPv4 gives one word, IPv6 four; an IPv4 client seen
    on an IPv6 listener arrives as ``::ffff:a.b.c.d`` and hashes as IPv6.
    """

    def key(ctx: PickContext) -> int | None:
        src = ctx.src
        try:
            raw = socket.inet_pton(socket.AF_INET, src)
        except OSError:
            try:
                raw = socket.inet_pton(socket.AF_INET6, src.partition("%")[0])
            except OSError:
                return None  # not an IP client (unix socket): round robin
        h = int.from_bytes(raw[0:4], "big")
        if len(raw) == 16:
            h ^= (
                int.from_bytes(raw[4:8], "big")
                ^ int.from_bytes(raw[8:12], "big")
                ^ int.from_bytes(raw[12:16], "big")
            )
        return full_hash(h) if avalanche else h

    return key


def _path_only(uri: bytes) -> bytes:
    """The path (and query) of a request target, dropping scheme://authority."""
    if uri.startswith(b"/"):
        return uri
    sep = uri.find(b"://")
    if sep < 0:
        return b""  # authority-form or '*': no path
    slash = uri.find(b"/", sep + 3)
    return b"" if slash < 0 else uri[slash:]


def uri_key(args: Sequence[str], hfn: HashFunction) -> KeyFunction:
    """Request target up to '?' (all of it with `whole`), cut by `len` and `depth`."""
    whole = "whole" in args
    path_only = "path-only" in args
    length = 0
    depth = 0
    i = 0
    while i < len(args):
        if args[i] == "len":
            length = atoi(args[i + 1])
            i += 2
        elif args[i] == "depth":
            depth = atoi(args[i + 1])
            i += 2
        else:
            i += 1

    def key(ctx: PickContext) -> int | None:
        uri = ctx.uri
        if uri is None:
            return None
        if path_only:
            uri = _path_only(uri)
        if length:
            uri = uri[:length]
        if not whole:
            q = uri.find(b"?")
            if q >= 0:
                uri = uri[:q]
        if depth:
            # stop before the (depth+1)-th slash
            pos = -1
            for _ in range(depth + 1):
                pos = uri.find(b"/", pos + 1)
                if pos < 0:
                    break
            if pos >= 0:
                uri = uri[:pos]
        return hfn(uri)

    return key


def url_param_key(args: Sequence[str], hfn: HashFunction) -> KeyFunction:
    """Value of query-string parameter NAME (first occurrence with '=')."""
    needle = args[0].encode("latin-1") + b"="

    def key(ctx: PickContext) -> int | None:
        uri = ctx.uri
        if uri is None:
            return None
        q = uri.find(b"?")
        if q < 0:
            return None
        for param in uri[q + 1 :].split(b"&"):
            if param.startswith(needle):
                return hfn(param[len(needle) :])
        return None

    return key


def _domain_only(value: bytes) -> bytes:
    """The label before the last dot ("www.example.com" -> "example").

    Mirrors HAProxy's backward scan exactly, including its corners: a dot
    in first position is never seen, and the character right before the
    last dot is never taken for the previous dot.
    """
    last = value.rfind(b".")
    if last <= 0:
        return value
    prev = value.rfind(b".", 0, last - 1)
    return value[prev + 1 : last]


def hdr_key(args: Sequence[str], hfn: HashFunction) -> KeyFunction:
    """First value of header NAME, optionally reduced to its main domain label."""
    lname = args[0].lower().encode("latin-1")
    domain_only = len(args) > 1 and args[1] == "use_domain_only"

    def key(ctx: PickContext) -> int | None:
        value = ctx.get_header(lname)
        if value is None:
            return None
        if b"," in value:  # like HAProxy's header lookup: first element of a list
            value = value.split(b",", 1)[0]
        value = value.strip(b" \t")
        if not value:
            return None
        if domain_only:
            value = _domain_only(value)
        return hfn(value)

    return key


class MapHash(ConnTrackingNoop):
    """`hash-type map-based`: ``table[hash % total_weight]``; static weights."""

    __slots__ = ("_servers", "_allbackups", "_key", "_table", "_idx")

    def __init__(self, servers: Sequence[ServerLike], allbackups: bool, key: KeyFunction) -> None:
        self._servers = servers
        self._allbackups = allbackups
        self._key = key
        self._table: list[ServerLike] = []
        self._idx = 0
        self.rebuild()

    def rebuild(self) -> None:
        self._table = build_map(select_group(self._servers, self._allbackups))
        if self._idx >= len(self._table):
            self._idx = 0

    def pick(self, ctx: PickContext, avoid: object | None = None) -> ServerLike | None:
        table = self._table
        if not table:
            return None
        if len(table) > 1:
            h = self._key(ctx)
            if h is not None:
                return table[h % len(table)]
        self._idx, srv = walk_map(table, self._idx, avoid)
        return srv


class ConsistentHash(ConnTrackingNoop):
    """`hash-type consistent`: nearest point on the ring; weights are dynamic."""

    __slots__ = ("_servers", "_allbackups", "_key", "_ring", "_single")

    def __init__(self, servers: Sequence[ServerLike], allbackups: bool, key: KeyFunction) -> None:
        self._servers = servers
        self._allbackups = allbackups
        self._key = key
        self._ring = Ring(())
        self._single: ServerLike | None = None
        self.rebuild()

    def rebuild(self) -> None:
        group = select_group(self._servers, self._allbackups)
        # a lone backup (no allbackups) is returned as is, like HAProxy's fbck
        lone_backup = len(group) == 1 and group[0].backup and not self._allbackups
        self._single = group[0] if lone_backup else None
        self._ring = Ring(() if lone_backup else group)

    def pick(self, ctx: PickContext, avoid: object | None = None) -> ServerLike | None:
        if self._single is not None:
            return self._single
        ring = self._ring
        if not ring.keys:
            return None
        h = self._key(ctx)
        if h is not None:
            return ring.lookup(h, avoid)
        return ring.next_server(avoid)
