"""Server selection algorithms, sans-IO, on fake servers."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import pytest

from lb.balance import make_balancer, parse_balance
from lb.balance.random import RandomDraws


@dataclass(eq=False)
class Srv:
    name: str
    puid: int
    eweight: int = 1
    backup: bool = False
    usable: bool = True
    served: int = 0
    maxconn: int = 0


@dataclass
class Ctx:
    src: str = "192.0.2.1"
    uri: bytes | None = b"/"
    headers: dict[bytes, bytes] | None = None

    def get_header(self, lname: bytes) -> bytes | None:
        return (self.headers or {}).get(lname)


CTX = Ctx()


def farm(*weights: int, backups: tuple[int, ...] = ()) -> list[Srv]:
    servers = [Srv(f"s{i}", i, w) for i, w in enumerate(weights, start=1)]
    for j, w in enumerate(backups, start=len(weights) + 1):
        servers.append(Srv(f"b{j}", j, w, backup=True))
    return servers


def balancer(line: str, servers: list[Srv], hash_type: str = "", allbackups: bool = False):
    algo, args = parse_balance(line.split())
    return make_balancer(algo, args, hash_type.split(), servers, allbackups)


def counts(b, n: int, ctx: Ctx = CTX) -> Counter:
    return Counter(b.pick(ctx).name for _ in range(n))


def take(b, srv: Srv) -> Srv:
    srv.served += 1
    b.on_take(srv)
    return srv


def release(b, srv: Srv) -> None:
    srv.served -= 1
    b.on_release(srv)


# --- round robin ------------------------------------------------------------


@pytest.mark.parametrize("algo", ["roundrobin", "static-rr"])
def test_rr_exact_weights(algo: str) -> None:
    b = balancer(algo, farm(1, 2, 3))
    assert counts(b, 600) == {"s1": 100, "s2": 200, "s3": 300}


@pytest.mark.parametrize("algo", ["roundrobin", "static-rr"])
def test_rr_is_smooth(algo: str) -> None:
    b = balancer(algo, farm(1, 2, 3, 10))
    seq = [b.pick(CTX).name for _ in range(160)]
    longest = max(len(run) for run in "".join(s[-1] for s in seq).replace("4", "4 ").split())
    # s4 holds 10/16 of the weight; others never get two picks in a row
    for name in ("s1", "s2", "s3"):
        assert all(not (a == b == name) for a, b in zip(seq, seq[1:], strict=False))
    assert longest <= 3
    # any window of 16 picks is within one of the exact share
    for start in range(0, 144):
        window = Counter(seq[start : start + 16])
        assert abs(window["s4"] - 10) <= 1


def test_rr_equal_weights_alternate() -> None:
    b = balancer("roundrobin", farm(1, 1, 1))
    assert [b.pick(CTX).name for _ in range(6)] == ["s1", "s2", "s3", "s1", "s2", "s3"]


def test_roundrobin_weight_change_takes_effect_after_rebuild() -> None:
    servers = farm(1, 1, 1)
    b = balancer("roundrobin", servers)
    assert counts(b, 300) == {"s1": 100, "s2": 100, "s3": 100}
    servers[2].eweight = 4
    b.rebuild()
    got = counts(b, 600)
    assert abs(got["s1"] - 100) <= 1 and abs(got["s2"] - 100) <= 1
    assert abs(got["s3"] - 400) <= 1


def test_roundrobin_frequent_rebuilds_do_not_favour_first_server() -> None:
    servers = farm(1, 1, 1, 1)
    b = balancer("roundrobin", servers)
    seen = Counter()
    for _ in range(100):
        seen[b.pick(CTX).name] += 1
        b.rebuild()  # e.g. a slowstart tick with unchanged weights
    assert all(v == 25 for v in seen.values())


@pytest.mark.parametrize("algo", ["roundrobin", "static-rr", "leastconn", "first", "random"])
def test_drained_and_down_servers_get_nothing(algo: str) -> None:
    servers = farm(1, 1, 1, 1)
    servers[1].eweight = 0  # drained: still usable, weight 0
    servers[2].usable = False  # down or in maintenance
    b = balancer(algo, servers)
    got = counts(b, 100)
    assert set(got) <= {"s1", "s4"}
    assert "s2" not in got and "s3" not in got


@pytest.mark.parametrize("algo", ["roundrobin", "static-rr", "leastconn", "first", "random"])
def test_backups_only_when_no_active(algo: str) -> None:
    servers = farm(1, 1, backups=(1, 3))
    b = balancer(algo, servers)
    assert set(counts(b, 50)) <= {"s1", "s2"}
    servers[0].usable = False
    servers[1].eweight = 0
    b.rebuild()
    assert counts(b, 50) == {"b3": 50}  # first backup only
    servers[0].usable = True
    b.rebuild()
    assert counts(b, 10) == {"s1": 10}


@pytest.mark.parametrize("algo", ["roundrobin", "static-rr"])
def test_allbackups_spreads_over_backups_by_weight(algo: str) -> None:
    servers = farm(1, backups=(1, 3))
    servers[0].usable = False
    b = balancer(algo, servers, allbackups=True)
    assert counts(b, 400) == {"b2": 100, "b3": 300}


def test_first_backup_follows_declaration_order_not_id() -> None:
    # checked against HAProxy 2.6: the first backup declared wins
    servers = [Srv("a", 1, usable=False), Srv("b9", 9, backup=True), Srv("b2", 2, backup=True)]
    for algo in ("roundrobin", "static-rr", "source", "uri"):
        for ht in ("", "consistent"):
            b = balancer(algo, servers, hash_type=ht)
            assert counts(b, 20) == {"b9": 20}


def test_no_server_returns_none() -> None:
    servers = farm(1, 1)
    for s in servers:
        s.usable = False
    for algo in ("roundrobin", "static-rr", "leastconn", "first", "source", "uri", "random"):
        for ht in ("", "consistent"):
            assert balancer(algo, servers, hash_type=ht).pick(CTX) is None
    assert balancer("roundrobin", []).pick(CTX) is None


@pytest.mark.parametrize("algo", ["roundrobin", "static-rr"])
def test_rr_skips_full_servers_and_returns_none_when_all_full(algo: str) -> None:
    servers = farm(1, 1, 1)
    for s in servers:
        s.maxconn = 1
    b = balancer(algo, servers)
    picked = [take(b, b.pick(CTX)) for _ in range(3)]
    assert sorted(s.name for s in picked) == ["s1", "s2", "s3"]
    assert b.pick(CTX) is None
    release(b, servers[1])
    assert b.pick(CTX) is servers[1]


@pytest.mark.parametrize("algo", ["roundrobin", "static-rr", "leastconn", "first"])
def test_avoid_is_a_last_resort(algo: str) -> None:
    servers = farm(1, 1)
    b = balancer(algo, servers)
    for _ in range(6):
        assert b.pick(CTX, avoid=servers[0]) is servers[1]
    servers[1].usable = False
    b.rebuild()
    assert b.pick(CTX, avoid=servers[0]) is servers[0]


def test_roundrobin_skip_keeps_the_turn() -> None:
    servers = farm(1, 1, 1)
    b = balancer("roundrobin", servers)
    servers[0].maxconn, servers[0].served = 1, 1
    assert [b.pick(CTX).name for _ in range(4)] == ["s2", "s3", "s2", "s3"]
    servers[0].served = 0
    assert b.pick(CTX).name == "s1"  # its turn was kept, not lost


def test_roundrobin_large_backend_is_fast_enough() -> None:
    servers = [Srv(f"s{i}", i, (1 + i % 7)) for i in range(1, 2001)]
    b = balancer("roundrobin", servers)
    got = counts(b, sum(1 + i % 7 for i in range(1, 2001)))
    assert all(got[s.name] == s.eweight for s in servers)


def test_static_rr_matches_haproxy_map_order() -> None:
    # HAProxy 2.6, weights 1 2 3 1: this sequence (see test_balance_haproxy)
    b = balancer("static-rr", farm(1, 2, 3, 1))
    seq = [b.pick(CTX).name for _ in range(14)]
    assert seq == ["s1", "s2", "s3", "s2", "s3", "s3", "s4"] * 2


def test_roundrobin_interleaves_light_servers() -> None:
    # HAProxy 2.6 with 10:1:1:1 sends s1 s1 s1 s1 s2 s1 s1 s1 s3 ...: no burst
    b = balancer("roundrobin", farm(10, 1, 1, 1))
    seq = [b.pick(CTX).name for _ in range(26)]
    assert Counter(seq) == {"s1": 20, "s2": 2, "s3": 2, "s4": 2}
    assert "s1 s1 s1 s1 s1" not in " ".join(seq)
    assert all(not (a != "s1" and b != "s1") for a, b in zip(seq, seq[1:], strict=False))


# --- leastconn --------------------------------------------------------------


def test_leastconn_picks_least_loaded() -> None:
    servers = farm(1, 1, 1)
    b = balancer("leastconn", servers)
    servers[0].served, servers[1].served, servers[2].served = 5, 2, 7
    b.rebuild()
    assert b.pick(CTX) is servers[1]


def test_leastconn_relative_to_weight() -> None:
    servers = farm(1, 3)
    b = balancer("leastconn", servers)
    held = [take(b, b.pick(CTX)) for _ in range(8)]
    assert Counter(s.name for s in held) == {"s1": 2, "s2": 6}


def test_leastconn_round_robin_among_equals() -> None:
    servers = farm(1, 1, 1)
    b = balancer("leastconn", servers)
    seq = []
    for _ in range(9):  # short connections: load stays equal
        s = take(b, b.pick(CTX))
        seq.append(s.name)
        release(b, s)
    assert seq == ["s1", "s2", "s3"] * 3


def test_leastconn_follows_releases() -> None:
    servers = farm(1, 1)
    b = balancer("leastconn", servers)
    a = take(b, b.pick(CTX))
    c = take(b, b.pick(CTX))
    take(b, b.pick(CTX))
    assert {a.name, c.name} == {"s1", "s2"}
    loaded = max(servers, key=lambda s: s.served)
    other = servers[0] if loaded is servers[1] else servers[1]
    release(b, loaded)
    release(b, loaded)
    assert b.pick(CTX) is loaded
    assert other.served == 1


def test_leastconn_weight_change() -> None:
    servers = farm(1, 1)
    b = balancer("leastconn", servers)
    servers[0].served = servers[1].served = 2
    servers[1].eweight = 4
    b.rebuild()
    assert b.pick(CTX) is servers[1]


def test_leastconn_full_servers() -> None:
    servers = farm(1, 1)
    servers[0].maxconn = servers[1].maxconn = 1
    b = balancer("leastconn", servers)
    take(b, b.pick(CTX))
    take(b, b.pick(CTX))
    assert b.pick(CTX) is None


# --- first ------------------------------------------------------------------


def test_first_fills_lowest_id_first() -> None:
    servers = [Srv("c", 3, maxconn=2), Srv("a", 1, maxconn=2), Srv("b", 2, maxconn=2)]
    b = balancer("first", servers)
    names = [take(b, b.pick(CTX)).name for _ in range(6)]
    assert names == ["a", "a", "b", "b", "c", "c"]
    assert b.pick(CTX) is None
    release(b, servers[2])  # b frees a slot
    assert b.pick(CTX).name == "b"
    release(b, servers[1])
    assert b.pick(CTX).name == "a"


def test_first_without_maxconn_always_first() -> None:
    servers = farm(1, 5, 9)
    b = balancer("first", servers)
    for _ in range(20):
        take(b, b.pick(CTX))
    assert servers[0].served == 20


def test_first_ignores_weight_except_zero() -> None:
    servers = farm(1, 9)
    b = balancer("first", servers)
    assert b.pick(CTX) is servers[0]
    servers[0].eweight = 0
    b.rebuild()
    assert b.pick(CTX) is servers[1]


# --- hashing ----------------------------------------------------------------


def uri_ctx(i: int) -> Ctx:
    return Ctx(uri=f"/obj/{i}?v=1".encode())


@pytest.mark.parametrize("ht", ["", "consistent"])
def test_hash_same_key_same_server(ht: str) -> None:
    b = balancer("uri", farm(1, 1, 1, 1), hash_type=ht)
    first = [b.pick(uri_ctx(i)).name for i in range(200)]
    assert first == [b.pick(uri_ctx(i)).name for i in range(200)]
    assert len(set(first)) == 4


@pytest.mark.parametrize("ht", ["", "consistent"])
def test_hash_distribution_follows_weights(ht: str) -> None:
    b = balancer("uri", farm(1, 3), hash_type=ht)
    got = Counter(b.pick(uri_ctx(i)).name for i in range(4000))
    assert 0.15 < got["s1"] / 4000 < 0.35


def test_consistent_hash_removing_a_server_moves_only_its_keys() -> None:
    servers = farm(1, 1, 2, 1, 1)
    b = balancer("uri", servers, hash_type="consistent")
    before = {i: b.pick(uri_ctx(i)) for i in range(3000)}
    servers[2].usable = False
    b.rebuild()
    after = {i: b.pick(uri_ctx(i)) for i in range(3000)}
    moved = [i for i in before if before[i] is not after[i]]
    assert moved and all(before[i] is servers[2] for i in moved)
    assert all(after[i] is not servers[2] for i in after)
    servers[2].usable = True
    b.rebuild()
    assert {i: b.pick(uri_ctx(i)) for i in range(3000)} == before


def test_consistent_hash_weight_change_is_dynamic() -> None:
    servers = farm(1, 1)
    b = balancer("uri", servers, hash_type="consistent")
    servers[1].eweight = 8
    b.rebuild()
    got = Counter(b.pick(uri_ctx(i)).name for i in range(3000))
    assert got["s2"] > 2 * got["s1"]


def test_consistent_hash_avoid_walks_on() -> None:
    servers = farm(1, 1, 1)
    b = balancer("uri", servers, hash_type="consistent")
    for i in range(50):
        usual = b.pick(uri_ctx(i))
        other = b.pick(uri_ctx(i), avoid=usual)
        assert other is not usual and other is not None


def test_map_hash_ignores_maxconn_like_haproxy() -> None:
    # the key decides; a full server means queueing on it, not another server
    servers = farm(1, 1)
    b = balancer("uri", servers)
    s = b.pick(uri_ctx(1))
    s.maxconn, s.served = 1, 1
    assert b.pick(uri_ctx(1)) is s


@pytest.mark.parametrize("ht", ["", "consistent"])
def test_missing_key_falls_back_to_round_robin(ht: str) -> None:
    servers = farm(1, 1, 1)
    for line, ctx in (
        ("uri", Ctx(uri=None)),
        ("url_param uid", Ctx(uri=b"/x?other=1")),
        ("url_param uid", Ctx(uri=b"/x")),
        ("hdr(X-Key)", Ctx(headers={})),
        ("hdr(X-Key)", Ctx(headers={b"x-key": b""})),
        ("source", Ctx(src="unix@/tmp/sock")),
    ):
        b = balancer(line, servers, hash_type=ht)
        got = Counter(b.pick(ctx).name for _ in range(30))
        assert len(got) == 3, line


def test_source_hash_ipv4_and_ipv6() -> None:
    servers = farm(1, 1, 1, 1)
    b = balancer("source", servers)
    v4 = Counter(b.pick(Ctx(src=f"10.0.{i}.{i % 250}")).name for i in range(400))
    v6 = Counter(b.pick(Ctx(src=f"2001:db8::{i:x}")).name for i in range(400))
    assert len(v4) == 4 and len(v6) == 4
    assert b.pick(Ctx(src="10.1.2.3")) is b.pick(Ctx(src="10.1.2.3"))
    assert b.pick(Ctx(src="fe80::1%eth0")) is b.pick(Ctx(src="fe80::1"))


def test_source_hash_is_xor_of_words() -> None:
    # 16 bytes hash as the XOR of their four big-endian words (no hash function)
    from lb.balance.hashing import source_key

    key = source_key(avalanche=False)
    assert key(Ctx(src="1.2.3.4")) == 0x01020304
    # 0:0:1:2:3:4:5:6 -> words 0, 0x00010002, 0x00030004, 0x00050006
    assert key(Ctx(src="::1:2:3:4:5:6")) == 0x00010002 ^ 0x00030004 ^ 0x00050006
    assert key(Ctx(src="::ffff:1.2.3.4")) == 0x0000FFFF ^ 0x01020304


def test_uri_options() -> None:
    from lb.balance.hashes import sdbm
    from lb.balance.hashing import uri_key

    def h(args: str, uri: bytes) -> int | None:
        return uri_key(args.split(), sdbm)(Ctx(uri=uri))

    assert h("", b"/a/b?c=d") == sdbm(b"/a/b")
    assert h("whole", b"/a/b?c=d") == sdbm(b"/a/b?c=d")
    assert h("depth 1", b"/a/b/c") == sdbm(b"/a")
    assert h("depth 2", b"/a/b/c") == sdbm(b"/a/b")
    assert h("depth 5", b"/a/b/c") == sdbm(b"/a/b/c")
    assert h("len 3", b"/abcdef") == sdbm(b"/ab")
    assert h("len 5 depth 1", b"/a/bcdef") == sdbm(b"/a")
    assert h("path-only", b"http://h.test/p?q") == sdbm(b"/p")
    assert h("path-only whole", b"https://h.test/p?q") == sdbm(b"/p?q")
    assert h("", b"http://h.test/p?q") == sdbm(b"http://h.test/p")


def test_url_param_and_hdr_keys() -> None:
    from lb.balance.hashes import sdbm
    from lb.balance.hashing import hdr_key, url_param_key

    up = url_param_key(["uid"], sdbm)
    assert up(Ctx(uri=b"/x?a=1&uid=42&b=2")) == sdbm(b"42")
    assert up(Ctx(uri=b"/x?xuid=1&uid=7")) == sdbm(b"7")
    assert up(Ctx(uri=b"/x?uid=&b=2")) == sdbm(b"")
    assert up(Ctx(uri=b"/x?uid")) is None
    hk = hdr_key(["Host", "use_domain_only"], sdbm)
    assert hk(Ctx(headers={b"host": b"www.haproxy.1wt.eu"})) == sdbm(b"1wt")
    assert hk(Ctx(headers={b"host": b"example.com"})) == sdbm(b"example")
    assert hk(Ctx(headers={b"host": b"localhost"})) == sdbm(b"localhost")
    plain = hdr_key(["X-K"], sdbm)
    assert plain(Ctx(headers={b"x-k": b" v1 , v2"})) == sdbm(b"v1")


# --- random -----------------------------------------------------------------


def test_random_respects_weights() -> None:
    servers = farm(1, 3)
    b = RandomDraws(servers, False, draws=1, rng=random.Random(7))
    got = Counter(b.pick(CTX).name for _ in range(4000))
    assert 0.15 < got["s1"] / 4000 < 0.35


def test_random_two_draws_prefers_less_loaded() -> None:
    servers = farm(1, 1, 1, 1)
    b = RandomDraws(servers, False, draws=2, rng=random.Random(3))
    servers[0].served = 100
    got = Counter(b.pick(CTX).name for _ in range(2000))
    assert got["s1"] < 0.1 * 2000  # only when both draws land on s1


def test_random_full_server_means_queue() -> None:
    servers = farm(1)
    servers[0].maxconn = servers[0].served = 1
    assert balancer("random", servers).pick(CTX) is None


def test_make_balancer_rejects_unknown() -> None:
    with pytest.raises(ValueError):
        make_balancer("nope", [], [], [], False)
    with pytest.raises(ValueError):
        make_balancer("uri", [], ["bogus"], [], False)


def test_map_event_build_equals_plain_rescan() -> None:
    from lb.balance.lbmap import map_order, map_order_plain

    rng = random.Random(11)
    for _ in range(500):
        weights = [rng.randint(1, rng.choice((2, 9, 40))) for _ in range(rng.randint(2, 8))]
        assert map_order(weights) == map_order_plain(weights), weights
