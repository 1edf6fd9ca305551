"""The last invalid request and response seen per proxy, for `show errors`.

Bounded: one capture per proxy and direction, each at most `tune.bufsize`
bytes, as HAProxy keeps them; every event is still counted and numbered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Capture:
    """One invalid message as received, with where it came from and where it broke."""

    when: float
    proxy_name: str
    proxy_id: int
    direction: str  # "request" (frontend side) or "response" (backend side)
    client_ip: str
    client_port: int
    data: bytes
    pos: int
    event: int
    other_name: str = "<NONE>"  # the backend of a request, the frontend of a response
    other_id: int = -1
    server_name: str = "<NONE>"
    server_id: int = -1
    in_request_line: bool = False  # the error is in the request/status line


class ErrorCapture:
    """Per proxy and direction, the latest capture; `events` counts all of them."""

    def __init__(self, limit: int = 16384) -> None:
        self.limit = limit
        self.last: dict[tuple[str, str], Capture] = {}
        self.events = 0

    def capture(self, proxy: Any, direction: str, raw: bytes, conn: Any, pos: int = 0) -> None:
        if proxy is None:
            return
        event = self.events
        self.events += 1
        data = raw[: self.limit]
        pos = max(0, min(pos, len(data)))
        cap = Capture(
            time.time(),
            proxy.name,
            proxy.puid,
            direction,
            getattr(conn, "client_ip", "-"),
            getattr(conn, "client_port", 0),
            data,
            pos,
            event,
        )
        first_eol = data.find(b"\n")
        cap.in_request_line = first_eol < 0 or pos <= first_eol
        srv = getattr(conn, "server", None)
        if direction == "request":
            # only this request's own routing counts, not a previous one on the connection
            st = getattr(conn, "stream", None)
            be = getattr(st, "backend", None)
            srv = getattr(st, "server", None)
            if be is not None and be is not proxy:
                cap.other_name, cap.other_id = be.name, be.puid
        else:
            fe = getattr(conn, "frontend", None)
            if fe is not None:
                cap.other_name, cap.other_id = fe.name, fe.puid
        if srv is not None:
            cap.server_name, cap.server_id = srv.name, srv.puid
        self.last[(proxy.name, direction)] = cap

    def get(self, proxy_name: str, direction: str) -> Capture | None:
        return self.last.get((proxy_name, direction))
