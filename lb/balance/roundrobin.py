"""`roundrobin` (dynamic, smooth weighted) and `static-rr` (the static map)."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from lb.balance.base import ConnTrackingNoop, PickContext, ServerLike, has_room, select_group
from lb.balance.lbmap import build_map


def walk_map(
    table: Sequence[ServerLike], start: int, avoid: object | None
) -> tuple[int, ServerLike | None]:
    """Next server with room from `table[start]` on, skipping `avoid` if possible.

    Returns the index after the chosen slot and the server (None if every
    server is full). Like HAProxy's map round robin, a full table scan
    happens only when servers are saturated.
    """
    n = len(table)
    idx = start
    avoided: ServerLike | None = None
    avoided_next = start
    for _ in range(n):
        srv = table[idx]
        idx += 1
        if idx == n:
            idx = 0
        if has_room(srv):
            if srv is not avoid:
                return idx, srv
            if avoided is None:
                avoided, avoided_next = srv, idx
    return avoided_next, avoided


class StaticRoundRobin(ConnTrackingNoop):
    """Walk the weight-expanded map in order; weights are read at rebuild only."""

    __slots__ = ("_servers", "_allbackups", "_table", "_idx")

    def __init__(self, servers: Sequence[ServerLike], allbackups: bool) -> None:
        self._servers = servers
        self._allbackups = allbackups
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
        srv = table[self._idx]
        if srv is not avoid and (not srv.maxconn or srv.served < srv.maxconn):
            self._idx = self._idx + 1 if self._idx + 1 < len(table) else 0
            return srv
        self._idx, srv = walk_map(table, self._idx, avoid)
        return srv


class RoundRobin(ConnTrackingNoop):
    """Smooth weighted round robin whose weights may change between picks.

    Each server owns a sequence of virtual deadlines spaced ``1/weight``
    apart, its k-th at ``(k + phase) / weight``; a pick takes the earliest
    deadline (ties: declaration order). In every unit of virtual time each
    server has exactly `weight` deadlines, so any aligned run of
    `sum(weights)` picks gives every server exactly its weight, spread
    evenly. The phase is 1/2 for a server alone with its weight; servers
    sharing a weight get phases spread over (0, 1) so they interleave with
    the others instead of arriving in a burst (HAProxy's spread, e.g.
    weights 10:1:1:1 give s1 s1 s2 s1 s1 s1 s3 ...). A heap keeps a pick
    O(log n).

    On rebuild() a server keeps the fraction of its current step already
    elapsed, rescaled to its new weight, so a weight change applies from
    the next pick without resetting everybody's turn.
    """

    __slots__ = ("_servers", "_allbackups", "_heap", "_state", "_now")

    def __init__(self, servers: Sequence[ServerLike], allbackups: bool) -> None:
        self._servers = servers
        self._allbackups = allbackups
        # heap entries: [deadline, order, server, base, count, weight] (order is unique, so
        # comparisons stop there); _state: id(server) -> its entry
        self._heap: list[list] = []
        self._state: dict[int, list] = {}
        self._now = 0.0
        self.rebuild()

    def rebuild(self) -> None:
        group = select_group(self._servers, self._allbackups)
        now = self._now
        old = self._state
        state: dict[int, list] = {}
        heap: list[list] = []
        same_weight: dict[int, int] = {}
        for srv in group:
            same_weight[srv.eweight] = same_weight.get(srv.eweight, 0) + 1
        rank: dict[int, int] = {}
        for order, srv in enumerate(group):
            key = id(srv)
            w = srv.eweight
            j = rank.get(w, 0)
            rank[w] = j + 1
            prev = old.get(key)
            if prev is None:
                base = now + (j + 0.5) / same_weight[w] / w
            else:
                pbase, pcount, pw = prev[3], prev[4], prev[5]
                ahead = pbase + pcount / pw - now
                base = now + max(ahead, 0.0) * pw / w
            entry = [base, order, srv, base, 0, w]
            state[key] = entry
            heap.append(entry)
        heapq.heapify(heap)
        self._state = state
        self._heap = heap

    def _advance(self, entry: list) -> None:
        count = entry[4] + 1
        entry[4] = count
        entry[0] = entry[3] + count / entry[5]

    def pick(self, ctx: PickContext, avoid: object | None = None) -> ServerLike | None:
        heap = self._heap
        if not heap:
            return None
        top = heap[0]
        srv = top[2]
        if srv is not avoid and (not srv.maxconn or srv.served < srv.maxconn):
            self._now = top[0]
            count = top[4] + 1  # _advance, inline
            top[4] = count
            top[0] = top[3] + count / top[5]
            heapq.heapreplace(heap, top)
            return srv
        return self._pick_slow(avoid)

    def _pick_slow(self, avoid: object | None) -> ServerLike | None:
        """Skip full servers (and `avoid`) without taking their turn away."""
        heap = self._heap
        skipped: list[list] = []
        chosen: list | None = None
        avoided: list | None = None
        while heap:
            entry = heapq.heappop(heap)
            srv = entry[2]
            if has_room(srv):
                if srv is not avoid:
                    chosen = entry
                    break
                avoided = entry
            skipped.append(entry)
        if chosen is None and avoided is not None:
            skipped.remove(avoided)
            chosen = avoided
        for entry in skipped:
            heapq.heappush(heap, entry)
        if chosen is None:
            return None
        self._now = chosen[0]
        self._advance(chosen)
        heapq.heappush(heap, chosen)
        return chosen[2]
