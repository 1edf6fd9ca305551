"""Listening sockets and their accept loop.

Accepting is done here rather than by `loop.create_server` so that a full
frontend (or process) can stop accepting while keeping its socket: pending
connections wait in the kernel backlog, as with HAProxy, instead of being
refused. The same sockets can be handed to a new worker (`fd@N`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from lb.config.addr import BindAddr


def endpoint_addresses(transport: Any) -> tuple[str, int, str, int]:
    """(client ip, client port, local ip, local port) of an accepted connection;
    a unix socket reads as `unix`, port 0, as in HAProxy's logs."""
    peer = transport.get_extra_info("peername")
    sock = transport.get_extra_info("sockname")
    cip, cport = (peer[0], peer[1]) if isinstance(peer, tuple) else ("unix", 0)
    fip, fport = (sock[0], sock[1]) if isinstance(sock, tuple) else ("unix", 0)
    return cip, cport, fip, fport


def open_listen_socket(addr: BindAddr, backlog: int = 1024) -> socket.socket:
    """Create, bind and listen; `fd@N` takes over an already open socket."""
    if addr.family == "fd":
        sock = socket.socket(fileno=addr.fd)
        sock.setblocking(False)
        return sock
    if addr.family == "unix":
        path = addr.path
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.stat(path).st_mode):
                os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
    else:
        fam = socket.AF_INET6 if addr.family == "ipv6" else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        host = addr.host or ("::" if fam == socket.AF_INET6 else "0.0.0.0")
        sock.bind((host, addr.port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


class Listener:
    """One listening socket feeding connections to a protocol factory."""

    __slots__ = (
        "loop",
        "sock",
        "factory",
        "name",
        "maxconn",
        "nconn",
        "active",
        "paused_by",
        "on_accept",
        "ssl",
        "addr",
        "gate",
    )

    # Sockets accepted but not yet handed to their protocol (a TLS handshake may be
    # under way): a stopping worker waits for them as for open connections.
    pending = 0

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        factory: Callable[[Listener], Any],
        name: str = "",
        maxconn: int = 0,
        ssl: Any = None,
        addr: Any = None,
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.factory = factory
        self.name = name
        self.maxconn = maxconn
        self.nconn = 0
        self.active = False
        self.paused_by: set[str] = set()
        self.ssl = ssl
        self.addr = addr
        # returns how long to wait before accepting again (rate limits), 0 to accept now
        self.gate: Callable[[], float] | None = None

    def start(self) -> None:
        if not self.active and not self.paused_by:
            self.loop.add_reader(self.sock.fileno(), self._accept)
            self.active = True

    def _stop_reading(self) -> None:
        if self.active:
            self.loop.remove_reader(self.sock.fileno())
            self.active = False

    def pause(self, why: str = "admin") -> None:
        self.paused_by.add(why)
        self._stop_reading()

    def resume(self, why: str = "admin") -> None:
        self.paused_by.discard(why)
        self.start()

    def _accept(self) -> None:
        for _ in range(64):
            if self.paused_by:
                return
            if self.gate is not None:
                wait = self.gate()
                if wait:
                    self.pause("rate-limit")
                    self.loop.call_later(wait, self.resume, "rate-limit")
                    return
            try:
                conn, _addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.nconn += 1
            if self.maxconn and self.nconn >= self.maxconn:
                self.pause("maxconn")
            proto = self.factory(self)
            Listener.pending += 1
            self.loop.create_task(self._connect(conn, proto))

    async def _connect(self, conn: socket.socket, proto: Any) -> None:
        try:
            transport, _ = await self.loop.connect_accepted_socket(
                lambda: proto, conn, ssl=self.ssl
            )
        except Exception:
            Listener.pending -= 1
            conn.close()
            self.connection_gone()
            if self.ssl is not None:
                from lb.tls.conn import failed as tls_failed

                tls_failed(proto)
            if hasattr(proto, "handshake_failed"):
                proto.handshake_failed()
            return
        Listener.pending -= 1
        if self.ssl is not None:
            from lb.tls.conn import accepted as tls_accepted

            tls_accepted(proto, transport)

    def connection_gone(self) -> None:
        self.nconn -= 1
        if "maxconn" in self.paused_by and (not self.maxconn or self.nconn < self.maxconn):
            self.resume("maxconn")

    def close(self) -> None:
        self._stop_reading()
        self.sock.close()
