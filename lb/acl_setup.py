"""Wiring of ACLs, pattern stores and stick tables into the live state.

`lb.state` calls these few functions while it builds: tables first (rules
and fetches refer to them by name), then each proxy's ACL set, then the
numbering of the pattern lists once everything that creates one has been
compiled. The sweeper calls `sweep` to purge expired table entries a
bounded amount at a time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from lb import rules_extra  # noqa: F401  (registers the actions)
from lb.acl import AclSet
from lb.acl_compile import eager_compile, make_acl_compiler, make_inline_compiler
from lb.patterns import PatternStore
from lb.sample import BuildCtx, building
from lb.stick_rules import needed_tables
from stick.config import parse_stick_table
from stick.table import Table, now_ms


def build_tables(state: Any) -> None:
    """`state.tables` (name -> Table, in definition order) and `state.patterns`."""
    state.patterns = PatternStore()
    tables: dict[str, Table] = {}
    # a table used by `stick` rules stores the server's id and name, as in HAProxy
    sticky = needed_tables(state.cfg)
    extra = ("store", "server_id,server_key")
    for pc in state.cfg.proxies:
        r = pc.stick_table
        if r is None:
            continue
        try:
            words = tuple(r.words) + (extra if pc.name in sticky else ())
            tables[pc.name] = parse_stick_table(pc.name, words)
        except ValueError as exc:
            raise r.where.error(f"{exc}") from None
    for peers in getattr(state.cfg, "peers", []):
        for r in peers.lines:
            if r.keyword == "table" and r.words:
                try:
                    words = tuple(r.words[1:]) + (extra if r.words[0] in sticky else ())
                    tables[r.words[0]] = parse_stick_table(r.words[0], words)
                except ValueError as exc:
                    raise r.where.error(f"{exc}") from None
    state.tables = tables


def proxy_acls(state: Any, p: Any) -> AclSet:
    """The proxy's ACL set, every named ACL compiled now (in file order)."""
    files = list(state.cfg.files)
    acls = AclSet(p.conf.acls, make_acl_compiler(state, p, files))
    acls.inline = make_inline_compiler(state, p, acls, files)
    eager_compile(acls)
    return acls


@contextlib.contextmanager
def logging_ctx(state: Any, p: Any) -> Iterator[None]:
    """Context for `%[…]` samples of the proxy's log-format."""
    with building(BuildCtx(state, p, p.conf.log_format_where or p.conf.where, (1 << 30, 0))):
        yield


def finish(state: Any) -> None:
    state.patterns.number()


def sweep(state: Any) -> None:
    tables = getattr(state, "tables", None)
    if not tables:
        return
    now = now_ms()
    for t in tables.values():
        t.purge(now, 2000)
