"""What every balancer shares: the contracts it relies on and the choice of group.

The server objects belong to `lb.server`; a balancer reads only the
attributes named in :class:`ServerLike` and never writes to them. The
request-side data comes through :class:`PickContext`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

#: HAProxy's BE_WEIGHT_SCALE: its internal effective weights are the user
#: weight times 16, and the consistent-hash ring holds that many points per
#: server. Our `eweight` is in user-weight units (weight 1 = 1), so the ring
#: multiplies by this to build the same ring as HAProxy.
WEIGHT_SCALE = 16


class ServerLike(Protocol):
    """The attributes of a server that balancers read (and nothing else)."""

    name: str
    puid: int  # server id (1..n unless `id` is set), keys the hash ring and `first`
    eweight: int  # effective weight in user-weight units (weight 3 -> 3); 0 = no new traffic
    backup: bool
    usable: bool  # UP or going up, not in maintenance (a drained server: usable, eweight 0)
    served: int  # current connections
    maxconn: int  # 0 = unlimited


@runtime_checkable
class PickContext(Protocol):
    """What a hashing balancer may read about the request being placed."""

    src: str  # client address as text, IPv4 or IPv6

    uri: bytes | None  # request target as received; None in TCP mode

    def get_header(self, lname: bytes) -> bytes | None: ...


class Balancer(Protocol):
    """One backend's server selection. Sans-IO: no sockets, no clocks."""

    def rebuild(self) -> None:
        """Servers' usable state or effective weight changed, or the list did."""

    def pick(self, ctx: PickContext, avoid: object | None = None) -> ServerLike | None:
        """Choose a server, or None when none is usable or all are full.

        `avoid` (usually the server a failed attempt went to) is only returned
        when nothing else is available.
        """

    def on_take(self, srv: ServerLike) -> None:
        """A connection was assigned to `srv` (`srv.served` already incremented)."""

    def on_release(self, srv: ServerLike) -> None:
        """A connection to `srv` ended (`srv.served` already decremented)."""


def eligible(srv: ServerLike) -> bool:
    """May take new traffic: usable and with a non-zero effective weight."""
    return srv.usable and srv.eweight > 0


def has_room(srv: ServerLike) -> bool:
    """Below its maxconn (always true without one)."""
    return not srv.maxconn or srv.served < srv.maxconn


def select_group(servers: Sequence[ServerLike], allbackups: bool) -> list[ServerLike]:
    """The servers traffic goes to right now, in list (declaration) order.

    Active servers while at least one is eligible; otherwise the backups:
    all eligible ones with `option allbackups`, else only the first one in
    declaration order (HAProxy's "fbck").
    """
    active = [s for s in servers if not s.backup and eligible(s)]
    if active:
        return active
    backups = [s for s in servers if s.backup and eligible(s)]
    if not allbackups:
        return backups[:1]
    return backups


class ConnTrackingNoop:
    """Mixin for balancers that do not care about connection counts."""

    __slots__ = ()

    def on_take(self, srv: ServerLike) -> None:
        return None

    def on_release(self, srv: ServerLike) -> None:
        return None
