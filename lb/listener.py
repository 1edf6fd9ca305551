"""Listening sockets and their accept loop.

Accepting is done here rather than by `loop.create_server` so that a full
frontend (or process) can stop accepting while keeping its socket: pending
connections wait in the kernel backlog, as with HAProxy, instead of being
refused. The same sockets can be handed to a new worker (`fd@N`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import struct
from collections.abc import Callable, Mapping
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


# Linux option numbers the socket module may not name
_IP_FREEBIND = 15
_IP_TRANSPARENT = 19
_IPV6_TRANSPARENT = 75
_IPV6_FREEBIND = 78


def open_listen_socket(
    addr: BindAddr,
    backlog: int = 1024,
    opts: Mapping[str, Any] | None = None,
    warnings: list[str] | None = None,
) -> socket.socket:
    """Create, bind and listen; `fd@N` takes over an already open socket.

    `opts` are the bind line's options (`BindConf.options`): the socket ones are applied
    here. A setting the system refuses does not stop the listener (as with HAProxy): its
    sentence is appended to `warnings`."""
    if addr.family == "fd":
        sock = socket.socket(fileno=addr.fd)
        sock.setblocking(False)
        return sock
    warned = warnings if warnings is not None else []
    if addr.family == "unix":
        path = addr.path
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.stat(path).st_mode):
                os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            if opts:
                _unix_permissions(path, opts)
        except OSError:
            sock.close()
            raise
    else:
        fam = socket.AF_INET6 if addr.family == "ipv6" else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                v6only = 1 if opts and opts.get("v6only") else 0
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
            if opts:
                _before_bind(sock, fam, opts, warned)
                apply_tcp_settings(sock, opts, warned)
            host = addr.host or ("::" if fam == socket.AF_INET6 else "0.0.0.0")
            sock.bind((host, addr.port))
            if opts:
                backlog = opts.get("backlog") or backlog
                _before_listen(sock, opts, backlog, warned)
        except OSError:
            sock.close()
            raise
    sock.listen(max(0, min(backlog, 65535)))  # (the kernel's own bounds)
    sock.setblocking(False)
    return sock


def apply_tcp_settings(
    sock: socket.socket, opts: Mapping[str, Any], warned: list[str] | None = None
) -> None:
    """`so-keepalive` (count, idle s, interval s: None keeps the system's),
    `so-rcvbuf` / `so-sndbuf` and `so-nolinger`: on a listening socket they reach
    every accepted one. Values go to the kernel as C ints (as HAProxy's do); one the
    kernel refuses is skipped, its sentence added to `warned` when given."""
    settings: list[tuple[int, int, int | bytes, str]] = []
    ka = opts.get("so-keepalive")
    if ka is not None:
        settings.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1, "enable keep-alive"))
        for name, value, what in zip(
            (socket.TCP_KEEPCNT, socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL),
            ka,
            ("keep-alive probe count", "keep-alive idle time", "keep-alive interval"),
            strict=True,
        ):
            if value:
                settings.append((socket.IPPROTO_TCP, name, value, f"set {what} to {value}"))
    for key, name in (("so-rcvbuf", socket.SO_RCVBUF), ("so-sndbuf", socket.SO_SNDBUF)):
        if opts.get(key):
            settings.append((socket.SOL_SOCKET, name, opts[key], f"set {key[3:]} to {opts[key]}"))
    if opts.get("so-nolinger"):  # a close drops what is unsent and resets the connection
        settings.append(
            (socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0), "set nolinger")
        )
    for level, name, value, what in settings:
        if isinstance(value, int):
            value = (value + 2**31) % 2**32 - 2**31  # a C int, as the kernel reads it
        try:
            sock.setsockopt(level, name, value)
        except OSError as exc:
            if warned is not None:
                warned.append(f"cannot {what} ({exc.strerror})")


def _before_bind(sock: socket.socket, fam: int, opts: Mapping[str, Any], warned: list[str]) -> None:
    """`transparent` and `interface`: they decide which addresses the bind may take."""
    if opts.get("transparent"):
        # accept connections to foreign addresses; without the privilege for that, at
        # least bind to an address not (yet) configured, as HAProxy falls back
        v6 = fam == socket.AF_INET6
        level = socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP
        names = (_IPV6_TRANSPARENT, _IPV6_FREEBIND) if v6 else (_IP_TRANSPARENT, _IP_FREEBIND)
        err = ""
        for name in names:
            try:
                sock.setsockopt(level, name, 1)
                break
            except OSError as exc:
                err = exc.strerror or ""
        else:
            warned.append(f"cannot make listening socket transparent ({err})")
    dev = opts.get("interface")
    if dev:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        except OSError as exc:
            warned.append(f"cannot bind receiver to device '{dev}' ({exc.strerror})")


def _before_listen(
    sock: socket.socket, opts: Mapping[str, Any], backlog: int, warned: list[str]
) -> None:
    """`mss`, `tcp-ut`, `defer-accept` and `tfo`: set on the listening socket, inherited
    by every connection it accepts."""
    tcp = socket.IPPROTO_TCP
    mss = opts.get("mss")
    if mss:
        try:
            if mss > 0:
                sock.setsockopt(tcp, socket.TCP_MAXSEG, mss)
            elif sock.getsockopt(tcp, socket.TCP_MAXSEG) > -mss:
                sock.setsockopt(tcp, socket.TCP_MAXSEG, -mss)  # negative: only lower it
        except OSError as exc:
            warned.append(f"cannot set MSS to {abs(mss)} ({exc.strerror})")
    for key, name, value, what in (
        ("tcp-ut", socket.TCP_USER_TIMEOUT, opts.get("tcp-ut"), "set TCP User Timeout"),
        ("defer-accept", socket.TCP_DEFER_ACCEPT, 1, "enable TCP_DEFER_ACCEPT"),
        ("tfo", socket.TCP_FASTOPEN, backlog, "enable TCP_FASTOPEN"),
    ):
        if opts.get(key):
            try:
                sock.setsockopt(tcp, name, value)
            except OSError as exc:
                warned.append(f"cannot {what} ({exc.strerror})")


def _unix_permissions(path: str, opts: Mapping[str, Any]) -> None:
    """`mode`, `uid`/`user`, `gid`/`group` of a UNIX socket's file."""
    uid, gid = opts.get("uid", -1), opts.get("gid", -1)
    if uid != -1 or gid != -1:
        if uid < -1 or gid < -1:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        os.chown(path, uid, gid)
    mode = opts.get("mode")
    if mode is not None:
        os.chmod(path, mode)


def _fixed_local_address(sock: socket.socket) -> tuple[Any, ...] | None:
    """The address of an IP listening socket bound to one address (not 0.0.0.0 / ::):
    the local address of every connection it accepts. None when it varies (wildcard) or
    for other families."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        local = sock.getsockname()
    except OSError:
        return None
    if not isinstance(local, tuple) or local[0] in ("0.0.0.0", "::"):
        return None
    return local


def _accepted_class(family: int) -> type[socket.socket]:
    """A `socket.socket` subclass for accepted connections of one address family.

    uvloop's `connect_accepted_socket` reads `sock.family` (twice) and `sock.type`, and
    `socket.accept()` reads both again: the stdlib properties turn the ints into enums
    each time (six enum look-ups per connection). Here they are plain class attributes."""
    cls = _ACCEPTED.get(family)
    if cls is None:
        cls = type(
            f"AcceptedSocket{int(family)}",
            (socket.socket,),
            {"__slots__": (), "family": int(family), "type": int(socket.SOCK_STREAM)},
        )
        _ACCEPTED[family] = cls
    return cls


_ACCEPTED: dict[int, type[socket.socket]] = {}


#: seconds a listener waits before it looks again at a rate limit that left no room
RATE_LIMIT_RETRY = 0.02


class _InFlight:
    """Accepted sockets not yet handed to their protocol (a stopping worker waits for
    them). A module-level object, not a class attribute: a class written per
    connection would void that class's attribute cache."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


IN_FLIGHT = _InFlight()


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
        "_family",
        "_conn_cls",
        "_tls_accepted",
        "_tls_failed",
        "_local",
        "_peers",
    )

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
        # room under the rate limits (-1: none), asked once per wake-up
        self.gate: Callable[[], int] | None = None
        self._family = int(sock.family)
        self._conn_cls = _accepted_class(self._family)
        self._tls_accepted: Callable[[Any, Any], None] | None = None
        self._tls_failed: Callable[[Any], None] | None = None
        # the local address of every accepted socket when the bind address is not a
        # wildcard (`addresses` then needs no getsockname), and the peer address accept()
        # returned, per protocol, until its connection_made takes it
        self._local = _fixed_local_address(sock)
        self._peers: dict[Any, Any] = {}
        if ssl is not None:  # resolved once here, not imported per connection
            from lb.tls.conn import accepted, failed

            self._tls_accepted, self._tls_failed = accepted, failed

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
        # called for every closed connection (frontend / global maxconn): cheap when
        # nothing is paused
        paused = self.paused_by
        if paused:
            paused.discard(why)
            if paused:
                return
        if not self.active:
            self.loop.add_reader(self.sock.fileno(), self._accept)
            self.active = True

    def _accept(self) -> None:
        # `socket._accept` is the C call under `socket.accept()`: (fd, address), no enum
        # conversions. No `setblocking(False)` / TCP_NODELAY here: uvloop's transport sets
        # both when it opens the fd (uv_tcp_open, and the nodelay flag of TCPTransport.new).
        if self.paused_by:
            return
        loop = self.loop
        gate = self.gate
        budget = 64
        # Once per wake-up: the room under the rate limits, which count the connections
        # accepted and not yet opened (`IN_FLIGHT`) besides the rates themselves.
        if gate is not None:
            room = gate()
            if room == 0:
                self.pause("rate-limit")
                loop.call_later(RATE_LIMIT_RETRY, self.resume, "rate-limit")
                return
            if 0 < room < budget:
                budget = room
        accept = self.sock._accept  # type: ignore[attr-defined]
        make = self._conn_cls
        family = self._family
        maxconn = self.maxconn
        for _ in range(budget):
            try:
                fd, _addr = accept()
            except OSError:  # EAGAIN (all accepted), EINTR, EMFILE...: wait for the next event
                return
            conn = make(family, socket.SOCK_STREAM, 0, fd)
            self.nconn += 1
            proto = self.factory(self)
            self._peers[proto] = _addr
            IN_FLIGHT.n += 1
            loop.create_task(self._connect(conn, proto))
            if maxconn and self.nconn >= maxconn:
                self.pause("maxconn")
                return

    async def _connect(self, conn: socket.socket, proto: Any) -> None:
        try:
            transport, _ = await self.loop.connect_accepted_socket(
                lambda: proto, conn, ssl=self.ssl
            )
        except Exception:
            self._peers.pop(proto, None)
            IN_FLIGHT.n -= 1
            conn.close()
            self.connection_gone()
            if self._tls_failed is not None:
                self._tls_failed(proto)
            if hasattr(proto, "handshake_failed"):
                proto.handshake_failed()
            return
        IN_FLIGHT.n -= 1
        if self._peers:  # a protocol that did not ask (e.g. behind accept-proxy)
            self._peers.pop(proto, None)
        if self._tls_accepted is not None:
            self._tls_accepted(proto, transport)

    def addresses(self, proto: Any, transport: Any) -> tuple[str, int, str, int]:
        """`endpoint_addresses(transport)` for a protocol this listener accepted, from
        what accept() returned: no getpeername / getsockname system calls (each also a
        trip through the TLS transport's `get_extra_info`). Call it once, from
        `connection_made`; anything else (a wrapped transport that reports PROXY-protocol
        addresses, a wildcard bind) reads the transport as before."""
        peer = self._peers.pop(proto, None)
        local = self._local
        if peer is None or local is None or not isinstance(peer, tuple):
            return endpoint_addresses(transport)
        return peer[0], peer[1], local[0], local[1]

    def connection_gone(self) -> None:
        self.nconn -= 1
        if "maxconn" in self.paused_by and (not self.maxconn or self.nconn < self.maxconn):
            self.resume("maxconn")

    def close(self) -> None:
        self._stop_reading()
        self.sock.close()
