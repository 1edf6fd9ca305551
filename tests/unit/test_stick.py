"""Stick tables: rate counter worked examples, entries, expiry, eviction, key types."""

from __future__ import annotations

from stick import freq
from stick.config import parse_stick_table
from stick.keys import KeyType


def words(text: str) -> list[str]:
    return text.split(" ")


def test_freq_worked_example() -> None:
    p = 10_000
    t, c, pr = 0, 0, 0
    # 12 events at t=1000 (clock far from 0): a fresh counter starts its period there
    t, c, pr = 1000, 12, 0
    assert freq.update(0, 0, 0, 50_000, p, 12) == (50_000, 12, 0)
    assert (t, c, pr) == (1000, 12, 0)
    assert freq.read(t, c, pr, 5000, p) == 12
    # one period later the 12 become the previous period, weighted by what is left
    assert freq.read(t, c, pr, 11_000, p) == 12  # remain = 10000 of 10000
    assert freq.read(t, c, pr, 16_000, p) == 12 * 5000 // 10_000
    t, c, pr = freq.update(t, c, pr, 16_000, p, 4)
    assert (t, c, pr) == (11_000, 4, 12)
    assert freq.read(t, c, pr, 16_000, p) == 4 + 12 * 5000 // 10_000
    # two periods without events: nothing left
    assert freq.read(t, c, pr, 31_001, p) == 0
    assert freq.update(t, c, pr, 40_000, p) == (40_000, 1, 0)


def test_table_show_lines_and_order() -> None:
    t = parse_stick_table(
        "fe_main", words("type ip size 1m expire 15m store http_req_rate(10s),gpt0")
    )
    assert t.size == 1048576 and t.expire == 900_000
    e1 = t.get(t.ktype.from_text("127.0.0.1"), now=0)
    t.get(t.ktype.from_text("10.1.2.3"), now=0)
    bump = t.bumper("http_req_cnt")
    assert bump is not None
    for _ in range(12):
        bump(e1, 5, 1)
    t.write(e1, "gpt0", 1)
    assert t.header() == "# table: fe_main, type: ip, size:1048576, used:2\n"
    keys = [t.ktype.text(e.key) for e in t.iter_entries()]
    assert keys == ["10.1.2.3", "127.0.0.1"]
    line = t.dump_line(e1, now=5)
    assert line.endswith(": key=127.0.0.1 use=0 exp=899995 gpt0=1 http_req_rate(10000)=12\n")


def test_columns_in_haproxy_order_and_u32_wrap() -> None:
    t = parse_stick_table(
        "zz",
        words("type integer size 10 store gpc0,gpc0_rate(10s),conn_cur,sess_rate(1s),gpc1,gpt0"),
    )
    e = t.get(5, now=0)
    t.write(e, "gpt0", -5)
    t.write(e, "gpc0", 99999999999)
    t.write(e, "gpc0_rate", 9, now=0)
    line = t.dump_line(e, now=0)
    assert line.split(": ", 1)[1] == (
        "key=5 use=0 exp=0 gpt0=4294967291 gpc0=1215752191 gpc0_rate(10000)=9 conn_cur=0 "
        "sess_rate(1000)=0 gpc1=0\n"
    )


def test_expiry_and_refresh() -> None:
    t = parse_stick_table("t", words("type string len 8 size 10 expire 2s store gpc0"))
    t.get("a", now=0)
    t.get("b", now=0)
    t.get("a", now=1500)  # refreshed: expires at 3500
    assert t.purge(now=2500) == 0  # purges run per 1 s bucket
    assert t.purge(now=3200) == 1
    assert t.lookup("b") is None and t.lookup("a") is not None
    assert t.purge(now=4600) == 1
    assert len(t) == 0


def test_full_table_evicts_least_recently_used() -> None:
    t = parse_stick_table("t", words("type integer size 3 expire 10s store gpc0"))
    for k, now in ((1, 0), (2, 1000), (3, 2000)):
        t.get(k, now=now)
    t.get(1, now=3000)  # 2 is now the least recently used
    t.get(4, now=4000)
    assert sorted(t.entries) == [1, 3, 4]


def test_nopurge_refuses_when_full() -> None:
    t = parse_stick_table("t", words("type integer size 1 expire 10s nopurge"))
    assert t.get(1, now=0) is not None
    assert t.get(2, now=0) is None


def test_in_use_entries_are_kept() -> None:
    t = parse_stick_table("t", words("type integer size 5 expire 1s"))
    e = t.get(1, now=0)
    e.use = 1
    assert t.purge(now=5000) == 0
    assert t.clear() == 0
    e.use = 0
    assert t.clear() == 1


def test_key_types() -> None:
    assert KeyType("ip", 4).from_text("notanip") is None
    assert KeyType("ipv6", 16).from_text("10.0.0.1") is None
    k6 = KeyType("ipv6", 16)
    assert k6.text(k6.from_text("fe80::1:2")) == "fe80::1:2"
    assert KeyType("integer", 4).from_text("-3") is None
    assert KeyType("string", 4).from_text("abcdef") == "abcd"
    assert KeyType("ip", 4).from_sample("::ffff:1.2.3.4") == 0x01020304


def test_key_from_sample_per_type() -> None:
    ip = KeyType("ip", 4)
    assert ip == KeyType("ip", 4) and hash(ip) == hash(KeyType("ip", 4))
    assert ip.from_sample("10.1.2.3") == 0x0A010203
    for bad in (None, b"10.1.2.3", 5, "10.1.2", "010.1.2.3", "10.1.2.3\0", "::1", "::ffff:x"):
        assert ip.from_sample(bad) is None
    v6 = KeyType("ipv6", 16)
    assert v6.from_sample("::1") == 1
    assert v6.from_sample("10.1.2.3") == (0xFFFF << 32) | 0x0A010203
    assert v6.from_sample(None) is None and v6.from_sample(b"::1") is None
    integer = KeyType("integer", 4)
    assert [integer.from_sample(v) for v in (True, 7, -1, "12", "x", None)] == [
        1,
        7,
        0xFFFFFFFF,
        12,
        None,
        None,
    ]
    assert KeyType("string", 4).from_sample(b"abcdef") == "abcd"
    assert KeyType("string", 4).from_sample(None) is None
    assert KeyType("binary", 4).from_sample("ab") == b"ab\0\0"
    assert KeyType("binary", 4).from_sample(None) is None


def test_refresh_in_same_ms_and_after() -> None:
    t = parse_stick_table("t", words("type integer size 10 expire 2s store gpc0"))
    a, b = t.get(1, now=100), t.get(2, now=100)
    assert a.exp == b.exp == 2100
    t.get(1, now=700)
    assert a.exp == 2700 and b.exp == 2100
    t.get(2, now=700)
    assert b.exp == 2700
    assert t.purge(now=2500) == 0 and t.purge(now=3800) == 2
    # no expiry: a refresh leaves exp at 0 whatever the clock says
    n = parse_stick_table("n", words("type integer size 10 store gpc0"))
    e = n.get(1, now=5)
    assert n.get(1, now=6) is e and n.get(1) is e and e.exp == 0
