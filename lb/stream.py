"""One request/response exchange (HTTP) or one connection (TCP): what the log
line, `show sess` and the counters need to know about it."""

from __future__ import annotations

import time
from typing import Any


class Stream:
    """Timers are monotonic seconds; the log-facing `t_*` fields are derived ms."""

    __slots__ = (
        "sid",
        "client_ip",
        "client_port",
        "frontend_ip",
        "frontend_port",
        "backend_src_ip",
        "backend_src_port",
        "server_ip",
        "server_port",
        "accept_time",
        "request_time",
        "frontend_name",
        "frontend_is_ssl",
        "backend_name",
        "server_name",
        "t_handshake",
        "t_idle",
        "t_request",
        "t_queue",
        "t_connect",
        "t_response",
        "t_active",
        "t_total",
        "status",
        "bytes_out",
        "bytes_in",
        "term_state",
        "actconn",
        "feconn",
        "beconn",
        "srv_conn",
        "retries",
        "redispatched",
        "srv_queue",
        "backend_queue",
        "captured_request_headers",
        "captured_response_headers",
        "method",
        "uri",
        "http_version",
        "unique_id",
        "ssl_version",
        "ssl_cipher",
        # monotonic marks
        "m_accept",
        "m_start",
        "m_head",
        "m_queue",
        "m_connect",
        "m_response",
        "frontend",
        "backend",
        "server",
        "head",
        "vars",
        "epoch",
        "sc",  # stick counters tracked by this stream: [(table, entry, tracker) | None] * 3
        "res_head",  # the response head, for res.* fetches and http-response rules
    )

    # `show sess`: each stream gets the next unique id and remembers the dump epoch
    # current at its birth (both are process-wide counters, as HAProxy's).
    last_uniq_id = -1
    sess_epoch = 0

    def __init__(self, conn: Any, m_start: float) -> None:
        Stream.last_uniq_id += 1
        self.sid = Stream.last_uniq_id
        self.epoch = Stream.sess_epoch
        self.client_ip = conn.client_ip
        self.client_port = conn.client_port
        self.frontend_ip = conn.frontend_ip
        self.frontend_port = conn.frontend_port
        self.backend_src_ip = "-"
        self.backend_src_port = 0
        self.server_ip = "-"
        self.server_port = 0
        self.accept_time = conn.accept_time
        self.m_accept = conn.m_accept
        self.m_start = m_start
        self.request_time = conn.accept_time + (m_start - conn.m_accept)
        fe = conn.frontend
        self.frontend = fe
        self.frontend_name = fe.name
        self.frontend_is_ssl = False
        self.backend = None
        self.server = None
        self.backend_name = fe.name
        self.server_name = "<NOSRV>"
        self.t_handshake = 0
        self.t_idle = 0
        self.t_request = -1
        self.t_queue = -1
        self.t_connect = -1
        self.t_response = -1
        self.t_active = -1
        self.t_total = -1
        self.status = -1
        self.bytes_out = 0
        self.bytes_in = 0
        self.term_state = "--"
        self.actconn = 0
        self.feconn = 0
        self.beconn = 0
        self.srv_conn = 0
        self.retries = 0
        self.redispatched = False
        self.srv_queue = 0
        self.backend_queue = 0
        self.captured_request_headers = None
        self.captured_response_headers = None
        self.method = b""
        self.uri = b""
        self.http_version = b"HTTP/1.1"
        self.unique_id = None
        self.ssl_version = None
        self.ssl_cipher = None
        self.m_head = 0.0
        self.m_queue = 0.0
        self.m_connect = 0.0
        self.m_response = 0.0
        self.head = None
        self.vars: dict[str, Any] | None = None
        self.sc: list[Any] | None = None
        self.res_head = None

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
