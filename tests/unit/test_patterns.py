"""Pattern lists: shared numbering, file loading, runtime changes reaching every index."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from lb.matchers import MATCHERS
from lb.patterns import F_ACL, F_MAP, Expr, PatEntry, PatternStore


def test_numbering_and_listing(tmp_path: Any) -> None:
    f = tmp_path / "wl.lst"
    f.write_text("# trusted\n10.0.0.0/8\n\n203.0.113.7\n")
    m = tmp_path / "map.lst"
    m.write_text("127.0.0.0/8 LO\n")
    s = PatternStore()
    s.file_ref(str(m), F_MAP, "map desc", (0, 40))
    s.new_inline("acl 'path_beg' file 'c' line 30", (0, 30))
    s.file_ref(str(f), F_ACL, "file desc", (0, 28))
    s.number()
    ids = [(r.id, r.file) for r in s.refs]
    assert ids[0] == (0, str(f)) and ids[1] == (1, "")
    assert [r.desc for r in s.refs[2:4]] == ["acl 'var' file 'httpclient' line 0"] * 2
    assert ids[4] == (4, str(m))
    assert s.find("#0", F_ACL) is s.refs[0]
    assert s.find("#4", F_ACL) is None and s.find("#4", F_MAP) is s.refs[4]
    assert s.refs[0].listing().endswith("file desc. curr_ver=0 next_ver=0 entry_cnt=2\n")


def test_changes_reach_indexes_and_entry_cnt_drift() -> None:
    s = PatternStore()
    ref = s.new_inline("x", (0, 1))
    ix = MATCHERS["ip"].make_index(False)
    ref.subscribe(Expr(MATCHERS["ip"], ix, False))
    ref.load("1.2.3.0/24")
    assert ix.match("1.2.3.4") is not None
    with pytest.raises(ValueError):
        ref.load("nope")
    assert ref.entry_cnt == 0  # HAProxy counts a refused entry out
    assert ref.delete("1.2.3.0/24") and ix.match("1.2.3.4") is None
    assert not ref.delete("1.2.3.0/24")
    e = ref.load("5.5.5.5")
    assert ref.delete_ptr(e.ptr)
    ref.load("6.6.6.6")
    ref.clear()
    assert ix.match("6.6.6.6") is None and ref.entry_cnt == 0


def test_file_loading_leaves_the_collector_as_it_was(tmp_path: Any) -> None:
    f = tmp_path / "big.lst"
    f.write_text("".join(f"10.0.{i >> 8}.{i & 255}\n" for i in range(2000)))
    s = PatternStore()
    assert gc.isenabled()
    ref = s.file_ref(str(f), F_ACL, "d", (0, 1))
    ref.subscribe(Expr(MATCHERS["ip"], MATCHERS["ip"].make_index(False), False))
    assert gc.isenabled() and ref.entry_cnt == 2000
    gc.disable()
    try:
        s.file_ref(str(f), F_ACL, "d", (0, 2))
        ref.subscribe(Expr(MATCHERS["ip"], MATCHERS["ip"].make_index(False), False))
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(ValueError):  # a bad pattern still restores the collector
        bad = s.new_inline("x", (0, 3))
        bad.entries = {0: PatEntry("nope")}
        bad.subscribe(Expr(MATCHERS["ip"], MATCHERS["ip"].make_index(False), False))
    assert gc.isenabled()
