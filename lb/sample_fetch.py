"""Sample fetches on the connection, the HTTP request and response, and the process."""

from __future__ import annotations

import ipaddress
import os
import random
import re
import time
from typing import Any
from urllib.parse import unquote_to_bytes

from lb.http.h1 import ChunkedReader, H1Error
from lb.sample import FETCHES, BuildCtx, fetch, simple_fetch

PROC_VARS: dict[str, Any] = {}


def _s(b: bytes | None) -> str | None:
    return None if b is None else b.decode("latin-1")


# ------------------------------------------------------------------ layer 4

simple_fetch("src", "ip", lambda st: ip if (ip := st.client_ip) not in ("-", "unix") else None)
simple_fetch("src_port", "int", lambda st: st.client_port)
simple_fetch(
    "dst", "ip", lambda st: st.frontend_ip if st.frontend_ip not in ("-", "unix") else None
)
simple_fetch("dst_port", "int", lambda st: st.frontend_port)
simple_fetch("always_true", "bool", lambda st: True)
simple_fetch("always_false", "bool", lambda st: False)
simple_fetch("fe_name", "str", lambda st: st.frontend.name)
simple_fetch("fe_id", "int", lambda st: st.frontend.puid)
simple_fetch("be_name", "str", lambda st: st.backend.name if st.backend is not None else None)
simple_fetch("be_id", "int", lambda st: st.backend.puid if st.backend is not None else None)
simple_fetch("srv_name", "str", lambda st: st.server.name if st.server is not None else None)
simple_fetch("srv_id", "int", lambda st: st.server.puid if st.server is not None else None)
# HTTP compression (lb.http.compression): whether the response is compressed, and how
simple_fetch("res.comp", "bool", lambda st: st.comp_algo is not None)
simple_fetch("res.comp_algo", "str", lambda st: st.comp_algo)


def _backend(ctx: BuildCtx, args: list[str]) -> Any:
    if args and args[0]:
        st = ctx.state
        be = st.by_name.get(args[0]) if st is not None else None
        if be is None or not be.is_backend:
            raise ValueError(f"unable to find backend '{args[0]}'.")
        return be
    return None


def _usable(s: Any) -> bool:
    fn = getattr(s, "is_usable", None)
    if callable(fn):
        return bool(fn())
    return bool(getattr(s, "usable", True))


@fetch("nbsrv", "int", 0, 1)
def _nbsrv(args: list[str], ctx: BuildCtx) -> Any:
    fixed = _backend(ctx, args)

    def run(st: Any) -> int | None:
        be = fixed or st.backend
        if be is None:
            return None
        return sum(1 for s in be.servers if _usable(s))

    return run


@fetch("connslots", "int", 0, 1)
def _connslots(args: list[str], ctx: BuildCtx) -> Any:
    fixed = _backend(ctx, args)

    def run(st: Any) -> int | None:
        be = fixed or st.backend
        if be is None:
            return None
        total = 0
        for s in be.servers:
            if not _usable(s):
                continue
            mx = getattr(s, "maxconn", 0) or 0
            if not mx:
                return -1
            total += max(0, mx - getattr(s, "served", 0)) + max(0, getattr(s, "maxqueue", 0) or 0)
        return total

    return run


@fetch("srv_is_up", "bool", 1, 1)
def _srv_is_up(args: list[str], ctx: BuildCtx) -> Any:
    bname, _, sname = args[0].partition("/")
    be = _backend(ctx, [bname])
    srv = next((s for s in be.servers if s.name == sname), None)
    if srv is None:
        raise ValueError(f"unable to find server '{args[0]}'.")
    return lambda st: _usable(srv)


@fetch("env", "str", 1, 1)
def _env(args: list[str], ctx: BuildCtx) -> Any:
    name = args[0]
    return lambda st: os.environ.get(name)


@fetch("date", "int", 0, 2)
def _date(args: list[str], ctx: BuildCtx) -> Any:
    off = int(args[0]) if args and args[0] else 0
    return lambda st: int(time.time()) + off


@fetch("rand", "int", 0, 1)
def _rand(args: list[str], ctx: BuildCtx) -> Any:
    rng = int(args[0]) if args and args[0] else 0
    if rng:
        return lambda st: random.randrange(rng)
    return lambda st: random.getrandbits(32)


def var_get(st: Any, name: str) -> Any:
    if name.startswith("proc."):
        return PROC_VARS.get(name)
    v = st.vars
    return v.get(name) if v else None


def var_set(st: Any, name: str, value: Any) -> None:
    if name.startswith("proc."):
        PROC_VARS[name] = value
        return
    if st.vars is None:
        st.vars = {}
    st.vars[name] = value


def var_unset(st: Any, name: str) -> None:
    if name.startswith("proc."):
        PROC_VARS.pop(name, None)
    elif st.vars:
        st.vars.pop(name, None)


VAR_SCOPES = ("proc", "sess", "txn", "req", "res", "check")


def check_var_name(name: str) -> str:
    scope = name.partition(".")[0]
    if scope not in VAR_SCOPES or "." not in name:
        raise ValueError(
            f"invalid variable name '{name}'. A variable name must be start by its scope. "
            "The scope can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'"
        )
    return name


@fetch("var", "any", 1, 2)
def _var(args: list[str], ctx: BuildCtx) -> Any:
    name = check_var_name(args[0])
    return lambda st: var_get(st, name)


# ------------------------------------------------------------------ HTTP request


def _head(st: Any) -> Any:
    return st.head


simple_fetch("method", "meth", lambda st: _s(st.head.method) if st.head is not None else None)
simple_fetch("path", "str", lambda st: _s(st.head.path) if st.head is not None else None)
simple_fetch("url", "str", lambda st: _s(st.head.uri) if st.head is not None else None)
simple_fetch("query", "str", lambda st: _s(st.head.query) if st.head is not None else None)
simple_fetch("req.ver", "str", lambda st: _s(st.head.version[5:]) if st.head is not None else None)
FETCHES["req_ver"] = FETCHES["req.ver"]
simple_fetch(
    "base",
    "str",
    lambda st: (
        (_s(st.head.get(b"host") or b"") + _s(st.head.path)) if st.head is not None else None
    ),
)
simple_fetch("status", "int", lambda st: st.status if st.status > 0 else None)


def _split_values(values: list[bytes]) -> list[str]:
    out: list[str] = []
    for v in values:
        for part in v.split(b","):
            out.append(part.strip(b" \t").decode("latin-1"))
    return out


def _hdr_values(head_of: Any, full: bool) -> Any:
    def build(args: list[str], ctx: BuildCtx) -> Any:
        lname = args[0].lower().encode() if args and args[0] else None

        def values(st: Any) -> list[str]:
            h = head_of(st)
            if h is None:
                return []
            if lname is None:
                raw = [v for _, v in h.headers()]
            else:
                raw = h.get_all(lname)
            if full:
                return [v.decode("latin-1") for v in raw]
            return _split_values(raw)

        return values

    return build


def _hdr_fetch(head_of: Any, full: bool) -> Any:
    many = _hdr_values(head_of, full)

    def build(args: list[str], ctx: BuildCtx) -> Any:
        values = many(args, ctx)
        occ = int(args[1]) if len(args) > 1 and args[1] else -1

        def run(st: Any) -> str | None:
            vals = values(st)
            if not vals:
                return None
            idx = occ - 1 if occ > 0 else occ
            try:
                return vals[idx]
            except IndexError:
                return None

        return run

    return build


def _res_head(st: Any) -> Any:
    return getattr(st, "res_head", None)


for _name, _full, _of in (
    ("hdr", False, _head),
    ("req.hdr", False, _head),
    ("req.fhdr", True, _head),
    ("fhdr", True, _head),
    ("res.hdr", False, _res_head),
    ("shdr", False, _res_head),
    ("res.fhdr", True, _res_head),
):
    fetch(_name, "str", 0, 2, multi=_hdr_values(_of, _full))(_hdr_fetch(_of, _full))


def _cnt(head_of: Any, full: bool) -> Any:
    many = _hdr_values(head_of, full)

    def build(args: list[str], ctx: BuildCtx) -> Any:
        values = many(args, ctx)
        return lambda st: len(values(st))

    return build


for _name, _full, _of in (
    ("hdr_cnt", False, _head),
    ("req.hdr_cnt", False, _head),
    ("req.fhdr_cnt", True, _head),
    ("res.hdr_cnt", False, _res_head),
):
    fetch(_name, "int", 0, 1)(_cnt(_of, _full))


def _cookies(h: Any, lname: bytes) -> list[tuple[str, str]]:
    out = []
    for raw in h.get_all(lname):
        for part in raw.split(b";"):
            k, eq, v = part.strip(b" \t").partition(b"=")
            if eq:
                out.append((k.decode("latin-1"), v.decode("latin-1")))
    return out


def _cook(head_of: Any, lname: bytes) -> Any:
    def build(args: list[str], ctx: BuildCtx) -> Any:
        name = args[0] if args else ""

        def run(st: Any) -> str | None:
            h = head_of(st)
            if h is None:
                return None
            for k, v in _cookies(h, lname):
                if not name or k == name:
                    return v
            return None

        return run

    return build


def _cook_multi(head_of: Any, lname: bytes) -> Any:
    def build(args: list[str], ctx: BuildCtx) -> Any:
        name = args[0] if args else ""

        def run(st: Any) -> list[str]:
            h = head_of(st)
            if h is None:
                return []
            return [v for k, v in _cookies(h, lname) if not name or k == name]

        return run

    return build


for _name in ("req.cook", "cook"):
    fetch(_name, "str", 0, 1, multi=_cook_multi(_head, b"cookie"))(_cook(_head, b"cookie"))
for _name in ("res.cook", "scook"):
    fetch(_name, "str", 0, 1, multi=_cook_multi(_res_head, b"set-cookie"))(
        _cook(_res_head, b"set-cookie")
    )


@fetch("req.cook_cnt", "int", 0, 1)
def _cook_cnt(args: list[str], ctx: BuildCtx) -> Any:
    many = _cook_multi(_head, b"cookie")(args, ctx)
    return lambda st: len(many(st))


FETCHES["cook_cnt"] = FETCHES["req.cook_cnt"]


@fetch("url_param", "str", 0, 2)
def _url_param(args: list[str], ctx: BuildCtx) -> Any:
    name = args[0] if args else ""
    delim = args[1] if len(args) > 1 and args[1] else "&"

    def run(st: Any) -> str | None:
        h = st.head
        if h is None:
            return None
        q = h.query
        if q is None:
            return None
        for part in q.decode("latin-1").split(delim):
            k, _, v = part.partition("=")
            if not name or k == name:
                return v
        return None

    return run


FETCHES["urlp"] = FETCHES["url_param"]


def _held_body(st: Any) -> bytes | None:
    """The request body rules can see, as HAProxy: what `option http-buffer-request`
    held, else the part that came with the head (still unread in the connection's
    buffer while the request rules run), else empty."""
    body = st.req_body
    if body is not None:
        return body
    h = st.head
    if h is None:
        return None
    conn = st.conn
    buf = getattr(conn, "buf", None)
    if not buf or conn.stream is not st or not (h.chunked or h.content_length):
        return b""
    if not h.chunked:
        return bytes(buf[: h.content_length])
    payload: list[bytes] = []
    try:
        ChunkedReader().feed(bytes(buf), 0, payload)
    except H1Error:
        pass  # (refused later, when the body is read)
    return b"".join(payload)


@fetch("req.body", "bin")
def _req_body(args: list[str], ctx: BuildCtx) -> Any:
    return _held_body


@fetch("req.body_len", "int")
def _req_body_len(args: list[str], ctx: BuildCtx) -> Any:
    """The body bytes held (fewer than announced when the buffer filled up)."""

    def run(st: Any) -> int | None:
        body = _held_body(st)
        return None if body is None else len(body)

    return run


@fetch("req.body_size", "int")
def _req_body_size(args: list[str], ctx: BuildCtx) -> Any:
    """The announced Content-Length, or what a chunked body has shown so far."""

    def run(st: Any) -> int | None:
        h = st.head
        if h is not None and h.content_length is not None and not h.chunked:
            return h.content_length
        body = _held_body(st)
        return None if body is None else len(body)

    return run


@fetch("req.body_param", "str", 0, 1)
def _req_body_param(args: list[str], ctx: BuildCtx) -> Any:
    """A parameter of a form-encoded body (the first one without a name)."""
    name = args[0] if args else ""

    def run(st: Any) -> str | None:
        body = _held_body(st)
        if not body:
            return None
        for part in body.decode("latin-1").split("&"):
            k, _, v = part.partition("=")
            if not name or k == name:
                return v
        return None

    return run


@fetch("url_dec_path", "str")
def _path_dec(args: list[str], ctx: BuildCtx) -> Any:
    return lambda st: unquote_to_bytes(st.head.path).decode("latin-1") if st.head else None


# ------------------------------------------------------------------ constants (7.3.2)
# Arguments are checked at start-up with HAProxy's messages; the value is made once.


def _const(value: Any) -> Any:
    return lambda st: value


def _bad_arg(name: str, text: str, typ: str) -> ValueError:
    if not text:
        return ValueError(
            f"fetch method '{name}' : expected type '{typ}' at position 1, but got nothing."
        )
    return ValueError(
        f"fetch method '{name}' : failed to parse '{text}' as type '{typ}' at position 1."
    )


@fetch("str", "str", 1, 1)
def _str(args: list[str], ctx: BuildCtx) -> Any:
    return _const(args[0])


_INT_RX = re.compile(r"[+-]?[0-9]+")


@fetch("int", "int", 1, 1)
def _int(args: list[str], ctx: BuildCtx) -> Any:
    if not _INT_RX.fullmatch(args[0]):
        raise _bad_arg("int", args[0], "integer")
    return _const(int(args[0]))


@fetch("bool", "bool", 1, 1)
def _bool(args: list[str], ctx: BuildCtx) -> Any:
    v = {"true": True, "1": True, "false": False, "0": False}.get(args[0])
    if v is None:
        raise ValueError(
            "invalid args in fetch method 'bool' : Expects 'true', 'false', '0' or '1'."
        )
    return _const(v)


def _ip_const(version: int) -> Any:
    def build(args: list[str], ctx: BuildCtx) -> Any:
        try:
            addr = ipaddress.ip_address(args[0])
        except ValueError:
            addr = None
        if addr is None or addr.version != version:
            raise _bad_arg(f"ipv{version}", args[0], f"IPv{version} address")
        return _const(str(addr))

    return build


fetch("ipv4", "ip", 1, 1)(_ip_const(4))
fetch("ipv6", "ip", 1, 1)(_ip_const(6))

_HEX = frozenset("0123456789abcdefABCDEF")


@fetch("bin", "bin", 1, 1)
def _bin(args: list[str], ctx: BuildCtx) -> Any:
    text = args[0]
    bad = next((c for c in text if c not in _HEX), None)
    if bad is not None:
        raise ValueError(
            f"invalid args in fetch method 'bin' : an hex digit is expected (found '{bad}')."
        )
    if len(text) % 2:
        raise ValueError(
            "invalid args in fetch method 'bin' : an even number of hex digit is expected."
        )
    return _const(bytes.fromhex(text))


_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@fetch("meth", "meth", 1, 1)
def _meth(args: list[str], ctx: BuildCtx) -> Any:
    m = args[0]
    if not m or any(c not in _TCHAR for c in m):
        raise ValueError("invalid args in fetch method 'meth' : expects valid method..")
    return _const(m)


# ------------------------------------------------------------------ layer 6 (request payload)
# In TCP mode the client side keeps what has come so far in `st.req_data` while
# `tcp-request content` rules inspect it (`lb.tcp`); `st.req_final` says no more will
# come in time. When the answer may still change, a fetch sets `st.smp_miss` (HAProxy's
# SMP_F_MAY_CHANGE): a rule that does not match then waits (`lb.rules_tcp`).
# Elsewhere (HTTP mode, logs) there is no such buffer: no sample.


def _payload(st: Any) -> bytes | None:
    return getattr(st, "req_data", None)


def _miss(st: Any) -> None:
    if not getattr(st, "req_final", True):
        st.smp_miss = True


def _req_len(st: Any) -> int | None:
    d = _payload(st)
    if d is None:
        return None
    _miss(st)
    return len(d)


simple_fetch("req.len", "int", _req_len)
FETCHES["req_len"] = FETCHES["req.len"]


@fetch("req.payload", "bin", 2, 2)
def _req_payload(args: list[str], ctx: BuildCtx) -> Any:
    try:
        off, ln = int(args[0]), int(args[1])
    except ValueError:
        raise ValueError(
            "invalid args in fetch method 'req.payload' : expects two integers."
        ) from None
    if off < 0 or ln < 0:
        raise ValueError("invalid args in fetch method 'req.payload' : expects two integers.")

    def run(st: Any) -> bytes | None:
        d = _payload(st)
        if d is None:
            return None
        if ln == 0:  # everything from the offset: more may come
            _miss(st)
            return d[off:] if len(d) > off else None
        if len(d) < off + ln:
            _miss(st)
            return None
        return d[off : off + ln]

    return run


FETCHES["payload"] = FETCHES["req.payload"]


def client_hello(d: bytes) -> tuple[int, bytes] | int | None:
    """A TLS ClientHello at the start of `d`: (record version, hello body), 0 when
    more bytes are needed, None when it is not one."""
    if len(d) < 5:
        return 0 if d[:1] in (b"", b"\x16") else None
    if d[0] != 0x16 or d[1] != 3:
        return None
    rlen = int.from_bytes(d[3:5], "big")
    if len(d) < 5 + min(rlen, 4):
        return 0
    body = d[5 : 5 + rlen]
    if body[0] != 1:  # not a ClientHello
        return None
    hlen = int.from_bytes(body[1:4], "big")
    if hlen + 4 > rlen:  # a hello spread over several records: HAProxy does not look
        return None
    if len(body) < hlen + 4:
        return 0
    return int.from_bytes(d[1:3], "big"), body[4 : 4 + hlen]


def _hello_sni(hello: bytes) -> str | None:
    try:
        i = 2 + 32  # client version, random
        i += 1 + hello[i]  # session id
        i += 2 + int.from_bytes(hello[i : i + 2], "big")  # cipher suites
        i += 1 + hello[i]  # compression methods
        end = i + 2 + int.from_bytes(hello[i : i + 2], "big")
        i += 2
        while i + 4 <= end:
            etype = int.from_bytes(hello[i : i + 2], "big")
            elen = int.from_bytes(hello[i + 2 : i + 4], "big")
            ext = hello[i + 4 : i + 4 + elen]
            i += 4 + elen
            if etype != 0:
                continue
            j = 2  # server name list length
            while j + 3 <= len(ext):
                ntype = ext[j]
                nlen = int.from_bytes(ext[j + 1 : j + 3], "big")
                if ntype == 0:
                    return ext[j + 3 : j + 3 + nlen].decode("latin-1")
                j += 3 + nlen
            return None
    except IndexError:
        return None
    return None


def _hello(st: Any) -> tuple[int, bytes] | None:
    d = _payload(st)
    if d is None:
        return None
    h = client_hello(d)
    if h == 0:
        _miss(st)
        return None
    return h if isinstance(h, tuple) else None


def _req_ssl_sni(st: Any) -> str | None:
    h = _hello(st)
    return _hello_sni(h[1]) if h is not None else None


def _req_ssl_hello_type(st: Any) -> int | None:
    h = _hello(st)
    return 1 if h is not None else None


def _req_ssl_ver(st: Any) -> int | None:
    """The record's version as major * 65536 + minor (TLS 1.2: 0x30003)."""
    h = _hello(st)
    return None if h is None else (h[0] >> 8) * 65536 + (h[0] & 0xFF)


simple_fetch("req.ssl_sni", "str", _req_ssl_sni)
FETCHES["req_ssl_sni"] = FETCHES["req.ssl_sni"]
simple_fetch("req.ssl_hello_type", "int", _req_ssl_hello_type)
FETCHES["req_ssl_hello_type"] = FETCHES["req.ssl_hello_type"]
simple_fetch("req.ssl_ver", "int", _req_ssl_ver)
FETCHES["req_ssl_ver"] = FETCHES["req.ssl_ver"]
