"""The server side of an HTTP exchange: one upstream connection, reusable.

A `BackConn` reads a response head, forwards it (edited only when the two
sides disagree on keep-alive), then forwards the body as received, counting
bytes to find its end. When a response ends on a connection that may be
reused it goes back to the server's idle list.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from lb.http import compression
from lb.http.h1 import (
    ChunkedReader,
    H1Error,
    Head,
    find_head_end,
    parse_plain_response,
    parse_response_head,
)
from lb.listener import apply_tcp_settings

if TYPE_CHECKING:
    from lb.http.front import FrontConn
    from lb.server import Server

MAX_HEAD = 16384

# body modes
# (B_COMP: a body being compressed, its own framing read by `comp`, lb.http.compression)
B_NONE, B_LENGTH, B_CHUNKED, B_CLOSE, B_TUNNEL, B_COMP = range(6)
assert (B_LENGTH, B_CHUNKED) == (compression.B_LENGTH, compression.B_CHUNKED)


def _set_connection(raw: bytes, value: bytes | None) -> bytes:
    """Replace (or drop, with None) the Connection header of a head."""
    lines = raw.split(b"\n")
    out = [lines[0]]
    for line in lines[1:-2]:
        if line.split(b":", 1)[0].strip().lower() in (b"connection", b"keep-alive"):
            continue
        out.append(line)
    eol = b"\r" if lines[0].endswith(b"\r") else b""
    if value is not None:
        out.append(b"Connection: " + value + eol)
    out.append(eol)
    out.append(b"")
    return b"\n".join(out)


class BackConn(asyncio.Protocol):
    __slots__ = (
        "server",
        "front",
        "transport",
        "buf",
        "head_seen",
        "mode",
        "left",
        "chunked",
        "reusable",
        "idle",
        "closed",
        "got_bytes",
        "pending",
        "connected",
        "idle_expire",
        "was_reused",
        "method",
        "connect_task",
        "sockname",
        "reuses",
        "comp",
    )

    def __init__(self, server: Server, front: FrontConn | None) -> None:
        self.server = server
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.head_seen = False
        self.mode = B_NONE
        self.left = 0
        self.chunked: ChunkedReader | None = None
        self.reusable = True
        self.idle = False
        self.closed = False
        self.got_bytes = False
        self.pending: list[bytes] = []
        self.connected = False
        self.idle_expire = 0.0
        self.was_reused = False
        self.method = b"GET"
        self.connect_task: asyncio.Task | None = None
        self.sockname: object = None  # the local address, asked once (FrontConn._connected)
        self.reuses = 0  # requests sent on it after the first (max-reuse)
        self.comp: compression.Compressor | None = None  # the body being compressed

    # ------------------------------------------------------------ asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connected = True
        self.connect_task = None
        if self.closed:  # given up (connect timeout) just as the connection completed
            transport.abort()
            return
        sockopts = self.server.proxy.server_sockopts
        if sockopts is not None:
            apply_tcp_settings(transport.get_extra_info("socket"), sockopts)
        if self.pending:
            transport.writelines(self.pending)  # type: ignore[attr-defined]
            self.pending = []

    def data_received(self, data: bytes) -> None:
        front = self.front
        if front is None:
            # data on an idle connection: the server broke the protocol; drop it
            self.close()
            return
        self.got_bytes = True
        if self.mode == B_TUNNEL:
            front.send_from_server(data)
            return
        if not self.head_seen:
            if not self.buf:
                # the usual read: a whole final head (maybe with body bytes), nothing before
                head = parse_plain_response(data)
                if head is not None and not (100 <= head.status < 200 and head.status != 101):
                    raw = head.raw
                    rest = b"" if raw is data else data[len(raw) :]
                    self._final_head(front, head, rest, raw, data)
                    return
                end = find_head_end(data)
                if end > 0:
                    whole = end == len(data)
                    raw = data if whole else data[:end]
                    try:
                        head = parse_response_head(raw)
                    except H1Error:
                        head = None  # refused below, by the general path
                    if head is not None and not (100 <= head.status < 200 and head.status != 101):
                        self._final_head(front, head, b"" if whole else data[end:], raw, data)
                        return
            self.buf += data
            self._parse_heads()
            return
        self._body(data, 0)

    def _parse_heads(self) -> None:
        front = self.front
        while front is not None and not self.head_seen:
            end = find_head_end(self.buf)
            if end < 0:
                if len(self.buf) > front.bufsize:  # (tune.bufsize)
                    self.reusable = False
                    front.server_failed(502, "PH")
                return
            raw = bytes(self.buf[:end])
            del self.buf[:end]
            try:
                head = parse_response_head(raw, self.server.proxy.accept_invalid_resp)
            except H1Error:
                self.reusable = False
                front.server_failed(502, "PH", raw)
                return
            status = head.status
            if 100 <= status < 200 and status != 101:
                front.send_interim(raw)
                continue
            rest = bytes(self.buf)
            self.buf.clear()
            self._final_head(front, head, rest)
            return

    def _final_head(
        self,
        front: FrontConn,
        head: Head,
        rest: bytes,
        raw_in: bytes | None = None,
        data: bytes | None = None,
    ) -> None:
        """The final response head (`rest`: what followed it in the buffer). `data`, when
        given, is the whole read `raw_in` + `rest`: sent as is if the head is unchanged."""
        status = head.status
        self.head_seen = True
        if status == 101:
            mode = B_TUNNEL
            self.reusable = False
        elif self.method == b"HEAD" or 100 <= status < 200 or status in (204, 304):
            # no body (response_has_body, inline)
            mode = B_NONE
        elif head.chunked:
            mode = B_CHUNKED
            self.chunked = ChunkedReader()
        elif head.content_length is not None:
            mode = B_LENGTH
            self.left = head.content_length
        else:
            mode = B_CLOSE
        self.mode = mode
        if head.conn_close or (head.version == b"HTTP/1.0" and not head.conn_keepalive):
            self.reusable = False  # (head.http10, inline)
        raw = head.raw
        if front.frontend.comp_any:  # `compression` configured somewhere: maybe edits the head
            raw = compression.on_head(self, front, head, raw, B_COMP)
            mode = self.mode  # (B_COMP when the body is to be compressed)
        client_ka = front.keep_alive and mode != B_CLOSE
        if mode == B_TUNNEL:
            pass
        elif not client_ka:
            if not head.conn_close:
                raw = _set_connection(raw, b"close")
            front.keep_alive = False
        elif head.conn_close or (front.http10 and not head.conn_keepalive):
            raw = _set_connection(raw, b"keep-alive" if front.http10 else None)
        persist = front.backend.persist
        if persist is not None:  # cookie persistence: insert/rewrite/prefix Set-Cookie
            raw = persist.on_response(front.stream, self.method, status, raw)
        # Send the head with whatever body bytes came with it: one write, not two.
        # `data` (the whole read) is sent as is when the head went out unchanged.
        if raw is not raw_in:
            data = None
        if mode == B_TUNNEL:
            front.response_head(head, data if data is not None else raw + rest if rest else raw)
            if self.front is not None:
                front.start_tunnel()
            return
        # (a response that ends in this read ends at the time its head was sent)
        if mode == B_NONE:
            now = front.response_head(head, raw)
            if rest:
                self.reusable = False
            self._done(now)
            return
        if mode == B_LENGTH:
            n = len(rest)
            take = n if n <= self.left else self.left
            self.left -= take
            if data is not None and take == n:
                now = front.response_head(head, data)
            else:
                now = front.response_head(head, raw + rest[:take] if take else raw)
            if n > take:
                self.reusable = False
            if self.left == 0 and self.front is not None:
                self._done(now)
            return
        if mode == B_CHUNKED:
            try:
                end, finished = self.chunked.feed(rest, 0)  # type: ignore[union-attr]
            except H1Error:
                self.reusable = False
                front.server_failed(502, "PH", raw)
                return
            if data is not None and end == len(rest):
                now = front.response_head(head, data)
            else:
                now = front.response_head(head, raw + rest[:end] if end else raw)
            if finished and self.front is not None:
                if end != len(rest):
                    self.reusable = False
                self._done(now)
            return
        if mode == B_COMP:
            front.response_head(head, raw)
            if self.front is not None:
                compression.feed(self, rest, 0)
            return
        front.response_head(head, data if data is not None else raw + rest if rest else raw)

    def _body(self, data: bytes, pos: int) -> None:
        front = self.front
        assert front is not None
        mode = self.mode
        if mode == B_LENGTH:
            n = len(data) - pos
            if n <= self.left:
                self.left -= n
                front.send_from_server(data if pos == 0 else data[pos:])
                if self.left == 0:
                    self._done()
            else:
                end = pos + self.left
                front.send_from_server(data[pos:end])
                self.left = 0
                self.reusable = False  # extra bytes after the body
                self._done()
        elif mode == B_CHUNKED:
            try:
                end, finished = self.chunked.feed(data, pos)  # type: ignore[union-attr]
            except H1Error:
                self.reusable = False
                front.abort_from_server()
                return
            front.send_from_server(data[pos:end] if (pos or end != len(data)) else data)
            if finished:
                if end != len(data):
                    self.reusable = False
                self._done()
        elif mode == B_CLOSE:
            front.send_from_server(data[pos:] if pos else data)
        elif mode == B_COMP:
            compression.feed(self, data, pos)

    def _done(self, now: float = 0.0) -> None:
        """The response is complete (`now`: the clock, if read in this callback)."""
        front = self.front
        self.front = None
        self.head_seen = False
        self.mode = B_NONE
        self.chunked = None
        if front is not None:
            front.response_done(self, now)

    def pause_writing(self) -> None:
        if self.front is not None:
            self.front.pause_client_reading()

    def resume_writing(self) -> None:
        if self.front is not None:
            self.front.resume_client_reading()

    def eof_received(self) -> bool | None:
        front = self.front
        if front is not None and self.mode == B_TUNNEL:
            front.server_half_closed()
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.idle:
            try:
                self.server.idle.remove(self)
            except ValueError:
                pass
            self.idle = False
            return
        front = self.front
        self.front = None
        if front is None:
            return
        if self.mode == B_CLOSE and self.head_seen:
            self.reusable = False
            front.response_done(self)
        elif self.mode == B_TUNNEL:
            front.tunnel_closed()
        else:
            front.server_closed(self)

    # ------------------------------------------------------------ helpers

    def write(self, data: bytes) -> None:
        if self.connected and self.transport is not None:
            self.transport.write(data)
        else:
            self.pending.append(data)

    def start_request(self, front: FrontConn, method: bytes) -> None:
        self.front = front
        self.method = method
        self.head_seen = False
        self.got_bytes = False
        if self.buf:
            self.buf.clear()
        self.idle = False

    def usable(self) -> bool:
        """Still open for another request."""
        t = self.transport
        return not self.closed and t is not None and not t.is_closing()

    def park(self, idle_timeout: float, now: float = 0.0) -> bool:
        """Put an unused connection into the server's idle list (`now`: the clock, if read)."""
        if not self.reusable or self.closed or self.transport is None:
            return False
        if self.transport.is_closing():
            return False
        srv = self.server
        if 0 <= srv.pool_max <= len(srv.idle) or 0 <= srv.max_reuse <= self.reuses:
            return False  # pool-max-conn reached, or max-reuse used up
        if srv.pool_purge and srv.pool_purge < idle_timeout:
            idle_timeout = srv.pool_purge
        self.idle = True
        self.idle_expire = (now or time.monotonic()) + idle_timeout
        srv.idle.append(self)
        return True

    def close(self) -> None:
        self.front = None
        if self.transport is not None:
            self.transport.close()
        self._cancel_connect()
        self.closed = True

    def abort(self) -> None:
        self.front = None
        if self.transport is not None:
            self.transport.abort()
        self._cancel_connect()
        self.closed = True

    def _cancel_connect(self) -> None:
        task = self.connect_task
        if task is not None:
            self.connect_task = None
            if not task.done():
                task.cancel()
