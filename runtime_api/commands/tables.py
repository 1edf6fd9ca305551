"""Stick-table commands: show table, set table, clear table (HAProxy 2.6 wording and quirks).

Quirks kept on purpose because scripts see them: `set table T` without a key
empties the table; an `ip` key that does not parse is 0.0.0.0 (as C's
`inet_addr` family gives), so `clear table T key notanip` is silent; at
`user` level `clear table` does nothing and says nothing.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from typing import Any

from runtime_api.registry import CliError, CommandContext, Level, arg, command
from stick.datatypes import DATA_TYPES
from stick.table import Table, now_ms

OPS: dict[str, Callable[[int, int], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "le": operator.le,
    "ge": operator.ge,
    "lt": operator.lt,
    "gt": operator.gt,
}
MAX_FILTERS = 4
_INT = re.compile(r"[+-]?\d+")

Filter = Callable[[Any], bool]


def _tables(ctx: CommandContext) -> dict[str, Table]:
    return getattr(ctx.state, "tables", None) or {}


def _table(ctx: CommandContext, name: str) -> Table:
    t = _tables(ctx).get(name)
    if t is None:
        raise CliError("No such table")
    return t


def _key(t: Table, text: str, *, quiet_ip: bool = True) -> Any:
    if t.ktype.name == "binary":
        raise CliError(
            "Inserting keys into tables of type other than ip, ipv6, string and integer "
            "is not supported"
        )
    k = t.ktype.from_text(text)
    if k is None:
        if t.ktype.name == "ip" and quiet_ip:
            return 0
        raise CliError("Invalid key")
    return k


def _filters(t: Table, words: list[str], n0: int) -> list[Filter]:
    """`data.X OP V`… (at most 4); words start at command word index `n0`."""
    out: list[Filter] = []
    i = 0
    while i < len(words):
        if len(out) == MAX_FILTERS:
            raise CliError(
                f"Detected extra data in filter, {n0 + i + 1}th word of input, "
                f"after '{words[i - 1]}'"
            )
        n = len(out) + 1
        name = words[i][5:]
        dt = DATA_TYPES.get(name)
        if dt is None:
            raise CliError(f"Filter entry #{n}: Unknown data type")
        if not t.has(name):
            raise CliError(f"Filter entry #{n}: Data type not stored in this table")
        op = OPS.get(words[i + 1] if i + 1 < len(words) else "")
        if op is None:
            raise CliError(
                f'Filter entry #{n}: Require and operator among "eq", "ne", "le", "ge", "lt", "gt"'
            )
        val = words[i + 2] if i + 2 < len(words) else ""
        if not _INT.fullmatch(val):
            raise CliError(f"Filter entry #{n}: Require a valid integer value to compare against")
        v = int(val)
        out.append(lambda e, name=name, op=op, v=v: op(t.read(e, name), v))
        i += 3
    return out


def _parse_selection(t: Table, words: list[str], err: str) -> tuple[Any, list[Filter], bool]:
    """(`key`, filters, has_key) from what follows the table name."""
    if not words:
        return None, [], False
    if words[0] == "key":
        if len(words) < 2 or not words[1]:
            raise CliError("Key value expected")
        return words[1], [], True
    if words[0].startswith("data."):
        return None, _filters(t, words, 3), False
    raise CliError(err)


@command("show table", level=Level.USER)
def cmd_show_table(ctx: CommandContext, args: list[str], payload: str | None) -> Any:
    """`show table [<table> [data.X OP V]… | [key K]]`."""
    name = arg(args, 2)
    if not name:
        return "".join(t.header() for t in reversed(list(_tables(ctx).values())))
    t = _table(ctx, name)
    key_text, filters, has_key = _parse_selection(
        t,
        args[3:],
        'Optional argument only supports "data.<store_data_type>" <operator> <value> and key <key>',
    )
    if has_key:
        e = t.lookup(_key(t, key_text))
        if e is None:
            return ""
        return t.header() + t.dump_line(e)

    def dump() -> Iterator[str]:
        yield t.header()
        now = now_ms()
        chunk: list[str] = []
        for e in t.iter_entries():
            if all(f(e) for f in filters):
                chunk.append(t.dump_line(e, now))
                if len(chunk) >= 256:
                    yield "".join(chunk)
                    chunk = []
        yield "".join(chunk)

    return dump()


@command("set table", level=Level.USER)
def cmd_set_table(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    """`set table <table> key <k> [data.<type> <value>]*`."""
    name = arg(args, 2)
    if not name:
        raise CliError("Required arguments: <table> key <key> [data.<store_data_type> <value>]*")
    t = _table(ctx, name)
    if ctx.session.level < Level.OPERATOR:
        raise CliError("Permission denied")
    if arg(args, 3) != "key":
        t.clear()  # HAProxy 2.6.12: `set table T` without a key empties it
        return
    if not arg(args, 4):
        raise CliError("Key value expected")
    k = _key(t, args[4])
    e = t.get(k)
    if e is None:
        raise CliError("Unable to allocate a new entry")
    words = args[5:]
    i = 0
    while i < len(words):
        w = words[i]
        if not w.startswith("data."):
            raise CliError('"data.<type>" followed by a value expected')
        dname = w[5:]
        if dname not in DATA_TYPES:
            raise CliError("Unknown data type")
        if not t.has(dname):
            raise CliError("Data type not stored in this table")
        val = words[i + 1] if i + 1 < len(words) else ""
        if not _INT.fullmatch(val):
            raise CliError("Require a valid integer value to store")
        t.write(e, dname, int(val))
        i += 2


@command("clear table", level=Level.USER)
def cmd_clear_table(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    """`clear table <table> [data.X OP V]… | [key K]`: unused entries only."""
    usage = (
        'Required arguments: <table> "data.<store_data_type>" <operator> <value> '
        "or <table> key <key>"
    )
    name = arg(args, 2)
    if not name:
        raise CliError(usage)
    t = _table(ctx, name)
    key_text, filters, has_key = _parse_selection(t, args[3:], usage)
    if ctx.session.level < Level.OPERATOR:
        return
    if has_key:
        k = _key(t, key_text)
        e = t.lookup(k)
        if e is not None and e.use <= 0:
            t.remove(k)
        return
    t.clear((lambda e: all(f(e) for f in filters)) if filters else None)
