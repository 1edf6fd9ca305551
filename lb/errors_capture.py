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
        found = error_position(data, direction == "request")
        pos = found if found >= 0 else max(0, min(pos, len(data)))
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


# RFC 7230 token characters (method and header names).
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _expect(data: bytes, i: int, text: bytes) -> int:
    """Index of the first byte of ``data[i:]`` that differs from ``text`` (-1 if all match)."""
    for k, want in enumerate(text):
        if i + k >= len(data) or data[i + k] != want:
            return i + k
    return -1


def _version(data: bytes, i: int) -> int:
    """Check ``HTTP/d.d`` at ``i``: the offending index, or -(end) - 2 when it is fine."""
    bad = _expect(data, i, b"HTTP/")
    if bad >= 0:
        return bad
    i += 5
    for want_digit in (True, False, True):
        if i >= len(data):
            return i
        c = data[i]
        if (want_digit and not 0x30 <= c <= 0x39) or (not want_digit and c != 0x2E):
            return i
        i += 1
    return -i - 2


def _eol(data: bytes, i: int) -> int:
    """After a line's content: the index past CRLF/LF, or -(offending index) - 2."""
    if i < len(data) and data[i] == 0x0D:
        i += 1
    if i < len(data) and data[i] == 0x0A:
        return i + 1
    return -i - 2


def error_position(data: bytes, is_request: bool) -> int:
    """Offset of the first byte an HTTP/1 parser rejects in a message head (-1: none).

    Computed here rather than taken from the proxy's parser so that `show errors`
    points where HAProxy points: at the byte where the grammar breaks.
    """
    n, i = len(data), 0
    if is_request:
        while i < n and data[i] in _TOKEN:
            i += 1
        if i == 0 or i >= n or data[i] != 0x20:
            return i
        i += 1
        start = i
        while i < n and 0x20 < data[i] != 0x7F:
            i += 1
        if i == start or i >= n or data[i] != 0x20:
            return i
        v = _version(data, i + 1)
        if v >= 0:
            return v
        i = -v - 2
    else:
        v = _version(data, 0)
        if v >= 0:
            return v
        i = -v - 2
        if i >= n or data[i] != 0x20:
            return i
        i += 1
        for _ in range(3):
            if i >= n or not 0x30 <= data[i] <= 0x39:
                return i
            i += 1
        while i < n and data[i] not in (0x0D, 0x0A):
            i += 1
    e = _eol(data, i)
    if e < 0:
        return -e - 2
    i = e
    while i < n:
        if data[i] in (0x0D, 0x0A):
            e = _eol(data, i)
            return -1 if e >= 0 else -e - 2
        start = i
        while i < n and data[i] in _TOKEN:
            i += 1
        if i == start or i >= n or data[i] != 0x3A:
            return i
        i += 1
        while i < n and data[i] not in (0x0D, 0x0A):
            if data[i] < 0x20 and data[i] != 0x09 or data[i] == 0x7F:
                return i
            i += 1
        e = _eol(data, i)
        if e < 0:
            return -e - 2
        i = e
    return -1
