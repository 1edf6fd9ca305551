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
from lb.acl import AclError, AclSet, compile_condition
from lb.http import errors as http_errors
from lb.sample import BuildCtx, building, compile_sample_for_log


def build_proxy(state: Any, p: Any, acls: AclSet) -> None:
    rules_response.build_proxy(p, acls)
    conn_rules, content_rules = rules_tcp.compile_tcp(p, acls)
    p.tcp_content = content_rules  # TCP mode: run by lb.tcp (inspect-delay, backend side)
    if content_rules is not None and p.is_backend and p.mode == "http":
        p.http_req_rules = _backend_content(p, content_rules, p.http_req_rules)
    p.stick = stick_rules.build(p, acls) if p.is_backend else None
    st = p.stick
    p.res_work = bool(
        p.http_res_rules is not None
        or p.http_after_rules is not None
        or (st is not None and (st.store_req or st.store_res))
    )
    # a frontend's own responses (return, deny, error pages) need http-after-response
    # work when it or any backend it may use has such rules
    p.after_work = p.is_frontend and (
        p.http_after_rules is not None
        or any(q.conf.http_after_response for q in state.proxies if q.is_backend)
    )
    p.conn_hook = _conn_hook(p, conn_rules) if conn_rules is not None and p.is_frontend else None
    uid = _unique_id(state, p) if p.is_frontend else None
    monitor = p.conf.monitor_uri if p.is_frontend and p.mode == "http" else None
    fail = _monitor_fail(p, acls)
    if conn_rules is None and content_rules is None and uid is None and monitor is None:
        p.req_hook = None
    else:
        p.req_hook = _req_hook(p, content_rules, uid, monitor, fail)


def _backend_content(
    p: Any, content: Callable[[Any, Any], Any], http_rules: Callable | None
) -> Callable[[Any, Any], Any]:
    """HTTP mode: a backend's `tcp-request content` rules run when the backend is
    chosen, before its `http-request` rules (a `listen` section's own frontend ran
    them already, in the request hook)."""
    reject = (-1, b"", True)  # as the `reject` action: the connection is closed

    def run(st: Any, head: Any) -> Any:
        if st.frontend is not p and content(st, head) == rules_tcp.REJECT:
            st.frontend.fe_counters.denied_req += 1
            p.be_counters.denied_req += 1
            return reject
        return http_rules(st, head) if http_rules is not None else None

    return run


def _monitor_fail(p: Any, acls: AclSet) -> Callable[[Any], bool] | None:
    """`monitor fail if|unless COND` (any number of lines): true when one matches."""
    conds = []
    for r in p.conf.extra.get("monitor", ()):
        words = list(r.words)
        if not words or words[0] != "fail":
            raise r.where.error("'monitor' only supports 'fail'.")
        if len(words) < 2 or words[1] not in ("if", "unless"):
            raise r.where.error(
                "'monitor fail' requires either 'if' or 'unless' followed by a condition."
            )
        acls.where = r.where
        try:
            conds.append(compile_condition(words[1:], acls))
        except (AclError, ValueError) as exc:
            raise r.where.error(
                f"error detected while parsing a 'monitor fail' condition : {exc}"
            ) from None
    if not conds:
        return None
    if len(conds) == 1:
        return conds[0]
    return lambda st: any(c(st) for c in conds)


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
    fail: Callable[[Any], bool] | None = None,
) -> Callable[[Any, Any, Any], bool]:
    fc = p.fe_counters
    mon = monitor.encode("latin-1") if monitor else None
    hdr = p.conf.unique_id_header
    hdr_b = hdr.encode("latin-1") + b": " if hdr and uid is not None else None

    def hook(conn: Any, st: Any, head: Any) -> bool:
        sess = getattr(conn, "sess", None)
        if sess is not None:
            sess.attach(st)
        if head is None:  # TCP: lb.tcp runs the content rules (they may wait for data)
            return False
        if content is not None and content(st, head) == rules_tcp.REJECT:
            fc.denied_req += 1
            conn._local_response(-1, b"", True)
            return True
        if mon is not None and (head.uri == mon or head.path == mon):
            _monitor_reply(conn, st, 503 if fail is not None and fail(st) else 200)
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


_MONITOR_PAGES = {200: http_errors.error_response(200), 503: http_errors.error_response(503)}


def _monitor_reply(conn: Any, st: Any, status: int = 200) -> None:
    """`monitor-uri`: answer at once (503 when a `monitor fail` condition holds, else
    200), after the `http-after-response` rules; the request is neither forwarded
    nor logged."""
    conn.frontend.fe_counters.intercepted += 1
    # (http-after-response rules run there; the connection stays open when it may)
    conn._local_response(status, _MONITOR_PAGES[status], False, logged=False)
