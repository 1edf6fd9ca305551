"""The per-stream object a compiled log format reads (duck-typed)."""

from __future__ import annotations

from typing import Protocol


class LogContext(Protocol):
    """What the proxy hands to a compiled log format; any object with these attributes.

    Addresses: ``*_ip`` are text ("-" or "" when unset, which logs "-"); ``*_port`` ints.
    Times: ``accept_time`` / ``request_time`` are ``time.time()`` values. Timers are
    per-phase durations in ms, -1 when the phase was never reached (HAProxy's
    ``Th Ti TR Tw Tc Tr Ta Tt``); ``t_active`` is Ta (Tt - Th - Ti), ``t_total`` Tt.
    ``status`` is -1 when no response was produced in HTTP; HAProxy logs 0 in TCP
    mode, so pass 0 there. ``term_state`` is the two session-state chars ("--",
    "CD", ...); %tsc appends "--" for the cookie chars. ``method`` empty (b"") means
    the request line was bad or absent: HTTP fields then log ``<BADREQ>``.
    ``captured_*_headers`` is None (or empty) when the frontend captures nothing or
    no request was parsed; an element is None when the header was absent. Header
    text is expected as latin-1-decoded bytes (one char per byte).

    Optional attributes read with a default when a format uses them:
    ``captured_request_cookie`` / ``captured_response_cookie`` (str|None, %CC %CS),
    ``request_counter`` (int, %rt), ``log_counter`` (int, %lc).
    """

    client_ip: str
    client_port: int
    frontend_ip: str
    frontend_port: int
    backend_src_ip: str
    backend_src_port: int
    server_ip: str
    server_port: int
    accept_time: float
    request_time: float
    frontend_name: str
    frontend_is_ssl: bool
    backend_name: str
    server_name: str
    t_handshake: int
    t_idle: int
    t_request: int
    t_queue: int
    t_connect: int
    t_response: int
    t_active: int
    t_total: int
    status: int
    bytes_out: int
    bytes_in: int
    term_state: str
    actconn: int
    feconn: int
    beconn: int
    srv_conn: int
    retries: int
    redispatched: bool
    srv_queue: int
    backend_queue: int
    captured_request_headers: list[str | None] | None
    captured_response_headers: list[str | None] | None
    method: bytes
    uri: bytes
    http_version: bytes
    unique_id: str | None
    ssl_version: str | None
    ssl_cipher: str | None
