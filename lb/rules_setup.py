"""The per-proxy hooks the client side calls, built once at start-up.

`lb.state` calls `build_proxy` for every proxy after its `http-request`
rules. It leaves on the proxy:

- `conn_hook(conn) -> bool`: `tcp-request connection|session` rules at
  accept (False: rejected, the connection is being closed);
- `req_hook(conn, st, head) -> bool`: per stream, before `http-request`
  (the session's counters and vars, `tcp-request content`, `monitor-uri`,
  `unique-id-format` and `unique-id-header`); True when it answered;
- `stick`: the stick rules (`lb.stick_rules`), consulted at server choice;
- `http_res_rules`, `http_after_rules` and `res_work` (whether the response
  head needs `lb.rules_response.on_response` at all).

Each is None (or False) when the proxy has nothing of the kind, so a proxy
without these features pays one attribute test per connection or request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lb import rules_response, rules_tcp, stick_rules
from lb.acl import AclSet
from lb.http import errors as http_errors
from lb.sample import BuildCtx, building, compile_sample_for_log


def build_proxy(state: Any, p: Any, acls: AclSet) -> None:
    rules_response.build_proxy(p, acls)
    conn_rules, content_rules = rules_tcp.compile_tcp(p, acls)
    p.stick = stick_rules.build(p, acls) if p.is_backend else None
    st = p.stick
    p.res_work = bool(
        p.http_res_rules is not None
        or p.http_after_rules is not None
        or (st is not None and (st.store_req or st.store_res))
    )
    p.conn_hook = _conn_hook(p, conn_rules) if conn_rules is not None and p.is_frontend else None
    uid = _unique_id(state, p) if p.is_frontend else None
    monitor = p.conf.monitor_uri if p.is_frontend and p.mode == "http" else None
    if conn_rules is None and content_rules is None and uid is None and monitor is None:
        p.req_hook = None
    else:
        p.req_hook = _req_hook(p, content_rules, uid, monitor)


def _conn_hook(p: Any, rules: Callable[[Any, Any], Any]) -> Callable[[Any], bool]:
    counters = p.fe_counters

    def hook(conn: Any) -> bool:
        sess = rules_tcp.Session(conn)
        conn.sess = sess
        if rules(sess, None) == rules_tcp.REJECT:
            counters.denied_conn += 1
            if conn.transport is not None:
                conn.transport.abort()
            return False
        sess.counted()
        return True

    return hook


def _unique_id(state: Any, p: Any) -> Callable[[Any], str] | None:
    fmt = p.conf.unique_id_format
    if not fmt:
        return None
    from lb.log import compile_log_format

    with building(BuildCtx(state, p, p.conf.where, (1 << 29, 0))):
        try:
            render = compile_log_format(fmt, compile_sample_for_log, http_mode=p.mode == "http")
        except ValueError as exc:
            raise p.conf.where.error(f"failed to parse unique-id-format : {exc}") from None
    return render


def _req_hook(
    p: Any,
    content: Callable[[Any, Any], Any] | None,
    uid: Callable[[Any], str] | None,
    monitor: str | None,
) -> Callable[[Any, Any, Any], bool]:
    fc = p.fe_counters
    mon = monitor.encode("latin-1") if monitor else None
    hdr = p.conf.unique_id_header
    hdr_b = hdr.encode("latin-1") + b": " if hdr and uid is not None else None

    def hook(conn: Any, st: Any, head: Any) -> bool:
        sess = getattr(conn, "sess", None)
        if sess is not None:
            sess.attach(st)
        if content is not None and content(st, head) == rules_tcp.REJECT:
            fc.denied_req += 1
            if head is None:  # TCP
                conn._fail("PR")
            else:
                conn._local_response(-1, b"", True)
            return True
        if head is None:
            return False
        if mon is not None and (head.uri == mon or head.path == mon):
            _monitor_reply(conn, st)
            return True
        if uid is not None:
            st.unique_id = uid(st)
            if hdr_b is not None:
                raw = head.raw
                cut = len(raw) - (2 if raw.endswith(b"\r\n") else 1)
                value = st.unique_id.encode("latin-1", "replace")
                head.raw = raw[:cut] + hdr_b + value + b"\r\n" + raw[cut:]
                head._headers = None
        return False

    return hook


_MONITOR_OK = http_errors.error_response(200)


def _monitor_reply(conn: Any, st: Any) -> None:
    """`monitor-uri`: answer 200 at once; the request is neither forwarded nor logged."""
    conn.frontend.fe_counters.intercepted += 1
    conn.stream = None
    conn.keep_alive = False
    if conn.transport is not None and not conn.closed:
        conn.transport.write(_MONITOR_OK)
    conn._close()
