"""TCP mode: relay bytes between a client and a server, with back-pressure on
both legs and half-closes passed through."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from lb import rules_tcp
from lb.listener import apply_tcp_settings
from lb.proxy import QueuedStream
from lb.proxy_send import proxy_line
from lb.stream import Stream
from lb.tls import connect_kwargs as tls_connect_kwargs
from lb.tls.conn import stream_tls

if TYPE_CHECKING:
    from lb.proxy import Proxy
    from lb.server import Server
    from lb.state import State

T_WAIT, T_QUEUE, T_CONNECT, T_RELAY, T_CLOSED = range(5)


class _ServerLeg(asyncio.Protocol):
    __slots__ = ("front", "transport", "eof", "task")

    def __init__(self, front: TcpConn) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.eof = False
        self.task: asyncio.Task | None = None

    def cancel(self) -> None:
        """Give up: abort the connection, or the connect still under way."""
        if self.transport is not None:
            self.transport.abort()
        elif self.task is not None and not self.task.done():
            self.task.cancel()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        srv = self.front.server
        sockopts = srv.proxy.server_sockopts if srv is not None else None
        if sockopts is not None:
            apply_tcp_settings(transport.get_extra_info("socket"), sockopts)

    def data_received(self, data: bytes) -> None:
        self.front.from_server(data)

    def eof_received(self) -> bool:
        self.eof = True
        self.front.server_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.front.server_lost(exc)

    def pause_writing(self) -> None:
        if self.front.transport is not None:
            self.front.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.front.transport is not None and not self.front.closed:
            self.front.transport.resume_reading()


class TcpConn(asyncio.Protocol):
    __slots__ = (
        "state",
        "frontend",
        "listener",
        "transport",
        "stream",
        "phase",
        "leg",
        "pending",
        "expire",
        "client_ip",
        "client_port",
        "frontend_ip",
        "frontend_port",
        "accept_time",
        "m_accept",
        "m_idle_from",
        "closed",
        "backend",
        "server",
        "queued",
        "tries",
        "client_eof",
        "sess",
        "inspecting",
        "inspect_exp",
    )

    def __init__(self, state: State, frontend: Proxy, listener: Any) -> None:
        self.state = state
        self.frontend = frontend
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.stream: Stream | None = None
        self.phase = T_WAIT
        self.leg: _ServerLeg | None = None
        self.pending: list[bytes] = []
        self.expire = 0.0
        self.client_ip = "-"
        self.client_port = 0
        self.frontend_ip = "-"
        self.frontend_port = 0
        self.accept_time = time.time()
        self.m_accept = time.monotonic()
        self.m_idle_from = 0.0
        self.closed = False
        self.backend: Proxy | None = None
        self.server: Server | None = None
        self.queued: QueuedStream | None = None
        self.tries = 0
        self.client_eof = False
        self.sess: Any = None  # lb.rules_tcp.Session when tcp-request connection rules ran
        self.inspecting: Proxy | None = None  # whose content rules wait for data
        self.inspect_exp = 0.0  # when they stop waiting (inspect-delay)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        addrs = self.listener.addresses(self, transport)  # (once: it pops them)
        self.client_ip, self.client_port, self.frontend_ip, self.frontend_port = addrs
        self.state.conn_opened(self)
        hook = self.frontend.conn_hook  # tcp-request connection rules
        if hook is not None and not hook(self):
            return
        st = Stream(self, self.m_accept)
        if getattr(self.listener, "ssl", None) is not None:
            stream_tls(st, transport)  # before routing: ACLs may use ssl_fc_sni & co.
        st.status = 0
        st.t_idle = 0
        st.m_head = self.m_accept
        self.stream = st
        fe = self.frontend
        hook = fe.req_hook  # session counters
        if hook is not None and hook(self, st, None):
            return
        if fe.tcp_content is not None:
            self._inspect(fe)
        else:
            self._route()

    # ------------------------------------------------------------ content inspection

    def _inspect(self, p: Proxy, final: bool = False) -> None:
        """Run `p`'s `tcp-request content` rules on what the client sent so far; they
        may wait for more, until `tcp-request inspect-delay` (then decide on what came)."""
        st = self.stream
        assert st is not None
        now = time.monotonic()
        if self.inspecting is not p:
            self.inspecting = p
            self.inspect_exp = now + p.inspect_delay if p.inspect_delay else 0.0
        data = b"".join(self.pending) if self.pending else b""
        st.req_data = data
        st.req_final = (
            final
            or self.client_eof
            or not self.inspect_exp
            or now >= self.inspect_exp
            or len(data) >= self.state.bufsize
        )
        v = p.tcp_content(st, None)
        if v == rules_tcp.WAIT and not st.req_final:
            self.expire = self.inspect_exp
            return
        self.inspecting = None
        st.req_final = True  # routing (use_backend) still reads what came, as final
        self.expire = 0.0
        if v == rules_tcp.REJECT:
            self.frontend.fe_counters.denied_req += 1
            if p is not self.frontend:
                p.be_counters.denied_req += 1
            self._fail("PR")
            return
        if p is self.frontend:
            self._route()
        else:
            self._assign()

    def _route(self) -> None:
        st = self.stream
        assert st is not None
        fe = self.frontend
        be = fe.route(st, None)
        if be is None or not be.servers:
            self._fail("SC")
            return
        self.backend = be
        st.backend = be
        st.backend_name = be.name
        if be is not fe and be.tcp_content is not None:
            self._inspect(be)  # a backend's content rules run once it is chosen
            return
        self._assign()

    def _assign(self) -> None:
        be = self.backend
        st = self.stream
        assert be is not None and st is not None
        stick = be.stick  # stick match / store (lb.stick_rules)
        srv = stick.request(st, None) if stick is not None else None
        if srv is None or srv.is_full:
            srv = be.pick(st)
        if srv is not None and stick is not None:
            stick.commit(st, srv)
        if srv is None:
            if not be.has_usable_server():
                self._fail("SC")
                return
            self.phase = T_QUEUE
            q = QueuedStream(self._granted, None, 0.0, st)
            self.queued = q
            be.enqueue(q)
            self._arm(be.timeout("queue") or be.timeout("connect"))
            return
        be.take(srv)
        self._use(srv)

    def _granted(self, srv: Server) -> None:
        self.queued = None
        if self.closed:
            self.backend.release(srv)  # type: ignore[union-attr]
            return
        self._use(srv)

    def _use(self, srv: Server) -> None:
        st = self.stream
        assert st is not None
        st.m_queue = time.monotonic()
        self.server = srv
        st.server = srv
        st.server_name = srv.name
        st.server_ip, st.server_port = srv.host, srv.port
        c = srv.counters
        c.cum_sess += 1
        c.sess_rate.add()
        c.last_sess = self.state.now_sec
        c.cur_sess = srv.served
        if srv.served > c.max_sess:
            c.max_sess = srv.served
        self._connect(srv)

    def _connect(self, srv: Server) -> None:
        self.phase = T_CONNECT
        leg = _ServerLeg(self)
        self.leg = leg
        srv.counters.connect += 1
        self._arm(self.backend.timeout("connect"))  # type: ignore[union-attr]
        task = self.state.loop.create_task(
            self.state.loop.create_connection(
                lambda: leg, srv.host, srv.port, **tls_connect_kwargs(self.state, srv)
            )
        )
        leg.task = task
        task.add_done_callback(lambda t: self._connect_done(t, leg))

    def _connect_done(self, task: asyncio.Task, leg: _ServerLeg) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if leg is not self.leg or self.closed:
            if exc is None and leg.transport is not None:
                leg.transport.close()
            return
        if exc is not None:
            self.leg = None
            self._connect_failed()
            return
        st = self.stream
        if self.server.observe:  # type: ignore[union-attr]
            self.server.observe_result(True, 4)  # type: ignore[union-attr]
        st.m_connect = time.monotonic()  # type: ignore[union-attr]
        st.m_response = st.m_connect  # type: ignore[union-attr]
        self.phase = T_RELAY
        early = self.frontend.log_asap  # `option logasap`: logged once connected
        if early is not None:
            early(self, st, 0)
        pp = proxy_line(self.server, self)  # send-proxy[-v2]
        if pp is not None:
            leg.transport.write(pp)  # type: ignore[union-attr]
        if self.pending:
            leg.transport.writelines(self.pending)  # type: ignore[union-attr]
            self.pending = []
            # reading was paused while the connect was pending with a full buffer
            if self.transport is not None and not self.closed:
                self.transport.resume_reading()
        if self.client_eof and leg.transport.can_write_eof():  # type: ignore[union-attr]
            leg.transport.write_eof()  # type: ignore[union-attr]
        self._arm_idle()

    def _connect_failed(self, term: str = "SC") -> None:
        be, srv, st = self.backend, self.server, self.stream
        assert be is not None and srv is not None and st is not None
        if srv.observe:
            srv.observe_result(False, 4)
        nxt = be.retry_target(st, srv, self.tries)
        if nxt is None:
            self._fail(term)
            return
        self.tries += 1
        if nxt is srv:
            self._connect(srv)
        else:
            self._use(nxt)

    def _arm(self, seconds: float) -> None:
        self.expire = time.monotonic() + seconds if seconds else 0.0

    def _arm_idle(self) -> None:
        be = self.backend
        fe = self.frontend
        t = (be.timeout("tunnel") if be else 0) or max(
            fe.timeout("client"), be.timeout("server") if be else 0
        )
        self._arm(t)

    # ------------------------------------------------------------ relay

    def data_received(self, data: bytes) -> None:
        st = self.stream
        if st is not None:
            st.bytes_in += len(data)
        if self.phase == T_RELAY and self.leg is not None and self.leg.transport is not None:
            self.leg.transport.write(data)
            self._arm_idle()
        else:
            self.pending.append(data)
            if sum(len(p) for p in self.pending) > 65536 and self.transport is not None:
                self.transport.pause_reading()
            if self.inspecting is not None:
                self._inspect(self.inspecting)

    def from_server(self, data: bytes) -> None:
        st = self.stream
        if st is not None:
            st.bytes_out += len(data)
        if self.transport is not None and not self.closed:
            self.transport.write(data)
            self._arm_idle()

    def eof_received(self) -> bool:
        self.client_eof = True
        be = self.backend
        if self.phase in (T_QUEUE, T_CONNECT) and be is not None and be.options.get("abortonclose"):
            # `option abortonclose`: a client that closes gives up its place (CQ / CC)
            self.frontend.fe_counters.cli_aborts += 1
            self._fail("CQ" if self.phase == T_QUEUE else "CC")
            return False
        if self.inspecting is not None:
            self._inspect(self.inspecting)  # nothing more will come: decide now
        leg = self.leg
        if self.phase == T_RELAY and leg is not None and leg.transport is not None:
            if leg.eof:
                return False
            if leg.transport.can_write_eof():
                leg.transport.write_eof()
        return True

    def server_eof(self) -> None:
        if self.transport is not None and not self.closed:
            if self.client_eof:
                self._close("--")
            elif self.transport.can_write_eof():
                self.transport.write_eof()
            else:  # a TLS client cannot be half-closed: close (close_notify), as HAProxy does
                self._close("--")

    def server_lost(self, exc: Exception | None) -> None:
        if self.phase == T_RELAY:
            self._close("--" if exc is None else "SD")

    def pause_writing(self) -> None:
        if self.leg is not None and self.leg.transport is not None:
            self.leg.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.leg is not None and self.leg.transport is not None:
            self.leg.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish("CD" if exc is not None else "--")
        if self.sess is not None:
            self.sess.close()
        self.state.conn_closed(self)

    # ------------------------------------------------------------ endings

    def _finish(self, term: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.phase = T_CLOSED
        self.expire = 0.0
        st = self.stream
        self.stream = None
        if self.queued is not None and self.backend is not None:
            self.backend.unqueue(self.queued)
        if self.leg is not None and self.leg.transport is not None:
            self.leg.transport.close()
        if st is not None:
            if st.term_state == "--":
                st.term_state = term
            # logged before the server slot is released: the counters include this stream
            self.state.stream_done(self, st)
        if self.server is not None and self.backend is not None:
            self.backend.release(self.server)
            self.server.counters.cur_sess = self.server.served

    def _close(self, term: str) -> None:
        self._finish(term)
        if self.transport is not None:
            self.transport.close()

    def _fail(self, term: str) -> None:
        if self.stream is not None:
            self.stream.term_state = term
        self._finish(term)
        if self.transport is not None:
            self.transport.abort()

    def on_timeout(self) -> None:
        self.expire = 0.0
        if self.inspecting is not None:
            self._inspect(self.inspecting, True)  # inspect-delay is over: decide on what came
            return
        if self.phase == T_QUEUE:
            self._fail("sQ")
        elif self.phase == T_CONNECT:
            if self.leg is not None:
                self.leg.cancel()
            self.leg = None
            self._connect_failed("sC")
        else:
            self._close("cD")
