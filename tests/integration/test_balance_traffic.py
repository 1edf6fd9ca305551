"""Each balance algorithm's distribution, seen through real traffic."""

from __future__ import annotations

import collections
import contextlib
import socket
import threading

import pytest
from itest import HOST, Reader, connect, free_port, get, wait_until

pytestmark = pytest.mark.timeout(30)


def cfg(port: int, servers: str, balance: str, sock: str = "") -> str:
    stats = f"    stats socket {sock} level admin\n" if sock else ""
    return f"""
global
    log stderr format raw local0
{stats}
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind {HOST}:{port}
    default_backend be
backend be
    balance {balance}
{servers}
"""


def servers(backends, weights=None) -> str:
    out = []
    for i, b in enumerate(backends):
        w = f" weight {weights[i]}" if weights else ""
        out.append(f"    server {b.name} {HOST}:{b.port}{w}\n")
    return "".join(out)


def count(
    port: int, n: int, path: str = "/", headers: str = "", ka: bool = True
) -> collections.Counter:
    c: collections.Counter = collections.Counter()
    if not ka:
        for i in range(n):
            c[get(port, path.format(i=i), headers).body.decode()] += 1
        return c
    with connect(port) as s:
        rd = Reader(s)
        for i in range(n):
            s.sendall(f"GET {path.format(i=i)} HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode())
            c[rd.response().body.decode()] += 1
    return c


@pytest.fixture
def three(backend):
    return [backend(f"s{i}") for i in (1, 2, 3)]


def test_roundrobin_weights(lb, three):
    port = free_port()
    lb(cfg(port, servers(three, [1, 2, 3]), "roundrobin"))
    c = count(port, 60)
    assert c == {"hello from s1": 10, "hello from s2": 20, "hello from s3": 30}


def test_static_rr(lb, three):
    port = free_port()
    lb(cfg(port, servers(three, [1, 1, 2]), "static-rr"))
    c = count(port, 40)
    assert c == {"hello from s1": 10, "hello from s2": 10, "hello from s3": 20}


def test_first(lb, three):
    port = free_port()
    lb(cfg(port, servers(three), "first"))
    assert count(port, 10) == {"hello from s1": 10}


def test_leastconn_prefers_idle_server(lb, backend):
    s1, s2 = backend("s1"), backend("s2")
    port = free_port()
    lb(cfg(port, servers([s1, s2]), "leastconn"))
    # hold one connection busy on whichever server gets it
    res = {}
    th = threading.Thread(target=lambda: res.setdefault("r", get(port, "/delay?ms=800")))
    th.start()
    assert wait_until(lambda: s1.active + s2.active == 1, 3)
    busy = s1 if s1.active else s2
    other = s2 if busy is s1 else s1
    c = count(port, 6, ka=False)
    assert c == {f"hello from {other.name}": 6}
    th.join(5)


def test_source_is_sticky(lb, three):
    port = free_port()
    lb(cfg(port, servers(three), "source"))
    c = count(port, 12, ka=False)
    assert len(c) == 1 and sum(c.values()) == 12


def test_uri_hash(lb, three):
    port = free_port()
    lb(cfg(port, servers(three), "uri"))
    a = count(port, 6, "/same/path", ka=False)
    assert len(a) == 1
    spread = count(port, 60, "/p{i}")
    assert len(spread) == 3


def test_url_param(lb, three):
    port = free_port()
    lb(cfg(port, servers(three), "url_param user"))
    assert len(count(port, 6, "/x?user=alice")) == 1
    assert len(count(port, 60, "/x?user=u{i}")) == 3


def test_hdr(lb, three):
    port = free_port()
    lb(cfg(port, servers(three), "hdr(X-User)"))
    assert len(count(port, 6, "/", "X-User: bob\r\n")) == 1


def test_random(lb, three):
    port = free_port()
    lb(cfg(port, servers(three), "random"))
    c = count(port, 90)
    assert len(c) == 3


def cli(path: str, cmd: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(3)
        s.connect(path)
        s.sendall(cmd.encode() + b"\n")
        out = b""
        with contextlib.suppress(TimeoutError):
            while d := s.recv(65536):
                out += d
    return out.decode()


def test_weight_change_at_run_time(lb, backend, tmp_path):
    s1, s2 = backend("s1"), backend("s2")
    port = free_port()
    sock = str(tmp_path / "stats.sock")
    lb(cfg(port, servers([s1, s2]), "roundrobin", sock))
    assert wait_until(lambda: __import__("os").path.exists(sock), 3)
    try:
        answer = cli(sock, "set server be/s1 weight 0")
    except OSError as exc:
        pytest.skip(f"stats socket not usable: {exc}")
    if "Unknown command" in answer:
        pytest.skip("runtime API has no 'set server' yet")
    assert count(port, 10) == {"hello from s2": 10}
    cli(sock, "set weight be/s1 3")
    c = count(port, 40)
    assert c == {"hello from s1": 30, "hello from s2": 10}
