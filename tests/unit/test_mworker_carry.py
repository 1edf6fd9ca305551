"""`lb.mworker.carry`: the runtime state handed from an old worker to a new one.

The master half (a delta of pattern lists, server lines with config changes left out)
and the worker half (applying a dump to a freshly built state) are tested without
processes: states are built from configuration text as the master builds them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from lb.config.parser import parse_string
from lb.mworker import carry
from lb.patterns import F_MAP
from lb.state import State

CFG = """\
global
    lb-keep-state-on-reload
defaults
    mode http
frontend fe
    bind 127.0.0.1:1
    stick-table type ip size 10 expire 60s store gpc0,conn_cur,http_req_rate(10s)
    acl bad path_beg /bad /worse
    http-request deny if bad
    http-request deny if {{ path_beg -f {tmp}/deny.acl }}
    http-request set-header X-Map %[path,map({tmp}/paths.map,none)]
    default_backend be
backend be
    server s1 127.0.0.1:8001 weight {w1}
    server s2 {addr2} weight 5
"""


def build(tmp: Path, w1: int = 3, addr2: str = "127.0.0.1:8002") -> State:
    return State(parse_string(CFG.format(tmp=tmp, w1=w1, addr2=addr2)))


def files(tmp: Path) -> None:
    (tmp / "deny.acl").write_text("/a\n/b\n")
    (tmp / "paths.map").write_text("/x one\n/y two\n")


def test_keyword_is_opt_in(tmp_path: Path) -> None:
    files(tmp_path)
    assert build(tmp_path).cfg.global_.keep_state_on_reload
    assert not parse_string("global\n").global_.keep_state_on_reload


def test_pattern_delta_counts_duplicates_and_set_map() -> None:
    base: list[tuple[str, str | None]] = [("/x", "one"), ("/y", "two"), ("/y", "two")]
    live: list[tuple[str, str | None]] = [("/x", "uno"), ("/y", "two"), ("/z", "three")]
    assert carry.pattern_delta(base, live) == {
        "add": [["/x", "uno"], ["/z", "three"]],
        "del": [["/x", "one"], ["/y", "two"]],
    }


def test_pattern_keys_name_files_and_acl_lines(tmp_path: Path) -> None:
    files(tmp_path)
    snap = carry.pattern_snapshot(build(tmp_path))
    keys = {key for key, _flags, _entries in snap.values()}
    assert (str(tmp_path / "deny.acl"), "", 0) in keys
    assert (str(tmp_path / "paths.map"), "", 0) in keys
    inline = [k for k in keys if not k[0]]
    assert sorted(k[1].split()[-1] for k in inline) == ["10", "8"]  # `-f` makes one too
    maps = [e for _k, f, e in snap.values() if f & F_MAP]
    assert maps == [[("/x", "one"), ("/y", "two")]]


def _dump(old: State, new_cfg: Any, edit: Any) -> dict[str, Any]:
    """What `collect` would build after `edit(old)`, without the CLI round trips."""
    from runtime_api.commands.servers import cmd_show_servers_state

    base = carry.pattern_snapshot(old)
    edit(old)
    ctx: Any = type("Ctx", (), {"state": old})()
    servers = cmd_show_servers_state(ctx, ["show", "servers", "state"], None)
    patterns = []
    for ref in old.patterns.refs:
        if ref.id in base:
            key, _flags, entries = base[ref.id]
            delta = carry.pattern_delta(entries, [(e.text, e.value) for e in ref])
            if delta["add"] or delta["del"]:
                patterns.append({"key": list(key), **delta})
    t = old.tables["fe"]
    text = t.header() + "".join(t.dump_line(e) for e in t.iter_entries())
    lines = carry.server_lines(servers, old.cfg, new_cfg)
    return json.loads(
        json.dumps(
            {
                "servers": [dataclasses.asdict(x) for x in lines],
                "patterns": patterns,
                "tables": {"fe": text},
            }
        )
    )


def edit(state: State) -> None:
    be = state.by_name["be"]
    be.server("s1").set_weight(7)
    be.server("s2").set_weight(9)
    be.server("s2").set_maint()
    store = state.patterns
    deny = next(r for r in store.refs if r.file.endswith("deny.acl"))
    deny.load("/secret")
    deny.delete("/a")
    paths = next(r for r in store.refs if r.file.endswith("paths.map"))
    paths.set_value("/x", "uno")
    inline = next(r for r in store.refs if not r.file and r.order)
    inline.load("/evil")
    t = state.tables["fe"]
    e = t.get(t.ktype.from_text("10.0.0.1"))
    t.write(e, "gpc0", 4)
    t.write(e, "conn_cur", 2)
    t.write(e, "http_req_rate", 9)


def test_apply_carries_everything_when_the_file_did_not_change(tmp_path: Path) -> None:
    files(tmp_path)
    old = build(tmp_path)
    new = build(tmp_path)
    counts = carry.apply(new, _dump(old, new.cfg, edit))
    assert counts == {"servers": 2, "patterns": 5, "tables": 1}
    be = new.by_name["be"]
    assert (be.server("s1").uweight, be.server("s2").uweight) == (7, 9)
    assert be.server("s2").in_maint
    deny = next(r for r in new.patterns.refs if r.file.endswith("deny.acl"))
    assert sorted(e.text for e in deny) == ["/b", "/secret"]
    paths = next(r for r in new.patterns.refs if r.file.endswith("paths.map"))
    assert sorted((e.text, e.value) for e in paths) == [("/x", "uno"), ("/y", "two")]
    inline = next(r for r in new.patterns.refs if not r.file and r.order)
    assert sorted(e.text for e in inline) == ["/bad", "/evil", "/worse"]
    t = new.tables["fe"]
    e = t.lookup(t.ktype.from_text("10.0.0.1"))
    assert (t.read(e, "gpc0"), t.read(e, "conn_cur"), t.read(e, "http_req_rate")) == (4, 0, 9)
    assert 0 < e.exp - carry.now_ms() <= 60000


def test_the_file_wins_where_it_changed(tmp_path: Path) -> None:
    files(tmp_path)
    old = build(tmp_path)
    new = build(tmp_path, w1=4, addr2="127.0.0.1:8003")
    carry.apply(new, _dump(old, new.cfg, edit))
    be = new.by_name["be"]
    assert be.server("s1").uweight == 4  # the file changed s1's weight
    s2 = be.server("s2")
    assert s2.uweight == 9 and s2.in_maint and s2.port == 8003  # only its address changed


def test_a_table_of_another_key_type_is_not_carried(tmp_path: Path) -> None:
    files(tmp_path)
    old = build(tmp_path)
    new = State(
        parse_string(
            CFG.format(tmp=tmp_path, w1=3, addr2="127.0.0.1:8002").replace(
                "type ip size 10", "type string len 32 size 10"
            )
        )
    )
    counts = carry.apply(new, _dump(old, new.cfg, edit))
    assert counts["tables"] == 0 and len(new.tables["fe"]) == 0
