"""`leastconn`: the server with the fewest connections for its weight.

Servers sit in a sorted list keyed by ``served / eweight`` (as an integer
ratio, like HAProxy's tree key), then by the time they were last re-queued.
A server whose count changes is re-queued behind the others with the same
load, which makes servers of equal load take turns.
"""

from __future__ import annotations

from collections.abc import Sequence

from sortedcontainers import SortedList

from lb.balance.base import PickContext, ServerLike, has_room, select_group

#: fixed-point scale of the load ratio; large enough that distinct
#: served/eweight ratios of realistic servers never collapse together
_SCALE = 1 << 24


class LeastConn:
    """Pick the least loaded server relative to its weight; O(log n)."""

    __slots__ = ("_servers", "_allbackups", "_tree", "_keys", "_seq")

    def __init__(self, servers: Sequence[ServerLike], allbackups: bool) -> None:
        self._servers = servers
        self._allbackups = allbackups
        self._tree: SortedList = SortedList()
        self._keys: dict[int, tuple[int, int, int, ServerLike]] = {}
        self._seq = 0
        self.rebuild()

    def _key(self, srv: ServerLike, order: int) -> tuple[int, int, int, ServerLike]:
        self._seq += 1
        return (srv.served * _SCALE // srv.eweight, self._seq, order, srv)

    def rebuild(self) -> None:
        group = select_group(self._servers, self._allbackups)
        old = self._keys
        keys: dict[int, tuple[int, int, int, ServerLike]] = {}
        for order, srv in enumerate(group):
            prev = old.get(id(srv))
            if prev is not None and prev[0] == srv.served * _SCALE // srv.eweight:
                keys[id(srv)] = (prev[0], prev[1], order, srv)  # keep its turn
            else:
                keys[id(srv)] = self._key(srv, order)
        self._keys = keys
        self._tree = SortedList(keys.values())

    def _requeue(self, srv: ServerLike) -> None:
        key = self._keys.get(id(srv))
        if key is None:  # not in the current group (e.g. a backup while actives are up)
            return
        self._tree.remove(key)
        key = self._key(srv, key[2])
        self._keys[id(srv)] = key
        self._tree.add(key)

    def pick(self, ctx: PickContext, avoid: object | None = None) -> ServerLike | None:
        avoided: ServerLike | None = None
        for key in self._tree:
            srv = key[3]
            if has_room(srv):
                if srv is not avoid:
                    return srv
                avoided = srv
        return avoided

    def on_take(self, srv: ServerLike) -> None:
        self._requeue(srv)

    def on_release(self, srv: ServerLike) -> None:
        self._requeue(srv)
