"""The live state: every proxy, server and listener built from one model.

All doors (listeners, the stats socket, the master) work on this object.
Building never re-reads text; starting opens sockets and timers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from lb import acl_setup, rules_setup
from lb import counters as counters_mod
from lb.acl import AclError, AclSet, compile_condition
from lb.config.errors import ConfigError
from lb.config.model import Config, ProxyConf
from lb.errors_capture import ErrorCapture
from lb.http import compression, h1
from lb.http import errors as http_errors
from lb.listener import IN_FLIGHT, Listener, open_listen_socket
from lb.persist import build_persist
from lb.proxy import Proxy
from lb.rules import compile_http_request
from lb.rules_extra import stream_done as stick_stream_done
from lb.stream import Stream

SWEEP_INTERVAL = 0.05
monotonic = time.monotonic


class State:
    def __init__(self, cfg: Config, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.cfg = cfg
        self.loop: asyncio.AbstractEventLoop = loop  # type: ignore[assignment]
        self.pid = os.getpid()
        self.start_time = time.time()
        self.start_mono = time.monotonic()
        g = cfg.global_
        self.maxconn = g.maxconn or 4096
        self.hard_maxconn = self.maxconn
        self.bufsize = g.bufsize
        # the head limits of the HTTP/1 parsers: bufsize - maxrewrite, http.maxhdr
        h1.configure(
            g.bufsize, g.tune.get("maxrewrite"), g.tune.get("http.maxhdr", h1.DEFAULT_MAXHDR)
        )
        self.actconn = 0
        self.cum_conns = 0
        self.cum_reqs = 0
        self.conn_rate = counters_mod.RateCounter()
        self.sess_rate = counters_mod.RateCounter()
        self.req_rate = counters_mod.RateCounter()
        self.rate_limit_sessions = g.rate_limit_sessions
        self.rate_limit_connections = g.rate_limit_connections
        self.conns: set[Any] = set()
        self.queued: set[Any] = set()
        self.proxies: list[Proxy] = []
        self.by_name: dict[str, Proxy] = {}
        self.listeners: list[Listener] = []
        self.errors = ErrorCapture()
        self.stopping = False
        self.stopped = asyncio.Event() if loop is not None else None
        self.global_logger: Any = None
        self.checks: list[Any] = []
        self.cli_servers: list[Any] = []
        self.sweeper: asyncio.TimerHandle | None = None
        self.quiet = False
        self.on_empty: Callable[[], None] | None = None
        self.next_sid = 0
        self.email_alerts: dict[int, Any] = {}  # id(proxy): its `email-alert` queues
        self._build()

    @property
    def now_sec(self) -> int:
        return counters_mod.now_sec()

    # ------------------------------------------------------------ building

    def _build(self) -> None:
        from lb import prometheus  # noqa: F401  (registers `use-service prometheus-exporter`)
        from lb.logsetup import build_global_logger, build_proxy_logging

        cfg = self.cfg
        self.global_logger = build_global_logger(cfg.global_, self)
        for pc in cfg.proxies:
            p = Proxy(self, pc)
            self.proxies.append(p)
            self.by_name.setdefault(pc.name, p)
        acl_setup.build_tables(self)
        backends = {p.name: p for p in self.proxies if p.is_backend}
        for p in self.proxies:
            pc = p.conf
            p.error_page = self._error_pages(pc)  # type: ignore[method-assign]
            p.http_keepalive = not pc.options.get("httpclose")
            p.forwardfor = _header_opt(pc.options.get("forwardfor"))
            p.originalto = _header_opt(pc.options.get("originalto"))
            acls = acl_setup.proxy_acls(self, p)
            p.rate_limit_sessions = pc.rate_limit_sessions if p.is_frontend else 0
            if p.is_backend:
                p.server_sockopts = self._sockopts(p, "srv")
            try:
                p.http_req_rules = compile_http_request(pc.http_request, acls, p)
            except ConfigError:
                raise
            rules_setup.build_proxy(self, p, acls)  # responses, tcp rules, stick, monitor, ids
            if p.is_frontend:
                p.route = self._router(p, pc, backends, acls)  # type: ignore[method-assign]
            p.persist = build_persist(p, acls)  # cookie persistence
            compression.build_proxy(p)  # `compression algo|type|offload`
            # no forwardfor/originalto/persistence: the request head goes out as received
            p.plain_out = p.forwardfor is None and p.originalto is None and p.persist is None
            with acl_setup.logging_ctx(self, p):
                build_proxy_logging(p, self)
        acl_setup.finish(self)
        compression.finish(self.proxies)  # which frontends may compress at all
        for p in self.proxies:
            p.was_available = p.has_usable_server()
        from lb import stats_page  # `stats uri`: the page answers before routing

        stats_page.install(self)
        from lb.tls import build as build_tls  # certificates, keys, staples: `lb -c` sees them

        build_tls(self)
        from lb.mailers import build_email_alerts

        self.email_alerts = build_email_alerts(self)  # `email-alert`: mails on server changes

    def _error_pages(self, pc: ProxyConf) -> Callable[[int], bytes]:
        pages: dict[int, bytes] = {}
        for status, path in pc.errorfiles.items():
            try:
                pages[status] = http_errors.errorfile_page(http_errors.load_errorfile(path))
            except (OSError, ValueError) as exc:
                raise pc.where.error(
                    f"'errorfile' : error while reading file '{path}' : {exc}",
                ) from None

        def error_page(status: int) -> bytes:
            page = pages.get(status)
            return page if page is not None else http_errors.error_response(status)

        return error_page

    def _router(
        self, p: Proxy, pc: ProxyConf, backends: dict[str, Proxy], acls: AclSet
    ) -> Callable[[Stream, Any], Proxy | None]:
        rules: list[tuple[Callable[[Any], bool] | None, Proxy]] = []
        for r in pc.use_backends:
            name = r.words[0]
            be = backends.get(name)
            if be is None:
                continue
            try:
                acls.where = r.where  # type: ignore[attr-defined]
                cond = compile_condition(list(r.words[1:]), acls) if len(r.words) > 1 else None
            except AclError as exc:
                raise r.where.error(
                    f"error detected while parsing switching rule : {exc}.",
                ) from None
            rules.append((cond, be))
        default = None
        if pc.default_backend is not None:
            default = backends.get(pc.default_backend[0])
        elif p.is_backend:
            default = p
        if not rules:
            return lambda st, head: default

        def route(st: Stream, head: Any) -> Proxy | None:
            for cond, be in rules:
                if cond is None or cond(st):
                    return be
            return default

        return route

    # ------------------------------------------------------------ running

    def _sockopts(self, p: Proxy, side: str) -> dict[str, Any] | None:
        """Socket settings of a proxy's connections on one side (`cli`: the clients,
        set on the listening sockets, which accepted ones inherit; `srv`: each new
        server connection): `option tcpka|clitcpka|srvtcpka` with their `-cnt|idle|
        intvl`, `tune.rcvbuf|sndbuf.client|server` and `option nolinger`."""
        o, tune = p.conf.options, self.cfg.global_.tune
        own = f"{side}tcpka"
        out: dict[str, Any] = {}
        if o.get(own) or (o.get("tcpka") and o.get(own) is not False):
            out["so-keepalive"] = tuple(o.get(f"{own}-{k}") for k in ("cnt", "idle", "intvl"))
        peer = "client" if side == "cli" else "server"
        for key in ("rcvbuf", "sndbuf"):
            if tune.get(f"{key}.{peer}"):
                out[f"so-{key}"] = tune[f"{key}.{peer}"]
        if o.get("nolinger"):
            out["so-nolinger"] = True
        return out or None

    def open_sockets(self, inherited: dict[str, Any] | None = None) -> list[Any]:
        """Bind every listener (or take inherited sockets); returns the sockets."""
        from lb.cli import _say

        socks = []
        for p in self.proxies:
            if not p.is_frontend or p.conf.disabled:
                continue
            client = self._sockopts(p, "cli")
            for b in p.conf.binds:
                opts = {**b.options, **client} if client else b.options
                for a in b.addrs:
                    key = _sock_key(a)
                    sock = inherited.pop(key, None) if inherited else None
                    if sock is None:
                        warnings: list[str] = []
                        backlog = p.conf.backlog or p.maxconn or 1024
                        try:
                            sock = open_listen_socket(a, backlog, opts, warnings)
                        except OSError as exc:
                            raise b.where.error(
                                f"Starting {p.conf.kind} {p.name}: cannot bind socket "
                                f"({exc.strerror}) [{_addr_text(a)}]",
                            ) from None
                        for w in warnings:  # what the system refused of the bind's options
                            _say(
                                "WARNING",
                                f"Binding [{b.where}] for {p.conf.kind} {p.name}: {w} "
                                f"for [{_addr_text(a)}]",
                                self.quiet,
                            )
                    socks.append((p, b, a, sock))
        return socks

    def start(self, loop: asyncio.AbstractEventLoop, socks: list[Any]) -> None:
        from lb.http.front import FrontConn
        from lb.tcp import TcpConn

        self.loop = loop
        self.stopped = asyncio.Event()
        for p, b, a, sock in socks:
            ssl_ctx = None
            if b.options.get("ssl"):
                from lb.tls import make_server_context

                ssl_ctx = make_server_context(b, self)
            cls = FrontConn if p.mode == "http" else TcpConn

            def factory(lst: Listener, p: Proxy = p, cls: Any = cls) -> Any:
                return cls(self, p, lst)

            if b.options.get("accept-proxy"):  # PROXY header first, then TLS if any
                from lb.proxy_accept import wrap_factory

                factory, ssl_ctx = wrap_factory(factory, p, ssl_ctx), None  # type: ignore[assignment]
            lst = Listener(loop, sock, factory, b.name, b.maxconn, ssl_ctx, a)
            lst.gate = self._accept_gate if not p.rate_limit_sessions else self._proxy_gate(p)
            p.listeners.append(lst)
            self.listeners.append(lst)
            lst.start()
        for p in self.proxies:
            for s in p.servers:
                if s.check_enabled:
                    self._start_check(p, s)
                if s.options.get("agent-check"):
                    from lb.checks.setup_extra import start_agent

                    start_agent(self, p, s)
        from lb.server_state import apply_server_state

        apply_server_state(self)  # `load-server-state-from-file`: weights, states, addresses
        from lb.dns.client import start_resolvers

        start_resolvers(self)  # `resolvers`: server names resolved again in the background
        self.sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep)

    def _accept_gate(self) -> int:
        """How many connections may be accepted now under `set rate-limit
        connections|sessions global` (and maxconnrate/maxsessrate): -1 for no limit.
        Those accepted but not yet counted (`IN_FLIGHT`) use up the room too."""
        room = -1
        for limit, rate in (
            (self.rate_limit_connections, self.conn_rate),
            (self.rate_limit_sessions, self.sess_rate),
        ):
            if limit:
                left = max(limit - rate.rate() - IN_FLIGHT.n, 0)
                room = left if room < 0 else min(room, left)
        return room

    def _proxy_gate(self, p: Proxy) -> Callable[[], int]:
        """The accept gate of a frontend with `rate-limit sessions`: the global limits,
        and its own session rate."""
        limit, rate, outer = p.rate_limit_sessions, p.fe_counters.sess_rate, self._accept_gate

        def gate() -> int:
            left = max(limit - rate.rate() - IN_FLIGHT.n, 0)
            room = outer()
            return left if room < 0 else min(room, left)

        return gate

    def _start_check(self, p: Proxy, s: Any) -> None:
        from lb.checksetup import start_check

        chk = start_check(self, p, s)
        if chk is not None:
            self.checks.append(chk)

    def _sweep(self) -> None:
        counters_mod.tick()
        acl_setup.sweep(self)
        now = time.monotonic()
        for c in [c for c in self.conns if c.expire and c.expire <= now]:
            if c.expire and c.expire <= now:
                try:
                    c.on_timeout()
                except Exception as exc:  # never let one connection stop the sweeper
                    self.notify("alert", f"internal error on timeout: {exc!r}", None)
        for p in self.proxies:
            for s in p.servers:
                if s.idle:
                    for b in [b for b in s.idle if b.idle_expire <= now]:
                        s.idle.remove(b)
                        b.idle = False
                        b.close()
        if self.global_logger is not None:
            self.global_logger.flush()
        if self.stopping:
            self.check_empty()
        self.sweeper = self.loop.call_later(SWEEP_INTERVAL, self._sweep)

    # ------------------------------------------------------------ accounting

    def conn_opened(self, conn: Any) -> None:
        self.conns.add(conn)
        self.actconn += 1
        self.cum_conns += 1
        fe = conn.frontend
        fe.feconn += 1
        c = fe.fe_counters
        c.cum_conn += 1
        c.cur_sess += 1  # a session starts
        c.cum_sess += 1
        if c.cur_sess > c.max_sess:
            c.max_sess = c.cur_sess
        now_sec = counters_mod._now_sec
        c.last_sess = now_sec
        for rc in (self.conn_rate, self.sess_rate, c.conn_rate, c.sess_rate):
            if rc.sec == now_sec:  # RateCounter.add, inline
                rc.curr += 1
            else:
                rc.add()
        if fe.maxconn and fe.feconn >= fe.maxconn:
            for lst in fe.listeners:
                lst.pause("fe-maxconn")
        if self.actconn >= self.maxconn:
            for lst in self.listeners:
                lst.pause("global-maxconn")

    def conn_closed(self, conn: Any) -> None:
        if conn not in self.conns:
            return
        self.conns.discard(conn)
        self.actconn -= 1
        fe = conn.frontend
        fe.feconn -= 1
        fe.fe_counters.cur_sess = fe.feconn
        conn.listener.connection_gone()
        if fe.maxconn and fe.feconn < fe.maxconn and not fe.paused:
            for lst in fe.listeners:
                if "fe-maxconn" in lst.paused_by:
                    lst.resume("fe-maxconn")
        if self.actconn < self.maxconn:
            for lst in self.listeners:
                if "global-maxconn" in lst.paused_by:
                    lst.resume("global-maxconn")
        self.check_empty()

    def check_empty(self) -> None:
        """A stopping worker ends once no connection is open or still being accepted."""
        if self.stopping and not self.conns and not IN_FLIGHT.n and self.on_empty:
            done, self.on_empty = self.on_empty, None
            done()

    def stream_done(self, conn: Any, st: Stream, now: float = 0.0) -> None:
        """Counters and the log line of a finished exchange.

        The busiest function after the parsers: `Stream.finish`, HAProxy's session
        counters and its sliding time averages are written out inline here."""
        if not now:
            now = monotonic()
        # Stream.finish, inline: the millisecond timers from the monotonic marks
        base = st.m_start
        m_head = st.m_head
        m_queue = st.m_queue
        m_connect = st.m_connect
        tq = tc = tr = -1
        if m_head and m_queue:
            tq = int((m_queue - m_head) * 1000)
        if m_connect and m_queue:
            tc = int((m_connect - m_queue) * 1000)
            if st.m_response:
                tr = int((st.m_response - m_connect) * 1000)
        ta = int((now - base) * 1000)
        tt = ta + st.t_idle + st.t_handshake
        fe = conn.frontend
        fc = fe.fe_counters
        b_in = st.bytes_in
        b_out = st.bytes_out
        fc.bytes_in += b_in
        fc.bytes_out += b_out
        status = st.status
        hrsp = -1  # the status class slot in `hrsp`: 1xx … 5xx, then other
        if status > 0:
            c = status // 100
            hrsp = c - 1 if 1 <= c <= 5 else 5
            if fe.mode == "http":
                fc.hrsp[hrsp] += 1
        be = st.backend
        if be is not None:
            bc = be.be_counters
            now_sec = counters_mod._now_sec
            bc.cum_sess += 1
            if be is not fe:
                # a backend session starts (cur_sess is then the backend's count)
                if bc.cur_sess + 1 > bc.max_sess:
                    bc.max_sess = bc.cur_sess + 1
                bc.cur_sess = be.beconn
            rc = bc.sess_rate
            if rc.sec == now_sec:
                rc.curr += 1
            else:
                rc.add()
            bc.last_sess = now_sec
            bc.bytes_in += b_in
            bc.bytes_out += b_out
            if hrsp >= 0 and be.mode == "http":
                bc.hrsp[hrsp] += 1
            else:
                hrsp = -1
            srv = st.server
            if srv is not None:
                sc = srv.counters
                sc.bytes_in += b_in
                sc.bytes_out += b_out
                if hrsp >= 0:
                    sc.hrsp[hrsp] += 1
                # HAProxy's sliding averages over 1024 samples (SlidingAverage.add, inline:
                # `(sum + 1023) >> 10` is its `(sum + n - 1) // n`), server then backend
                for c in (sc, bc):
                    if tq >= 0:
                        avg = c.qtime
                        s = avg.sum
                        avg.sum = s + tq - ((s + 1023) >> 10)
                        if tq > c.qtime_max:
                            c.qtime_max = tq
                    if tc >= 0:
                        avg = c.ctime
                        s = avg.sum
                        avg.sum = s + tc - ((s + 1023) >> 10)
                        if tc > c.ctime_max:
                            c.ctime_max = tc
                    if tr >= 0:
                        avg = c.rtime
                        s = avg.sum
                        avg.sum = s + tr - ((s + 1023) >> 10)
                        if tr > c.rtime_max:
                            c.rtime_max = tr
                    avg = c.ttime
                    s = avg.sum
                    avg.sum = s + tt - ((s + 1023) >> 10)
                    if tt > c.ttime_max:
                        c.ttime_max = tt
        log = fe.log_stream
        if log is not None:
            # what only the log line reads: the timers and the counts at the end
            if m_head:
                st.t_request = int((m_head - base) * 1000)
            st.t_queue, st.t_connect, st.t_response = tq, tc, tr
            st.t_active, st.t_total = ta, tt
            st.actconn = self.actconn
            st.feconn = fe.feconn
            if be is not None:
                # haproxy logs once the stream has left its server: without its own slot
                st.beconn = be.beconn
                st.backend_queue = len(be.queue)
                srv = st.server
                if srv is not None:  # (it holds a slot until just after this)
                    st.srv_queue = len(srv.queue)
                    st.beconn -= 1
                    st.srv_conn = srv.served - 1
            log(st)
        if st.sc is not None:  # after the log line, which may read the counters
            stick_stream_done(st)

    def notify(self, level: str, msg: str, proxy: Any) -> None:
        """A process notice: stderr in HAProxy's format, the log targets, and the
        proxy's email alert when it calls for one."""
        from lb.logsetup import emit_notice

        emit_notice(self, level, msg, proxy)
        if self.email_alerts:
            from lb.mailers import email_alert

            email_alert(self, msg, proxy)

    def tunnel_timeout(self, conn: Any) -> float:
        be = conn.backend
        fe = conn.frontend
        t = be.timeout("tunnel") if be is not None else 0
        if t:
            return t
        return max(fe.timeout("client"), be.timeout("server") if be is not None else 0)

    # ------------------------------------------------------------ stopping

    def stop_listening(self) -> None:
        for lst in self.listeners:
            lst.pause("stopping")
        self.stopping = True

    def close_listeners(self) -> None:
        for lst in self.listeners:
            lst.close()
        self.listeners = []

    def stop_checks(self) -> None:
        for chk in self.checks:
            chk.stop()
        self.checks = []
        from lb.dns.client import stop_resolvers
        from lb.mailers import stop_email_alerts

        stop_resolvers(self)
        stop_email_alerts(self)

    def close_cli(self) -> None:
        for srv in self.cli_servers:
            srv.close()
        self.cli_servers = []

    def shutdown(self) -> None:
        self.stop_listening()
        self.stop_checks()
        if self.sweeper is not None:
            self.sweeper.cancel()
        for c in list(self.conns):
            if c.transport is not None:
                c.transport.abort()
        for p in self.proxies:
            for s in p.servers:
                s.drop_idle()
        if self.global_logger is not None:
            self.global_logger.flush()


def _header_opt(opt: Any) -> dict[str, Any] | None:
    if not opt or opt is True:
        if opt is True:
            opt = {}
        else:
            return None
    name = opt.get("header", "X-Forwarded-For")
    exc = opt.get("except")
    skip: Callable[[str], bool]
    if exc:
        net = ipaddress.ip_network(exc, strict=False)

        def skip(ip: str, net: Any = net) -> bool:
            try:
                return ipaddress.ip_address(ip) in net
            except ValueError:
                return False
    else:
        skip = lambda ip: False  # noqa: E731
    return {
        "name": name.encode(),
        "lname": name.lower().encode(),
        "skip": skip,
        "if_none": bool(opt.get("if-none")),
    }


def _sock_key(a: Any) -> str:
    if a.family == "unix":
        return f"unix@{a.path}"
    if a.family == "fd":
        return f"fd@{a.fd}"
    return f"{a.family}@{a.host}:{a.port}"


def _addr_text(a: Any) -> str:
    if a.family == "unix":
        return a.path
    if a.family == "fd":
        return f"fd@{a.fd}"
    return f"{a.host}:{a.port}"


def print_err(msg: str) -> None:
    sys.stderr.write(msg)
