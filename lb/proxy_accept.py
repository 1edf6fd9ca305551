"""``bind … accept-proxy``: read the PROXY header before the frontend sees the
connection.

A ``ProxyAccept`` protocol stands in front of the frontend's own protocol
(FrontConn or TcpConn). It buffers the first bytes, parses them with the
sans-IO codec (lb/proxy_protocol.py) and, once the header is complete, hands
the transport over: the frontend's ``connection_made`` then sees the
advertised addresses as the peer and local names, so ``src``, logs and ACLs
use them from the first byte on, and the bytes that followed the header are
passed on as ordinary data. With ``ssl`` on the same bind, TLS starts only
after the header (the header is sent in clear, before the handshake).

A malformed header closes the connection at once and is logged as HAProxy
does (``127.0.0.1:54798 [21/Nov/2026:23:28:55.678] fe/1: Received something
which does not look like a PROXY protocol header``); the connection is
counted (``conn_tot``) but no session is. The header must arrive within
``timeout client``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from lb.proxy_protocol import (
    ERR_TIMEOUT,
    ERR_TRUNCATED,
    ProxyHeader,
    ProxyProtocolError,
    parse,
)
from lb.tls import conn as tls_conn

LOG_INFO = 6
LOG_ERR = 3
_MAX_WAIT = 16 + 65535


def wrap_factory(
    factory: Callable[[Any], Any], proxy: Any, ssl_ctx: Any = None
) -> Callable[[Any], Any]:
    """The listener factory for an ``accept-proxy`` bind."""

    def make(listener: Any) -> ProxyAccept:
        return ProxyAccept(factory(listener), proxy, listener, ssl_ctx)

    return make


class _NamedTransport:
    """The real transport, except that it reports the advertised addresses.

    Used only while the inner protocol runs ``connection_made`` (which reads
    ``peername``/``sockname``); the inner protocol keeps the real transport
    afterwards, so the data path has no indirection."""

    __slots__ = ("_tr", "_peer", "_sock")

    def __init__(self, tr: Any, peer: Any, sock: Any) -> None:
        self._tr = tr
        self._peer = peer
        self._sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername" and self._peer is not None:
            return self._peer
        if name == "sockname" and self._sock is not None:
            return self._sock
        return self._tr.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tr, name)


class _TlsListener:
    """The real listener, with the bind's TLS context as `ssl` (None on the real one,
    since TLS starts only after the PROXY header)."""

    __slots__ = ("_lst", "ssl")

    def __init__(self, lst: Any, ssl_ctx: Any) -> None:
        self._lst = lst
        self.ssl = ssl_ctx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lst, name)


class _Pending(asyncio.Protocol):
    """The application protocol of a TLS handshake after a PROXY header: keeps what
    arrives until the frontend's protocol is started."""

    __slots__ = ("chunks", "eof", "lost")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.eof = False
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def eof_received(self) -> bool:
        self.eof = True
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


class ProxyAccept(asyncio.Protocol):
    __slots__ = ("inner", "proxy", "listener", "ssl", "transport", "buf", "timer", "done", "header")

    def __init__(self, inner: Any, proxy: Any, listener: Any, ssl_ctx: Any = None) -> None:
        self.inner = inner
        self.proxy = proxy
        self.listener = listener
        self.ssl = ssl_ctx
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.timer: asyncio.TimerHandle | None = None
        self.done = False
        self.header: ProxyHeader | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        wait = self.proxy.timeout("client") or 5.0
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(wait, self._timeout)

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        self.buf += data
        try:
            header = parse(self.buf)
        except ProxyProtocolError as exc:
            self._refuse(str(exc))
            return
        if header is None:
            if len(self.buf) > _MAX_WAIT:
                self._refuse(ERR_TRUNCATED)
            return
        rest = bytes(self.buf[header.length :])
        self.buf.clear()
        self._handover(header, rest)

    def eof_received(self) -> bool:
        if not self.done:
            self._refuse(ERR_TRUNCATED if self.buf else "", log=bool(self.buf))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done:
            self._end()

    def _timeout(self) -> None:
        self.timer = None
        if not self.done:
            self._refuse(ERR_TIMEOUT)

    # ------------------------------------------------------------ outcomes

    def _handover(self, header: ProxyHeader, rest: bytes) -> None:
        self.done = True
        self.header = header
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        tr = self.transport
        assert tr is not None
        if self.ssl is not None:
            tr.pause_reading()  # nothing is read (and dropped) until TLS owns the transport
            asyncio.get_running_loop().create_task(self._start_tls(header, rest))
            return
        tr.set_protocol(self.inner)
        self._start_inner(tr, header, rest)

    async def _start_tls(self, header: ProxyHeader, rest: bytes) -> None:
        tr = self.transport
        assert tr is not None
        loop = asyncio.get_running_loop()
        # Until the inner protocol is started, what TLS decrypts (a TLS 1.3 client sends its
        # request with its Finished) waits in `pending`; then the inner protocol takes over.
        pending = _Pending()
        try:
            handshake = loop.create_task(loop.start_tls(tr, pending, self.ssl, server_side=True))
            if rest:
                # Bytes read with the header are the start of the ClientHello. start_tls
                # sets its protocol at once and starts it (connection_made, then
                # resume_reading) with call_soon: two turns later both have run, in the
                # same batch, before any new read: feed them the bytes in order.
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                if not handshake.done():
                    _feed(tr.get_protocol(), rest)
            new = await handshake
        except Exception:
            tr.abort()
            self.listener.connection_gone()
            tls_conn.failed(self.inner)  # ssl_failed_handshake, as on a plain `ssl` bind
            return
        if new is None:
            self.listener.connection_gone()
            return
        # the inner protocol sees a listener with `ssl` set: it fills the TLS fields of
        # its streams (%sslv, ssl_fc_*) as it does behind a plain `bind … ssl`
        inner = self.inner
        inner.listener = _TlsListener(self.listener, self.ssl)
        new.set_protocol(inner)
        self._start_inner(new, header, b"".join(pending.chunks))
        tls_conn.accepted(inner, new)  # ssl_sess / ssl_reused_sess
        if pending.lost:
            inner.connection_lost(None)
        elif pending.eof and not new.is_closing() and not inner.eof_received():
            new.close()

    def _start_inner(self, tr: Any, header: ProxyHeader, rest: bytes) -> None:
        inner = self.inner
        if header.src is not None:
            named = _NamedTransport(tr, header.src, header.dst)
            inner.connection_made(named)
            if getattr(inner, "transport", None) is named:
                inner.transport = tr
        else:
            inner.connection_made(tr)
        if hasattr(inner, "proxy_header"):
            inner.proxy_header = header
        if rest and not tr.is_closing():
            inner.data_received(rest)

    def _refuse(self, reason: str, log: bool = True) -> None:
        """Close a connection whose header is bad; count and log it."""
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        fe = self.proxy
        # HAProxy counts the connection (conn_tot, CumConns), not a session. HAProxy 2.6
        # raises no error counter here; lb also counts it as a request error (`ereq`)
        # so that a broken PROXY sender shows up in `show stat` (a deliberate difference).
        fe.fe_counters.cum_conn += 1
        fe.fe_counters.conn_rate.add()
        if reason:
            fe.fe_counters.failed_req += 1
        state = getattr(fe, "state", None)
        if state is not None:
            state.cum_conns += 1
            state.conn_rate.add()
        if log and reason:
            self._log(reason)
        if self.transport is not None:
            self.transport.abort()
        self._end()

    def _end(self) -> None:
        lst = self.listener
        self.listener = None
        if lst is not None:
            lst.connection_gone()

    def _log(self, reason: str) -> None:
        fe = self.proxy
        logger = getattr(fe, "logger", None)
        if logger is None or self.transport is None:
            return
        peer = self.transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            who = f"{_ip_text(peer[0])}:{peer[1]}"
        else:
            who = "unix:1"
        lname = getattr(self.listener, "name", "") or str(_listener_id(fe, self.listener))
        separate = bool(fe.options.get("log-separate-errors"))
        line = f"{who} [{_clf_date(time.time())}] {fe.name}/{lname}: {reason}"
        logger.log(LOG_ERR if separate else LOG_INFO, line, fe.name)


def _feed(proto: Any, data: bytes) -> None:
    """Hand `data` to a protocol as if read from its transport (buffered or not)."""
    if not hasattr(proto, "get_buffer"):
        proto.data_received(data)
        return
    view = memoryview(data)
    while view:
        buf = proto.get_buffer(len(view))
        n = min(len(buf), len(view))
        buf[:n] = view[:n]
        proto.buffer_updated(n)
        view = view[n:]


def _listener_id(fe: Any, listener: Any) -> int:
    for i, lst in enumerate(getattr(fe, "listeners", ()), 1):
        if lst is listener:
            return i
    return 1


def _ip_text(ip: str) -> str:
    return ip[7:] if ip.startswith("::ffff:") else ip


def _clf_date(t: float) -> str:
    tm = time.localtime(t)
    return time.strftime("%d/%b/%Y:%H:%M:%S", tm) + f".{int(t * 1000) % 1000:03d}"
