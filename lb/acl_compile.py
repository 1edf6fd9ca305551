"""`acl` lines and inline `{ … }` conditions into `cond(stream) -> bool`.

`acl NAME FETCH[,CONV…] [-i] [-f FILE]… [-m METH] [-n] [-u ID] [-M] [--] VALUE…`:
the fetch expression compiles through `lb.sample`; the match method comes
from `-m`, from the keyword's suffix (`path_beg` is `path` matched with
`beg`) or from the fetch's output type. Values written on the line form one
pattern list (listed by `show acl` with an empty file name, as HAProxy
does), each `-f` file another; every list gets its own index for this
match method, and the condition asks each index in turn.

Integer values take HAProxy's operators (`gt 50` is stored as the range
`51:`, exactly what `show acl` prints).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lb.acl import AclError
from lb.config.model import Rule
from lb.matchers import DEFAULT_MATCH, INT_OPERATORS, MATCHERS, MatchKind
from lb.patterns import F_ACL, F_MAP, Expr, PatRef
from lb.sample import FETCHES, BuildCtx, compile_steps, parse_expr
from lb.sample_types import to_bin, to_bool, to_int, to_str

Cond = Callable[[Any], bool]
SUFFIX_ALIASES = {"val": "int"}
_FLAGS_WITH_ARG = ("-f", "-m", "-u")


def split_acl_words(words: list[str]) -> tuple[str, dict[str, Any], list[str]]:
    """`FETCH flags… values…` into the expression, the flags and the values."""
    if not words:
        raise ValueError("missing fetch method.")
    expr = words[0]
    flags: dict[str, Any] = {"-i": False, "-f": [], "-m": "", "-M": False}
    i = 1
    while i < len(words) and words[i].startswith("-") and len(words[i]) > 1:
        w = words[i]
        if w == "--":
            i += 1
            break
        if w in _FLAGS_WITH_ARG:
            if i + 1 >= len(words):
                raise ValueError(f"missing argument after '{w}'.")
            if w == "-f":
                flags["-f"].append(words[i + 1])
            else:
                flags[w] = words[i + 1]
            i += 2
            continue
        if w in ("-i", "-n", "-M"):
            flags[w] = True
            i += 1
            continue
        break
    return expr, flags, words[i:]


def _resolve(expr: str, method: str) -> tuple[list[tuple[str, list[str] | None]], Any, str]:
    """The parsed steps, the fetch and the match method name for an ACL keyword."""
    steps = parse_expr(expr)
    name, args = steps[0]
    f = FETCHES.get(name)
    mname = method
    if f is None:
        base, _, suffix = name.rpartition("_")
        suffix = SUFFIX_ALIASES.get(suffix, suffix)
        f = FETCHES.get(base)
        if f is None or suffix not in MATCHERS:
            raise ValueError(f"unknown fetch method '{name}' in ACL expression '{name}'.")
        mname = mname or suffix
    if not mname:
        mname = f.match or DEFAULT_MATCH.get(f.out, "str")
    if mname not in MATCHERS:
        raise ValueError(f"unknown matching method '{mname}'.")
    return steps, f, mname


def _int_values(values: list[str]) -> list[str]:
    out: list[str] = []
    op = None
    for v in values:
        if v in INT_OPERATORS:
            op = INT_OPERATORS[v]
            continue
        if op is not None:
            try:
                out.append(op(int(v)))
            except ValueError:
                raise ValueError(f"'{v}' is not a number.") from None
            op = None
        else:
            out.append(v)
    return out


def _caster(kind: MatchKind, out: str) -> Callable[[Any], Any] | None:
    c = kind.cast
    if c == "str":
        return None if out in ("str", "meth", "ip") else to_str
    if c == "int":
        return None if out == "int" else to_int
    if c == "len":
        return lambda v: len(v) if isinstance(v, str | bytes) else len(to_str(v) or "")
    if c == "bin":
        return None if out == "bin" else to_bin
    if c == "bool":
        return to_bool
    return None


def compile_acl_words(
    words: list[str], ctx: BuildCtx, keyword_line: str = "acl"
) -> tuple[Cond, list[PatRef]]:
    """Compile `FETCH [flags] values` in `ctx`; returns the condition and its lists."""
    expr, flags, values = split_acl_words(words)
    steps, f, mname = _resolve(expr, flags["-m"])
    kind = MATCHERS[mname]
    fetch_name = steps[0][0]
    compiled = compile_steps(steps, ctx, f)
    icase = bool(flags["-i"])
    store = ctx.store
    file, line = ctx.place()
    if mname == "int" or mname == "len":
        values = _int_values(values)
    refs: list[PatRef] = []
    for path in flags["-f"]:
        desc = f"pattern loaded from file '{path}' used by acl at file '{file}' line {line}"
        try:
            ref = store.file_ref(path, F_MAP if flags["-M"] else F_ACL, desc, ctx.order)
        except OSError as exc:
            raise ValueError(f"failed to open pattern file <{path}> : {exc.strerror}.") from None
        ref.flags |= F_ACL
        refs.append(ref)
    # the values of the line form their own list, numbered after the line's files
    inline = store.new_inline(f"acl '{fetch_name}' file '{file}' line {line}", ctx.order)
    refs.insert(0, inline)
    for v in values:
        inline.load(v)
    indexes = []
    for ref in refs:
        index = kind.make_index(icase)
        ref.subscribe(Expr(kind, index, icase))
        indexes.append(index)
    return _make_cond(compiled, f, steps, kind, indexes, ctx), refs


def _make_cond(
    compiled: Any, f: Any, steps: list, kind: MatchKind, indexes: list, ctx: BuildCtx
) -> Cond:
    fn = compiled.fn
    cast = _caster(kind, compiled.out)
    if kind.cast == "none":
        return lambda st: fn(st) is not None
    if kind.cast == "bool":
        return lambda st: bool(to_bool(fn(st)))
    multi = None
    if f.multi is not None and len(steps) == 1:
        multi = f.multi(compiled.fetch_args, ctx)
    matches = [ix.match for ix in indexes]
    if multi is not None:

        def cond_multi(st: Any) -> bool:
            for v in multi(st):
                if cast is not None:
                    v = cast(v)
                    if v is None:
                        continue
                for m in matches:
                    if m(v) is not None:
                        return True
            return False

        return cond_multi
    if len(matches) == 1 and cast is None:
        m0 = matches[0]

        def cond1(st: Any) -> bool:
            v = fn(st)
            return v is not None and m0(v) is not None

        return cond1
    if len(matches) == 2 and cast is None:
        m0, m1 = matches

        def cond2(st: Any) -> bool:
            v = fn(st)
            return v is not None and (m0(v) is not None or m1(v) is not None)

        return cond2

    def cond(st: Any) -> bool:
        v = fn(st)
        if v is None:
            return False
        if cast is not None:
            v = cast(v)
            if v is None:
                return False
        return any(m(v) is not None for m in matches)

    return cond


def make_acl_compiler(state: Any, proxy: Any, files: list[str]) -> Callable[[Rule], Cond]:
    """The `compile_acl(rule)` callback of a proxy's `AclSet`."""

    def order(where: Any) -> tuple[int, int]:
        fi = files.index(where.file) if where.file in files else len(files)
        return (fi, where.line)

    def compile_acl(rule: Rule) -> Cond:
        ctx = BuildCtx(state, proxy, rule.where, order(rule.where))
        try:
            cond, _ = compile_acl_words(list(rule.words[1:]), ctx)
        except ValueError as exc:
            raise rule.where.error(
                f"error detected while parsing ACL '{rule.words[0]}' : {exc}"
            ) from None
        return cond

    return compile_acl


def make_inline_compiler(
    state: Any, proxy: Any, acls: Any, files: list[str]
) -> Callable[[list[str]], Cond]:
    """The `{ FETCH … }` compiler; the place is the rule being compiled (`acls.where`)."""

    def inline(terms: list[str]) -> Cond:
        where = getattr(acls, "where", None) or proxy.conf.where
        fi = files.index(where.file) if where.file in files else len(files)
        ctx = BuildCtx(state, proxy, where, (fi, where.line))
        try:
            cond, _ = compile_acl_words(list(terms), ctx)
        except ValueError as exc:
            raise AclError(str(exc)) from None
        return cond

    return inline


def eager_compile(acls: Any) -> None:
    """Compile every named ACL now, in file order: `show acl` ids follow the lines."""
    for name in list(acls.lines):
        acls.get(name)
