"""`http-response` and `http-after-response` actions, compiled per proxy.

Each proxy gets at most two callables, `run(st, head)` over the response
head (`lb.http.h1.Head`), built like `lb.rules` builds `http-request`:
actions register in `HTTP_RESPONSE_ACTIONS` (and the subset allowed after
the response in `HTTP_AFTER_ACTIONS`), a rule that does not apply costs one
condition call. A callable returns None (go on), `STOP` (allow: no more
rules of this proxy) or a deny status.

`on_response(conn, st, head, raw)` is what the client side calls when a
proxy involved has response work: the stick-store rules, the backend's
`http-response` rules, then the frontend's (HAProxy evaluates the response
with the backend first), then `http-after-response` (backend, frontend). Actions
edit the parsed header list; the raw head is written again once, at the
end, and only when something changed (DESIGN principle 5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lb.acl import AclSet
from lb.config.model import Rule
from lb.http import cache as cache_actions
from lb.http import errors as http_errors
from lb.http.h1 import H1Error, Head, find_head_end, parse_response_head
from lb.rules import HTTP_REQUEST_ACTIONS, STOP, compile_rule_steps
from lb.rules_extra import _fmt, capture_builder, replace_in_headers, replace_parts, track_setup

Action = Callable[[Any, Head], Any]
ActionBuilder = Callable[[list[str], Rule, Any], tuple[Action, list[str]]]

HTTP_RESPONSE_ACTIONS: dict[str, ActionBuilder] = {}
HTTP_AFTER_ACTIONS: dict[str, ActionBuilder] = {}


def res_action(*names: str, after: bool = True) -> Callable[[ActionBuilder], ActionBuilder]:
    def deco(fn: ActionBuilder) -> ActionBuilder:
        for n in names:
            HTTP_RESPONSE_ACTIONS[n] = fn
            if after:
                HTTP_AFTER_ACTIONS[n] = fn
        return fn

    return deco


# ------------------------------------------------------------------ head rewriting


class ResEdit:
    """A response head being edited: the status line (the header list is the Head's own,
    so the rules after an edit read the edited headers); written once, at the end."""

    __slots__ = ("status", "reason")

    def __init__(self, head: Head) -> None:
        self.status = head.status
        self.reason = head.reason


def _edit(st: Any, head: Head) -> ResEdit:
    ed = st.res_edit
    if ed is None:
        ed = st.res_edit = ResEdit(head)
    return ed


def headers_of(st: Any, head: Head) -> list[tuple[bytes, bytes]]:
    return head.headers()


def _set_headers(st: Any, head: Head, hs: list[tuple[bytes, bytes]]) -> None:
    _edit(st, head)
    head._headers = hs


def write_edit(head: Head, ed: ResEdit) -> bytes:
    """The new raw head for an edited response (and the Head brought up to date)."""
    reason = ed.reason
    first = head.version + b" " + str(ed.status).encode() + (b" " + reason if reason else b"")
    lines = [first] + [n + b": " + v for n, v in head.headers()]
    raw = b"\r\n".join(lines) + b"\r\n\r\n"
    head.raw = raw
    head.status = ed.status
    head.reason = reason
    return raw


def _header_builder(kind: str) -> ActionBuilder:
    def build(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
        if not args or (kind != "del" and len(args) < 2):
            raise ValueError(f"'{rule.words[0]}' expects exactly 2 arguments.")
        name = args[0].encode("latin-1")
        lname = name.lower()
        if kind == "del":
            rest = args[1:]
            if len(rest) >= 2 and rest[0] == "-m":
                rest = rest[2:]

            def run_del(st: Any, head: Head) -> None:
                hs = headers_of(st, head)
                if any(n.lower() == lname for n, _ in hs):
                    _set_headers(st, head, [(n, v) for n, v in hs if n.lower() != lname])

            return run_del, rest
        value = _fmt(args[1], proxy, rule)

        def run(st: Any, head: Head) -> None:
            v = value(st)
            hs = head.headers()
            if kind == "set":
                hs = [(n, x) for n, x in hs if n.lower() != lname]
            _set_headers(st, head, [*hs, (name, v)])

        return run, args[2:]

    return build


res_action("set-header")(_header_builder("set"))
res_action("add-header")(_header_builder("add"))
res_action("del-header")(_header_builder("del"))


def _replace_builder(full: bool) -> ActionBuilder:
    def build(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
        lname, rx, repl_fmt = replace_parts(args, rule, proxy)

        def run(st: Any, head: Head) -> None:
            hs = headers_of(st, head)
            if not any(n.lower() == lname for n, _ in hs):
                return
            out = replace_in_headers(hs, lname, rx, repl_fmt(st), full)
            if out is not None:
                _set_headers(st, head, out)

        return run, args[3:]

    return build


res_action("replace-header")(_replace_builder(True))
res_action("replace-value")(_replace_builder(False))


@res_action("set-status")
def _set_status(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    try:
        status = int(args[0])
    except (IndexError, ValueError):
        raise ValueError("expects an HTTP status code.") from None
    if not 100 <= status <= 999:
        raise ValueError(f"invalid status code '{args[0]}'.")
    rest = args[1:]
    reason = http_errors.reason(status).encode()
    if len(rest) >= 2 and rest[0] == "reason":
        reason = rest[1].encode("latin-1")
        rest = rest[2:]

    def run(st: Any, head: Head) -> None:
        ed = _edit(st, head)
        ed.status = status
        ed.reason = reason
        st.status = status

    return run, rest


@res_action("allow")
def _allow(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    return (lambda st, head: STOP), args


@res_action("deny", after=False)
def _deny(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    status = 502
    rest = args
    if len(args) >= 2 and args[0] == "deny_status":
        status = int(args[1])
        rest = args[2:]
    return (lambda st, head: status), rest


def _res_capture(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    """`http-response capture <sample> id <N>`: response capture slot N (lb.captures)."""
    return capture_builder(args, rule, proxy, response=True)


HTTP_RESPONSE_ACTIONS["capture"] = HTTP_AFTER_ACTIONS["capture"] = _res_capture

# variables and log level: the http-request builders work on any stream
for _n in ("set-var(", "unset-var(", "set-log-level"):
    HTTP_RESPONSE_ACTIONS[_n] = HTTP_AFTER_ACTIONS[_n] = HTTP_REQUEST_ACTIONS[_n]
for _n in ("sc-inc-gpc0(", "sc-inc-gpc1(", "sc-set-gpt0("):
    HTTP_RESPONSE_ACTIONS[_n] = HTTP_REQUEST_ACTIONS[_n]


def _track_builder(n: int) -> ActionBuilder:
    """`http-response track-scN KEY [table T]`: track without counting a request."""

    def build(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
        attach, _table, _trk, rest = track_setup(n, args, rule, proxy)

        def run(st: Any, head: Head) -> None:
            attach(st)

        return run, rest

    return build


for _i in range(3):
    HTTP_RESPONSE_ACTIONS[f"track-sc{_i}"] = _track_builder(_i)

cache_actions.register()  # `http-request cache-use`, `http-response cache-store`


# ------------------------------------------------------------------ compiling


def compile_rules(
    rules: list[Rule],
    acls: AclSet,
    proxy: Any,
    registry: dict[str, ActionBuilder],
    keyword: str,
) -> Callable[[Any, Any], Any] | None:
    """One callable for a list of rules (None when there are none)."""
    if not rules:
        return None
    steps = compile_rule_steps(rules, acls, proxy, registry, keyword)

    def run(st: Any, head: Any) -> Any:
        for cond, act in steps:
            if cond is None or cond(st):
                v = act(st, head)
                if v is None:
                    continue
                return v
        return None

    return run


def build_proxy(p: Any, acls: AclSet) -> None:
    """`p.http_res_rules` and `p.http_after_rules` (None when the proxy has none)."""
    pc = p.conf
    p.http_res_rules = compile_rules(
        pc.http_response, acls, p, HTTP_RESPONSE_ACTIONS, "http-response"
    )
    p.http_after_rules = compile_rules(
        pc.http_after_response, acls, p, HTTP_AFTER_ACTIONS, "http-after-response"
    )


# ------------------------------------------------------------------ the response hook


def on_response(conn: Any, st: Any, head: Head, raw: bytes) -> bytes | None:
    """Apply the response work of the backend and the frontend to a response head.

    `raw` is the head as it will be sent (maybe already edited for keep-alive or
    cookies) followed by any body bytes. Returns the bytes to send, or None when
    a rule denied the response (the error page has then been sent instead).
    """
    fe, be = conn.frontend, conn.backend
    procs = (be, fe) if fe is not be else (be,)
    hlen = find_head_end(raw)
    if hlen < 0:
        hlen = len(raw)
    if raw is not head.raw and raw[:hlen] != head.raw:
        head.raw = raw[:hlen]
        head._headers = None
    st.res_edit = None
    stick = be.stick  # store rules run before http-response, as HAProxy's analysers
    if stick is not None:
        stick.on_response(st, head)
    for p in procs:
        rr = p.http_res_rules
        if rr is not None:
            v = rr(st, head)
            if v is not None and v is not STOP:
                _deny_response(conn, st, v)
                return None
    cap = fe.res_cookie_capture  # `capture cookie` (lb.captures), after the rules
    if cap is not None:
        cap(st, head)
    new = _after_rules(procs, st, head)
    out = raw if new is None else (new + raw[hlen:] if hlen < len(raw) else new)
    early = fe.log_asap  # `option logasap`: the line goes out with the head
    if early is not None:
        early(conn, st, len(out))
    w = conn.cache_w  # `cache-store` keeps this response: the body bytes sent with its head
    if w is not None and hlen < len(raw):
        w.feed(raw[hlen:])
    return out


def _after_rules(procs: tuple[Any, ...], st: Any, head: Head) -> bytes | None:
    """Run the `http-after-response` rules of `procs` in order: the edited head, or
    None when they changed nothing."""
    for p in procs:
        ar = p.http_after_rules
        if ar is not None:
            ar(st, head)
    ed = st.res_edit
    if ed is None:
        return None
    st.res_edit = None
    return write_edit(head, ed)


def _deny_response(conn: Any, st: Any, status: int) -> None:
    fe, be = conn.frontend, conn.backend
    fe.fe_counters.denied_resp += 1
    if be is not fe:
        be.be_counters.denied_resp += 1
    conn.cache_w = None
    back = conn.back
    if back is not None:
        back.reusable = False
    st.res_edit = None
    conn._reply_error(status, "PH")


def after_local(conn: Any, st: Any, data: bytes) -> bytes:
    """`http-after-response` over a response made by the proxy itself (`http-request
    return|deny|redirect`, error pages, `monitor-uri`), as HAProxy 2.6 does.

    `data` is the whole response (head and body); the backend's rules run first
    when the stream has one, then the frontend's. Returns the bytes to send: the
    same object when nothing changed. The client side calls this only when
    `frontend.after_work` is set (`lb.rules_setup`), so a proxy without such rules
    pays one attribute test.
    """
    fe = conn.frontend
    be = st.backend
    procs = (be, fe) if be is not None and be is not fe else (fe,)
    if all(p.http_after_rules is None for p in procs):
        return data
    hlen = find_head_end(data)
    if hlen < 0:
        return data
    try:
        head = parse_response_head(data[:hlen])
    except H1Error:
        return data
    st.res_head = head
    st.res_edit = None
    if st.status <= 0:
        st.status = head.status
    new = _after_rules(procs, st, head)
    return data if new is None else new + data[hlen:]
