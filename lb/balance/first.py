"""`first`: fill the server with the lowest id up to its maxconn, then the next.

Weights play no part beyond 0 meaning "no new traffic". Servers that still
have room are kept in a list sorted by id, updated as connections come and
go, so a pick is O(1) when the first server has room and O(log n) to move on.
"""

from __future__ import annotations

from collections.abc import Sequence

from sortedcontainers import SortedList

from lb.balance.base import PickContext, ServerLike, has_room, select_group


class First:
    """Lowest `puid` with ``served < maxconn`` (no maxconn: always that one)."""

    __slots__ = ("_servers", "_allbackups", "_members", "_room")

    def __init__(self, servers: Sequence[ServerLike], allbackups: bool) -> None:
        self._servers = servers
        self._allbackups = allbackups
        self._members: dict[int, tuple[int, int, ServerLike]] = {}
        self._room: SortedList = SortedList()
        self.rebuild()

    def rebuild(self) -> None:
        group = select_group(self._servers, self._allbackups)
        # (puid, declaration order, server): the order breaks duplicate ids
        self._members = {id(s): (s.puid, i, s) for i, s in enumerate(group)}
        self._room = SortedList(k for k in self._members.values() if has_room(k[2]))

    def _refresh(self, srv: ServerLike) -> None:
        key = self._members.get(id(srv))
        if key is None:
            return
        room = self._room
        if has_room(srv):
            if key not in room:
                room.add(key)
        elif key in room:
            room.remove(key)

    def pick(self, ctx: PickContext, avoid: object | None = None) -> ServerLike | None:
        room = self._room
        avoided: ServerLike | None = None
        for key in room:
            srv = key[2]
            if not has_room(srv):  # served changed without on_take(): fix lazily
                continue
            if srv is not avoid:
                return srv
            avoided = srv
        return avoided

    def on_take(self, srv: ServerLike) -> None:
        self._refresh(srv)

    def on_release(self, srv: ServerLike) -> None:
        self._refresh(srv)
