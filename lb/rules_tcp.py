"""`tcp-request connection|session|content` rules, and the session they act on.

Connection (and session) rules run once, when a connection is accepted,
before anything is read: `accept`, `reject`, `track-sc0|1|2 KEY [table T]`,
`set-var(sess.x) EXPR`. What they track or set belongs to the `Session`,
which lives as long as the connection; each stream of the connection starts
with the session's counters and variables (`attach`), so `sc0_*` fetches and
`var(sess.x)` see them in `http-request` rules and logs. A counter tracked by
the session counts the connection (`conn_cnt`, `conn_cur`, `conn_rate`,
`sess_cnt`, `sess_rate`), then each request and its bytes and errors, as in
HAProxy.

Content rules run per stream: once per TCP connection, per request in HTTP
mode (before `http-request`), with the same actions; a backend's run once
the backend is chosen (before its `http-request` rules). In TCP mode a rule
whose condition needs data that has not come yet (`req.len`, `req.payload`,
`req.ssl_sni` …) waits for it, up to `tcp-request inspect-delay`
(`lb.tcp`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lb.acl import AclSet
from lb.config.model import Rule
from lb.config.units import TimeError, parse_time
from lb.rules import HTTP_REQUEST_ACTIONS, compile_rule_steps
from lb.rules_extra import tcp_capture_builder, track_setup
from lb.rules_response import compile_rules
from lb.stream import Stream
from stick.table import now_ms

Action = Callable[[Any, Any], Any]
ActionBuilder = Callable[[list[str], Rule, Any], tuple[Action, list[str]]]

ACCEPT = "accept"
REJECT = "reject"

TCP_CONN_ACTIONS: dict[str, ActionBuilder] = {}
TCP_CONTENT_ACTIONS: dict[str, ActionBuilder] = {}


class Session(Stream):
    """What a connection carries across its streams: tracked counters and `sess.` vars.

    A `Stream` without a stream id (it is never shown by `show sess` nor logged),
    so the sample fetches work on it as on a stream."""

    def __init__(self, conn: Any) -> None:  # no Stream.__init__: no id is taken
        self.conn = conn  # addresses and accept times are read through it (lb.stream)
        self.m_start = conn.m_accept
        fe = conn.frontend
        self.frontend = fe
        self.backend_name = fe.name
        self.http = fe.mode == "http"

    def attach(self, st: Any) -> None:
        """Give a new stream the session's variables and tracked counters."""
        v = self.vars
        if v:
            st.vars = dict(v)
        sc = self.sc
        if sc is not None:
            st.sc = list(sc)
            now = now_ms()
            for t in sc:
                if t is not None:
                    e = t[1]
                    e.use += 1  # released by the stream's end (lb.rules_extra.stream_done)
                    if self.http and t[2].req is not None:
                        t[2].req(e, now, 1)

    def counted(self) -> None:
        """The session is accepted: count it in each tracked entry."""
        sc = self.sc
        if sc is None:
            return
        now = now_ms()
        for t in sc:
            if t is not None:
                bump = t[0].bumper("sess_cnt")
                if bump is not None:
                    bump(t[1], now, 1)

    def close(self) -> None:
        sc = self.sc
        if sc is None:
            return
        self.sc = None
        now = now_ms()
        for t in sc:
            if t is None:
                continue
            table, e = t[0], t[1]
            e.use -= 1
            if table.has("conn_cur") and e.conn_cur > 0:
                e.conn_cur -= 1
            if table.expire:
                e.exp = now + table.expire


def tcp_action(*names: str, conn: bool = True) -> Callable[[ActionBuilder], ActionBuilder]:
    def deco(fn: ActionBuilder) -> ActionBuilder:
        for n in names:
            TCP_CONTENT_ACTIONS[n] = fn
            if conn:
                TCP_CONN_ACTIONS[n] = fn
        return fn

    return deco


@tcp_action("accept")
def _accept(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    return (lambda st, head: ACCEPT), args


@tcp_action("reject")
def _reject(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    return (lambda st, head: REJECT), args


def _track_builder(n: int) -> ActionBuilder:
    def build(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
        attach, table, trk, rest = track_setup(n, args, rule, proxy)
        conn_cnt = table.bumper("conn_cnt")
        has_cur = table.has("conn_cur")
        http = proxy.mode == "http"

        def run(st: Any, head: Any) -> None:
            hit = attach(st)
            if hit is None:
                return None
            e, now = hit
            if isinstance(st, Session):  # the connection starts being tracked
                if conn_cnt is not None:
                    conn_cnt(e, now, 1)
                if has_cur:
                    e.conn_cur += 1
            elif http and head is not None and trk.req is not None:
                trk.req(e, now, 1)  # a request tracked before http-request counts now
            return None

        return run, rest

    return build


for _i in range(3):
    tcp_action(f"track-sc{_i}")(_track_builder(_i))
for _n in ("set-var(", "unset-var(", "sc-inc-gpc0(", "sc-inc-gpc1(", "sc-set-gpt0("):
    TCP_CONN_ACTIONS[_n] = TCP_CONTENT_ACTIONS[_n] = HTTP_REQUEST_ACTIONS[_n]
TCP_CONTENT_ACTIONS["capture"] = tcp_capture_builder  # a request capture slot (lb.captures)


WAIT = "wait"  # a content rule needs more data than has come (within inspect-delay)


def compile_tcp(p: Any, acls: AclSet) -> tuple[Any, Any]:
    """(connection-and-session rules, content rules) of a proxy, None where there are none.

    Also leaves `p.inspect_delay` (seconds, 0 when not set) on the proxy."""
    conn_rules: list[Rule] = []
    content: list[Rule] = []
    p.inspect_delay = 0.0
    for r in p.conf.tcp_request:
        if not r.words:
            continue
        kind = r.words[0]
        if kind == "inspect-delay":
            p.inspect_delay = _inspect_delay(r, p)
            continue
        if kind not in ("connection", "session", "content"):
            raise r.where.error(
                f"'tcp-request' expects 'connection', 'session', 'content' or "
                f"'inspect-delay', got '{kind}'."
            )
        if len(r.words) < 2:
            raise r.where.error(f"'tcp-request {kind}' expects an action.")
        rr = Rule(r.keyword, tuple(r.words[1:]), r.where)
        (content if kind == "content" else conn_rules).append(rr)
    return (
        compile_rules(conn_rules, acls, p, TCP_CONN_ACTIONS, "tcp-request connection"),
        compile_content(content, acls, p),
    )


def _inspect_delay(r: Rule, p: Any) -> float:
    kind = "frontend" if p.is_frontend else "backend"
    msg = (
        "'tcp-request inspect-delay' expects a positive delay in milliseconds, "
        f"in {kind} '{p.name}'"
    )
    if len(r.words) < 2:
        raise r.where.error(msg)
    try:
        ms = parse_time(r.words[1], "ms")
    except TimeError as exc:
        if exc.kind == "char":
            raise r.where.error(f"{msg} (unexpected character '{exc.char}')") from None
        raise r.where.error(msg) from None
    return ms / 1000.0


def compile_content(rules: list[Rule], acls: AclSet, p: Any) -> Callable[[Any, Any], Any] | None:
    """`tcp-request content` rules: `run(st, head)` returns ACCEPT, REJECT, None (no
    rule decided: go on) or WAIT when a condition did not match on data that may
    still grow (a payload fetch set `st.smp_miss`; see `lb.sample_fetch`), as
    HAProxy's ACL_TEST_MISS. The caller evaluates again, from the first rule, when
    more data comes or, with `st.req_final` set, at the end of inspect-delay."""
    if not rules:
        return None
    steps = compile_rule_steps(rules, acls, p, TCP_CONTENT_ACTIONS, "tcp-request content")

    def run(st: Any, head: Any) -> Any:
        for cond, act in steps:
            if cond is not None:
                st.smp_miss = False
                if not cond(st):
                    if st.smp_miss:
                        return WAIT
                    continue
            v = act(st, head)
            if v is None:
                continue
            return v
        return None

    return run
