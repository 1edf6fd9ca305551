"""Timeouts, queueing, retries and redispatch through real sockets; the
status codes, error pages and termination states are HAProxy's."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from itest import HOST, Reader, connect, free_port, get, raw_exchange, wait_until

from lb.http.errors import error_response

pytestmark = pytest.mark.timeout(30)


def cfg(port: int, servers: str, timeouts: str, extra_be: str = "") -> str:
    return f"""
global
    log stderr format raw local0
defaults
    mode http
    log global
    option httplog
{timeouts}
frontend fe
    bind {HOST}:{port}
    default_backend be
backend be
{extra_be}{servers}
"""


BASE = """    timeout connect 300ms
    timeout client 2s
    timeout server 2s
"""


def test_timeout_http_request_408(lb, backend):
    b = backend()
    port = free_port()
    inst = lb(
        cfg(port, f"    server s1 {HOST}:{b.port}\n", BASE + "    timeout http-request 300ms\n")
    )
    t0 = time.monotonic()
    out = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: t\r\n", timeout=3)
    assert out == error_response(408)
    assert 0.25 < time.monotonic() - t0 < 1.5
    assert inst.wait_stderr(r' 408 \d+ - - cR-- .*"GET / HTTP/1.1"$|408 .* cR-- .*<BADREQ>')
    assert b.requests == []


def test_timeout_client_applies_to_head_without_http_request(lb, backend):
    b = backend()
    port = free_port()
    t = "    timeout connect 300ms\n    timeout client 300ms\n    timeout server 2s\n"
    lb(cfg(port, f"    server s1 {HOST}:{b.port}\n", t))
    out = raw_exchange(port, b"GET / HTTP/1.1\r\n", timeout=3)
    assert out == error_response(408)


def test_timeout_server_504(lb, backend):
    b = backend()
    port = free_port()
    t = "    timeout connect 300ms\n    timeout client 3s\n    timeout server 300ms\n"
    inst = lb(cfg(port, f"    server s1 {HOST}:{b.port}\n", t))
    t0 = time.monotonic()
    r = get(port, "/hang")
    assert r.status == 504
    assert r.body == error_response(504).split(b"\r\n\r\n", 1)[1]
    assert 0.25 < time.monotonic() - t0 < 1.5
    assert inst.wait_stderr(r" be/s1 \d+/\d+/\d+/-1/\d+ 504 \d+ - - sH-- ")


def test_timeout_http_keep_alive_closes_idle(lb, backend):
    b = backend()
    port = free_port()
    lb(cfg(port, f"    server s1 {HOST}:{b.port}\n", BASE + "    timeout http-keep-alive 300ms\n"))
    with connect(port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = Reader(s)
        assert rd.response().status == 200
        t0 = time.monotonic()
        assert rd.read_all() == b""  # closed silently, no 408
        assert 0.2 < time.monotonic() - t0 < 1.5


def test_timeout_queue_503(lb, backend):
    b = backend()
    port = free_port()
    inst = lb(
        cfg(
            port,
            f"    server s1 {HOST}:{b.port} maxconn 1\n",
            BASE + "    timeout queue 300ms\n",
        )
    )
    res: dict[str, int] = {}

    def slow() -> None:
        res["slow"] = get(port, "/delay?ms=1000").status

    th = threading.Thread(target=slow)
    th.start()
    assert wait_until(lambda: b.active == 1, 3)
    t0 = time.monotonic()
    r = get(port, "/")
    assert r.status == 503
    assert 0.25 < time.monotonic() - t0 < 1.5
    th.join(5)
    assert res["slow"] == 200
    assert inst.wait_stderr(r" 503 \d+ - - sQ-- ")
    assert b.max_active == 1


def test_queue_waits_then_served(lb, backend):
    b = backend()
    port = free_port()
    lb(cfg(port, f"    server s1 {HOST}:{b.port} maxconn 1\n", BASE + "    timeout queue 3s\n"))
    out: list[tuple[int, float]] = []
    t0 = time.monotonic()

    def one() -> None:
        r = get(port, "/delay?ms=400")
        out.append((r.status, time.monotonic() - t0))

    ths = [threading.Thread(target=one) for _ in range(2)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(10)
    assert [s for s, _ in out] == [200, 200]
    # the second waited for the first: served one after the other
    assert max(t for _, t in out) >= 0.75
    assert b.max_active == 1


def test_retries_to_dead_server_then_503(lb):
    port = free_port()
    dead = free_port()
    inst = lb(cfg(port, f"    server s1 {HOST}:{dead}\n", BASE + "    retries 2\n"))
    r = get(port, "/")
    assert r.status == 503
    assert r.body == error_response(503).split(b"\r\n\r\n", 1)[1]
    lines = inst.wait_stderr(r" be/s1 .* 503 .* SC-- .*")
    assert lines
    # the retries count is the last field of the connection counters
    assert " 0/0 " in lines[-1] or "/2 " in lines[-1]


def test_redispatch_picks_another_server(lb, backend):
    good = backend("good")
    port = free_port()
    dead = free_port()
    servers = f"    server dead {HOST}:{dead}\n    server good {HOST}:{good.port}\n"
    inst = lb(cfg(port, servers, BASE + "    retries 1\n", extra_be="    option redispatch\n"))
    for _ in range(4):
        r = get(port, "/")
        assert r.status == 200 and r.body == b"hello from good"
    lines = inst.wait_stderr(r" be/good .* 200 ", count=4)
    assert len(lines) >= 4
    assert any("/+1 " in ln for ln in lines)  # a redispatched request logs +retries


def full_listener() -> tuple[socket.socket, list[socket.socket]]:
    """A listening socket that never accepts, with its backlog full: connects hang."""
    ls = socket.socket()
    ls.bind((HOST, 0))
    ls.listen(0)
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(ls.getsockname())
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.1)
    return ls, fillers


def test_timeout_connect_503(lb):
    ls, fillers = full_listener()
    try:
        probe = socket.socket()
        probe.settimeout(0.3)
        try:
            probe.connect(ls.getsockname())
            pytest.skip("the kernel accepted a connection on a full backlog")
        except (TimeoutError, OSError):
            pass
        finally:
            probe.close()
        port = free_port()
        inst = lb(
            cfg(
                port,
                f"    server s1 {HOST}:{ls.getsockname()[1]}\n",
                "    timeout connect 200ms\n    timeout client 3s\n    timeout server 3s\n"
                "    retries 1\n",
            )
        )
        t0 = time.monotonic()
        r = get(port, "/")
        el = time.monotonic() - t0
        assert r.status == 503
        assert 0.3 < el < 2.0  # two connect attempts of 200 ms
        assert inst.wait_stderr(r" be/s1 .* 503 .* sC-- ")
    finally:
        for c in fillers:
            c.close()
        ls.close()


def test_timeout_tunnel(lb, backend):
    b = backend()
    port = free_port()
    lb(
        cfg(
            port,
            f"    server s1 {HOST}:{b.port}\n",
            BASE + "    timeout tunnel 400ms\n",
        )
    )
    with connect(port) as s:
        s.sendall(
            b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
        )
        rd = Reader(s)
        assert rd.response().status == 101
        s.sendall(b"x")
        assert rd.read_exact(1) == b"x"
        t0 = time.monotonic()
        assert rd.read_all() == b""
        assert 0.3 < time.monotonic() - t0 < 1.5
