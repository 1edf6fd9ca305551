"""HTTP proxying through real sockets: keep-alive, reuse, pipelining, framing,
upgrade, 100-continue, HTTP/1.0, connection modes, forwardfor."""

from __future__ import annotations

import socket
import time

import pytest
from itest import HOST, Reader, connect, free_port, get, http_cfg, raw_exchange, request

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def proxy(lb, backend):
    """lb in front of one backend server; returns (port, backend, lb)."""

    def make(
        extra_fe: str = "", extra_be: str = "", srv_opts: str = "", defaults: str | None = None
    ):
        b = backend("s1")
        port = free_port()
        kw = {} if defaults is None else {"defaults": defaults}
        cfg = http_cfg(
            port, f"    server s1 {HOST}:{b.port} {srv_opts}\n", extra_fe, extra_be, **kw
        )
        inst = lb(cfg)
        return port, b, inst

    return make


def test_simple_get(proxy):
    port, b, _ = proxy()
    r = get(port, "/")
    assert r.status == 200
    assert r.body == b"hello from s1"


def test_keepalive_and_server_reuse(proxy):
    port, b, _ = proxy()
    with connect(port) as s:
        rd = Reader(s)
        for i in range(20):
            s.sendall(f"GET /n{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            r = rd.response()
            assert r.status == 200, r
            assert r.body == b"hello from s1"
    assert len(b.requests) == 20
    # one client connection, idle server connection reused every time
    assert b.accepted == 1


def _one(s: socket.socket, rd: Reader, path: str) -> None:
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    r = rd.response()
    assert r.status == 200 and r.body == b"hello from s1", r


@pytest.mark.parametrize(
    ("mode", "after_b_first", "after_b_second", "after_c_first"),
    [
        # safe (the default): a client's first request gets a connection of its own
        (None, 2, 2, 3),
        ("safe", 2, 2, 3),
        # always: any idle connection, first requests included
        ("always", 1, 1, 1),
        # aggressive: a first request only takes a connection already reused once
        ("aggressive", 2, 2, 2),
        # never: each client keeps its own server connection
        ("never", 2, 2, 3),
    ],
)
def test_http_reuse_modes(proxy, mode, after_b_first, after_b_second, after_c_first):
    """Server connections (counted by the backend) as three clients come: A sends one
    request and stays idle, B sends two, then C sends one while A and B are idle."""
    port, b, _ = proxy(extra_be=f"    http-reuse {mode}\n" if mode else "")
    with connect(port) as a, connect(port) as bb, connect(port) as c:
        ra, rb, rc = Reader(a), Reader(bb), Reader(c)
        _one(a, ra, "/a1")
        assert b.accepted == 1
        _one(bb, rb, "/b1")
        assert b.accepted == after_b_first
        _one(bb, rb, "/b2")
        assert b.accepted == after_b_second
        _one(c, rc, "/c1")
        assert b.accepted == after_c_first
        # later requests of each client always find a connection: no new one
        for sock, rd in ((a, ra), (bb, rb), (c, rc)):
            _one(sock, rd, "/again")
        assert b.accepted == after_c_first


def test_http_reuse_never_closes_with_its_client(proxy):
    """`http-reuse never`: the server connection is the client's; when the client goes,
    so does it, and nobody else gets it."""
    port, b, _ = proxy(extra_be="    http-reuse never\n")
    with connect(port) as a:
        ra = Reader(a)
        _one(a, ra, "/a1")
        _one(a, ra, "/a2")
    assert b.accepted == 1
    deadline = time.monotonic() + 5
    while b.open_conns() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.open_conns() == 0
    with connect(port) as c:
        _one(c, Reader(c), "/c1")
    assert b.accepted == 2


@pytest.mark.parametrize(
    ("srv_opts", "pause", "accepted"),
    [
        ("", 0.0, 1),  # one server connection serves the three requests
        ("pool-max-conn 0", 0.0, 3),  # no idle pool: a connection per request
        ("max-reuse 1", 0.0, 2),  # first use, one reuse, then a new connection
        ("pool-purge-delay 200ms", 0.6, 3),  # idle longer than the delay: closed
    ],
)
def test_idle_pool_limits(proxy, srv_opts, pause, accepted):
    port, b, _ = proxy(srv_opts=srv_opts)
    with connect(port) as s:
        rd = Reader(s)
        for i in range(3):
            _one(s, rd, f"/p{i}")
            time.sleep(pause)
    assert b.accepted == accepted


def test_pipelining_in_order(proxy):
    port, b, _ = proxy()
    with connect(port) as s:
        s.sendall(
            b"GET /delay?ms=150 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde"
            b"GET /chunked?n=2 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        rd = Reader(s)
        bodies = [rd.response().body for _ in range(4)]
        assert rd.read_all() == b""
    assert bodies == [b"delayed", b"abcde", b"chunk-0\nchunk-1\n", b"hello from s1"]


def test_head_204_304_framing(proxy):
    port, _b, _ = proxy()
    with connect(port) as s:
        rd = Reader(s)
        s.sendall(b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n")
        r = rd.response("HEAD")
        assert r.status == 200 and r.header("content-length") == "13"
        s.sendall(b"GET /status?code=204 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert rd.response().status == 204
        s.sendall(b"GET /status?code=304 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert rd.response().status == 304
        # the connection is still in sync: a normal request follows
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        r = rd.response()
        assert r.body == b"hello from s1"
        assert rd.buf == b""


def test_chunked_response_and_request(proxy):
    port, b, _ = proxy()
    r = get(port, "/chunked?n=5")
    assert r.header("transfer-encoding") == "chunked"
    assert r.body == b"".join(f"chunk-{i}\n".encode() for i in range(5))
    raw = (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    assert request(port, raw).body == b"abcdefg"


def test_expect_100_continue(proxy):
    port, _b, _ = proxy()
    with connect(port) as s:
        s.sendall(
            b"POST /continue HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        rd = Reader(s)
        interim = rd.read_until(b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        s.sendall(b"hello")
        r = rd.response()
        assert r.status == 200 and r.body == b"hello"


def test_http10_client(proxy):
    port, b, _ = proxy()
    # no keep-alive: the response is delimited and the connection closed
    out = raw_exchange(port, b"GET /x HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.")
    assert out.endswith(b"hello from s1")
    # keep-alive asked: two requests on one connection
    with connect(port) as s:
        rd = Reader(s)
        for _ in range(2):
            s.sendall(b"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = rd.response()
            assert r.status == 200 and r.body == b"hello from s1"
            assert (r.header("connection") or "").lower() == "keep-alive"


def test_websocket_upgrade(proxy):
    port, _b, _ = proxy()
    with connect(port) as s:
        s.sendall(
            b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        )
        rd = Reader(s)
        r = rd.response()
        assert r.status == 101
        for msg in (b"ping-1", b"x" * 100000, b"last"):
            s.sendall(msg)
            assert rd.read_exact(len(msg)) == msg
        s.shutdown(socket.SHUT_WR)
        assert rd.read_all() == b""


def test_option_httpclose_frontend(proxy):
    # as HAProxy 2.6: the client gets `connection: close` and the connection ends,
    # the server is asked to close too
    port, b, _ = proxy(extra_fe="    option httpclose\n")
    with connect(port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = Reader(s)
        r = rd.response()
        assert r.status == 200
        assert (r.header("connection") or "").lower() == "close"
        assert rd.read_all() == b""
    assert b"connection: close" in b.requests[0].lower()


def test_option_httpclose_backend(proxy):
    # as HAProxy 2.6: in a backend only the server side closes
    port, b, _ = proxy(extra_be="    option httpclose\n")
    with connect(port) as s:
        rd = Reader(s)
        for _ in range(3):
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            r = rd.response()
            assert r.status == 200 and r.header("connection") is None
    assert b.accepted == 3
    assert all(b"connection: close" in q.lower() for q in b.requests)


def test_option_http_server_close(proxy):
    port, b, _ = proxy(extra_be="    option http-server-close\n")
    with connect(port) as s:
        rd = Reader(s)
        for _ in range(3):
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert rd.response().status == 200
    # client side kept alive, a new server connection each time
    assert b.accepted == 3
    assert all(b"connection: close" in q.lower() for q in b.requests)


def test_forwardfor(proxy):
    port, b, _ = proxy(extra_be="    option forwardfor\n")
    r = get(port, "/headers")
    assert b"\r\nX-Forwarded-For: 127.0.0.1\r\n" in r.body


def test_forwardfor_except(proxy):
    port, b, _ = proxy(extra_be="    option forwardfor except 127.0.0.0/8\n")
    r = get(port, "/headers")
    assert b"x-forwarded-for" not in r.body.lower()


def test_forwardfor_header_name(proxy):
    port, b, _ = proxy(extra_fe="    option forwardfor header X-Client\n")
    r = get(port, "/headers")
    assert b"\r\nX-Client: 127.0.0.1\r\n" in r.body


def test_forwardfor_if_none_and_originalto_on_one_connection(proxy):
    """The added lines are made once per connection; `if-none` still looks at each
    request, and originalto stays whichever way forwardfor goes."""
    port, b, _ = proxy(extra_be="    option forwardfor if-none\n    option originalto\n")
    with connect(port) as s:
        rd = Reader(s)
        for xff in (b"", b"X-Forwarded-For: 10.1.1.1\r\n", b""):
            s.sendall(b"GET /headers HTTP/1.1\r\nHost: t\r\n" + xff + b"\r\n")
            assert rd.response().status == 200
    heads = [raw.lower() for raw in b.requests]
    assert [h.count(b"\r\nx-forwarded-for:") for h in heads] == [1, 1, 1]
    assert b"x-forwarded-for: 127.0.0.1" in heads[0] and b"x-forwarded-for: 127.0.0.1" in heads[2]
    assert b"x-forwarded-for: 10.1.1.1" in heads[1]
    assert all(b"\r\nx-original-to: 127.0.0.1\r\n" in h for h in heads)


def test_bad_request_after_routed_one_does_not_use_its_backends_errorfile(proxy, tmp_path):
    """An error before routing comes from the frontend, not from the backend the
    previous request of the connection went to."""
    page = tmp_path / "be400.http"
    page.write_bytes(
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nBE400"
    )
    port, _b, _ = proxy(extra_be=f"    errorfile 400 {page}\n")
    with connect(port) as s:
        rd = Reader(s)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert rd.response().status == 200
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n")
        r = rd.response()
    assert r.status == 400 and r.body != b"BE400"


def test_http_request_return(lb):
    # (conditions need ACL sample fetches, not available yet: unconditional rules only)
    port = free_port()
    cfg = f"""
global
    log stderr format raw local0
defaults
    mode http
    timeout client 2s
    timeout server 2s
    timeout connect 1s
frontend fe
    bind {HOST}:{port}
    http-request return status 404 content-type text/plain string "nope"
"""
    lb(cfg)
    r = get(port, "/else")
    assert r.status == 404 and r.body == b"nope"
    assert r.header("content-type") == "text/plain"
    # keep-alive still works after a local response
    with connect(port) as s:
        rd = Reader(s)
        for _ in range(3):
            s.sendall(b"GET /hi HTTP/1.1\r\nHost: t\r\n\r\n")
            assert rd.response().body == b"nope"
        # a request with a body: the body is skipped, the next request is read
        s.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        s.sendall(b"GET /y HTTP/1.1\r\nHost: t\r\n\r\n")
        assert rd.response().status == 404
        assert rd.response().status == 404


def test_server_closes_without_response_502(proxy):
    port, _b, _ = proxy()
    r = get(port, "/close")
    assert r.status == 502


def test_many_sequential_connections(proxy):
    port, b, _ = proxy()
    t = time.monotonic()
    for _ in range(50):
        assert get(port, "/").status == 200
    assert time.monotonic() - t < 10
