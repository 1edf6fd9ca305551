"""The client side of HTTP mode: one accepted connection, many requests.

Requests on a connection are handled one at a time, in order (pipelined
requests wait in the buffer). For each, the head is checked and routed, a
server is taken (or the stream queues), the head is forwarded as received
(with X-Forwarded-For spliced in when asked) and the bodies flow both ways
with back-pressure. Timeouts are checked by the state's coarse sweeper
through `expire`/`on_timeout`, so no timer object is made per request.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from lb import counters as counters_mod
from lb.http import errors as http_errors
from lb.http.back import BackConn, _set_connection
from lb.http.h1 import (
    ChunkedReader,
    H1Error,
    Head,
    drop_header,
    find_head_end,
    parse_plain_request,
    parse_request_head,
)
from lb.proxy import REUSE_AGGRESSIVE, REUSE_ALWAYS, REUSE_NEVER, QueuedStream
from lb.proxy_send import proxy_line
from lb.rules_response import after_local, on_response
from lb.server_redir import server_redirect
from lb.stream import Stream
from lb.tls import connect_kwargs as tls_connect_kwargs
from lb.tls.conn import ssl_object

if TYPE_CHECKING:
    from lb.proxy import Proxy
    from lb.server import Server
    from lb.state import State

# phases
P_IDLE, P_HEAD, P_QUEUE, P_CONNECT, P_WAIT_RESP, P_RESP, P_TUNNEL, P_CLOSING, P_BODY = range(9)
# P_BODY: a request held until its body is in (`option http-buffer-request`), before
# the frontend's rules or (HOLD_BACKEND) before the backend's
HOLD_FRONTEND, HOLD_BACKEND = 1, 2


class FrontConn(asyncio.Protocol):
    __slots__ = (
        "state",
        "frontend",
        "listener",
        "transport",
        "buf",
        "stream",
        "phase",
        "keep_alive",
        "http10",
        "req_left",
        "req_chunked",
        "req_done",
        "back",
        "expire",
        "client_ip",
        "client_port",
        "frontend_ip",
        "frontend_port",
        "accept_time",
        "m_accept",
        "m_idle_from",
        "reading_paused",
        "writing_paused",
        "closed",
        "backend",
        "server",
        "queued",
        "nreq",
        "out_head",
        "tries",
        "bufsize",
        "resp_started",
        "srv_fin",
        "m_req_start",
        "srv_close",
        "replay",
        "sess",
        "tls_vals",
        "added_lines",
        "own_back",
        "hold_stage",
        "hold_room",
        "cache_w",
        "prefer_own",
    )

    def __init__(self, state: State, frontend: Proxy, listener: Any) -> None:
        self.state = state
        self.frontend = frontend
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.stream: Stream | None = None
        self.phase = P_IDLE
        self.keep_alive = True
        self.http10 = False
        self.req_left = 0
        self.req_chunked: ChunkedReader | None = None
        self.req_done = True
        self.back: BackConn | None = None
        self.expire = 0.0
        self.client_ip = "-"
        self.client_port = 0
        self.frontend_ip = "-"
        self.frontend_port = 0
        self.accept_time = time.time()
        self.m_accept = time.monotonic()
        self.m_idle_from = 0.0
        self.reading_paused = False
        self.writing_paused = False
        self.closed = False
        self.backend: Proxy | None = None
        self.server: Server | None = None
        self.queued: QueuedStream | None = None
        self.nreq = 0
        self.out_head = b""
        self.tries = 0
        self.bufsize = state.bufsize
        self.resp_started = False
        self.srv_fin = False
        self.m_req_start = 0.0
        self.srv_close = False
        # the whole request as sent to the server, kept to resend it on a fresh connection
        # when a reused idle connection turns out to be closed (None if not replayable)
        self.replay: bytes | None = None
        self.sess: Any = None  # lb.rules_tcp.Session when tcp-request connection rules ran
        self.tls_vals: tuple | None = None  # (ssl object, version, cipher), read once
        self.added_lines: tuple | None = None  # (forwardfor, originalto, lines) for heads
        self.own_back: BackConn | None = None  # http-reuse never: the idle private connection
        self.hold_stage = 0  # P_BODY: where the held request resumes (HOLD_*)
        self.hold_room = 0  # P_BODY: body bytes that fill the buffer
        # HAProxy's "prefer last server" session flag: set by a 401/407 asking for NTLM
        self.prefer_own = False
        self.cache_w: Any = None  # lb.http.cache.Writer: the response goes into a cache

    # ------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        addrs = self.listener.addresses(self, transport)  # (once: it pops them)
        self.client_ip, self.client_port, self.frontend_ip, self.frontend_port = addrs
        self.state.conn_opened(self)
        hook = self.frontend.conn_hook  # tcp-request connection rules
        if hook is not None and not hook(self):
            return
        self.phase = P_HEAD
        self._arm(self.frontend.t_request)

    def _arm(self, seconds: float) -> None:
        self.expire = time.monotonic() + seconds if seconds else 0.0

    def data_received(self, data: bytes) -> None:
        phase = self.phase
        if phase == P_TUNNEL:
            self.stream.bytes_in += len(data)  # type: ignore[union-attr]
            self.back.write(data)  # type: ignore[union-attr]
            self._arm(self.state.tunnel_timeout(self))
            return
        if not self.req_done and self.stream is not None:
            self._request_body(data)
            return
        if not self.buf and phase in (P_HEAD, P_IDLE):
            # the usual read: exactly one whole head, handled without the buffer
            if type(data) is bytes and len(data) <= self.bufsize:
                head = parse_plain_request(data)  # (its end is the end of `data`)
                if head is not None:
                    self.m_req_start = 0.0
                    self._request(data, time.monotonic(), head)
                    return
            end = find_head_end(data)
            if end == len(data) and end <= self.bufsize and type(data) is bytes:
                self.m_req_start = 0.0
                self._request(data, time.monotonic())
                return
            self.m_req_start = time.monotonic()
        self.buf += data
        if phase in (P_HEAD, P_IDLE):
            self._next_request()
        elif len(self.buf) > self.bufsize:
            self.pause_client_reading()

    def eof_received(self) -> bool | None:
        if self.phase == P_TUNNEL and self.back is not None and self.back.transport is not None:
            if self.back.transport.can_write_eof():
                self.back.transport.write_eof()
            return True
        if self.phase in (P_HEAD, P_IDLE) and not self.buf:
            return None
        if self.phase == P_BODY:  # the client sent all it will: go on with what came
            self._release_body()
            return True
        if self.stream is not None and self.phase in (P_WAIT_RESP, P_RESP, P_CONNECT, P_QUEUE):
            # a client that half-closes after its request still gets the response, unless
            # `option abortonclose` drops it while it is queued or connecting (CQ / CC)
            be = self.backend
            queued = self.phase in (P_QUEUE, P_CONNECT)
            if queued and be is not None and be.options.get("abortonclose"):
                return None
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        st = self.stream
        if st is not None:
            if self.phase in (P_WAIT_RESP, P_RESP, P_CONNECT, P_QUEUE):
                self.frontend.fe_counters.cli_aborts += 1
                if self.server is not None:
                    self.server.counters.cli_aborts += 1
                st.term_state = "CD" if self.phase == P_RESP else "CH"
                if self.phase == P_QUEUE:
                    st.term_state = "CQ"
                elif self.phase == P_CONNECT:
                    st.term_state = "CC"
            elif self.phase == P_BODY:  # gone while its body was awaited
                self.frontend.fe_counters.cli_aborts += 1
                st.term_state = "CR"
            self._end_stream(reuse=False)
        elif self.phase == P_HEAD and self.buf:
            self._log_bad(408, "CR", bytes(self.buf))
        if self.sess is not None:
            self.sess.close()
        if self.own_back is not None:
            self.own_back.close()
            self.own_back = None
        self.state.conn_closed(self)

    def pause_writing(self) -> None:
        self.writing_paused = True
        if self.back is not None and self.back.transport is not None:
            self.back.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.back is not None and self.back.transport is not None:
            self.back.transport.resume_reading()

    def pause_client_reading(self) -> None:
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_client_reading(self) -> None:
        if self.reading_paused and self.transport is not None and not self.closed:
            self.reading_paused = False
            self.transport.resume_reading()

    # ------------------------------------------------------------ requests

    def _next_request(self) -> None:
        buf = self.buf
        end = find_head_end(buf)
        if end < 0:
            if len(buf) > self.bufsize:
                self._reject(400, "PR", bytes(buf))
            elif buf and self.phase == P_IDLE:
                self.phase = P_HEAD
                self._arm(self.frontend.t_request)
            return
        if end > self.bufsize:
            self._reject(400, "PR", bytes(buf))
            return
        now = time.monotonic()
        if end == len(buf):
            raw = bytes(buf)
            buf.clear()
        else:
            raw = bytes(buf[:end])
            del buf[:end]
        self._request(raw, now)

    def _request(self, raw: bytes, now: float, head: Head | None = None, resumed: int = 0) -> None:
        """A request head `raw` read at `now` (what follows it stays in `self.buf`);
        `head`: `raw` already parsed (by `parse_plain_request`). `resumed`: the stage a
        request held for its body (`option http-buffer-request`, HOLD_*) goes on at,
        its body (held in `self.out_head`) then following the head."""
        buf = self.buf
        fe = self.frontend
        if not resumed:
            start = self.m_req_start or now
            st = Stream(self, start)
            if self.listener.ssl is not None:
                self._stream_tls(st)
            st.t_idle = int((start - (self.m_idle_from or self.m_accept)) * 1000)
            self.m_req_start = now if buf else 0.0
            st.m_head = now
            self.stream = st
            self.nreq += 1
            fc = fe.fe_counters
            fc.cum_req += 1
            rc = fc.req_rate  # RateCounter.add, inline
            if rc.sec == counters_mod._now_sec:
                rc.curr += 1
            else:
                rc.add()
            if head is None:
                try:
                    head = parse_request_head(raw, fe.accept_invalid_req)
                except H1Error as exc:
                    self._reject(400, "PR", raw, exc.pos)
                    return
            st.head = head
            if fe.cap_req is not None:  # capture request header
                st.captured_request_headers = _captures(head, fe.cap_req)
            st.bytes_in = len(raw)  # HAProxy counts the whole request, head included
            st.method, st.uri, st.http_version = head.method, head.uri, head.version
            version = head.version
            self.http10 = version == b"HTTP/1.0"
            # after Content-Length + Transfer-Encoding HAProxy closes: no request may follow
            # (request_keeps_alive, inline)
            self.keep_alive = (
                not head.conn_close
                and (version == b"HTTP/1.1" or head.conn_keepalive)
                and fe.http_keepalive
                and not head.cl_te
            )
            if head.chunked:
                self.req_chunked = ChunkedReader()
                self.req_left = -1
                self.req_done = False
            elif head.content_length:
                self.req_chunked = None
                self.req_left = head.content_length
                self.req_done = False
            else:
                self.req_chunked = None
                self.req_left = 0
                self.req_done = True
            self.phase = P_WAIT_RESP
            self.expire = 0.0
            self.resp_started = False
            self.srv_fin = False
            if not self.req_done and fe.buffer_request:  # option http-buffer-request
                self._hold_for_body(st, HOLD_FRONTEND)
                return
        else:
            st = self.stream  # type: ignore[assignment]
        if resumed != HOLD_BACKEND:
            # session, tcp-request content, monitor-uri, unique-id (lb.rules_setup)
            hook = fe.req_hook
            if hook is not None and hook(self, st, head):
                return
            # frontend rules, then routing
            if fe.http_req_rules is not None:
                verdict = fe.http_req_rules(st, head)
                if verdict is not None:
                    self._answer(verdict)
                    return
            be = fe.route(st, head)
            if be is None:
                self._reply_error(503, "SC")
                return
            self.backend = be
            st.backend = be
            st.backend_name = be.name
            if be is not fe:
                be.be_counters.cum_req += 1
                if not self.req_done and be.buffer_request and not resumed:
                    self._hold_for_body(st, HOLD_BACKEND)
                    return
        else:
            be = self.backend  # type: ignore[assignment]
        if be is not fe and be.http_req_rules is not None:
            verdict = be.http_req_rules(st, head)
            if verdict is not None:
                self._answer(verdict)
                return
        out = head.raw if fe.plain_out and be.plain_out else self._outgoing_head(head, be)
        if resumed:  # the body held so far goes right after the head
            out += self.out_head
        self.out_head = out
        # httpclose / http-server-close (either side): one server connection per request
        self.srv_close = fe.server_close or be.server_close
        if self.srv_close and not head.conn_close:
            self.out_head = _set_connection(self.out_head, b"close")
        self.tries = 0
        if not self.req_done and buf:
            data = bytes(buf)
            buf.clear()
            self._request_body(data)
            if self.stream is not st:  # the body was refused
                return
        self._assign(now)

    def _stream_tls(self, st: Stream) -> None:
        """What logs and `ssl_fc*` fetches read, asked of OpenSSL once per connection."""
        vals = self.tls_vals
        if vals is None:
            obj = ssl_object(self.transport)
            if obj is None:
                return
            cipher = obj.cipher()
            vals = self.tls_vals = (obj, obj.version(), cipher[0] if cipher else None)
        st.frontend_is_ssl = True
        st.ssl_obj, st.ssl_version, st.ssl_cipher = vals

    def _outgoing_head(self, head: Head, be: Proxy) -> bytes:
        raw = head.raw
        persist = be.persist
        if persist is not None:  # cookie persistence reads (and may edit) the Cookie header
            raw = persist.on_request(self.stream, head, raw)
        fe = self.frontend
        ff = fe.forwardfor or be.forwardfor
        ot = fe.originalto or be.originalto
        # the added lines depend on the connection's addresses only: made once per
        # connection (and backend options), unless `if-none` looks at each request
        added = self.added_lines
        if added is not None and added[0] is ff and added[1] is ot:
            add = added[2]
        else:
            add = b""
            if ff is not None and not ff["skip"](self.client_ip):
                add += ff["name"] + b": " + self.client_ip.encode() + b"\r\n"
            if ot is not None and not ot["skip"](self.frontend_ip):
                add += ot["name"] + b": " + self.frontend_ip.encode() + b"\r\n"
            self.added_lines = (ff, ot, add)
        if ff is not None and ff["if_none"] and head.get(ff["lname"]) is not None:
            add = add.split(b"\r\n", 1)[1] if add.startswith(ff["name"] + b": ") else add
        if add:
            cut = len(raw) - (2 if raw.endswith(b"\r\n") else 1)
            raw = raw[:cut] + add + raw[cut:]
        return raw

    def _request_body(self, data: bytes) -> None:
        """Forward request body bytes as received; keep what follows the body."""
        st = self.stream
        back = self.back
        n = len(data)
        if self.req_chunked is not None:
            try:
                end, done = self.req_chunked.feed(data, 0)
            except H1Error as exc:
                # invalid chunk framing: 400 if the server has not answered yet
                if self.resp_started:
                    self.frontend.fe_counters.failed_req += 1
                    self._abort_both("CD")
                else:
                    self._reject(400, "PR", data, exc.pos)
                return
        else:
            take = min(self.req_left, n)
            self.req_left -= take
            end, done = take, self.req_left == 0
        body = data if end == n else data[:end]
        st.bytes_in += end  # type: ignore[union-attr]
        if back is not None and self.phase not in (P_QUEUE, P_CONNECT):
            back.write(body)
        else:
            self.out_head += body
            if len(self.out_head) > self.bufsize * 4:
                self.pause_client_reading()
        if done:
            self.req_done = True
            self.req_chunked = None
        if end != n:
            self.buf += data[end:]
        phase = self.phase
        if phase == P_WAIT_RESP and self.expire == 0.0 and self.stream is not None:
            self._arm(self.backend.t_server if self.backend else 0)  # type: ignore[union-attr]
        elif phase == P_BODY and (self.req_done or len(self.out_head) >= self.hold_room):
            self._release_body()

    def _hold_for_body(self, st: Stream, stage: int) -> None:
        """Wait for the whole body, or as much as the buffer holds, before the rules
        run: `timeout http-request` covers the wait. The body gathers in `out_head`."""
        head = st.head
        assert head is not None
        self.phase = P_BODY
        self.hold_stage = stage
        # HAProxy's buffer, less the room it keeps for rewrites, less the head
        self.hold_room = max(0, self.bufsize - 1024 - len(head.raw))
        st.m_head = 0.0  # the request (%TR) is complete only with its body
        self._arm(self.frontend.t_request)
        if head.expect_continue and not self.buf and self.transport is not None:
            # the client waits for a go-ahead no server can give yet: answered here, and
            # the server gets the request without its Expect line, as HAProxy does
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            head.raw = drop_header(head.raw, b"expect")
            head.expect_continue = False
            head._headers = None
        if self.buf:
            data = bytes(self.buf)
            self.buf.clear()
            self._request_body(data)

    def _release_body(self) -> None:
        """The held body is in (or the buffer is full, or the client half-closed):
        `req.body` and its kin see it, and the request goes on where it stopped."""
        st = self.stream
        assert st is not None and st.head is not None
        held = self.out_head
        if st.head.chunked:
            payload: list[bytes] = []
            try:
                ChunkedReader().feed(held, 0, payload)
            except H1Error:
                pass  # (the framing was checked as it came in)
            st.req_body = b"".join(payload)
        else:
            st.req_body = held
        now = time.monotonic()
        st.m_head = now
        self.phase = P_WAIT_RESP
        self.expire = 0.0
        self._request(b"", now, st.head, self.hold_stage)

    # ------------------------------------------------------------ server choice

    def _assign(self, now: float = 0.0) -> None:
        be = self.backend
        st = self.stream
        assert be is not None and st is not None
        if be.balancer is None or not (be.servers or be.dispatch):
            self._reply_error(503, "SC")
            return
        persist = be.persist
        srv = persist.server_for(st) if persist is not None else None  # cookie persistence
        if be.stick is not None:  # stick match / store-request (lb.stick_rules)
            srv = be.stick.request(st, srv)
        own = self.own_back
        if own is not None and srv is None and (be.prefer_last or self.prefer_own):
            # `option prefer-last-server` (or a server that asked for NTLM): the server
            # of this client's private connection first, unless the algorithm hashes;
            # when it is full, waiting for it while its queue is under
            # `max-keep-alive-queue` (no limit by default)
            last = own.server
            if last.proxy is be and be.lb_keeps_last and last.eligible:
                limit = be.max_ka_queue
                if not last.is_full:
                    be.take(last, False)  # (kept, not balanced: not counted in lbtot)
                    self._use_server(last, now)
                    return
                if limit == -1 or len(last.queue) < limit:
                    self._wait_in_queue(be, last)
                    return
        if srv is None or srv.is_full:
            srv = be.pick(st)
        if srv is None:
            if not be.has_usable_server():
                self._reply_error(503, "SC")
                return
            self._wait_in_queue(be)  # every usable server is full
            return
        be.take(srv)
        self._use_server(srv, now)

    def _wait_in_queue(self, be: Proxy, srv: Server | None = None) -> None:
        """Queue the stream on the backend (or on `srv` alone) for `timeout queue`."""
        self.stream.m_queue = 0.0  # type: ignore[union-attr]
        self.phase = P_QUEUE
        q = QueuedStream(self._granted, self._queue_expired, 0.0, self.stream)
        self.queued = q
        be.enqueue(q, srv)
        self._arm(be.t_queue)

    def _granted(self, srv: Server) -> None:
        self.queued = None
        if self.closed:
            self.backend.release(srv)  # type: ignore[union-attr]
            return
        self._use_server(srv)

    def _queue_expired(self) -> None:
        self.queued = None
        self._reply_error(503, "sQ")

    def _use_server(self, srv: Server, now: float = 0.0) -> None:
        """`now`: the time the server was chosen, when the caller has just read the clock."""
        st = self.stream
        assert st is not None
        if not now:
            now = time.monotonic()
        st.m_queue = now
        self.server = srv
        st.server = srv
        st.server_name = srv.name
        st.server_ip = srv.host
        st.server_port = srv.port
        st.srv_conn = srv.served
        sc = srv.counters
        sc.cum_sess += 1
        rc = sc.sess_rate  # RateCounter.add, inline
        now_sec = counters_mod._now_sec
        if rc.sec == now_sec:
            rc.curr += 1
        else:
            rc.add()
        sc.last_sess = now_sec
        if srv.served > sc.max_sess:
            sc.max_sess = srv.served
        sc.cur_sess = srv.served
        if srv.redir is not None and server_redirect(self, srv, st):  # `redir`
            return
        self._connect(srv, now)

    def _connect(self, srv: Server, now: float = 0.0) -> None:
        be = self.backend
        assert be is not None
        self.phase = P_CONNECT
        back = None
        mode = be.reuse_mode
        own = self.own_back
        if own is not None:  # http-reuse never: this client's own server connection
            self.own_back = None
            if own.server is srv and own.idle and own.usable():
                own.idle = False
                back = own
            else:
                own.close()
        elif mode == REUSE_ALWAYS or (mode != REUSE_NEVER and self.nreq > 1):
            back = _pop_idle(srv.idle, False)
        elif mode == REUSE_AGGRESSIVE:  # a first request: only a connection reused before
            back = _pop_idle(srv.idle, True)
        if back is not None:
            back.was_reused = True
            back.reuses += 1
            srv.counters.reuse += 1
            back.start_request(self, self.stream.method)  # type: ignore[union-attr]
            self.back = back
            self._connected(now)
            return
        back = BackConn(srv, self)
        back.start_request(self, self.stream.method)  # type: ignore[union-attr]
        self.back = back
        pp = proxy_line(srv, self)  # send-proxy[-v2]: header first, connection kept private
        if pp is not None:
            back.reusable = False
            back.write(pp)
        srv.counters.connect += 1
        self._arm(be.t_connect)
        loop = self.state.loop
        fut = loop.create_connection(
            lambda: back, srv.host, srv.port, **tls_connect_kwargs(self.state, srv)
        )
        task = loop.create_task(fut)
        back.connect_task = task
        task.add_done_callback(lambda t: self._connect_done(t, back))

    def _connect_done(self, task: asyncio.Task, back: BackConn) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if back is not self.back or self.closed or self.phase != P_CONNECT:
            if exc is None:
                back.close()
            return
        if exc is not None:
            self._connect_failed()
            return
        self._connected()

    def _connected(self, now: float = 0.0) -> None:
        st = self.stream
        back = self.back
        assert st is not None and back is not None
        if not now:
            now = time.monotonic()
        if self.server.observe:  # type: ignore[union-attr]
            self.server.observe_result(True, 4)  # type: ignore[union-attr]
        st.m_connect = now
        sock = back.sockname
        if sock is None and back.transport is not None:
            # asked once per connection (uvloop makes a getsockname call for each ask)
            sock = back.sockname = back.transport.get_extra_info("sockname")
        if isinstance(sock, tuple):
            st.backend_src_ip, st.backend_src_port = sock[0], sock[1]
        self.phase = P_WAIT_RESP
        out = self.out_head
        self.out_head = b""
        hdr = self.backend.send_name_header  # type: ignore[union-attr]
        if hdr is not None:  # set now: a retry on another server sends that one's name
            out = _with_server_name(out, hdr, self.server.name)  # type: ignore[union-attr]
        self.replay = out if self.req_done else None
        back.write(out)
        t = self.backend.t_server  # type: ignore[union-attr]
        self.expire = now + t if t else 0.0  # _arm, inline
        if self.reading_paused and len(self.buf) < self.bufsize:
            self.resume_client_reading()

    def _connect_failed(self, term: str = "SC") -> None:
        be, srv, st = self.backend, self.server, self.stream
        assert be is not None and srv is not None and st is not None
        if srv.observe:
            srv.observe_result(False, 4)
        self.back = None
        nxt = be.retry_target(st, srv, self.tries)
        if nxt is None:
            self._reply_error(503, term)
            return
        self.tries += 1
        if nxt is srv:
            self._connect(srv)
        else:
            self._use_server(nxt)

    # ------------------------------------------------------------ responses

    def send_interim(self, raw: bytes) -> None:
        if self.transport is not None:
            self.transport.write(raw)

    def response_head(self, head: Head, raw: bytes) -> float:
        """Send the response head `raw` (with any body bytes read with it). Returns the
        clock read for it, for a response that also ends in this read (0.0: not sent)."""
        st = self.stream
        assert st is not None
        now = time.monotonic()
        st.m_response = now
        st.status = head.status
        st.res_head = head
        if self.frontend.cap_res is not None:  # capture response header
            st.captured_response_headers = _captures(head, self.frontend.cap_res)
        if self.server is not None and self.server.observe:
            self.server.observe_status(head.status)
        if self.backend.res_work or self.frontend.res_work:  # type: ignore[union-attr]
            raw = on_response(self, st, head, raw)  # http-response rules, stick stores
            if raw is None:  # denied: an error page went out instead
                return 0.0
        self.phase = P_RESP
        self.resp_started = True
        st.bytes_out += len(raw)
        self.transport.write(raw)  # type: ignore[union-attr]
        t = self.backend.t_server  # type: ignore[union-attr]
        self.expire = now + t if t else 0.0  # _arm, inline
        return now

    def send_from_server(self, data: bytes) -> None:
        st = self.stream
        if st is not None:
            st.bytes_out += len(data)
            if self.cache_w is not None:  # `cache-store` keeps this response
                self.cache_w.feed(data)
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def response_done(self, back: BackConn, now: float = 0.0) -> None:
        """The response is complete (`now`: the clock, when read in the same callback)."""
        st = self.stream
        if st is None:
            return
        reuse = back.reusable and self.req_done and not self.srv_close
        if not now:
            now = time.monotonic()
        w = self.cache_w
        if w is not None:  # a response `cache-store` took is complete: it is kept
            self.cache_w = None
            w.commit()
        self._end_stream(reuse, now)
        if self.closed:
            return
        if not self.keep_alive or not self.req_done:
            self._close()
            return
        self.phase = P_IDLE
        self.m_idle_from = now
        t = self.frontend.t_keepalive
        self.expire = now + t if t else 0.0  # _arm, inline
        if self.reading_paused:
            self.resume_client_reading()
        if self.buf:
            self._next_request()

    def server_failed(self, status: int, term: str, raw: bytes = b"") -> None:
        be = self.backend
        if be is not None:
            be.be_counters.failed_resp += 1
        if self.server is not None:
            self.server.counters.failed_resp += 1
            if self.server.observe:
                self.server.observe_result(False, 7, term)
        if raw:
            self.state.errors.capture(be, "response", raw, self)
        if self.resp_started:
            self._abort_both(term)
        else:
            self._reply_error(status, term)

    def server_closed(self, back: BackConn) -> None:
        """The server closed before the response was complete."""
        if (
            back.was_reused
            and not back.got_bytes
            and self.tries < 1
            and self.server
            and self.replay is not None
        ):
            # an idle connection the server had already closed: resend on a fresh one
            self.tries += 1
            self.back = None
            self.out_head = self.replay
            self.replay = None
            self._connect(self.server)
            return
        if self.server is not None:
            self.server.counters.srv_aborts += 1
        if self.backend is not None:
            self.backend.be_counters.srv_aborts += 1
        if self.resp_started:
            self._abort_both("SD")
        else:
            self.server_failed(502, "SH")

    def abort_from_server(self) -> None:
        self._abort_both("SD")

    # ------------------------------------------------------------ tunnel (upgrade)

    def start_tunnel(self) -> None:
        self.phase = P_TUNNEL
        self.req_done = True
        self._arm(self.state.tunnel_timeout(self))
        if self.buf:
            data = bytes(self.buf)
            self.buf.clear()
            self.back.write(data)  # type: ignore[union-attr]

    def server_half_closed(self) -> None:
        if self.transport is not None and self.transport.can_write_eof():
            self.transport.write_eof()

    def tunnel_closed(self) -> None:
        self._end_stream(reuse=False)
        self._close()

    # ------------------------------------------------------------ endings

    def _end_stream(self, reuse: bool, now: float = 0.0) -> None:
        st = self.stream
        if st is None:
            return
        self.stream = None
        if self.queued is not None and self.backend is not None:
            self.backend.unqueue(self.queued)
            self.queued = None
        back = self.back
        self.back = None
        srv = self.server
        self.server = None
        be = self.backend
        if back is not None:
            if not reuse or srv is None or be is None:
                back.abort() if not reuse else back.close()
            elif (
                be.reuse_mode == REUSE_NEVER
                or self.prefer_own
                or (st.status in (401, 407) and _asks_ntlm(self, st))
            ):  # kept for this client's next request only (a private connection)
                if back.usable():
                    back.idle = True
                    self.own_back = back
                else:
                    back.close()
            # an idle connection lives as long as `timeout server` (10 s without one)
            elif not back.park(be.t_server or 10.0, now):
                back.close()
        # logged before the server slot is released: the counters include this stream
        self.state.stream_done(self, st, now)
        if srv is not None and be is not None:
            be.release(srv)
            srv.counters.cur_sess = srv.served

    def _close(self) -> None:
        self.phase = P_CLOSING
        self.expire = 0.0
        if self.transport is not None:
            self.transport.close()

    def _abort_both(self, term: str) -> None:
        st = self.stream
        if st is not None:
            st.term_state = term
        self._end_stream(reuse=False)
        self.closed_by_us()

    def closed_by_us(self) -> None:
        self.phase = P_CLOSING
        self.expire = 0.0
        if self.transport is not None:
            self.transport.abort()

    def _reply_error(self, status: int, term: str, count: bool = True) -> None:
        """Answer with HAProxy's error page for `status` and end the exchange.

        As HAProxy 2.6, the client connection stays open for its next request when
        the whole request was read (a 502, 503 or 504 is no reason to close), except
        after a 400 or 408 page, or a 502 for a server that closed without answering
        (HAProxy then ends the client connection too); the server connection is
        dropped either way."""
        st = self.stream
        fe = self.frontend
        # the backend's errorfiles once this request was routed, else the frontend's
        be = st.backend if st is not None else None
        page = (be or fe).error_page(status)
        keep = (
            self.keep_alive
            and st is not None
            and st.head is not None
            and self.req_done
            and status not in http_errors.ALWAYS_CLOSE
            and page not in http_errors.CLOSING_PAGES
        )
        # (the server that closed: HAProxy's page reads as kept alive, then it closes)
        looks_kept = keep
        if term == "SH":
            keep = False
        if not keep:
            self.keep_alive = False
        if st is not None:
            st.status = status
            st.term_state = term
            if fe.after_work:  # http-after-response rules (lb.rules_response)
                page = after_local(self, st, page)
        page = _local_connection(page, looks_kept, self.http10)
        if st is not None and count:
            st.bytes_out += len(page)
        if self.transport is not None and not self.closed:
            self.transport.write(page)
        self._end_stream(reuse=False)
        if not keep:
            self._close()
            return
        self.phase = P_IDLE
        self.m_idle_from = time.monotonic()
        self._arm(fe.t_keepalive)
        if self.buf:
            self.state.loop.call_soon(self._next_request)

    def _reject(self, status: int, term: str, raw: bytes, pos: int = 0) -> None:
        fe = self.frontend
        fe.fe_counters.failed_req += 1
        self.state.errors.capture(fe, "request", raw, self, pos)
        if self.stream is None:
            self.stream = Stream(self, self.m_idle_from or self.m_accept)
        if self.stream.head is None:
            # a request that could not be read: HAProxy logs -1 for Tr and 0 bytes
            self.stream.m_head = 0.0
            self._reply_error(status, term, count=False)
            return
        self._reply_error(status, term)

    def _log_bad(self, status: int, term: str, raw: bytes) -> None:
        st = Stream(self, self.m_idle_from or self.m_accept)
        st.status = status if status != 408 else -1
        st.term_state = term
        self.state.stream_done(self, st)

    def _answer(self, verdict: tuple) -> None:
        """A rule's answer; a tarpit's (5 items: the delay last) waits before it is sent."""
        if len(verdict) == 5:
            self.expire = 0.0
            st = self.stream
            self.state.loop.call_later(verdict[4], self._tarpit_end, st, verdict[:4])
            return
        self._local_response(*verdict)

    def _tarpit_end(self, st: Stream, verdict: tuple) -> None:
        if self.stream is st and not self.closed:
            self._local_response(*verdict)

    def _local_response(
        self,
        status: int,
        data: bytes,
        close: bool,
        term: str | None = None,
        logged: bool = True,
    ) -> None:
        """A response made by the proxy itself (http-request return/deny, monitor-uri).

        It keeps the connection, as HAProxy, unless `close` or the request asks
        otherwise or its body is not all here yet. Logged `term` (by default `PR`
        when closing, `LR` otherwise); `logged=False`: not logged (monitor-uri)."""
        st = self.stream
        assert st is not None
        st.status = status
        st.term_state = term or ("PR" if close else "LR")
        if not self.req_done:
            # skip a body that is already in the buffer, so the next request can be read
            if self.req_chunked is not None:
                try:
                    end, done = self.req_chunked.feed(self.buf, 0)
                except H1Error:
                    end, done = 0, False
                if done:
                    del self.buf[:end]
                    self.req_done = True
                    self.req_chunked = None
            elif len(self.buf) >= self.req_left:
                del self.buf[: self.req_left]
                self.req_left = 0
                self.req_done = True
        if close or not self.req_done or data in http_errors.CLOSING_PAGES:
            self.keep_alive = False
        if self.frontend.after_work and data:  # http-after-response rules
            data = after_local(self, st, data)
        data = _local_connection(data, self.keep_alive, self.http10)
        st.bytes_out += len(data)
        if self.transport is not None:
            self.transport.write(data)
        if not logged:
            self.stream = None
        self._end_stream(reuse=False)
        if not self.keep_alive:
            self._close()
            return
        self.phase = P_IDLE
        self.m_idle_from = time.monotonic()
        fe = self.frontend
        self._arm(fe.t_keepalive)
        if self.buf:
            self.state.loop.call_soon(self._next_request)

    # ------------------------------------------------------------ timeouts

    def on_timeout(self) -> None:
        phase = self.phase
        self.expire = 0.0
        if phase == P_IDLE:
            self._close()
        elif phase == P_HEAD:
            if self.nreq == 0 or self.buf:
                self._reject(408, "cR", bytes(self.buf))
                self.frontend.fe_counters.failed_req -= 0
            else:
                self._close()
        elif phase == P_QUEUE:
            if self.queued is not None and self.backend is not None:
                self.backend.unqueue(self.queued)
                self.queued = None
            self._reply_error(503, "sQ")
        elif phase == P_CONNECT:
            if self.back is not None:
                self.back.abort()
                self.back = None
            self._connect_failed_timeout()
        elif phase in (P_WAIT_RESP, P_RESP):
            if not self.req_done and phase == P_WAIT_RESP and self.back is None:
                self._reply_error(408, "cD")
            elif self.resp_started:
                self._abort_both("sD")
            else:
                if self.server is not None:
                    self.server.counters.failed_resp += 1
                self._reply_error(504, "sH")
        elif phase == P_TUNNEL:
            self._abort_both("sD")
        elif phase == P_BODY:  # the held body did not come in time
            self.frontend.fe_counters.failed_req += 1
            self._reply_error(408, "cR")
        else:
            if self.transport is not None:
                self.transport.abort()

    def _connect_failed_timeout(self) -> None:
        self._connect_failed("sC")


def _asks_ntlm(conn: FrontConn, st: Stream) -> bool:
    """A 401/407 whose challenge starts with `NTLM` or `Nego` (any case): HAProxy then
    keeps that server connection for this client alone, and its server for the next
    requests (connection-bound authentication)."""
    res = st.res_head
    if res is None:
        return False
    name = b"www-authenticate" if st.status == 401 else b"proxy-authenticate"
    for value in res.get_all(name):
        if value[:4].lower() in (b"ntlm", b"nego"):
            conn.prefer_own = True
            return True
    return False


def _captures(head: Head, caps: list[tuple[bytes, int]]) -> list[str | None]:
    """`capture … header`: the last occurrence of each header, cut to its length (a
    slot without a name is one that `… capture` rules fill: lb.captures)."""
    out: list[str | None] = []
    for name, length in caps:
        values = head.get_all(name) if name else None
        out.append(values[-1][:length].decode("latin-1") if values else None)
    return out


def _pop_idle(idle: list[BackConn], reused_only: bool) -> BackConn | None:
    """An idle server connection still open, taken from the server's pool (the most
    recently parked first; closed ones met on the way are dropped). `reused_only`: only
    one that has been reused before (`http-reuse aggressive` on a first request)."""
    i = len(idle) - 1
    while i >= 0:
        cand = idle[i]
        t = cand.transport  # BackConn.usable, inline
        usable = not cand.closed and t is not None and not t.is_closing()
        if not usable or not reused_only or cand.was_reused:
            del idle[i]
            cand.idle = False
            if usable:
                return cand
        i -= 1
    return None


def _without_close(data: bytes) -> bytes:
    """A local response without the `connection: close` line of a closing answer."""
    end = data.find(b"\r\n\r\n")
    i = data.find(b"\r\nconnection: close\r\n", 0, end + 2)
    return data if i < 0 else data[: i + 2] + data[i + 21 :]


def _with_server_name(out: bytes, hdr: tuple[bytes, bytes], name: str) -> bytes:
    """The request `out` (head, maybe body bytes after it) with every `hdr` line
    replaced by one naming the server, at the end of the head."""
    end = out.find(b"\r\n\r\n")
    if end < 0:
        return out
    lines = out[:end].split(b"\r\n")
    lname = hdr[1]
    kept = [ln for ln in lines[1:] if ln.split(b":", 1)[0].strip().lower() != lname]
    head = b"\r\n".join([lines[0], *kept, hdr[0] + b": " + name.encode()])
    return head + out[end:]


def _local_connection(data: bytes, keep: bool, http10: bool) -> bytes:
    """The `connection` header of a response lb makes, as HAProxy's HTTP/1 output sets
    it: kept alive, `keep-alive` when either side speaks HTTP/1.0 (else none);
    closing, `close` unless the response is HTTP/1.0 (closing is then implicit).
    Pages come in their closing form (`connection: close` for HTTP/1.1)."""
    resp10 = data.startswith(b"HTTP/1.0")
    if keep:
        data = _without_close(data)
        return _with_connection(data, b"keep-alive") if http10 or resp10 else data
    return data if resp10 or not data else _with_connection(data, b"close")


def _with_connection(data: bytes, value: bytes) -> bytes:
    """A local response with a `connection` header, unless it already has one."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or b"\nconnection:" in data[:end].lower():
        return data
    return data[: end + 2] + b"connection: " + value + b"\r\n" + data[end + 2 :]
