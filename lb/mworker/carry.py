"""Runtime state carried from the old worker to the new one at a reload (opt-in).

With the global keyword ``lb-keep-state-on-reload`` (not in HAProxy 2.6), the master
asks the running worker, over its CLI channel, for what operators and traffic changed
since it started, and hands that to the worker it starts, which applies it before it
serves:

* servers: ``show servers state``, applied line by line with
  ``lb.server_state.apply_line`` (weights, forced maintenance / drain, health,
  addresses, check ports), as a ``server-state-file`` is.  Where the configuration
  itself changed an item between the two files (the weight, the address, the check
  port, ``disabled``), the configuration wins;
* ACL and map lists: ``show acl #N`` / ``show map #N`` compared with what the list held
  when that worker was built; the entries added, deleted or set at run time are
  replayed on the new list through the ``PatRef`` methods.  A list is recognised by
  its file, or for the values written on an ``acl`` line, by that file and line;
* stick tables: ``show table NAME``, each entry written back through ``Table.get`` /
  ``Table.write`` with its remaining expiry (when the key type did not change).

Both halves are here: ``collect`` and its helpers run in the master, ``apply`` in the
new worker.  The dump travels as JSON through an inherited file descriptor.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from lb.patterns import F_MAP
from lb.server_state import StateLine, apply_line, parse
from stick.datatypes import DATA_TYPES
from stick.table import now_ms

ENV_STATE = "LB_MWORKER_STATE"
COLLECT_TIMEOUT = 5.0

PatKey = tuple[str, str, int]
Snapshot = dict[int, tuple[PatKey, int, list[tuple[str, str | None]]]]
Forward = Callable[[int, bytes], Awaitable[bytes]]

_TABLE_HEAD = re.compile(r"^# table: (\S+), type: (\S+), size:\d+, used:(\d+)$")
_TABLE_LINE = re.compile(r"^0x[0-9a-f]+: key=(.*) use=-?\d+ exp=(\d+)((?: \S+=\S*)*)$")
NOT_CARRIED = frozenset({"conn_cur"})  # connections stay with the old worker


# ---------------------------------------------------------------- pattern lists


def pattern_keys(store: Any) -> dict[int, PatKey]:
    """``id -> key`` for every list a configuration makes (HAProxy's internal ones aside)."""
    seen: Counter[tuple[str, str]] = Counter()
    out: dict[int, PatKey] = {}
    for ref in store.refs:
        if not ref.order:  # the two internal `httpclient` lists
            continue
        base = (ref.file, "" if ref.file else ref.desc)
        out[ref.id] = (*base, seen[base])
        seen[base] += 1
    return out


def pattern_snapshot(state: Any) -> Snapshot:
    """What each list of a freshly built state holds: the base runtime edits are told from."""
    store = state.patterns
    keys = pattern_keys(store)
    return {
        ref.id: (keys[ref.id], ref.flags, [(e.text, e.value) for e in ref])
        for ref in store.refs
        if ref.id in keys
    }


def _parse_entries(text: str, is_map: bool) -> list[tuple[str, str | None]] | None:
    out: list[tuple[str, str | None]] = []
    for line in text.splitlines():
        if not line:
            continue
        if not line.startswith("0x"):
            return None  # an error sentence, not a dump
        if is_map:
            parts = line.split(" ", 2)
            out.append((parts[1], parts[2] if len(parts) > 2 else ""))
        else:
            out.append((line.split(" ", 1)[1] if " " in line else "", None))
    return out


def pattern_delta(
    base: list[tuple[str, str | None]], live: list[tuple[str, str | None]]
) -> dict[str, list[list[Any]]]:
    """Entries added and removed at run time (a ``set map`` is one of each)."""
    b, lv = Counter(base), Counter(live)
    return {
        "add": [list(t) for t in (lv - b).elements()],
        "del": [list(t) for t in (b - lv).elements()],
    }


# ---------------------------------------------------------------- servers


def _server_confs(cfg: Any) -> dict[tuple[str, str], Any]:
    return {(p.name, s.name): s for p in cfg.proxies if p.is_backend for s in p.servers}


def server_lines(text: str, old_cfg: Any, new_cfg: Any) -> list[StateLine]:
    """``show servers state`` lines, with what the new configuration changed left out."""
    lines, _problems = parse(text)
    old, new = _server_confs(old_cfg), _server_confs(new_cfg)
    out: list[StateLine] = []
    for line in lines:
        key = (line.be_name, line.srv_name)
        a, b = old.get(key), new.get(key)
        if a is None or b is None:
            continue  # a server added at run time, or gone from the new file
        changes: dict[str, Any] = {}
        if a.weight != b.weight:
            changes["uweight"] = line.iweight  # no runtime weight to keep
            changes["iweight"] = -1  # never equal: apply_line leaves the weight alone
        if (a.host, a.port) != (b.host, b.port):
            changes["addr"] = "-"
        if a.check_port != b.check_port:
            changes["check_port"] = 0
        if a.disabled != b.disabled:
            changes["admin_state"] = 0
        out.append(dataclasses.replace(line, **changes) if changes else line)
    return out


# ---------------------------------------------------------------- master side


async def collect(forward: Forward, pid: int, base: Snapshot, old_cfg: Any, new_cfg: Any) -> bytes:
    """The JSON dump of worker ``pid``'s runtime state, ready for ``apply``."""

    async def ask(cmd: str) -> str:
        return (await forward(pid, cmd.encode() + b"\n")).decode("utf-8", "replace")

    ids = list(base)
    cmds = [f"show {'map' if base[i][1] & F_MAP else 'acl'} #{i}" for i in ids]
    replies = await asyncio.gather(ask("show servers state"), ask("show table"), *map(ask, cmds))
    servers, heads, lists = replies[0], replies[1], replies[2:]
    patterns = []
    for i, text in zip(ids, lists, strict=True):
        key, flags, entries = base[i]
        live = _parse_entries(text, bool(flags & F_MAP))
        if live is None:
            continue
        delta = pattern_delta(entries, live)
        if delta["add"] or delta["del"]:
            patterns.append({"key": list(key), **delta})
    names = []
    for line in heads.splitlines():
        m = _TABLE_HEAD.match(line)
        if m and int(m.group(3)):
            names.append(m.group(1))
    tables = await asyncio.gather(*(ask(f"show table {n}") for n in names))
    dump = {
        "servers": [dataclasses.asdict(ln) for ln in server_lines(servers, old_cfg, new_cfg)],
        "patterns": patterns,
        "tables": dict(zip(names, tables, strict=True)),
    }
    return json.dumps(dump).encode()


async def collect_or_none(
    forward: Forward, pid: int, base: Snapshot, old_cfg: Any, new_cfg: Any
) -> tuple[bytes | None, str]:
    """``collect`` within ``COLLECT_TIMEOUT``: (dump, "") or (None, why)."""
    try:
        dump = await asyncio.wait_for(
            collect(forward, pid, base, old_cfg, new_cfg), COLLECT_TIMEOUT
        )
    except TimeoutError:
        return None, f"worker ({pid}) did not answer in time"
    except (OSError, ValueError) as exc:
        return None, f"{exc}"
    return dump, ""


# ---------------------------------------------------------------- worker side


def apply(state: Any, dump: dict[str, Any]) -> dict[str, int]:
    """Bring a freshly built state to the carried one; returns counts per kind."""
    return {
        "servers": _apply_servers(state, dump.get("servers", [])),
        "patterns": _apply_patterns(state, dump.get("patterns", [])),
        "tables": _apply_tables(state, dump.get("tables", {})),
    }


def _apply_servers(state: Any, rows: list[dict[str, Any]]) -> int:
    n = 0
    backends = {p.name: p for p in state.proxies if p.is_backend}
    for row in rows:
        with contextlib.suppress(TypeError, ValueError):
            line = StateLine(**row)
            p = backends.get(line.be_name)
            srv = p.server(line.srv_name) if p is not None else None
            if srv is not None:
                apply_line(srv, line)
                n += 1
    return n


def _apply_patterns(state: Any, rows: list[dict[str, Any]]) -> int:
    store = getattr(state, "patterns", None)
    if store is None:
        return 0
    keys = pattern_keys(store)
    refs = {key: r for r in store.refs if (key := keys.get(r.id))}
    n = 0
    for row in rows:
        ref = refs.get(tuple(row["key"]))
        if ref is None:
            continue  # the list is gone, or its `acl` line moved: the file wins
        for text, value in row["del"]:
            for e in ref:
                if e.text == text and e.value == value:
                    ref.delete_ptr(e.ptr)
                    n += 1
                    break
        for text, value in row["add"]:
            if any(e.text == text and e.value == value for e in ref):
                continue  # the new file has it already
            with contextlib.suppress(ValueError):
                ref.load(text, value)
                n += 1
    return n


def _key(t: Any, text: str) -> Any:
    if t.ktype.name == "binary":
        try:
            return bytes.fromhex(text)
        except ValueError:
            return None
    return t.ktype.from_text(text)


def _apply_tables(state: Any, dumps: dict[str, str]) -> int:
    tables = getattr(state, "tables", None) or {}
    n = 0
    now = now_ms()
    for name, text in dumps.items():
        t = tables.get(name)
        lines = text.splitlines()
        head = _TABLE_HEAD.match(lines[0]) if lines else None
        if t is None or head is None or head.group(2) != t.ktype.name:
            continue  # gone, or another key type: the configuration wins
        for line in lines[1:]:
            m = _TABLE_LINE.match(line)
            if m is None:
                continue
            k = _key(t, m.group(1))
            if k is None:
                continue
            left = min(int(m.group(2)), t.expire)
            e = t.get(k, now - t.expire + left if t.expire and left else now)
            if e is None:
                break  # full
            for item in m.group(3).split():
                dname, _, value = item.partition("=")
                dname = dname.split("(", 1)[0]
                dt = DATA_TYPES.get(dname)
                if dt is None or dname in NOT_CARRIED or not t.has(dname):
                    continue
                if dt.kind == "str":
                    t.write(e, dname, value)  # type: ignore[arg-type]
                else:
                    with contextlib.suppress(ValueError):
                        t.write(e, dname, int(value), now)
            n += 1
    return n
