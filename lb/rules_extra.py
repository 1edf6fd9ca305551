"""More rule actions, registered into `lb.rules`' registry, and the stick-counter life cycle.

`track-sc0|1|2 KEY [table T]` finds or creates the entry for the key sample,
marks it used, and counts the HTTP request in it at once (as HAProxy does
when tracking starts in `http-request`), so the rules after it already see
this request in `sc_http_req_rate`. When the stream ends, `stream_done`
counts its bytes and errors and releases the entry.

Header and URI actions rewrite the request head only when they run: the
head is otherwise forwarded as received (DESIGN principle 5).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic as _monotonic
from typing import Any

from lb.captures import sample_text
from lb.config.model import Rule
from lb.config.units import atol
from lb.http.h1 import Head
from lb.rules import HTTP_REQUEST_ACTIONS, STOP, action
from lb.sample import BuildCtx, building, compile_sample, compile_sample_for_log
from lb.sample_fetch import check_var_name, var_set, var_unset
from stick.table import Table, now_ms

Action = Callable[[Any, Head], Any]


def _ctx(proxy: Any, rule: Rule) -> BuildCtx:
    return BuildCtx(proxy.state, proxy, rule.where, (0, rule.where.line))


def _arg(rule_name: str) -> str:
    """The text between the parentheses of `set-var(txn.x)`."""
    if "(" not in rule_name or not rule_name.endswith(")"):
        raise ValueError(f"'{rule_name}' : missing or invalid argument.")
    return rule_name[rule_name.index("(") + 1 : -1]


# ------------------------------------------------------------------ stick counters


class Tracker:
    """What one table counts when a stream tracks, and when the stream ends.

    `done(entry, now, stream)` is generated for the table's stored counters only:
    it releases the entry, refreshes its expiry and counts the stream's bytes and
    errors (nothing is looked up per stream)."""

    __slots__ = ("table", "req", "err", "fail", "bin", "bout", "done")

    def __init__(self, table: Table) -> None:
        self.table = table
        self.req = table.bumper("http_req_cnt")
        self.err = table.bumper("http_err_cnt")
        self.fail = table.bumper("http_fail_cnt")
        self.bin = table.bumper("bytes_in_cnt")
        self.bout = table.bumper("bytes_out_cnt")
        self.done = _compile_done(table)


def _compile_done(table: Table) -> Callable[[Any, int, Any], None]:
    lines = ["def done(e, now, st):", "    e.use -= 1"]
    if table.expire:
        lines.append(f"    e.exp = now + {int(table.expire)}")
    for attr, counter in (("bytes_in", "bytes_in_cnt"), ("bytes_out", "bytes_out_cnt")):
        body = table.bump_src(counter, n="b", ind="        ")
        if body:
            lines += [f"    b = st.{attr}", "    if b:", body.rstrip("\n")]
    err = table.bump_src("http_err_cnt", n="1", ind="        ")
    fail = table.bump_src("http_fail_cnt", n="1", ind="        ")
    if err or fail:
        lines.append("    status = st.status")
    if err:
        lines += [
            "    if 400 <= status < 500 and status != 401 and status != 407:",
            err.rstrip("\n"),
        ]
    if fail:
        lines += [
            "    if status >= 500 and status != 501 and status != 505:",
            fail.rstrip("\n"),
        ]
    ns: dict[str, Any] = {}
    exec("\n".join(lines) + "\n", ns)  # noqa: S102 - code built from data-type names only
    return ns["done"]


_TRACKERS: dict[int, Tracker] = {}


def tracker(table: Table) -> Tracker:
    t = _TRACKERS.get(id(table))
    if t is None or t.table is not table:
        t = _TRACKERS[id(table)] = Tracker(table)
    return t


def _table_for(proxy: Any, name: str | None) -> Table:
    tables = getattr(proxy.state, "tables", {}) or {}
    t = tables.get(name or proxy.name)
    if t is None:
        if name:
            raise ValueError(f"unable to find table '{name}'.")
        raise ValueError(f"no table declared in proxy '{proxy.name}'.")
    return t


_NO_KEY = object()


def _compile_track(
    n: int, key: Callable[[Any], Any] | None, table: Table, trk: Tracker, http_req: bool
) -> Callable[..., Any]:
    """The code tying slot `n` of a stream to the entry of the key sample, in one
    generated function: `attach(stream)` returning `(entry, now_ms)` when it starts
    tracking (else None), or with `http_req` the `http-request track-scN` action
    itself, which also counts the request in the entry (`run(stream, head)`).

    The key conversion is skipped when the sample is the very object seen last
    (a keep-alive connection's address), and a table hit only writes `exp`
    (`Table.get`'s fast path, inline). `key` None means the key is `src` for an
    address table: the address is read inline (what `src` gives as "-" or "unix"
    converts to no key either way)."""
    slot = ["None", "None", "None"]
    slot[n] = "t"
    g: dict[str, Any] = {
        "key": key,
        "to_key": table.ktype.from_sample,
        "table": table,
        "get": table.get,
        "entries": table.entries,
        "trk": trk,
        "monotonic": __import__("time").monotonic,
        "last_v": _NO_KEY,
        "last_k": None,
    }
    head = "def run(st, head):" if http_req else "def run(st):"
    lines = [
        head,
        "    global last_v, last_k",
        "    sc = st.sc",
        f"    if sc is not None and sc[{n}] is not None:",
        "        return None",
        "    v = st.client_ip" if key is None else "    v = key(st)",
        "    if v is last_v:",
        "        k = last_k",
        "    else:",
        "        k = to_key(v)",
        "        last_v = v",
        "        last_k = k",
        "    if k is None:",
        "        return None",
        "    now = int(monotonic() * 1000)",
        "    e = entries.get(k)",
        "    if e is None:",
        "        e = get(k, now)",
        "        if e is None:",
        "            return None",
        "    elif now == table._exp_now:",
        "        e.exp = table._exp_val",
    ]
    if table.expire:
        lines += [
            "    else:",
            "        table._exp_now = now",
            f"        e.exp = table._exp_val = now + {int(table.expire)}",
        ]
    lines += [
        "    e.use += 1",
        "    t = (table, e, trk)",
        "    if sc is None:",
        f"        st.sc = [{', '.join(slot)}]",
        "    else:",
        f"        sc[{n}] = t",
    ]
    if http_req:
        body = table.bump_src("http_req_cnt", n="1")
        if body:
            lines.append(body.rstrip("\n"))
        lines.append("    return None")
    else:
        lines.append("    return e, now")
    exec("\n".join(lines) + "\n", g)  # noqa: S102 - code built from data-type names only
    return g["run"]


def track_setup(
    n: int, args: list[str], rule: Rule, proxy: Any
) -> tuple[Callable[[Any], tuple[Any, int] | None], Table, Any, list[str]]:
    """The part every `track-scN KEY [table T]` action shares (http-request,
    http-response, tcp-request): parse the arguments, find the table and compile
    `attach(stream)`, which ties slot `n` of the stream to the key's entry and
    returns `(entry, now_ms)` when it starts tracking, else None. Returns
    `(attach, table, tracker, remaining words)`."""
    key, table, trk, rest = _track_args(n, args, rule, proxy)
    return _compile_track(n, key, table, trk, False), table, trk, rest


def _track_args(
    n: int, args: list[str], rule: Rule, proxy: Any
) -> tuple[Callable[[Any], Any] | None, Table, Tracker, list[str]]:
    if not args:
        raise ValueError(f"'track-sc{n}' expects a key.")
    key: Callable[[Any], Any] | None = compile_sample(args[0], _ctx(proxy, rule)).fn
    rest = args[1:]
    tname = None
    if len(rest) >= 2 and rest[0] == "table":
        tname, rest = rest[1], rest[2:]
    table = _table_for(proxy, tname)
    if args[0] == "src" and table.ktype.name in ("ip", "ipv6"):
        key = None
    return key, table, tracker(table), rest


def _track_builder(n: int) -> Callable[[list[str], Rule, Any], tuple[Action, list[str]]]:
    def build(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
        key, table, trk, rest = _track_args(n, args, rule, proxy)
        return _compile_track(n, key, table, trk, True), rest

    return build


for _n in range(3):
    action(f"track-sc{_n}")(_track_builder(_n))


def stream_done(st: Any) -> None:
    """Count the ended stream in each entry it tracked and release them."""
    sc = st.sc
    if sc is None:
        return
    st.sc = None
    now = int(_monotonic() * 1000)
    t0, t1, t2 = sc
    if t0 is not None:
        t0[2].done(t0[1], now, st)
    if t1 is not None:
        t1[2].done(t1[1], now, st)
    if t2 is not None:
        t2[2].done(t2[1], now, st)


def _sc_action(kind: str) -> Callable[[list[str], Rule, Any], tuple[Action, list[str]]]:
    """`sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`, `sc-set-gpt0(N) VALUE`."""

    def build(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
        n = int(_arg(rule.words[0]))
        if kind == "gpt0":
            if not args:
                raise ValueError("'sc-set-gpt0' expects an integer or a sample expression.")
            val = args[0]
            if val.lstrip("-").isdigit():
                k = int(val)
                get: Callable[[Any], Any] = lambda st: k  # noqa: E731
            else:
                get = compile_sample(val, _ctx(proxy, rule)).fn
            rest = args[1:]

            def set_gpt(st: Any, head: Head) -> None:
                t = st.sc[n] if st.sc is not None else None
                if t is not None and t[0].has("gpt0"):
                    v = get(st)
                    if v is not None:
                        t[0].write(t[1], "gpt0", int(v))
                return None

            return set_gpt, rest

        def inc(st: Any, head: Head) -> None:
            t = st.sc[n] if st.sc is not None else None
            if t is not None:
                bump = t[0].bumper(kind)
                if bump is not None:
                    bump(t[1], now_ms(), 1)
            return None

        return inc, args

    return build


action("sc-inc-gpc0(")(_sc_action("gpc0"))
action("sc-inc-gpc1(")(_sc_action("gpc1"))
action("sc-set-gpt0(")(_sc_action("gpt0"))


# ------------------------------------------------------------------ variables


def _expr_fn(text: str, proxy: Any, rule: Rule) -> Callable[[Any], Any]:
    return compile_sample(text, _ctx(proxy, rule)).fn


@action("set-var(")
def _set_var(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    name = check_var_name(_arg(rule.words[0]).split(",")[0])
    if not args:
        raise ValueError(f"'{rule.words[0]}' : missing sample expression.")
    get = _expr_fn(args[0], proxy, rule)

    def run(st: Any, head: Head) -> None:
        v = get(st)
        if v is not None:
            var_set(st, name, v)

    return run, args[1:]


@action("unset-var(")
def _unset_var(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    name = check_var_name(_arg(rule.words[0]))

    def run(st: Any, head: Head) -> None:
        var_unset(st, name)

    return run, args


_LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")


@action("set-log-level")
def _set_log_level(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    """The level of this stream's log line; `silent` logs nothing."""
    name = args[0] if args else ""
    if name == "silent":
        level = -1
    elif name in _LOG_LEVELS:
        level = _LOG_LEVELS.index(name)
    else:
        raise ValueError(f"'{rule.words[0]}' : unknown log level '{name}'.")

    def run(st: Any, head: Head) -> None:
        st.log_level = level

    return run, args[1:]


@action("capture")
def _capture(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    """`http-request capture <sample> len <N>` (a frontend's: the slot the parser gave
    it) or `… id <N>` (slot N of the stream's frontend, cut to that slot's length;
    ignored when that frontend has no such slot), shown by %hr (lb.captures)."""
    return capture_builder(args, rule, proxy, response=False)


def capture_builder(
    args: list[str], rule: Rule, proxy: Any, response: bool
) -> tuple[Action, list[str]]:
    """The request (`len` or `id`) and response (`id` only) capture actions."""
    if response:
        if len(args) < 3:
            raise ValueError("expects <expression> id <idx>.")
        get = _expr_fn(args[0], proxy, rule)
        if args[1] != "id":
            raise ValueError(f"expects 'id', found '{args[1]}'.")
    else:
        if len(args) < 3:
            raise ValueError("expects <expression> [ 'len' <length> | id <idx> ].")
        get = _expr_fn(args[0], proxy, rule)
        if args[1] not in ("len", "id"):
            raise ValueError(f"expects 'len' or 'id', found '{args[1]}'.")
    attr = "captured_response_headers" if response else "captured_request_headers"
    if args[1] == "len":
        if not proxy.is_frontend:
            raise ValueError(f"proxy '{proxy.name}' has no frontend capability.")
        if atol(args[2]) <= 0:
            raise ValueError("length must be > 0.")
        conf = proxy.conf
        slot = conf.capture_rule_slots.get(str(rule.where))
        if slot is None:  # (a rule the parser did not see in this frontend)
            slot = conf.capture_rule_slots[str(rule.where)] = len(conf.capture_request)
            conf.capture_request.append(("", atol(args[2])))
        length = conf.capture_request[slot][1]
        nslots = len(conf.capture_request)

        def run(st: Any, head: Head) -> None:
            caps = st.captured_request_headers
            if caps is None or len(caps) < nslots:  # (TCP: no header captures made it)
                caps = st.captured_request_headers = (caps or []) + [None] * (
                    nslots - len(caps or ())
                )
            v = get(st)
            if v is not None:
                caps[slot] = sample_text(v)[:length]

        return run, args[3:]
    m = re.match(r"\d+$", args[2])
    if m is None:
        raise ValueError(f"cannot parse id '{args[2]}'.")
    idx = int(args[2])

    def run_id(st: Any, head: Head) -> None:
        conf = st.frontend.conf
        slots = conf.capture_response if response else conf.capture_request
        if idx >= len(slots):
            return
        caps = getattr(st, attr)
        if caps is None:
            caps = [None] * len(slots)
            setattr(st, attr, caps)
        v = get(st)
        if v is not None:
            caps[idx] = sample_text(v)[: slots[idx][1]]

    return run_id, args[3:]


def tcp_capture_builder(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    """`tcp-request content capture <sample> len <N>` (HAProxy's own alerts)."""
    kw = "'tcp-request content capture'"
    if not proxy.is_frontend:
        raise rule.where.error(f"{kw} : proxy '{proxy.name}' has no frontend capability")
    if len(args) < 3 or args[1] != "len":
        raise rule.where.error(f"{kw} : a positive 'len' argument is mandatory")
    if atol(args[2]) <= 0:
        raise rule.where.error(f"{kw} : length must be > 0")
    return capture_builder(args, rule, proxy, response=False)


# ------------------------------------------------------------------ head rewriting


def rebuild_request(
    head: Head, method: bytes, uri: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """Write a new raw head from its parts (only when an action changed something)."""
    lines = [method + b" " + uri + b" " + head.version]
    lines += [n + b": " + v for n, v in headers]
    head.raw = b"\r\n".join(lines) + b"\r\n\r\n"
    head.method = method
    head.uri = uri
    head._headers = list(headers)


def fmt_fn(text: str, proxy: Any, rule: Rule) -> Callable[[Any], bytes] | None:
    """A log-format argument of a rule (header value, `lf-string` …) compiled once
    into `render(stream) -> bytes`, in HAProxy's non-log flavour (spaces kept, an
    empty sample prints nothing); None when `text` is constant."""
    from lb.log import compile_log_format

    if "%" not in text:
        return None
    with building(_ctx(proxy, rule)):
        render = compile_log_format(text, compile_sample_for_log, http_mode=True, plain=True)
    return lambda st: render(st).encode("latin-1", "replace")


def _fmt(text: str, proxy: Any, rule: Rule) -> Callable[[Any], bytes]:
    fn = fmt_fn(text, proxy, rule)
    if fn is None:
        b = text.encode("latin-1")
        return lambda st: b
    return fn


def _header_action(kind: str) -> Callable[[list[str], Rule, Any], tuple[Action, list[str]]]:
    def build(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
        name = args[0].encode("latin-1")
        lname = name.lower()
        if kind == "del":
            rest = args[1:]
            if len(rest) >= 2 and rest[0] == "-m":
                rest = rest[2:]

            def run_del(st: Any, head: Head) -> None:
                hs = [(n, v) for n, v in head.headers() if n.lower() != lname]
                if len(hs) != len(head.headers()):
                    rebuild_request(head, head.method, head.uri, hs)

            return run_del, rest
        value = _fmt(args[1], proxy, rule)

        def run(st: Any, head: Head) -> None:
            v = value(st)
            hs = head.headers()
            if kind == "set":
                hs = [(n, x) for n, x in hs if n.lower() != lname]
            rebuild_request(head, head.method, head.uri, [*hs, (name, v)])

        return run, args[2:]

    return build


action("set-header")(_header_action("set"))
action("add-header")(_header_action("add"))
action("del-header")(_header_action("del"))


def replace_parts(
    args: list[str], rule: Rule, proxy: Any
) -> tuple[bytes, re.Pattern[bytes], Callable[[Any], bytes]]:
    """`replace-header|replace-value NAME REGEX FMT` (request or response rules):
    the lower-case name, the compiled regex and the replacement's renderer."""
    if len(args) < 3:
        raise ValueError(f"'{rule.words[0]}' expects exactly 3 arguments.")
    lname = args[0].lower().encode("latin-1")
    rx = re.compile(args[1].encode("latin-1"))
    return lname, rx, _fmt(re.sub(r"\\(\d)", r"\\g<\1>", args[2]), proxy, rule)


def replace_in_headers(
    hs: list[tuple[bytes, bytes]],
    lname: bytes,
    rx: re.Pattern[bytes],
    repl: bytes,
    full: bool,
) -> list[tuple[bytes, bytes]] | None:
    """The headers with `rx` replaced in each `lname` value (`full`: the whole value,
    replace-header; else each comma-separated one, replace-value), or None when
    nothing changed."""
    out = []
    changed = False
    for n, v in hs:
        if n.lower() == lname:
            if full:
                nv = rx.sub(repl, v, count=1) if rx.fullmatch(v) else v
            else:
                parts = [p.strip() for p in v.split(b",")]
                nv = b", ".join(rx.sub(repl, p, count=1) if rx.fullmatch(p) else p for p in parts)
            changed |= nv != v
            v = nv
        out.append((n, v))
    return out if changed else None


def _replace_action(full: bool) -> Callable[[list[str], Rule, Any], tuple[Action, list[str]]]:
    def build(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
        lname, rx, repl_fmt = replace_parts(args, rule, proxy)

        def run(st: Any, head: Head) -> None:
            out = replace_in_headers(head.headers(), lname, rx, repl_fmt(st), full)
            if out is not None:
                rebuild_request(head, head.method, head.uri, out)

        return run, args[3:]

    return build


action("replace-header")(_replace_action(True))
action("replace-value")(_replace_action(False))


def _uri_action(kind: str) -> Callable[[list[str], Rule, Any], tuple[Action, list[str]]]:
    def build(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
        value = _fmt(args[0], proxy, rule)

        def run(st: Any, head: Head) -> None:
            v = value(st)
            uri = head.uri
            method = head.method
            if kind == "method":
                method = v
            elif kind == "uri":
                uri = v
            elif kind == "path":
                q = uri.find(b"?")
                uri = v + (uri[q:] if q >= 0 else b"")
            elif kind == "query":
                q = uri.find(b"?")
                base = uri if q < 0 else uri[:q]
                uri = base + b"?" + v if v else base
            rebuild_request(head, method, uri, list(head.headers()))

        return run, args[1:]

    return build


for _k in ("path", "query", "uri", "method"):
    action(f"set-{_k}")(_uri_action(_k))


# ------------------------------------------------------------------ answers


REDIRECT_REASONS = {
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
}
REDIRECT_WORDS = (
    "'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', "
    "'ignore-empty' or 'append-slash'"
)


@dataclass
class RedirectSpec:
    """A parsed redirect rule: the words may come in any order up to `if`/`unless`."""

    kind: str = ""
    target: str = ""
    code: int = 302
    cookie: bytes = b""  # the whole Set-Cookie value, if any
    drop_query: bool = False
    append_slash: bool = False
    ignore_empty: bool = False


def parse_redirect(args: list[str]) -> tuple[RedirectSpec, list[str]]:
    spec = RedirectSpec()
    i = 0
    while i < len(args) and args[i] not in ("if", "unless"):
        word = args[i]
        if word in ("location", "prefix", "scheme", "code", "set-cookie", "clear-cookie"):
            if i + 1 >= len(args):
                raise ValueError(f"missing argument for '{word}'.")
            value = args[i + 1]
            if word == "code":
                code = int(value) if value.isdigit() else 0
                if code not in REDIRECT_REASONS:
                    raise ValueError(
                        f"'code': unsupported HTTP code '{value}' "
                        "(must be one of 301, 302, 303, 307 or 308)."
                    )
                spec.code = code
            elif word == "set-cookie":
                spec.cookie = f"{value}; path=/;".encode("latin-1")
            elif word == "clear-cookie":
                spec.cookie = f"{value}; path=/; Max-Age=0;".encode("latin-1")
            else:
                spec.kind, spec.target = word, value
            i += 2
        elif word in ("drop-query", "append-slash", "ignore-empty"):
            setattr(spec, word.replace("-", "_"), True)
            i += 1
        else:
            raise ValueError(f"expects {REDIRECT_WORDS} (was '{word}').")
    if not spec.kind:
        raise ValueError("redirection type expected ('prefix', 'location', or 'scheme').")
    return spec, args[i:]


@action("redirect")
def _redirect(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    """`http-request redirect …` (the target is a log-format) and the `redirect`
    keyword (rule.keyword "redirect": the target is taken as written)."""
    spec, rest = parse_redirect(args)
    literal = spec.target.encode("latin-1")
    target = (lambda st: literal) if rule.keyword == "redirect" else _fmt(spec.target, proxy, rule)
    kind, code = spec.kind, spec.code
    status_line = f"HTTP/1.1 {code} {REDIRECT_REASONS[code]}\r\ncontent-length: 0\r\n".encode()
    # permanent redirects may be cached; the others are marked not to be
    tail = b"\r\n" if code in (301, 308) else b"\r\ncache-control: no-cache\r\n"
    if spec.cookie:
        tail += b"set-cookie: " + spec.cookie + b"\r\n"
    tail += b"\r\n"
    drop_query, append_slash, ignore_empty = spec.drop_query, spec.append_slash, spec.ignore_empty

    def run(st: Any, head: Head) -> tuple[int, bytes, bool] | None:
        t = target(st)
        if not t and ignore_empty:
            return None
        path = head.path
        query = head.query
        if kind == "prefix":
            loc = t.rstrip(b"/") + path if t != b"/" else path
        elif kind == "scheme":
            loc = t + b"://" + (head.get(b"host") or b"") + path
        else:
            loc = t
        if append_slash and not loc.endswith(b"/"):
            loc += b"/"
        if kind != "location" and not drop_query and query is not None:
            loc += b"?" + query
        return code, status_line + b"location: " + loc + tail, False

    return run, rest


@action("tarpit")
def _tarpit(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    """Held for `timeout tarpit` (else `timeout connect`), then answered with the status.

    The fifth item of the verdict is the delay in seconds: the client side keeps
    the request for that long (one timer), then sends the page, logged `PT`."""
    status = 500
    rest = args
    if len(args) >= 2 and args[0] == "deny_status":
        status = int(args[1])
        rest = args[2:]
    delay = proxy.timeout("tarpit") or proxy.timeout("connect")

    def run(st: Any, head: Head) -> tuple[int, bytes, bool, str, float]:
        proxy.fe_counters.denied_req += 1
        return status, proxy.error_page(status), True, "PT", delay

    return run, rest


@action("reject")
def _reject(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    def run(st: Any, head: Head) -> tuple[int, bytes, bool]:
        proxy.fe_counters.denied_req += 1
        return -1, b"", True

    return run, args


__all__ = ["HTTP_REQUEST_ACTIONS", "STOP", "stream_done", "tracker"]
