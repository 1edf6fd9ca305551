"""ACL match methods and their indexes."""

from __future__ import annotations

import pytest

from lb.matchers import MATCHERS, parse_addr, parse_int_range, parse_net
from lb.patterns import PatEntry


def idx(kind: str, patterns: list[str], icase: bool = False):  # noqa: ANN201
    ix = MATCHERS[kind].make_index(icase)
    for p in patterns:
        ix.add(PatEntry(p))
    return ix


def hit(ix, v) -> str | None:  # noqa: ANN001
    e = ix.match(v)
    return None if e is None else e.text


def test_str_beg_end_sub() -> None:
    assert hit(idx("str", ["a", "b"]), "b") == "b"
    assert hit(idx("str", ["Foo"], icase=True), "FOO") == "Foo"
    assert hit(idx("beg", ["/st", "/static"]), "/static/x") == "/static"
    assert hit(idx("beg", ["/static"]), "/stat") is None
    assert hit(idx("end", [".js", ".css"]), "a.css") == ".css"
    assert hit(idx("sub", ["adm"]), "/badmin") == "adm"


def test_reg_dir_dom_len() -> None:
    assert hit(idx("reg", [r"^/api/v\d+"]), "/api/v2/x") is not None
    assert hit(idx("dir", ["static"]), "/a/static/b") == "static"
    assert hit(idx("dir", ["stat"]), "/a/static/b") is None
    assert hit(idx("dom", ["example"]), "www.example.com") == "example"
    assert hit(idx("len", ["3:5"]), 4) == "3:5"


def test_int_ranges() -> None:
    ix = idx("int", ["51:", ":4", "10:20", "7"])
    assert hit(ix, 60) == "51:"
    assert hit(ix, 3) == ":4"
    assert hit(ix, 15) == "10:20"
    assert hit(ix, 7) == "7"
    assert hit(ix, 50) is None
    assert parse_int_range("5:") == (5, None)
    with pytest.raises(ValueError, match="'abc' is not a number."):
        parse_int_range("abc")


def test_ip_index_longest_match_and_v6() -> None:
    ix = idx("ip", ["10.0.0.0/8", "10.1.0.0/16", "203.0.113.7", "2001:db8::/32"])
    assert hit(ix, "10.1.2.3") == "10.1.0.0/16"
    assert hit(ix, "10.2.2.3") == "10.0.0.0/8"
    assert hit(ix, "203.0.113.7") == "203.0.113.7"
    assert hit(ix, "203.0.113.8") is None
    assert hit(ix, "2001:db8::1") == "2001:db8::/32"
    assert hit(ix, "::ffff:10.9.9.9") == "10.0.0.0/8"
    assert ix.tree
    with pytest.raises(ValueError, match="'not-an-ip' is not a valid IPv4 or IPv6 address."):
        parse_net("not-an-ip")
    assert parse_net("10.0.0.0/255.0.0.0") == (4, 8, 10)


def test_index_kind_reported_like_haproxy() -> None:
    assert MATCHERS["str"].make_index(False).tree
    assert not MATCHERS["str"].make_index(True).tree
    assert MATCHERS["beg"].make_index(False).tree
    assert not MATCHERS["int"].make_index(False).tree
    assert not MATCHERS["end"].make_index(False).tree


def test_remove_keeps_duplicates_apart() -> None:
    ix = MATCHERS["ip"].make_index(False)
    a, b = PatEntry("1.1.1.0/24"), PatEntry("1.1.1.0/24")
    ix.add(a)
    ix.add(b)
    ix.remove(a)
    assert ix.match("1.1.1.1") is b


@pytest.mark.parametrize(
    ("kind", "pattern", "probe"),
    [("str", "abc", "abc"), ("beg", "/a", "/a/b"), ("ip", "10.0.0.0/8", "10.1.1.1")],
)
def test_duplicates_first_wins_and_removal(kind: str, pattern: str, probe: str) -> None:
    ix = MATCHERS[kind].make_index(False)
    a, b, c = PatEntry(pattern), PatEntry(pattern), PatEntry(pattern)
    for e in (a, b, c):
        ix.add(e)
    assert ix.match(probe) is a
    ix.remove(a)
    assert ix.match(probe) is b
    ix.remove(c)
    assert ix.match(probe) is b
    ix.remove(b)
    assert ix.match(probe) is None
    ix.remove(b)  # removing twice is harmless
    ix.add(c)
    assert ix.match(probe) is c


def test_dict_indexes_hold_entries_not_lists() -> None:
    """One entry per key is stored as itself: no per-pattern list for the GC to walk."""
    ix = idx("str", ["a", "b"])
    assert all(type(v) is PatEntry for v in ix.d.values())
    ip = idx("ip", ["10.0.0.1", "10.0.0.0/8"])
    assert all(type(v) is PatEntry for d in ip.v4.values() for v in d.values())


def test_pattern_files_do_not_fill_the_sample_address_cache() -> None:
    parse_addr.cache_clear()
    idx("ip", [f"192.0.2.{i}" for i in range(50)])
    assert parse_addr.cache_info().currsize == 0
    assert parse_addr("192.0.2.1") == (4, 0xC0000201)
