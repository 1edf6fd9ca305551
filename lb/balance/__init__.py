"""Server selection: one small interface, one registry of algorithms.

A backend parses its `balance` line with :func:`parse_balance`, then asks
:func:`make_balancer` for a :class:`Balancer` over its server list. The
balancer keeps precomputed structures (rings, maps, heaps) that it rebuilds
when told to, so :meth:`Balancer.pick` stays cheap on the request path.

Which keys exist, what `show stat` prints in its `algo` column and how each
algorithm is built all come from :data:`ALGORITHMS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lb.balance.base import (
    WEIGHT_SCALE,
    Balancer,
    PickContext,
    ServerLike,
    eligible,
    has_room,
    select_group,
)
from lb.balance.ctext import atoi, strtol0
from lb.balance.first import First
from lb.balance.hashes import HASH_FUNCTIONS, HashFunction, full_hash
from lb.balance.hashing import (
    ConsistentHash,
    HashType,
    KeyFunction,
    MapHash,
    hdr_key,
    parse_hash_type,
    source_key,
    uri_key,
    url_param_key,
)
from lb.balance.leastconn import LeastConn
from lb.balance.random import RandomDraws
from lb.balance.roundrobin import RoundRobin, StaticRoundRobin

__all__ = [
    "ALGORITHMS",
    "WEIGHT_SCALE",
    "AlgorithmSpec",
    "Balancer",
    "HashType",
    "PickContext",
    "ServerLike",
    "eligible",
    "has_room",
    "make_balancer",
    "parse_balance",
    "parse_hash_type",
    "select_group",
    "stat_name",
]

Factory = Callable[[list[str], HashType, Sequence[ServerLike], bool], Balancer]


@dataclass(frozen=True, slots=True)
class AlgorithmSpec:
    """One `balance` algorithm."""

    name: str  # key used by parse_balance / make_balancer
    stat_name: str  # what HAProxy 2.6 prints in show stat's `algo` column
    usage: str
    factory: Factory
    uses_hash_type: bool = False


def _hashed(make_key: Callable[[list[str], HashType], KeyFunction]) -> Factory:
    def factory(
        args: list[str], ht: HashType, servers: Sequence[ServerLike], allbackups: bool
    ) -> Balancer:
        key = make_key(args, ht)
        if ht.consistent:
            return ConsistentHash(servers, allbackups, key)
        return MapHash(servers, allbackups, key)

    return factory


def _hash_fn(ht: HashType) -> HashFunction:
    """The configured hash function, followed by the avalanche if asked."""
    fn = HASH_FUNCTIONS[ht.function]
    if ht.avalanche:
        return lambda data: full_hash(fn(data))
    return fn


ALGORITHMS: dict[str, AlgorithmSpec] = {}


def _register(spec: AlgorithmSpec) -> None:
    ALGORITHMS[spec.name] = spec


_register(
    AlgorithmSpec(
        "roundrobin",
        "roundrobin",
        "roundrobin: each server in turn, by weight; weights are dynamic",
        lambda a, h, s, b: RoundRobin(s, b),
    )
)
_register(
    AlgorithmSpec(
        "static-rr",
        "static-rr",
        "static-rr: each server in turn, by weight; weights are static",
        lambda a, h, s, b: StaticRoundRobin(s, b),
    )
)
_register(
    AlgorithmSpec(
        "leastconn",
        "leastconn",
        "leastconn: fewest connections for its weight, round robin among equals",
        lambda a, h, s, b: LeastConn(s, b),
    )
)
_register(
    AlgorithmSpec(
        "first",
        "first",
        "first: lowest id server with a free connection slot",
        lambda a, h, s, b: First(s, b),
    )
)
_register(
    AlgorithmSpec(
        "source",
        "source",
        "source: hash of the client address",
        _hashed(lambda a, h: source_key(h.avalanche)),
        uses_hash_type=True,
    )
)
_register(
    AlgorithmSpec(
        "uri",
        "uri",
        "uri [len <n>] [depth <n>] [whole] [path-only]: hash of the request URI",
        _hashed(lambda a, h: uri_key(a, _hash_fn(h))),
        uses_hash_type=True,
    )
)
_register(
    AlgorithmSpec(
        "url_param",
        "url_param",
        "url_param <param> [check_post]: hash of a query-string parameter",
        _hashed(lambda a, h: url_param_key(a, _hash_fn(h))),
        uses_hash_type=True,
    )
)
_register(
    AlgorithmSpec(
        "hdr",
        "hdr",
        "hdr(<name>) [use_domain_only]: hash of a request header",
        _hashed(lambda a, h: hdr_key(a, _hash_fn(h))),
        uses_hash_type=True,
    )
)
_register(
    AlgorithmSpec(
        "random",
        "unknown",  # HAProxy 2.6 has no name for it in show stat
        "random[(<draws>)]: least loaded of <draws> (2) random ring picks",
        lambda a, h, s, b: RandomDraws(s, b, int(a[0]) if a else 2),
    )
)


def stat_name(algo: str) -> str:
    """The `algo` column of show stat for a registered algorithm."""
    spec = ALGORITHMS.get(algo)
    return spec.stat_name if spec else "unknown"


def make_balancer(
    algo: str,
    args: list[str],
    hash_type: list[str],
    servers: list,
    allbackups: bool,
) -> Balancer:
    """Build the balancer for `algo` (a key of :data:`ALGORITHMS`).

    `args` are as returned by :func:`parse_balance`; `hash_type` holds the
    words after `hash-type` (empty for the default map-based sdbm). The
    balancer keeps a reference to `servers`; call ``rebuild()`` after the
    list or any server's usable state or effective weight changes.
    """
    spec = ALGORITHMS.get(algo)
    if spec is None:
        raise ValueError(f"unknown balance algorithm '{algo}'.")
    return spec.factory(list(args), parse_hash_type(hash_type), servers, allbackups)


_ONLY_SUPPORTS = (
    "balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', "
    "'url_param', 'hdr(name)' and 'rdp-cookie(name)' options."
)


def _word(words: Sequence[str], i: int) -> str:
    return words[i] if i < len(words) else ""


def _parse_uri(words: Sequence[str]) -> list[str]:
    i = 1
    while _word(words, i):
        opt = words[i]
        if opt in ("len", "depth"):
            val = _word(words, i + 1)
            if not val or atoi(val) <= 0:
                raise ValueError(f"balance uri : '{opt}' expects a positive integer (got '{val}').")
            i += 2
        elif opt in ("whole", "path-only"):
            i += 1
        else:
            raise ValueError(
                "balance uri only accepts parameters 'len', 'depth', 'path-only', "
                f"and 'whole' (got '{opt}')."
            )
    return list(words[1:i])


def parse_balance(words: list[str]) -> tuple[str, list[str]]:
    """Validate the words after `balance`; return (algorithm key, its arguments).

    Errors raise ValueError carrying HAProxy's sentence (starting with
    "balance"), ready to follow ``parsing [file:line] : ``. Extra words after
    argument-less algorithms are ignored, as HAProxy does.
    """
    first = _word(words, 0)
    if not first:
        return "roundrobin", []
    if first in ("roundrobin", "static-rr", "first", "leastconn", "source"):
        return first, []
    if first.startswith("random"):
        draws = 2
        if first[6:7] == "(" and first[7:8] != ")":
            draws, rest = strtol0(first[7:])
            if not rest.startswith(")"):
                if not rest:
                    raise ValueError("balance random : missing closing parenthesis.")
                raise ValueError(
                    f"balance random : unexpected character '{rest[0]}' after argument."
                )
            if draws < 1:
                raise ValueError("balance random : number of draws must be at least 1.")
        return "random", [str(draws)]
    if first == "uri":
        return "uri", _parse_uri(words)
    if first == "url_param":
        name = _word(words, 1)
        if not name:
            raise ValueError("balance url_param requires an URL parameter name.")
        mod = _word(words, 2)
        if mod and mod != "check_post":
            raise ValueError(f"balance url_param only accepts 'check_post' modifier (got '{mod}').")
        return "url_param", [name] + ([mod] if mod else [])
    if first.startswith("hdr("):
        end = first.find(")", 4)
        if end <= 4:
            raise ValueError("balance hdr requires an http header field name.")
        mod = _word(words, 1)
        if mod and mod != "use_domain_only":
            raise ValueError(
                f"balance {first} only accepts 'use_domain_only' modifier (got '{mod}')."
            )
        return "hdr", [first[4:end]] + ([mod] if mod else [])
    if first.startswith("rdp-cookie"):
        tail = first[10:]
        if tail.startswith("("):
            if first.find(")", 11) <= 11:
                raise ValueError("balance rdp-cookie : missing cookie name.")
        elif tail:
            raise ValueError("balance rdp-cookie : missing cookie name.")
        raise ValueError("balance rdp-cookie is not supported by this load balancer.")
    if first == "hash":
        if not _word(words, 1):
            raise ValueError("balance hash requires a sample expression.")
        raise ValueError("balance hash is not supported by this load balancer.")
    raise ValueError(_ONLY_SUPPORTS)
