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


def test_compiled_reader_matches_freq_read() -> None:
    import random

    t = parse_stick_table("r", words("type integer size 10 store http_req_rate(10s),gpt0"))
    e = t.get(1, now=0)
    rd = t.reader("http_req_rate")
    assert rd is not None and t.reader("gpc0") is None and t.fetcher("gpc0") is None
    rng = random.Random(4)
    for _ in range(5000):
        tick = rng.randrange(0, 100_000)
        e.http_req_rate_t, e.http_req_rate_c = tick, rng.choice((0, 1, rng.randrange(10**6)))
        e.http_req_rate_p = rng.choice((0, rng.randrange(10**6)))
        now = tick + rng.randrange(-10, 30_000)
        want = freq.read(tick, e.http_req_rate_c, e.http_req_rate_p, now, 10_000)
        assert rd(e, now) == want == t.read(e, "http_req_rate", now)
    t.write(e, "gpt0", 7)
    assert t.reader("gpt0")(e, 0) == 7 == t.fetcher("gpt0")(e)


def test_bumper_matches_freq_update_and_is_cached() -> None:
    import random

    t = parse_stick_table("b", words("type integer size 10 store http_req_cnt,http_req_rate(1s)"))
    bump = t.bumper("http_req_cnt")
    assert bump is t.bumper("http_req_cnt") and t.bumper("gpc0") is None
    e = t.get(1, now=0)
    ref = (0, 0, 0)
    now = 0
    rng = random.Random(7)
    for i in range(3000):
        now += rng.choice((0, 1, 37, 400, 999, 1000, 1500, 2500))
        bump(e, now, 2)
        ref = freq.update(*ref, now, 1000, 2)
        assert (e.http_req_rate_t, e.http_req_rate_c, e.http_req_rate_p) == ref
        assert e.http_req_cnt == 2 * (i + 1)


def test_track_and_stream_done_counts() -> None:
    from types import SimpleNamespace

    from lb.rules_extra import _compile_track, stream_done, tracker

    t = parse_stick_table(
        "fe",
        words(
            "type ip size 10 expire 1m store http_req_cnt,http_req_rate(10s),"
            "http_err_cnt,http_fail_cnt,bytes_in_cnt,bytes_out_rate(1s)"
        ),
    )
    trk = tracker(t)
    run = _compile_track(1, lambda st: st.ip, t, trk, True)
    attach = _compile_track(0, lambda st: st.ip, t, trk, False)

    def stream(ip: str, status: int) -> SimpleNamespace:
        return SimpleNamespace(
            ip=ip, client_ip=ip, sc=None, status=status, bytes_in=10, bytes_out=20
        )

    for status in (200, 404, 401, 503, 501):
        st = stream("10.0.0.1", status)
        assert run(st, None) is None and run(st, None) is None  # the second is a no-op
        assert st.sc[0] is None and st.sc[1][1].use == 1
        e = st.sc[1][1]
        hit = attach(st)
        assert hit is not None and hit[0] is e and e.use == 2 and st.sc[0][1] is e
        stream_done(st)
        assert st.sc is None and e.use == 0
    assert e.http_req_cnt == 5 and t.read(e, "http_req_rate") == 5
    # each stream counted twice (two counters track the same entry)
    assert e.http_err_cnt == 2 and e.http_fail_cnt == 2 and e.bytes_in_cnt == 100
    assert t.read(e, "bytes_out_rate") == 200
    assert run(stream("not an ip", 200), None) is None
    assert len(t) == 1
    src = _compile_track(2, None, t, trk, True)  # `track-sc2 src`: the address read inline
    for ip in ("10.0.0.1", "unix", "-", "10.0.0.2"):
        st = stream(ip, 200)
        src(st, None)
        assert (st.sc is not None) == ip.startswith("10.")
        stream_done(st)
    assert e.http_req_cnt == 6 and e.use == 0 and len(t) == 2
