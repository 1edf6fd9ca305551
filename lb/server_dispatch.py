"""`dispatch ADDR:PORT`: a backend without `balance` sends every connection there.

HAProxy then leaves its `server` lines out of load balancing; the destination is not
a server of the backend (it has no row in `show stat`), so it is kept here as a
hidden Server that the backend's balancer always returns.
"""

from __future__ import annotations

from typing import Any

from lb.balance.base import ConnTrackingNoop
from lb.config.model import ServerConf
from lb.server import Server


class DispatchBalancer(ConnTrackingNoop):
    """Always the one destination."""

    __slots__ = ("target",)

    def __init__(self, target: Server) -> None:
        self.target = target

    def rebuild(self) -> None:
        return None

    def pick(self, ctx: Any, avoid: object | None = None) -> Server:
        return self.target


def setup_dispatch(proxy: Any) -> None:
    """Give `proxy` its dispatch destination and the balancer that returns it."""
    host, port, where = proxy.conf.dispatch
    conf = ServerConf(
        name="<NOSRV>", host=host, port=port, where=where, family="ipv6" if ":" in host else "ipv4"
    )
    proxy.dispatch = Server(proxy, conf)
    proxy.balancer = DispatchBalancer(proxy.dispatch)
    proxy.bal_counts_conns = False
