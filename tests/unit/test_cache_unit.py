"""Sans-IO parts of the HTTP cache (lb.http.cache): key, freshness, LRU."""

from __future__ import annotations

import hashlib

from lb.config.model import CacheConf, Where
from lb.http.cache import Cache, Entry, max_age, request_key, response_cacheable
from lb.http.h1 import parse_request_head, parse_response_head


def _res(*hdrs: str):
    raw = "HTTP/1.1 200 OK\r\n" + "".join(h + "\r\n" for h in hdrs) + "\r\n"
    return parse_response_head(raw.encode())


def _cc(head):
    return [v.strip() for x in head.get_all(b"cache-control") for v in x.split(b",")]


def test_key_is_haproxys():
    h = parse_request_head(b"GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert request_key(h) == hashlib.sha1(b"https://example.com/a?x=1").digest()
    h = parse_request_head(b"GET http://e.com/a HTTP/1.1\r\nHost: other\r\n\r\n")
    assert request_key(h) == hashlib.sha1(b"http://e.com/a").digest()
    assert request_key(parse_request_head(b"GET / HTTP/1.1\r\n\r\n")) is None


def test_max_age_order():
    now = 1_000_000
    h = _res("Cache-Control: max-age=50, s-maxage=20")
    assert max_age(_cc(h), h, 60, now) == (20, 20)
    h = _res("Cache-Control: max-age=500")
    assert max_age(_cc(h), h, 60, now) == (60, 500)
    h = _res("Expires: garbage")
    assert max_age(_cc(h), h, 60, now) == (0, 0)
    h = _res("ETag: x")
    assert max_age(_cc(h), h, 60, now) == (60, 0)


def test_cacheability():
    for hdrs, ok in [
        (("Cache-Control: max-age=5",), True),
        (("Cache-Control: public",), False),
        (("Cache-Control: max-age=5, private",), False),
        (("Cache-Control: max-age=5", "Pragma: no-cache"), False),
        (("Last-Modified: Thu, 01 Jan 2020 00:00:00 GMT",), True),
        (('Cache-Control: max-age=5, no-cache="set-cookie"',), False),
    ]:
        h = _res(*hdrs)
        assert response_cacheable(_cc(h), h) is ok, hdrs


def _entry(key: bytes, blocks: int) -> Entry:
    e = Entry()
    e.key, e.sec, e.sig, e.blocks, e.expire = key, bytes(8), 0, blocks, 10**10
    e.hash32 = 0
    return e


def test_lru_evicts_least_recently_used():
    c = Cache(CacheConf(name="c", where=Where("f", 1), max_blocks=3))
    for k in (b"a", b"b", b"c"):
        assert c.insert(_entry(k, 1), 0)
    req = parse_request_head(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert c.lookup(b"a", req, 0) is not None  # a is now the most recent
    c.insert(_entry(b"d", 1), 0)
    assert set(c.by_key) == {b"a", b"c", b"d"}
    assert not c.insert(_entry(b"e", 4), 0)  # larger than the whole cache
