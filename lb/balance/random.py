"""`random[(<draws>)]`: random points on the consistent-hash ring, least loaded wins.

Each draw hashes a random 32-bit number onto the ring (so weights count and
weight changes apply at once); of the servers drawn, the one with the fewest
connections for its weight is kept ("power of N choices"). If that server
is full the pick returns None so the request waits in the backend queue.
"""

from __future__ import annotations

import random as _random
from collections.abc import Sequence

from lb.balance.base import ConnTrackingNoop, PickContext, ServerLike, has_room, select_group
from lb.balance.chash import Ring


class RandomDraws(ConnTrackingNoop):
    """Best of `draws` random ring lookups."""

    __slots__ = ("_servers", "_allbackups", "_draws", "_ring", "_single", "_bits")

    def __init__(
        self,
        servers: Sequence[ServerLike],
        allbackups: bool,
        draws: int = 2,
        rng: _random.Random | None = None,
    ) -> None:
        self._servers = servers
        self._allbackups = allbackups
        self._draws = max(1, draws)
        self._bits = (rng or _random.Random()).getrandbits
        self._ring = Ring(())
        self._single: ServerLike | None = None
        self.rebuild()

    def rebuild(self) -> None:
        group = select_group(self._servers, self._allbackups)
        lone_backup = len(group) == 1 and group[0].backup and not self._allbackups
        self._single = group[0] if lone_backup else None
        self._ring = Ring(() if lone_backup else group)

    def pick(self, ctx: PickContext, avoid: object | None = None) -> ServerLike | None:
        best = self._single
        if best is None:
            ring = self._ring
            if not ring.keys:
                return None
            bits = self._bits
            for _ in range(self._draws):
                cur = ring.lookup(bits(32), avoid)
                if cur is None:
                    break
                # keep the previous choice when it is less loaded for its weight
                if (
                    best is not None
                    and best is not cur
                    and cur.served * best.eweight > best.served * cur.eweight
                ):
                    cur = best
                best = cur
        if best is not None and not has_room(best):
            return None
        return best
