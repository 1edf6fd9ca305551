"""One request/response exchange (HTTP) or one connection (TCP): what the log
line, `show sess` and the counters need to know about it."""

from __future__ import annotations

import time
from typing import Any


class StreamIds:
    """`show sess`: each stream gets the next unique id and remembers the dump epoch
    current at its birth (both process-wide, as HAProxy's). Kept off the Stream class:
    writing a class attribute per request would void the type's attribute cache."""

    __slots__ = ("last", "epoch")

    def __init__(self) -> None:
        self.last = -1
        self.epoch = 0


IDS = StreamIds()


class Stream:
    """Timers are monotonic seconds; the log-facing `t_*` fields are derived ms."""

    # Defaults live on the class: a new stream only sets what differs (cheaper per request).
    backend_src_ip: Any = "-"
    backend_src_port: Any = 0
    server_ip: Any = "-"
    server_port: Any = 0
    frontend_is_ssl: Any = False
    backend: Any = None
    server: Any = None
    server_name: Any = "<NOSRV>"
    t_handshake: Any = 0
    t_idle: Any = 0
    t_request: Any = -1
    t_queue: Any = -1
    t_connect: Any = -1
    t_response: Any = -1
    t_active: Any = -1
    t_total: Any = -1
    status: Any = -1
    bytes_out: Any = 0
    bytes_in: Any = 0
    term_state: Any = "--"
    actconn: Any = 0
    feconn: Any = 0
    beconn: Any = 0
    srv_conn: Any = 0
    retries: Any = 0
    redispatched: Any = False
    srv_queue: Any = 0
    backend_queue: Any = 0
    captured_request_headers: Any = None
    captured_response_headers: Any = None
    method: Any = b""
    uri: Any = b""
    http_version: Any = b"HTTP/1.1"
    unique_id: Any = None
    req_body: Any = None  # the body held by `option http-buffer-request` (req.body)
    ssl_version: Any = None
    ssl_cipher: Any = None
    m_head: Any = 0.0
    m_queue: Any = 0.0
    m_connect: Any = 0.0
    m_response: Any = 0.0
    head: Any = None
    vars: Any = None
    sc: Any = None
    res_head: Any = None
    log_level: Any = None  # set by `set-log-level` (-1: silent)
    comp_algo: Any = None  # the compression algorithm's name when the response is compressed
    comp_sel: Any = None  # (algorithm or None,): chosen at routing (`compression offload`)

    def __init__(self, conn: Any, m_start: float) -> None:
        ids = IDS
        ids.last += 1
        self.sid = ids.last
        self.epoch = ids.epoch
        self.conn = conn
        self.m_start = m_start
        fe = conn.frontend
        self.frontend = fe
        self.backend_name = fe.name

    # --- what the connection knows (read through it: a stream per request stays cheap)

    @property
    def client_ip(self) -> Any:
        return self.conn.client_ip

    @property
    def client_port(self) -> Any:
        return self.conn.client_port

    @property
    def frontend_ip(self) -> Any:
        return self.conn.frontend_ip

    @property
    def frontend_port(self) -> Any:
        return self.conn.frontend_port

    @property
    def accept_time(self) -> float:
        return self.conn.accept_time

    @property
    def m_accept(self) -> float:
        return self.conn.m_accept

    @property
    def request_time(self) -> float:
        conn = self.conn
        return conn.accept_time + (self.m_start - conn.m_accept)

    @property
    def frontend_name(self) -> str:
        return self.frontend.name

    # --- balancer PickContext -------------------------------------------------

    @property
    def src(self) -> str:
        return self.client_ip

    def get_header(self, lname: bytes) -> bytes | None:
        return self.head.get(lname) if self.head is not None else None

    # --- timers -------------------------------------------------------------------

    def finish(self, now: float | None = None) -> None:
        """Fill the millisecond timers from the monotonic marks."""
        if now is None:
            now = time.monotonic()
        base = self.m_start
        if self.m_head:
            self.t_request = int((self.m_head - base) * 1000)
        if self.m_queue and self.m_head:
            self.t_queue = int((self.m_queue - self.m_head) * 1000)
        if self.m_connect and self.m_queue:
            self.t_connect = int((self.m_connect - self.m_queue) * 1000)
        if self.m_response and self.m_connect:
            self.t_response = int((self.m_response - self.m_connect) * 1000)
        self.t_active = int((now - base) * 1000)
        self.t_total = self.t_active + self.t_idle + self.t_handshake
