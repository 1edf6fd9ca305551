"""Read-only reporting commands: show info, show stat, show schema json, show version,
show backend.

Rows and values come from `runtime_api.stats_rows`; bytes from `runtime_api.stats_format`.
`show stat` is streamed (one chunk per object) so that a large configuration never builds
its whole dump in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

from lb.config.units import atol
from runtime_api import stats_rows
from runtime_api.registry import CliError, CliMessage, CommandContext, Level, arg, command
from runtime_api.stats_format import (
    format_info_json,
    format_info_plain,
    format_info_typed,
    format_schema_json,
    format_stat_csv,
    format_stat_json,
    format_stat_typed,
)
from runtime_api.stats_rows import TYPE_BE, TYPE_FE, TYPE_SRV, StatFilter

__all__ = ["atoi", "parse_show_stat"]


def atoi(text: str) -> int:
    """C ``atoi`` (lb.config.units.atol), wrapped like a 32-bit int as HAProxy's
    atoi() result is in practice."""
    return (atol(text) + 2**31) % 2**32 - 2**31


@command("show info", level=Level.USER)
def cmd_show_info(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    """``show info [typed|json] [desc] [float]``."""
    words = args[2:]
    typed, json, desc, use_float = (
        "typed" in words,
        "json" in words,
        "desc" in words,
        "float" in words,
    )
    values = stats_rows.info_values(ctx.state, use_float=use_float)
    if json:
        return format_info_json(values)
    if typed:
        return format_info_typed(values, desc)
    return format_info_plain(values, desc)


def parse_show_stat(ctx: CommandContext, args: list[str]) -> tuple[StatFilter, set[str]]:
    """HAProxy's rule: three positional filters (all present) come first, flags after."""
    state = ctx.state
    pos = 2
    iid, types, sid = 0, -1, -1
    if arg(args, 2) and arg(args, 3) and arg(args, 4):
        px = state.by_name.get(args[2])
        iid = px.puid if px is not None else atoi(args[2])
        if not iid:
            raise CliError("No such proxy.")
        types = atoi(args[3])
        sid = atoi(args[4])
        pos = 5
    flags = set(args[pos:])
    flt = StatFilter(
        iid=0 if iid == -1 else iid,  # -1 selects every proxy
        types=types if types != -1 else TYPE_FE | TYPE_BE | TYPE_SRV,
        sid=sid,
        hide_down="up" in flags,
        hide_maint="no-maint" in flags,
    )
    return flt, flags


@command("show stat", level=Level.USER)
def cmd_show_stat(ctx: CommandContext, args: list[str], payload: str | None) -> Iterator[str] | str:
    """``show stat [{<iid>|<name>} <type> <sid>] [typed|json] [desc] [up|no-maint]``."""
    flt, flags = parse_show_stat(ctx, args)
    rows = stats_rows.proxy_rows(ctx.state, flt)
    if "json" in flags:
        return format_stat_json(list(rows))
    if "typed" in flags:
        return format_stat_typed(rows, "desc" in flags)
    return format_stat_csv(rows)


@command("show schema json", level=Level.USER)
def cmd_show_schema_json(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    return format_schema_json()


@command("show version", level=Level.USER)
def cmd_show_version(ctx: CommandContext, args: list[str], payload: str | None) -> CliMessage:
    return CliMessage(stats_rows.PRODUCT_VERSION + "\n")


@command("show backend", level=Level.USER)
def cmd_show_backend(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    """``show backend``: the names of the proxies with a backend side, in config order."""
    names = [p.name for p in ctx.state.proxies if p.is_backend]
    return "# name\n" + "".join(name + "\n" for name in names)
