"""One request/response exchange (HTTP) or one connection (TCP): what the log
line, `show sess` and the counters need to know about it."""

from __future__ import annotations

import time
from typing import Any


class Stream:
    """Timers are monotonic seconds; the log-facing `t_*` fields are derived ms."""

    # `show sess`: each stream gets the next unique id and remembers the dump epoch
    # current at its birth (both are process-wide counters, as HAProxy's).
    last_uniq_id = -1
    sess_epoch = 0

    # What every stream sets lives in slots (a stream sets some 45 fields; an instance dict
    # that large is slow to fill and to read); the rest keeps class-level defaults and goes
    # to the instance dict only when set.
    __slots__ = (
        "sid",
        "epoch",
        "client_ip",
        "client_port",
        "frontend_ip",
        "frontend_port",
        "accept_time",
        "m_accept",
        "m_start",
        "request_time",
        "frontend",
        "frontend_name",
        "backend_name",
        "backend_src_ip",
        "backend_src_port",
        "server_ip",
        "server_port",
        "backend",
        "server",
        "server_name",
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
        "actconn",
        "feconn",
        "beconn",
        "srv_conn",
        "srv_queue",
        "backend_queue",
        "method",
        "uri",
        "http_version",
        "m_head",
        "m_queue",
        "m_connect",
        "m_response",
        "head",
        "res_head",
        "__dict__",
    )

    # Defaults of the rarer fields live on the class: a new stream only sets what differs.
    frontend_is_ssl: Any = False
    t_handshake: Any = 0
    term_state: Any = "--"
    retries: Any = 0
    redispatched: Any = False
    captured_request_headers: Any = None
    captured_response_headers: Any = None
    unique_id: Any = None
    ssl_version: Any = None
    ssl_cipher: Any = None
    vars: Any = None
    sc: Any = None

    def __init__(self, conn: Any, m_start: float) -> None:
        Stream.last_uniq_id += 1
        self.sid = Stream.last_uniq_id
        self.epoch = Stream.sess_epoch
        self.client_ip = conn.client_ip
        self.client_port = conn.client_port
        self.frontend_ip = conn.frontend_ip
        self.frontend_port = conn.frontend_port
        self.accept_time = conn.accept_time
        self.m_accept = conn.m_accept
        self.m_start = m_start
        self.request_time = conn.accept_time + (m_start - conn.m_accept)
        fe = conn.frontend
        self.frontend = fe
        self.frontend_name = fe.name
        self.backend_name = fe.name
        self.backend_src_ip = "-"
        self.backend_src_port = 0
        self.server_ip = "-"
        self.server_port = 0
        self.backend = None
        self.server = None
        self.server_name = "<NOSRV>"
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
        self.actconn = 0
        self.feconn = 0
        self.beconn = 0
        self.srv_conn = 0
        self.srv_queue = 0
        self.backend_queue = 0
        self.method = b""
        self.uri = b""
        self.http_version = b"HTTP/1.1"
        self.m_head = 0.0
        self.m_queue = 0.0
        self.m_connect = 0.0
        self.m_response = 0.0
        self.head = None
        self.res_head = None

    def __getattr__(self, name: str) -> Any:
        # only for a slot never set: a subclass that skips __init__ (lb.rules_tcp.Session)
        try:
            return _SLOT_DEFAULTS[name]
        except KeyError:
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute '{name}'"
            ) from None

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


_SLOT_DEFAULTS: dict[str, Any] = {
    "backend_src_ip": "-",
    "backend_src_port": 0,
    "server_ip": "-",
    "server_port": 0,
    "backend": None,
    "server": None,
    "server_name": "<NOSRV>",
    "t_idle": 0,
    "t_request": -1,
    "t_queue": -1,
    "t_connect": -1,
    "t_response": -1,
    "t_active": -1,
    "t_total": -1,
    "status": -1,
    "bytes_out": 0,
    "bytes_in": 0,
    "actconn": 0,
    "feconn": 0,
    "beconn": 0,
    "srv_conn": 0,
    "srv_queue": 0,
    "backend_queue": 0,
    "method": b"",
    "uri": b"",
    "http_version": b"HTTP/1.1",
    "m_head": 0.0,
    "m_queue": 0.0,
    "m_connect": 0.0,
    "m_response": 0.0,
    "head": None,
    "res_head": None,
}
