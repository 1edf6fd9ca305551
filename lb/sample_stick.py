"""Stick-table fetches and converters, generated for every data type.

`sc_<type>(N[,table])` and `scN_<type>([table])` read what the stream tracks
in counter N (no sample when it tracks nothing), `src_<type>([table])` looks
the client address up in a table (0 when absent), `table_<type>(table)`
looks the converted sample up. Tags and counters HAProxy names with `get`
(`sc_get_gpt0`, `src_get_gpc0`…) get those names. `sc_inc_gpc0`,
`sc_clr_gpc0` and their `src_`/`gpc1` forms change the entry they read.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from lb.sample import CONVERTERS, FETCHES, BuildCtx, Converter, Fetch
from stick.datatypes import DATA_TYPES, RATE_OF
from stick.table import now_ms, rate_read_src

NSC = 3
GET_NAMES = {"gpt0": "get_gpt0", "gpc0": "get_gpc0", "gpc1": "get_gpc1"}


def find_table(ctx: BuildCtx, name: str | None) -> Any:
    """The table called `name`, or the proxy's own; ValueError as HAProxy words it."""
    tables = getattr(ctx.state, "tables", None) or {}
    if name:
        t = tables.get(name)
        if t is None:
            raise ValueError(f"unable to find table '{name}'.")
        return t
    if ctx.proxy is None:
        return None
    return tables.get(ctx.proxy.name)


def tracked(st: Any, n: int) -> Any:
    sc = getattr(st, "sc", None)
    return sc[n] if sc is not None else None


def _reader(dname: str) -> Any:
    """`read(table, entry)`: the value now, None when the table does not store it."""

    def read(table: Any, e: Any) -> int | None:
        fn = table._fetchers.get(dname) or table.fetcher(dname)
        return None if fn is None else fn(e)

    return read


def _sc_builder(dname: str, fixed_n: int | None) -> Any:
    read = _reader(dname)

    def build(args: list[str], ctx: BuildCtx) -> Any:
        if fixed_n is None:
            n = int(args[0]) if args and args[0].isdigit() else -1
            if not 0 <= n < NSC:
                raise ValueError(f"invalid stick counter number '{args[0] if args else ''}'.")
            targs = args[1:]
        else:
            n, targs = fixed_n, args
        other = find_table(ctx, targs[0]) if targs and targs[0] else None
        if other is not None:

            def run_other(st: Any) -> int | None:
                t = tracked(st, n)
                if t is None:
                    return None
                table, e = t[0], t[1]
                if other is not table:
                    e = other.lookup(e.key)
                    if e is None:
                        return 0
                    table = other
                return read(table, e)

            return run_other

        def slow(t: Any) -> int | None:
            return read(t[0], t[1])

        own = find_table(ctx, None)
        return _compile_sc(n, dname, own if own is not None and own.has(dname) else None, slow)

    return build


def _compile_sc(n: int, dname: str, own: Any, slow: Any) -> Any:
    """`sc_<dname>(n)` as one generated function: the value is read inline when the
    stream tracks an entry of `own` (the proxy's table, the usual case), through the
    tracked table's compiled reader otherwise."""
    lines = [
        "def run(st):",
        "    sc = getattr(st, 'sc', None)",
        f"    if sc is None or (t := sc[{n}]) is None:",
        "        return None",
    ]
    if own is not None:
        lines.append("    if t[0] is own:")
        if DATA_TYPES[dname].is_rate:
            lines += [
                "        e = t[1]",
                "        now = int(monotonic() * 1000)",
                rate_read_src(dname, own.period(dname), ind="        ").rstrip("\n"),
                "        return v",
            ]
        else:
            lines.append(f"        return t[1].{dname}")
    lines.append("    return slow(t)")
    g: dict[str, Any] = {"own": own, "slow": slow, "monotonic": monotonic}
    exec("\n".join(lines) + "\n", g)  # noqa: S102 - code built from data-type names only
    return g["run"]


def _src_builder(dname: str) -> Any:
    read = _reader(dname)

    def build(args: list[str], ctx: BuildCtx) -> Any:
        fixed = find_table(ctx, args[0] if args else None)

        def run(st: Any) -> int | None:
            table = fixed
            if table is None:
                table = (getattr(st.frontend.state, "tables", None) or {}).get(st.frontend.name)
                if table is None:
                    return None
            key = table.ktype.from_sample(st.client_ip)
            e = table.lookup(key) if key is not None else None
            if e is None:
                return 0
            return read(table, e)

        return run

    return build


def _table_conv(dname: str) -> Any:
    read = _reader(dname)

    def build(args: list[str], ctx: BuildCtx) -> Any:
        table = find_table(ctx, args[0])

        def run(v: Any, st: Any) -> int | None:
            key = table.ktype.from_sample(v)
            e = table.lookup(key) if key is not None else None
            if e is None:
                return 0 if dname != "server_id" else None
            return read(table, e)

        return run

    return build


for _d in DATA_TYPES:
    _n = GET_NAMES.get(_d, _d)
    FETCHES[f"sc_{_n}"] = Fetch(f"sc_{_n}", "int", _sc_builder(_d, None), 1, 2)
    for _i in range(NSC):
        FETCHES[f"sc{_i}_{_n}"] = Fetch(f"sc{_i}_{_n}", "int", _sc_builder(_d, _i), 0, 1)
    FETCHES[f"src_{_n}"] = Fetch(f"src_{_n}", "int", _src_builder(_d), 0, 1)
    CONVERTERS[f"table_{_d}"] = Converter(f"table_{_d}", "any", "int", _table_conv(_d), 1, 1)


# ------------------------------------------------------------------ changing fetches


def _change(table: Any, e: Any, dname: str, op: str) -> int | None:
    """Increment or clear a gpc and its rate; returns the new (inc) or old (clr) value."""
    if not table.has(dname) and not table.has(RATE_OF[dname]):
        return None
    now = now_ms()
    old = table.read(e, dname) if table.has(dname) else 0
    if op == "inc":
        bump = table.bumper(dname)
        bump(e, now, 1)
        return table.read(e, dname) if table.has(dname) else table.read(e, RATE_OF[dname], now)
    if table.has(dname):
        table.write(e, dname, 0)
    return old


def _sc_change(dname: str, op: str, fixed_n: int | None) -> Any:
    def build(args: list[str], ctx: BuildCtx) -> Any:
        n = fixed_n if fixed_n is not None else int(args[0])

        def run(st: Any) -> int | None:
            t = tracked(st, n)
            if t is None:
                return None
            return _change(t[0], t[1], dname, op)

        return run

    return build


def _src_change(dname: str, op: str) -> Any:
    def build(args: list[str], ctx: BuildCtx) -> Any:
        fixed = find_table(ctx, args[0] if args else None)

        def run(st: Any) -> int | None:
            table = fixed
            if table is None:
                return None
            key = table.ktype.from_sample(st.client_ip)
            e = table.get(key) if key is not None else None
            return None if e is None else _change(table, e, dname, op)

        return run

    return build


for _d in ("gpc0", "gpc1"):
    for _op in ("inc", "clr"):
        FETCHES[f"sc_{_op}_{_d}"] = Fetch(f"sc_{_op}_{_d}", "int", _sc_change(_d, _op, None), 1, 2)
        for _i in range(NSC):
            _nm = f"sc{_i}_{_op}_{_d}"
            FETCHES[_nm] = Fetch(_nm, "int", _sc_change(_d, _op, _i), 0, 1)
        FETCHES[f"src_{_op}_{_d}"] = Fetch(f"src_{_op}_{_d}", "int", _src_change(_d, _op), 0, 1)


def _tracked_builder(fixed_n: int | None) -> Any:
    def build(args: list[str], ctx: BuildCtx) -> Any:
        n = fixed_n if fixed_n is not None else int(args[0])
        return lambda st: tracked(st, n) is not None

    return build


FETCHES["sc_tracked"] = Fetch("sc_tracked", "bool", _tracked_builder(None), 1, 2)
for _i in range(NSC):
    FETCHES[f"sc{_i}_tracked"] = Fetch(f"sc{_i}_tracked", "bool", _tracked_builder(_i), 0, 1)


def _trackers_builder(fixed_n: int | None) -> Any:
    def build(args: list[str], ctx: BuildCtx) -> Any:
        n = fixed_n if fixed_n is not None else int(args[0])

        def run(st: Any) -> int | None:
            t = tracked(st, n)
            return None if t is None else t[1].use

        return run

    return build


FETCHES["sc_trackers"] = Fetch("sc_trackers", "int", _trackers_builder(None), 1, 2)
for _i in range(NSC):
    FETCHES[f"sc{_i}_trackers"] = Fetch(f"sc{_i}_trackers", "int", _trackers_builder(_i), 0, 1)


def _table_count(avail: bool) -> Any:
    def build(args: list[str], ctx: BuildCtx) -> Any:
        table = find_table(ctx, args[0] if args else None)

        def run(st: Any) -> int | None:
            if table is None:
                return None
            return table.size - len(table) if avail else len(table)

        return run

    return build


FETCHES["table_cnt"] = Fetch("table_cnt", "int", _table_count(False), 0, 1)
FETCHES["table_avl"] = Fetch("table_avl", "int", _table_count(True), 0, 1)
