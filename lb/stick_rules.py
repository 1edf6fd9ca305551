"""Stick rules: `stick on`, `stick match`, `stick store-request`, `stick store-response`.

Server persistence through a stick table. At server choice (`StickRules.request`)
the match rules look the key up and give back the server whose `server_id`
the entry holds (when it is usable), and the store-request keys are noted on
the stream. As in HAProxy, the stores are written once the server has answered
(`on_response`), with the server's id (`server_id`) and name (`server_key`):
a request that never reached a server stores nothing. TCP streams have no
response head, so `commit` writes their keys when the server is taken.

A table used by stick rules always stores `server_id` and `server_key`
(`needed_tables` tells the table builder which ones).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lb.acl import AclError, AclSet, compile_condition
from lb.config.model import Rule
from lb.sample import BuildCtx, compile_sample
from stick.table import now_ms

MAX_STORES = 8
KINDS = ("on", "match", "store-request", "store-response")


def _table_name(pc: Any, words: tuple[str, ...]) -> str:
    for i, w in enumerate(words[:-1]):
        if w == "table":
            return words[i + 1]
    return pc.name


def needed_tables(cfg: Any) -> set[str]:
    """Names of the tables some stick rule refers to."""
    out: set[str] = set()
    for pc in cfg.proxies:
        for r in pc.stick_rules:
            if r.words and r.words[0] in KINDS:
                out.add(_table_name(pc, r.words))
    return out


class _Rule:
    __slots__ = ("cond", "key", "table", "to_key", "has_id", "has_key")

    def __init__(self, cond: Any, key: Any, table: Any) -> None:
        self.cond = cond
        self.key = key
        self.table = table
        self.to_key = table.ktype.from_sample
        self.has_id = table.has("server_id")
        self.has_key = table.has("server_key")


class StickRules:
    def __init__(self, proxy: Any) -> None:
        self.proxy = proxy
        self.match: list[_Rule] = []
        self.store_req: list[_Rule] = []
        self.store_res: list[_Rule] = []

    # ------------------------------------------------------------ request side

    def request(self, st: Any, srv: Any) -> Any:
        """The server for the stream: `srv` when already chosen (cookie), else a match."""
        if srv is None:
            for r in self.match:
                if r.cond is not None and not r.cond(st):
                    continue
                k = r.to_key(r.key(st))
                if k is None:
                    continue
                e = r.table.lookup(k)
                if e is None:
                    continue
                if r.has_id:
                    found = self._server(e.server_id)
                    if found is not None and found.usable:
                        t = r.table
                        if t.expire:
                            e.exp = now_ms() + t.expire
                        srv = found
                break  # the first rule that finds an entry decides
        if self.store_req:
            pending = self._keys(self.store_req, st, None)
            if pending:
                st.stick_pending = pending
        return srv

    def _keys(self, rules: list[_Rule], st: Any, have: list[Any] | None) -> list[Any]:
        out = have or []
        for r in rules:
            if len(out) >= MAX_STORES:
                break
            if any(t is r.table for t, _ in out):  # one store per table
                continue
            if r.cond is not None and not r.cond(st):
                continue
            k = r.to_key(r.key(st))
            if k is not None:
                out.append((r.table, k))
        return out

    def _server(self, sid: int) -> Any:
        for s in self.proxy.servers:
            if s.puid == sid:
                return s
        return None

    # ------------------------------------------------------------ storing

    def on_response(self, st: Any, head: Any) -> None:
        pending = getattr(st, "stick_pending", None)
        if self.store_res:
            pending = self._keys(self.store_res, st, list(pending or ()))
        if pending:
            st.stick_pending = None
            self._write(pending, st.server)

    def commit(self, st: Any, srv: Any) -> None:
        pending = getattr(st, "stick_pending", None)
        if pending:
            st.stick_pending = None
            self._write(pending, srv)

    def _write(self, pending: list[Any], srv: Any) -> None:
        if srv is None or srv.options.get("non-stick"):
            return
        now = now_ms()
        for table, k in pending:
            e = table.get(k, now)
            if e is None:
                continue
            if table.has("server_id"):
                table.write(e, "server_id", srv.puid)
            if table.has("server_key"):
                e.server_key = srv.name


def build(p: Any, acls: AclSet) -> StickRules | None:
    """The proxy's stick rules, or None when it has none."""
    rules = p.conf.stick_rules
    if not rules:
        return None
    tables = getattr(p.state, "tables", {}) or {}
    sr = StickRules(p)
    for r in rules:
        words = list(r.words)
        kind = words[0] if words else ""
        if kind not in KINDS:
            raise r.where.error(
                f"'stick' : unknown keyword '{kind}'. Expects 'on', 'match', "
                "'store-request' or 'store-response'."
            )
        if len(words) < 2:
            raise r.where.error(f"'stick {kind}' : missing fetch method.")
        rest = words[2:]
        tname = p.name
        if len(rest) >= 2 and rest[0] == "table":
            tname, rest = rest[1], rest[2:]
        table = tables.get(tname)
        if table is None:
            raise r.where.error(
                f"proxy '{p.name}': unable to find stick-table '{tname}'."
                if tname != p.name
                else f"'stick {kind}' : no stick-table defined in proxy '{p.name}'."
            )
        try:
            key = compile_sample(words[1], BuildCtx(p.state, p, r.where)).fn
            acls.where = r.where
            cond: Callable[[Any], bool] | None = None
            if rest:
                if rest[0] not in ("if", "unless"):
                    raise ValueError(f"unexpected argument '{rest[0]}'.")
                cond = compile_condition(rest, acls)
        except (AclError, ValueError) as exc:
            raise r.where.error(f"'stick {kind}' : {exc}") from None
        rule = _Rule(cond, key, table)
        if kind in ("on", "match"):
            sr.match.append(rule)
        if kind in ("on", "store-request"):
            sr.store_req.append(rule)
        if kind == "store-response":
            sr.store_res.append(rule)
    return sr


__all__ = ["StickRules", "build", "needed_tables", "Rule"]
