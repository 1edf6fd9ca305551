"""Cookie persistence, sans-IO: the config line, the request and response
edits (compared with what HAProxy 2.6.12 produces), server choice."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from lb.persist import (
    CookiePersist,
    PersistConfigError,
    b64tos30,
    parse_cookie,
    s30tob64,
)

NOW = 1795303904  # 2026-11-21, the date of the captures below


class Srv:
    def __init__(self, name: str, cookie: str, usable: bool = True) -> None:
        self.name = name
        self.cookie = cookie
        self.usable = usable


def make(line: str, servers: list[Srv] | None = None, **options: Any) -> CookiePersist:
    proxy = SimpleNamespace(servers=servers or [Srv("a", "A"), Srv("b", "B")], options=options)
    return CookiePersist(proxy, parse_cookie(line.split()), clock=lambda: NOW)


def stream() -> Any:
    return SimpleNamespace(vars=None, server=None)


def req(cookie: str | None = None) -> bytes:
    extra = f"Cookie: {cookie}\r\n" if cookie is not None else ""
    return f"GET /x HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode()


RESP = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_parse_errors_use_haproxy_words() -> None:
    with pytest.raises(PersistConfigError, match="^'cookie' supports 'rewrite', 'insert'"):
        parse_cookie(["SID", "bogus"])
    with pytest.raises(PersistConfigError, match="modes are incompatible"):
        parse_cookie(["SID", "insert", "prefix"])
    with pytest.raises(PersistConfigError, match="^'cookie' expects <cookie_name> as argument.$"):
        parse_cookie([])
    with pytest.raises(PersistConfigError, match="requires at least 'insert' or 'indirect'"):
        parse_cookie(["SID", "preserve"])
    with pytest.raises(
        PersistConfigError, match="^unexpected character 'a' in argument to <maxidle>"
    ):
        parse_cookie(["SID", "insert", "maxidle", "abc"])
    conf = parse_cookie(["SID", "insert", "maxidle", "30m", "maxlife", "8h", "domain", ".x"])
    assert (conf.maxidle, conf.maxlife, conf.domains) == (1800, 28800, [".x"])


def test_date_encoding_matches_haproxy() -> None:
    # HAProxy wrote `SID=A|awIp4|awIp4` at NOW
    assert s30tob64((NOW + 3) >> 2) == "awIp4"
    assert b64tos30("awIp4") == (NOW + 3) >> 2


def test_insert_full_options_like_haproxy() -> None:
    p = make(
        "SID insert indirect nocache httponly secure domain .example.com maxidle 30m maxlife 8h "
        "attr SameSite=Lax"
    )
    st = stream()
    out = p.on_request(st, None, req("a=1; SID=A; b=2"))
    assert b"Cookie: a=1; b=2\r\n" in out  # indirect: the cookie is not forwarded
    assert p.server_for(st).name == "a"
    st.server = p.server_for(st)
    resp = p.on_response(st, b"GET", 200, RESP)
    assert resp.endswith(
        b"set-cookie: SID=A|awIp4|awIp4; path=/; domain=.example.com; HttpOnly; Secure; "
        b"SameSite=Lax\r\n\r\n"
    )


def test_indirect_removes_a_lone_cookie_header() -> None:
    p = make("SID insert indirect")
    out = p.on_request(stream(), None, req("SID=B"))
    assert b"ookie" not in out


def test_insert_only_when_missing_or_wrong() -> None:
    p = make("SID insert")
    st = stream()
    p.on_request(st, None, req("SID=A"))
    st.server = p.server_for(st)
    assert p.on_response(st, b"GET", 200, RESP) == RESP
    st = stream()
    p.on_request(st, None, req())
    assert p.server_for(st) is None
    st.server = Srv("b", "B")
    assert b"set-cookie: SID=B; path=/\r\n" in p.on_response(st, b"GET", 200, RESP)


def test_prefix_strips_and_adds() -> None:
    p = make("SID prefix")
    st = stream()
    out = p.on_request(st, None, req("a=1; SID=A~zzz; b=2"))
    assert b"Cookie: a=1; SID=zzz; b=2\r\n" in out
    st.server = p.server_for(st)
    resp = b"HTTP/1.1 200 OK\r\nSet-Cookie: SID=abc; path=/\r\n\r\n"
    assert p.on_response(st, b"GET", 200, resp) == (
        b"HTTP/1.1 200 OK\r\nSet-Cookie: SID=A~abc; path=/\r\n\r\n"
    )


def test_rewrite() -> None:
    p = make("SID rewrite")
    st = stream()
    out = p.on_request(st, None, req("SID=B"))
    assert out == req("SID=B")  # rewrite mode leaves the request alone
    st.server = p.server_for(st)
    assert st.server.name == "b"
    resp = b"HTTP/1.1 200 OK\r\nset-cookie: SID=xyz; path=/; HttpOnly\r\n\r\n"
    assert p.on_response(st, b"GET", 200, resp) == (
        b"HTTP/1.1 200 OK\r\nset-cookie: SID=B; path=/; HttpOnly\r\n\r\n"
    )


def test_nocache_only_on_cacheable_responses() -> None:
    p = make("SID insert nocache")
    st = stream()
    p.on_request(st, None, req())
    st.server = Srv("a", "A")
    assert b"cache-control: private" not in p.on_response(st, b"GET", 200, RESP)
    cacheable = b"HTTP/1.1 200 OK\r\nCache-Control: public, max-age=60\r\n\r\n"
    out = p.on_response(st, b"GET", 200, cacheable)
    assert out.endswith(b"set-cookie: SID=A; path=/\r\ncache-control: private\r\n\r\n")


def test_postonly_and_preserve() -> None:
    p = make("SID insert postonly")
    st = stream()
    p.on_request(st, None, req())
    st.server = Srv("a", "A")
    assert p.on_response(st, b"GET", 200, RESP) == RESP
    assert b"set-cookie: SID=A" in p.on_response(st, b"POST", 200, RESP)
    p = make("SID insert preserve")
    own = b"HTTP/1.1 200 OK\r\nSet-Cookie: SID=abc; path=/\r\n\r\n"
    assert p.on_response(st, b"GET", 200, own) == own


def test_server_states() -> None:
    a, b = Srv("a", "A"), Srv("b", "B", usable=False)
    p = make("SID insert", [a, b])
    st = stream()
    p.on_request(st, None, req("SID=B"))
    assert p.server_for(st) is None  # down or in maintenance: the balancer chooses
    p = make("SID insert", [a, b], persist=True)
    st = stream()
    p.on_request(st, None, req("SID=B"))
    assert p.server_for(st) is b  # option persist
    st = stream()
    p.on_request(st, None, req("SID=Z"))
    assert p.server_for(st) is None


def test_force_and_ignore_persist() -> None:
    a, b = Srv("a", "A"), Srv("b", "B", usable=False)
    proxy = SimpleNamespace(servers=[a, b], options={})
    conf = parse_cookie(["SID", "insert"])
    p = CookiePersist(proxy, conf, force=[lambda s: True])
    st = stream()
    p.on_request(st, None, req("SID=B"))
    assert p.server_for(st) is b
    p = CookiePersist(proxy, conf, ignore=[lambda s: True])
    st = stream()
    p.on_request(st, None, req("SID=A"))
    assert p.server_for(st) is None


def test_maxidle_expiry() -> None:
    p = make("SID insert maxidle 10s")
    st = stream()
    old = s30tob64((NOW - 3600) >> 2)
    p.on_request(st, None, req(f"SID=A|{old}"))
    assert p.server_for(st) is None  # expired
    st = stream()
    p.on_request(st, None, req(f"SID=A|{s30tob64((NOW + 3) >> 2)}"))
    assert p.server_for(st).name == "a"
