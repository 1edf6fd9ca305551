"""A live proxy: a frontend, a backend, or both (`listen`).

The frontend side owns listeners, its connection count and `maxconn`; the
backend side owns servers, the balancer and the queue. Streams ask the
backend for a server with `assign` and give it back with `release`; a stream
that finds every server full waits in the queue until a slot frees or
`timeout queue` expires.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from lb.balance import make_balancer
from lb.balance.base import ConnTrackingNoop
from lb.counters import Counters
from lb.server import Server
from lb.server_minconn import new_server

if TYPE_CHECKING:
    from lb.config.model import ProxyConf
    from lb.state import State

# http-reuse: whether a request may take an idle connection another client used
REUSE_NEVER, REUSE_SAFE, REUSE_AGGRESSIVE, REUSE_ALWAYS = range(4)
_REUSE_MODES = {
    "never": REUSE_NEVER,
    "safe": REUSE_SAFE,
    "aggressive": REUSE_AGGRESSIVE,
    "always": REUSE_ALWAYS,
}

PR_CAP_FE = 0x01
PR_CAP_BE = 0x02


class QueuedStream:
    """A stream waiting for a server: `grant(srv)` or `expire()` ends the wait."""

    __slots__ = ("grant", "expire", "since", "deadline", "done", "ctx", "server")

    def __init__(self, grant: Any, expire: Any, deadline: float, ctx: Any) -> None:
        self.grant = grant
        self.expire = expire
        self.since = time.monotonic()
        self.deadline = deadline
        self.done = False
        self.ctx = ctx
        self.server: Server | None = None


class Proxy:
    # `option srvtcpka`, `tune.*.server`: socket settings of each new server connection
    # (State.build sets them where configured)
    server_sockopts: dict[str, Any] | None = None

    def __init__(self, state: State, conf: ProxyConf) -> None:
        self.state = state
        self.conf = conf
        self.name = conf.name
        self.puid = conf.puid
        self.mode = conf.mode
        self.cap = (PR_CAP_FE if conf.is_frontend else 0) | (PR_CAP_BE if conf.is_backend else 0)
        self.options = conf.options
        self.timeouts = conf.timeouts
        self._timeouts_s = {k: v / 1000.0 for k, v in conf.timeouts.items()}
        # the timeouts the hot path arms, resolved once (seconds, 0 = none)
        t = self._timeouts_s.get
        self.t_request = t("http-request", 0.0) or t("client", 0.0)
        self.t_keepalive = t("http-keep-alive", 0.0) or self.t_request
        self.t_client = t("client", 0.0)
        self.t_server = t("server", 0.0)
        self.t_connect = t("connect", 0.0)
        self.t_queue = t("queue", 0.0) or self.t_connect
        self.fe_counters = Counters()
        self.be_counters = Counters()
        # a frontend without its own maxconn gets the process's, as in HAProxy
        self.maxconn = conf.maxconn or (state.maxconn if conf.is_frontend else 0)
        self.feconn = 0
        self.beconn = 0
        self.disabled = conf.disabled
        self.paused = False
        self.stopped = False
        self.listeners: list[Any] = []
        self.retries = conf.retries
        self.servers: list[Server] = (
            [new_server(self, s) for s in conf.servers] if self.is_backend else []
        )
        self.queue: deque[QueuedStream] = deque()
        self.balancer = (
            make_balancer(
                conf.balance[0],
                list(conf.balance[1]),
                list(conf.hash_type),
                self.servers,
                bool(conf.options.get("allbackups")),
            )
            if self.is_backend
            else None
        )
        # roundrobin & co ignore connection counts: take/release skip telling them
        self.bal_counts_conns = self.balancer is not None and not isinstance(
            self.balancer, ConnTrackingNoop
        )
        self.dispatch: Server | None = None  # `dispatch` without `balance`
        if conf.dispatch is not None and self.is_backend and not conf.balance_set:
            from lb.server_dispatch import setup_dispatch

            setup_dispatch(self)
        self.last_change = time.monotonic()
        self.down_trans = 0
        self.was_available = True
        self.default_backend: Proxy | None = None
        # filled at build time by lb.state / lb.rules
        self.http_req_rules: Any = None
        self.switching_rules: list[Any] = []
        self.logger: Any = None
        self.log_format: Any = None
        self.error_pages: dict[int, bytes] = {}
        self.forwardfor: dict[str, Any] | None = None
        self.originalto: dict[str, Any] | None = None
        self.http_keepalive = True
        self.log_stream: Any = None
        self.persist: Any = None  # lb.persist: cookie persistence (set at build time)
        self.plain_out = True  # the request head is forwarded unchanged (set at build time)
        # `compression` (lb.http.compression, set at build time)
        self.comp_algos: list[Any] = []
        self.comp_types: list[bytes] = []
        self.comp_offload = False
        self.comp_any = False  # it or a backend has algorithms: responses are looked at
        self.comp_offload_any = False
        # httpclose / http-server-close: one server connection per request (either side)
        opts = conf.options
        self.server_close = bool(opts.get("httpclose") or opts.get("http-server-close"))
        # option accept-invalid-http-request|response: lb.http.h1 parses heads `relaxed`
        self.accept_invalid_req = bool(opts.get("accept-invalid-http-request"))
        self.accept_invalid_resp = bool(opts.get("accept-invalid-http-response"))
        self.buffer_request = bool(opts.get("http-buffer-request"))
        # a client holding a private server connection (`http-reuse never`, NTLM) sends
        # its next request to that server with `option prefer-last-server` (or after an
        # NTLM challenge), unless the algorithm hashes
        self.lb_keeps_last = conf.balance[0] in ("roundrobin", "static-rr", "leastconn", "first")
        self.prefer_last = self.lb_keeps_last and bool(opts.get("prefer-last-server"))
        self.max_ka_queue = conf.max_ka_queue  # max-keep-alive-queue (-1: no limit)
        # `http-send-name-header NAME`: (name as sent: lower case, as HAProxy sends
        # it; the same to match the lines it replaces) or None
        name = conf.options.get("send-name-header")
        self.send_name_header = (name.lower().encode(),) * 2 if name else None
        self.reuse_mode = _REUSE_MODES.get(conf.http_reuse, REUSE_SAFE)
        # `capture request|response header`: (lower-case name, length) lists, or None
        self.cap_req = [(n.encode("latin-1"), k) for n, k in conf.capture_request] or None
        self.cap_res = [(n.encode("latin-1"), k) for n, k in conf.capture_response] or None
        self.cap_extra = 0  # request capture slots of `http-request capture … len N`

    def route(self, st: Any, head: Any) -> Proxy | None:
        """The backend for a stream; replaced at build time by the compiled rules."""
        return self if self.is_backend else None

    def error_page(self, status: int) -> bytes:
        from lb.http.errors import error_response

        return error_response(status)

    # ------------------------------------------------------------ capabilities

    @property
    def is_frontend(self) -> bool:
        return bool(self.cap & PR_CAP_FE)

    @property
    def is_backend(self) -> bool:
        return bool(self.cap & PR_CAP_BE)

    def timeout(self, name: str) -> float:
        """A timeout in seconds (0 means none)."""
        return self._timeouts_s.get(name, 0.0)

    def server(self, name: str) -> Server | None:
        for s in self.servers:
            if s.name == name:
                return s
        return None

    # ------------------------------------------------------------ backend side

    def servers_changed(self) -> None:
        if self.balancer is not None:
            self.balancer.rebuild()

    def has_usable_server(self) -> bool:
        return any(s.eligible for s in self.servers)

    def check_no_server_left(self) -> None:
        avail = self.has_usable_server()
        if self.was_available and not avail:
            self.down_trans += 1
            self.last_change = time.monotonic()
            self.state.notify("alert", f"backend '{self.name}' has no server available!", self)
        elif avail and not self.was_available:
            self.last_change = time.monotonic()
        self.was_available = avail

    def pick(self, ctx: Any, avoid: Server | None = None) -> Server | None:
        """A server with a free slot, or None (none usable, or all full)."""
        bal = self.balancer
        srv = bal.pick(ctx, avoid)
        if srv is None or not srv.maxconn or srv.served < srv.maxconn:  # not srv.is_full
            return srv
        for _ in range(len(self.servers)):
            srv = bal.pick(ctx, srv)
            if srv is None or not srv.is_full:
                return srv
        return None

    def retry_target(self, st: Any, srv: Server, tries: int) -> Server | None:
        """After a failed connect (`tries` retries done so far): the server to try next,
        or None to give up. Counts the failure, the retry and a redispatch (on the last
        retry with `option redispatch`, another server is taken)."""
        srv.counters.failed_conns += 1
        self.be_counters.failed_conns += 1
        if tries >= self.retries:
            return None
        st.retries += 1
        srv.counters.retries += 1
        self.be_counters.retries += 1
        if tries + 1 == self.retries and self.options.get("redispatch") and len(self.servers) > 1:
            other = self.pick(st, srv)
            if other is not None and other is not srv:
                self.release(srv)
                self.take(other)
                st.redispatched = True
                other.counters.redispatches += 1
                self.be_counters.redispatches += 1
                return other
        return srv

    def take(self, srv: Server, balanced: bool = True) -> None:
        """`srv` serves one more stream; `balanced`: the algorithm chose it (lbtot)."""
        srv.served += 1
        self.beconn += 1
        if balanced:
            srv.counters.cum_lbconn += 1
            self.be_counters.cum_lbconn += 1
        if self.bal_counts_conns:
            self.balancer.on_take(srv)

    def release(self, srv: Server) -> None:
        srv.served -= 1
        self.beconn -= 1
        if self.bal_counts_conns:
            self.balancer.on_release(srv)
        if srv.queue or self.queue:
            self.dequeue(srv)
        else:  # what dequeue leaves when nobody waits
            srv.counters.nbpend = 0
            self.be_counters.nbpend = 0

    def enqueue(self, q: QueuedStream, srv: Server | None = None) -> None:
        target = srv.queue if srv is not None else self.queue
        target.append(q)
        n = len(target)
        c = srv.counters if srv is not None else self.be_counters
        c.nbpend = n
        if n > c.nbpend_max:
            c.nbpend_max = n
        self.state.queued.add(q)

    def dequeue(self, srv: Server) -> None:
        """A slot may have freed on `srv`: hand it to the oldest waiter."""
        while (srv.queue or self.queue) and srv.eligible and not srv.is_full:
            src = srv.queue if srv.queue else self.queue
            q = src.popleft()
            self.state.queued.discard(q)
            if q.done:
                continue
            q.done = True
            self.take(srv)
            q.grant(srv)
        srv.counters.nbpend = len(srv.queue)
        self.be_counters.nbpend = len(self.queue)

    def unqueue(self, q: QueuedStream) -> None:
        q.done = True
        self.state.queued.discard(q)
        try:
            self.queue.remove(q)
        except ValueError:
            for s in self.servers:
                try:
                    s.queue.remove(q)
                    break
                except ValueError:
                    pass
        self.be_counters.nbpend = len(self.queue)

    # ------------------------------------------------------------ frontend side

    def pause(self) -> None:
        self.paused = True
        for lst in self.listeners:
            lst.pause()

    def resume(self) -> None:
        self.paused = False
        for lst in self.listeners:
            lst.resume()

    def stop_from_cli(self) -> None:
        """`shutdown frontend`: close the listeners for good and log it like HAProxy."""
        self.stopped = True
        for lst in self.listeners:
            lst.close()
            if lst in self.state.listeners:
                self.state.listeners.remove(lst)
        self.listeners = []
        self.state.notify(
            "notice",
            f"Proxy {self.name} stopped (cumulated conns: FE: {self.fe_counters.cum_conn}, "
            f"BE: {self.be_counters.cum_conn}).",
            self,
        )
