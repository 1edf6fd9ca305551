"""Converters: string, arithmetic, encoding, hashing and map lookups."""

from __future__ import annotations

import base64
import binascii
import json as _json
import re
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes

from lb.balance import hashes
from lb.matchers import MATCHERS
from lb.patterns import F_MAP, Expr
from lb.sample import BuildCtx, converter
from lb.sample_fetch import check_var_name, var_get
from lb.sample_types import to_bin, to_int, to_str
from lb.xxhash_py import xxh32, xxh64

S32 = 2**31


def _wrap(v: int) -> int:
    """Signed 64-bit arithmetic, as HAProxy's `sint`."""
    return (v + 2**63) % 2**64 - 2**63


# ------------------------------------------------------------------ strings


@converter("lower", "str", "str")
def _lower(args: list[str], ctx: BuildCtx) -> Any:
    return lambda v, st: v.lower()


@converter("upper", "str", "str")
def _upper(args: list[str], ctx: BuildCtx) -> Any:
    return lambda v, st: v.upper()


@converter("length", "str", "int")
def _length(args: list[str], ctx: BuildCtx) -> Any:
    return lambda v, st: len(v)


@converter("field", "str", "str", 2, 3)
def _field(args: list[str], ctx: BuildCtx) -> Any:
    idx = int(args[0])
    delims = args[1]
    count = int(args[2]) if len(args) > 2 and args[2] else 1
    rx = re.compile("[" + re.escape(delims) + "]")

    def run(v: str, st: Any) -> str | None:
        parts = rx.split(v)
        if idx > 0:
            sel = parts[idx - 1 : idx - 1 + count] if count else parts[idx - 1 :]
            if idx > len(parts):
                return None
        else:
            end = len(parts) + idx + 1
            sel = parts[max(0, end - count) if count else 0 : end]
            if end <= 0:
                return None
        return delims[0].join(sel) if sel else None

    return run


@converter("word", "str", "str", 2, 3)
def _word(args: list[str], ctx: BuildCtx) -> Any:
    idx = int(args[0])
    delims = args[1]
    count = int(args[2]) if len(args) > 2 and args[2] else 1
    rx = re.compile("[" + re.escape(delims) + "]+")

    def run(v: str, st: Any) -> str | None:
        parts = [p for p in rx.split(v) if p]
        if not parts or abs(idx) > len(parts) or idx == 0:
            return None
        if idx > 0:
            sel = parts[idx - 1 : idx - 1 + count] if count else parts[idx - 1 :]
        else:
            end = len(parts) + idx + 1
            sel = parts[max(0, end - count) if count else 0 : end]
        return delims[0].join(sel)

    return run


@converter("regsub", "str", "str", 2, 3)
def _regsub(args: list[str], ctx: BuildCtx) -> Any:
    flags = args[2] if len(args) > 2 else ""
    try:
        rx = re.compile(args[0], re.I if "i" in flags else 0)
    except re.error as exc:
        raise ValueError(f"invalid regex '{args[0]}' : {exc}") from None
    repl = re.sub(r"\\(\d)", r"\\g<\1>", args[1])
    count = 0 if "g" in flags else 1
    return lambda v, st: rx.sub(repl, v, count=count)


@converter("json", "str", "str", 0, 1)
def _json_conv(args: list[str], ctx: BuildCtx) -> Any:
    return lambda v, st: _json.dumps(v)[1:-1]


@converter("concat", "str", "str", 0, 3)
def _concat(args: list[str], ctx: BuildCtx) -> Any:
    pre = args[0] if args else ""
    var = check_var_name(args[1]) if len(args) > 1 and args[1] else ""
    post = args[2] if len(args) > 2 else ""

    def run(v: str, st: Any) -> str:
        mid = to_str(var_get(st, var)) or "" if var else ""
        return v + pre + mid + post

    return run


@converter("strcmp", "str", "int", 1, 1)
def _strcmp(args: list[str], ctx: BuildCtx) -> Any:
    var = check_var_name(args[0])

    def run(v: str, st: Any) -> int | None:
        o = to_str(var_get(st, var))
        if o is None:
            return None
        return (v > o) - (v < o)

    return run


@converter("iif", "bool", "str", 2, 2)
def _iif(args: list[str], ctx: BuildCtx) -> Any:
    t, f = args[0], args[1]
    return lambda v, st: t if v else f


@converter("ipmask", "ip", "ip", 1, 2)
def _ipmask(args: list[str], ctx: BuildCtx) -> Any:
    from lb.matchers import parse_addr

    m4 = args[0]
    n4 = int(m4) if m4.isdigit() else bin(parse_addr(m4)[1]).count("1")  # type: ignore[index]
    n6 = int(args[1]) if len(args) > 1 and args[1] else 128
    import ipaddress

    def run(v: str, st: Any) -> str | None:
        a = parse_addr(v)
        if a is None:
            return None
        fam, x = a
        if fam == 4:
            return str(ipaddress.IPv4Address(x & ((0xFFFFFFFF << (32 - n4)) & 0xFFFFFFFF)))
        mask = ((1 << 128) - 1) ^ ((1 << (128 - n6)) - 1)
        return str(ipaddress.IPv6Address(x & mask))

    return run


# ------------------------------------------------------------------ encodings


@converter("hex", "bin", "str")
def _hex(args: list[str], ctx: BuildCtx) -> Any:
    return lambda v, st: v.hex().upper()


@converter("base64", "bin", "str")
def _b64(args: list[str], ctx: BuildCtx) -> Any:
    return lambda v, st: base64.b64encode(v).decode()


@converter("b64dec", "str", "bin")
def _b64dec(args: list[str], ctx: BuildCtx) -> Any:
    def run(v: str, st: Any) -> bytes | None:
        try:
            return base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            return None

    return run


@converter("ub64enc", "bin", "str")
def _ub64enc(args: list[str], ctx: BuildCtx) -> Any:
    return lambda v, st: base64.urlsafe_b64encode(v).decode().rstrip("=")


@converter("ub64dec", "str", "bin")
def _ub64dec(args: list[str], ctx: BuildCtx) -> Any:
    def run(v: str, st: Any) -> bytes | None:
        try:
            return base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
        except (binascii.Error, ValueError):
            return None

    return run


@converter("url_dec", "str", "str", 0, 1)
def _url_dec(args: list[str], ctx: BuildCtx) -> Any:
    plus = bool(args and args[0] and int(args[0]))

    def run(v: str, st: Any) -> str:
        if plus:
            v = v.replace("+", " ")
        return unquote_to_bytes(v).decode("latin-1")

    return run


@converter("url_enc", "str", "str", 0, 1)
def _url_enc(args: list[str], ctx: BuildCtx) -> Any:
    return lambda v, st: quote_from_bytes(v.encode("latin-1"), safe="")


@converter("bytes", "bin", "bin", 1, 2)
def _bytes(args: list[str], ctx: BuildCtx) -> Any:
    off = int(args[0])
    ln = int(args[1]) if len(args) > 1 and args[1] else None

    def run(v: bytes, st: Any) -> bytes | None:
        if off >= len(v):
            return None
        return v[off:] if ln is None else v[off : off + ln]

    return run


# ------------------------------------------------------------------ arithmetic


def _operand(args: list[str]) -> Any:
    """A constant or a variable name, as the arithmetic converters accept."""
    a = args[0]
    if re.fullmatch(r"[+-]?\d+", a):
        k = int(a)
        return lambda st: k
    name = check_var_name(a)
    return lambda st: to_int(var_get(st, name))


def _arith(name: str, op: Any) -> None:
    def build(args: list[str], ctx: BuildCtx) -> Any:
        get = _operand(args)

        def run(v: int, st: Any) -> int | None:
            o = get(st)
            if o is None:
                return None
            return op(v, o)

        return run

    converter(name, "int", "int", 1, 1)(build)


def _div(a: int, b: int) -> int:
    if b == 0:
        return 2**63 - 1
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _mod(a: int, b: int) -> int:
    if b == 0:
        return 0
    return a - b * _div(a, b)


_arith("add", lambda a, b: _wrap(a + b))
_arith("sub", lambda a, b: _wrap(a - b))
_arith("mul", lambda a, b: _wrap(a * b))
_arith("div", _div)
_arith("mod", _mod)
_arith("and", lambda a, b: _wrap(a & b))
_arith("or", lambda a, b: _wrap(a | b))
_arith("xor", lambda a, b: _wrap(a ^ b))


@converter("neg", "int", "int")
def _neg(args: list[str], ctx: BuildCtx) -> Any:
    return lambda v, st: _wrap(-v)


@converter("not", "int", "bool")
def _not(args: list[str], ctx: BuildCtx) -> Any:
    return lambda v, st: not v


@converter("bool", "int", "bool")
def _bool(args: list[str], ctx: BuildCtx) -> Any:
    return lambda v, st: bool(v)


# ------------------------------------------------------------------ hashes


def _hash(name: str, fn: Any) -> None:
    def build(args: list[str], ctx: BuildCtx) -> Any:
        avalanche = bool(args and args[0] and int(args[0]))
        if avalanche:
            return lambda v, st: hashes.full_hash(fn(v))
        return lambda v, st: fn(v)

    converter(name, "bin", "int", 0, 1)(build)


_hash("crc32", hashes.crc32)
_hash("djb2", hashes.djb2)
_hash("sdbm", hashes.sdbm)
_hash("wt6", hashes.wt6)


@converter("xxh32", "bin", "int", 0, 1)
def _xxh32(args: list[str], ctx: BuildCtx) -> Any:
    seed = int(args[0]) if args and args[0] else 0
    return lambda v, st: xxh32(v, seed)


@converter("xxh64", "bin", "int", 0, 1)
def _xxh64(args: list[str], ctx: BuildCtx) -> Any:
    seed = int(args[0]) if args and args[0] else 0
    return lambda v, st: _wrap(xxh64(v, seed))


# ------------------------------------------------------------------ maps

# map_<match>[_<output>]: the match decides the input cast, the suffix the output.
MAP_MATCHES = {
    "str": "str",
    "beg": "str",
    "sub": "str",
    "dir": "str",
    "dom": "str",
    "end": "str",
    "reg": "str",
    "regm": "str",
    "ip": "ip",
    "int": "int",
}
OUT_CAST = {"str": to_str, "int": to_int, "ip": to_str}
OUT_TYPE_NAME = {"str": "str", "int": "sint", "ip": "ipv4"}


def _map_builder(match: str, out: str) -> Any:
    kind = MATCHERS["reg" if match == "regm" else match]
    cast = OUT_CAST[out]

    def build(args: list[str], ctx: BuildCtx) -> Any:
        store = ctx.store
        if store is None:
            raise ValueError("maps are not available here")
        path = args[0]
        file, line = ctx.place()
        desc = f"pattern loaded from file '{path}' used by map at file '{file}' line {line}"
        try:
            ref = store.file_ref(path, F_MAP, desc, ctx.order)
        except OSError as exc:
            raise ValueError(
                f"failed to load map '{path}' : unable to open file ({exc.strerror})"
            ) from None
        index = kind.make_index(False)
        ref.subscribe(Expr(kind, index, False, OUT_TYPE_NAME[out]))
        default = cast(args[1]) if len(args) > 1 else None
        lookup = index.match
        if match == "int":

            def run_int(v: Any, st: Any) -> Any:
                e = lookup(v)
                return cast(e.value) if e is not None else default

            return run_int

        def run(v: Any, st: Any) -> Any:
            e = lookup(v)
            return cast(e.value) if e is not None else default

        return run

    return build


for _m, _inp in MAP_MATCHES.items():
    for _o in ("str", "int", "ip"):
        _b = _map_builder(_m, _o)
        converter(f"map_{_m}_{_o}", _inp, _o, 1, 2)(_b)
        if _o == "str":
            converter(f"map_{_m}", _inp, _o, 1, 2)(_b)
converter("map", "str", "str", 1, 2)(_map_builder("str", "str"))

# `to_bin` is re-exported for converters registered elsewhere that need it.
__all__ = ["to_bin"]
