"""`capture cookie`, capture slots and `option logasap`, as HAProxy 2.6 logs them.

Capture slots: `capture request|response header`, `declare capture` and the
`http-request|tcp-request content capture … len N` rules of a frontend each take
the next slot of their direction, in the order they are written (the parser
records them in `ProxyConf.capture_request|response`; a header-less slot has an
empty name). `%hr` / `%hs` print every slot of the frontend; `… capture … id N`
rules (in the frontend or its backends) fill slot N, cut to that slot's length.

`capture cookie NAME len N`: the first request cookie (after the frontend's
`http-request` rules, or when one denies) and the first `Set-Cookie` whose
`name=value` text starts with NAME, spaces around `=` dropped, cut to N (at most
63, HAProxy's `tune.http.cookielen`): `%CC` / `%CS`, `-` when none matched.

`option logasap`: the line goes out once the response head has been handled
(HTTP) or the server connection is up (TCP); Tt, Ta, Tu and B then carry a `+`.
Everything here is built once per frontend; a frontend without these features
gets no hook at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

COOKIE_MAX = 63  # HAProxy's default tune.http.cookielen


def sample_text(v: Any) -> str:
    """A sample's value as a capture stores it (bytes kept one char per byte)."""
    if isinstance(v, bytes | bytearray):
        return bytes(v).decode("latin-1")
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _pair(part: bytes) -> bytes | None:
    """`name=value` of one cookie with the spaces around both trimmed (None: no `=`)."""
    name, eq, value = part.partition(b"=")
    if not eq:
        return None
    return name.strip(b" \t") + b"=" + value.strip(b" \t")


def request_cookie(values: list[bytes], prefix: bytes, length: int) -> str | None:
    """The first cookie of the `Cookie` header values starting with `prefix`.

    `;` and `,` both end a cookie on the request side (as HAProxy's parser)."""
    for value in values:
        for part in value.replace(b",", b";").split(b";"):
            text = _pair(part)
            if text is not None and text.startswith(prefix):
                return text[:length].decode("utf-8", "surrogateescape")
    return None


def response_cookie(values: list[bytes], prefix: bytes, length: int) -> str | None:
    """The first `Set-Cookie` value whose cookie (before any attribute) starts with
    `prefix`; a comma does not separate cookies there (dates hold commas)."""
    for value in values:
        text = _pair(value.split(b";", 1)[0])
        if text is not None and text.startswith(prefix):
            return text[:length].decode("utf-8", "surrogateescape")
    return None


# ------------------------------------------------------------------ build time


def build(p: Any) -> None:
    """Install the capture hooks of frontend `p` (after its rules are compiled)."""
    p.res_cookie_capture = None
    p.log_asap = None
    if not p.is_frontend or p.mode != "http":
        return
    cc = p.conf.capture_cookie
    if cc is None:
        return
    prefix = cc[0].encode("latin-1")
    length = min(cc[1], COOKIE_MAX)
    rules = p.http_req_rules

    def req_rules_then_cookie(st: Any, head: Any) -> Any:
        verdict = rules(st, head) if rules is not None else None
        # captured once the rules allowed the request, or when one denied it
        if verdict is None or (len(verdict) >= 4 and verdict[3] == "PR"):
            values = head.get_all(b"cookie")
            if values:
                st.captured_request_cookie = request_cookie(values, prefix, length)
        return verdict

    def res_cookie(st: Any, head: Any) -> None:
        values = head.get_all(b"set-cookie")
        if values:
            st.captured_response_cookie = response_cookie(values, prefix, length)

    p.http_req_rules = req_rules_then_cookie
    p.res_cookie_capture = res_cookie
    p.res_work = True


def with_response_slots(p: Any, render: Callable[[Any], str]) -> Callable[[Any], str]:
    """`%hs` of a request answered by the proxy itself (deny, errors) still shows the
    frontend's (empty) response slots, as HAProxy allocates them with the stream."""
    n = len(p.cap_res or ())
    if not n:
        return render

    def render_with_slots(st: Any) -> str:
        if st.captured_response_headers is None and st.method:
            st.captured_response_headers = [None] * n
        return render(st)

    return render_with_slots


def build_logasap(state: Any, p: Any, log_stream: Callable[[Any], None]) -> None:
    """`option logasap`: `p.log_asap(conn, stream, pending)` logs a stream early
    (`pending`: bytes about to be sent, counted in B) and silences its final line."""

    nolognull = bool(p.conf.options.get("dontlognull"))

    def log_asap(conn: Any, st: Any, pending: int) -> None:
        if nolognull and st.bytes_in == 0 and st.status <= 0:
            return  # nothing from the client yet: left to the end of the stream
        now = time.monotonic()
        base = st.m_start
        m_head, m_queue, m_connect = st.m_head, st.m_queue, st.m_connect
        if m_head:
            st.t_request = int((m_head - base) * 1000)
            if m_queue:
                st.t_queue = int((m_queue - m_head) * 1000)
        if m_connect and m_queue:
            st.t_connect = int((m_connect - m_queue) * 1000)
            if st.m_response:
                st.t_response = int((st.m_response - m_connect) * 1000)
        st.t_active = int((now - base) * 1000)
        st.t_total = st.t_active + st.t_idle + st.t_handshake
        st.actconn = state.actconn
        st.feconn = p.feconn
        be = st.backend
        if be is not None:  # the stream still holds its server slot: counted
            st.beconn = be.beconn
            st.backend_queue = len(be.queue)
            srv = st.server
            if srv is not None:
                st.srv_queue = len(srv.queue)
                st.srv_conn = srv.served
        st.bytes_out += pending
        try:
            log_stream(st)
        finally:
            st.bytes_out -= pending
        st.log_level = -1  # the end of the stream logs nothing more

    p.log_asap = log_asap
    if p.mode == "http":
        p.res_work = True  # the early line goes out from lb.rules_response.on_response
