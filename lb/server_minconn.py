"""`minconn` with the backend's `fullconn`: a server limit that follows the load.

The limit grows from `minconn` to `maxconn` in proportion to the backend's current
connections over `fullconn`, and is `maxconn` once the backend reaches `fullconn`.
Only servers configured with `minconn` are built from this class: everywhere else
`maxconn` stays a plain slot read, so the hot path pays nothing for the feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lb.server import Server

if TYPE_CHECKING:
    from lb.config.model import ServerConf
    from lb.proxy import Proxy

_slot = Server.__dict__["maxconn"]  # the base class's storage: the configured maxconn


class DynServer(Server):
    """A Server whose `maxconn` reads as the dynamic limit; `maxconn_cfg` is the
    configured one (what `show stat` prints in `slim` and `set maxconn` changes)."""

    __slots__ = ("minconn", "_fullconn")

    def __init__(self, proxy: Proxy, conf: ServerConf) -> None:
        self.minconn = int(conf.options.get("minconn", 0))
        self._fullconn = 0
        super().__init__(proxy, conf)

    @property  # type: ignore[override]
    def maxconn(self) -> int:
        return dynamic_maxconn(
            _slot.__get__(self), self.minconn, self.proxy.beconn, self.fullconn()
        )

    @maxconn.setter
    def maxconn(self, value: int) -> None:
        _slot.__set__(self, value)

    @property
    def maxconn_cfg(self) -> int:
        return int(_slot.__get__(self))

    def fullconn(self) -> int:
        """The backend's `fullconn`, or the 10% of its frontends' maxconn HAProxy
        computes when it is not set (worked out once, on first use)."""
        fc = self._fullconn
        if not fc:
            from runtime_api.stats_rows import backend_fullconn

            fc = self._fullconn = backend_fullconn(self.proxy, self.proxy.state)
        return fc


def dynamic_maxconn(maxconn: int, minconn: int, beconn: int, fullconn: int) -> int:
    """The limit in force: `maxconn` at or above `fullconn` (or without a ramp),
    else the share of `maxconn` the backend's load reaches, never below `minconn`."""
    if not maxconn or beconn >= fullconn or minconn >= maxconn:
        return maxconn
    return max(minconn, beconn * maxconn // fullconn)


def new_server(proxy: Any, conf: ServerConf) -> Server:
    """The live server for a `server` line: a DynServer only when `minconn` is set."""
    if conf.options.get("minconn"):
        return DynServer(proxy, conf)
    return Server(proxy, conf)
