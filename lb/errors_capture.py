"""The last invalid request and response seen per proxy, for `show errors`.

Bounded: one capture per proxy and direction, each at most `tune.bufsize`
bytes, as HAProxy keeps them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Capture:
    when: float
    proxy_name: str
    proxy_id: int
    direction: str
    client_ip: str
    client_port: int
    data: bytes
    pos: int
    event: int
    other_name: str = ""
    other_id: int = -1


class ErrorCapture:
    def __init__(self, limit: int = 16384) -> None:
        self.limit = limit
        self.last: dict[tuple[str, str], Capture] = {}
        self.events = 0

    def capture(self, proxy: Any, direction: str, raw: bytes, conn: Any, pos: int = 0) -> None:
        if proxy is None:
            return
        self.events += 1
        self.last[(proxy.name, direction)] = Capture(
            time.time(),
            proxy.name,
            proxy.puid,
            direction,
            getattr(conn, "client_ip", "-"),
            getattr(conn, "client_port", 0),
            raw[: self.limit],
            pos,
            self.events,
        )
