"""The consistent-hash ring (`hash-type consistent`, and `random`).

Each eligible server puts ``eweight * 16`` points on a 32-bit circle (16 is
HAProxy's weight scale); point ``i`` of the server with id ``puid`` sits at
``full_hash(puid * 4096 + i)``, as in HAProxy, so a ring built from the same
ids and weights is the same ring.
A key picks the server of the nearest point, looking both ways (ties go to
the point before). Removing a server only moves the keys that were nearest
to its points.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from lb.balance.base import WEIGHT_SCALE, ServerLike, has_room
from lb.balance.hashes import MASK32, full_hash

#: HAProxy's SRV_EWGHT_RANGE (256 user weights x 16): the stride between servers' node ids
_NODE_RANGE = 4096

_node_cache: dict[tuple[int, int], int] = {}


def node_key(puid: int, index: int) -> int:
    """Position on the circle of a server's `index`-th point."""
    k = (puid, index)
    key = _node_cache.get(k)
    if key is None:
        key = full_hash(puid * _NODE_RANGE + index)
        if len(_node_cache) < 1_000_000:
            _node_cache[k] = key
    return key


class Ring:
    """Sorted points of a group of servers; lookups are a bisection."""

    __slots__ = ("keys", "owners", "_last")

    def __init__(self, servers: Sequence[ServerLike]) -> None:
        points: list[tuple[int, int, ServerLike]] = []
        for order, srv in enumerate(servers):
            count = srv.eweight * WEIGHT_SCALE
            points.extend((node_key(srv.puid, i), order, srv) for i in range(count))
        points.sort(key=lambda p: (p[0], p[1]))
        self.keys: list[int] = [p[0] for p in points]
        self.owners: list[ServerLike] = [p[2] for p in points]
        self._last = -1  # cursor of the round robin fallback

    def __len__(self) -> int:
        return len(self.keys)

    def index(self, h: int) -> int:
        """Index of the point nearest to hash `h` (the circle wraps)."""
        keys = self.keys
        n = len(keys)
        nxt = bisect_left(keys, h)
        if nxt == n:
            nxt = 0
        prv = nxt - 1 if nxt else n - 1
        if self.owners[nxt] is self.owners[prv]:
            return nxt
        dp = (h - keys[prv]) & MASK32
        dn = (keys[nxt] - h) & MASK32
        return prv if dp <= dn else nxt

    def lookup(self, h: int, avoid: object | None = None) -> ServerLike | None:
        """Server nearest to `h`; walks on clockwise past `avoid`."""
        if not self.keys:
            return None
        i = self.index(h)
        srv = self.owners[i]
        if srv is avoid:
            owners = self.owners
            n = len(owners)
            for step in range(1, n):
                cand = owners[(i + step) % n]
                if cand is not avoid:
                    return cand
        return srv

    def next_server(self, avoid: object | None = None) -> ServerLike | None:
        """Round robin over the points, skipping full servers (hash key missing)."""
        owners = self.owners
        n = len(owners)
        if not n:
            return None
        idx = self._last
        avoided: ServerLike | None = None
        avoided_idx = idx
        for _ in range(n):
            idx = idx + 1 if idx + 1 < n else 0
            srv = owners[idx]
            if has_room(srv):
                if srv is not avoid:
                    self._last = idx
                    return srv
                if avoided is None:
                    avoided, avoided_idx = srv, idx
        self._last = avoided_idx
        return avoided
