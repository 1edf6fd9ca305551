"""Sample expressions: `FETCH[(args)][,CONV[(args)]]…` compiled into callables.

Fetches and converters register once (`fetch`, `converter`) with their
output (and input) types; `compile_sample` parses an expression, builds
each step once with its arguments already parsed, and chains them into one
`fn(stream) -> value` (None: no sample). Types are checked at compile time
and casts inserted only where needed (`lb.sample_types`). The fetches and
converters themselves live in `lb.sample_fetch`, `lb.sample_conv` and
`lb.sample_stick`, imported at the end of this module.

Compiling needs to know where the expression is (a map converter creates or
shares a pattern list in the state's store, `src_*` defaults to the
proxy's table): that is a `BuildCtx`. The log-format hook gets only the
expression text, so the state sets the current context around building a
proxy's logging (`building`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lb.sample_types import cast_fn

SampleFn = Callable[[Any], Any]
ConvFn = Callable[[Any, Any], Any]


@dataclass(slots=True)
class BuildCtx:
    """Where an expression is compiled: the live state, the proxy, the config place."""

    state: Any = None
    proxy: Any = None
    where: Any = None
    order: tuple[Any, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def store(self) -> Any:
        return getattr(self.state, "patterns", None)

    def place(self) -> tuple[str, int]:
        w = self.where
        return (w.file, w.line) if w is not None else ("", 0)


@dataclass(frozen=True, slots=True)
class Fetch:
    name: str
    out: str
    build: Callable[[list[str], BuildCtx], SampleFn]
    min_args: int = 0
    max_args: int = 0
    multi: Callable[[list[str], BuildCtx], Callable[[Any], list[Any]]] | None = None
    match: str = ""  # default ACL match method when not derived from `out`
    usage: str = ""


@dataclass(frozen=True, slots=True)
class Converter:
    name: str
    inp: str
    out: str  # "same" keeps the input type
    build: Callable[[list[str], BuildCtx], ConvFn]
    min_args: int = 0
    max_args: int = 0


FETCHES: dict[str, Fetch] = {}
CONVERTERS: dict[str, Converter] = {}


def fetch(
    name: str,
    out: str,
    min_args: int = 0,
    max_args: int = 0,
    match: str = "",
    multi: Callable[[list[str], BuildCtx], Callable[[Any], list[Any]]] | None = None,
) -> Callable[
    [Callable[[list[str], BuildCtx], SampleFn]], Callable[[list[str], BuildCtx], SampleFn]
]:
    """Register a fetch builder `build(args, ctx) -> fn(stream)`."""

    def deco(build: Callable[[list[str], BuildCtx], SampleFn]) -> Any:
        FETCHES[name] = Fetch(name, out, build, min_args, max(max_args, min_args), multi, match)
        return build

    return deco


def simple_fetch(name: str, out: str, fn: SampleFn, match: str = "") -> None:
    """Register an argument-less fetch that is just `fn(stream)`."""
    FETCHES[name] = Fetch(name, out, lambda args, ctx: fn, match=match)


def converter(
    name: str, inp: str, out: str, min_args: int = 0, max_args: int = 0
) -> Callable[[Callable[[list[str], BuildCtx], ConvFn]], Callable[[list[str], BuildCtx], ConvFn]]:
    """Register a converter builder `build(args, ctx) -> fn(value, stream)`."""

    def deco(build: Callable[[list[str], BuildCtx], ConvFn]) -> Any:
        CONVERTERS[name] = Converter(name, inp, out, build, min_args, max(max_args, min_args))
        return build

    return deco


# ------------------------------------------------------------------ parsing


def split_args(text: str) -> list[str]:
    """Comma-separated arguments; backslash escapes, quotes group, spaces around are kept."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i + 1])
            i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
            else:
                cur.append(c)
        elif c in "'\"":
            quote = c
        elif c == ",":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def parse_expr(text: str) -> list[tuple[str, list[str] | None]]:
    """`name(args),conv(args)` into `[(name, args or None), …]`."""
    steps: list[tuple[str, list[str] | None]] = []
    i, n = 0, len(text)
    while i < n:
        j = i
        while j < n and text[j] not in "(,":
            j += 1
        name = text[i:j].strip()
        args: list[str] | None = None
        if j < n and text[j] == "(":
            depth = 0
            k = j
            while k < n:
                if text[k] == "\\":
                    k += 2
                    continue
                if text[k] == "(":
                    depth += 1
                elif text[k] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            if k >= n:
                raise ValueError(f"missing closing ')' after arguments to '{name}'.")
            args = split_args(text[j + 1 : k])
            j = k + 1
            while j < n and text[j] == " ":
                j += 1
        steps.append((name, args))
        if j < n:
            if text[j] != ",":
                raise ValueError(f"missing comma after '{name}'.")
            j += 1
            if j >= n:
                raise ValueError("missing converter after ','.")
        i = j
    if not steps or not steps[0][0]:
        raise ValueError("missing fetch method.")
    return steps


def _check_args(kind: str, name: str, args: list[str] | None, lo: int, hi: int) -> list[str]:
    a = args or []
    if len(a) < lo:
        raise ValueError(f"missing args for {kind} '{name}' : expects at least {lo} arg(s).")
    if len(a) > hi:
        raise ValueError(f"too many args for {kind} '{name}' : expects at most {hi} arg(s).")
    return a


@dataclass(slots=True)
class Compiled:
    """A compiled expression: `fn(stream)`, its output type, its fetch and pieces."""

    fn: SampleFn
    out: str
    fetch: Fetch
    fetch_args: list[str]
    convs: list[tuple[ConvFn, Callable[[Any], Any] | None]]


def compile_steps(
    steps: list[tuple[str, list[str] | None]], ctx: BuildCtx, fetch_def: Fetch | None = None
) -> Compiled:
    name, args = steps[0]
    f = fetch_def or FETCHES.get(name)
    if f is None:
        raise ValueError(f"unknown fetch method '{name}'.")
    fargs = _check_args("fetch method", name, args, f.min_args, f.max_args)
    fn = f.build(fargs, ctx)
    typ = f.out
    convs: list[tuple[ConvFn, Callable[[Any], Any] | None]] = []
    for cname, cargs in steps[1:]:
        c = CONVERTERS.get(cname)
        if c is None:
            raise ValueError(f"unknown converter '{cname}'.")
        ca = _check_args("converter", cname, cargs, c.min_args, c.max_args)
        convs.append((c.build(ca, ctx), cast_fn(typ, c.inp)))
        typ = typ if c.out == "same" else c.out
    return Compiled(_chain(fn, convs), typ, f, fargs, convs)


def _chain(fn: SampleFn, convs: list[tuple[ConvFn, Callable[[Any], Any] | None]]) -> SampleFn:
    if not convs:
        return fn
    if len(convs) == 1 and convs[0][1] is None:
        conv = convs[0][0]

        def one(st: Any) -> Any:
            v = fn(st)
            return None if v is None else conv(v, st)

        return one

    def run(st: Any) -> Any:
        v = fn(st)
        for conv, cast in convs:
            if v is None:
                return None
            if cast is not None:
                v = cast(v)
                if v is None:
                    return None
            v = conv(v, st)
        return v

    return run


def compile_sample(text: str, ctx: BuildCtx | None = None) -> Compiled:
    """Compile `text` (ValueError with HAProxy's reason when it is not an expression)."""
    return compile_steps(parse_expr(text), ctx or current_ctx())


# ------------------------------------------------------------------ log-format hook

_CTX: list[BuildCtx] = []


@contextlib.contextmanager
def building(ctx: BuildCtx) -> Iterator[BuildCtx]:
    """Make `ctx` the context of `compile_sample_for_log` while a proxy is built."""
    _CTX.append(ctx)
    try:
        yield ctx
    finally:
        _CTX.pop()


def current_ctx() -> BuildCtx:
    return _CTX[-1] if _CTX else BuildCtx()


def compile_sample_for_log(text: str) -> SampleFn:
    """`%[expr]` of a log-format: the compiled `fn(stream)`."""
    ctx = current_ctx()
    if ctx.proxy is not None and getattr(ctx.proxy.conf, "log_format_where", None) is not None:
        ctx = BuildCtx(ctx.state, ctx.proxy, ctx.proxy.conf.log_format_where, ctx.order)
    return compile_sample(text, ctx).fn


from lb import sample_conv, sample_fetch, sample_stick, sample_tls  # noqa: E402,F401  (registration)
