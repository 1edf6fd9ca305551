"""TCP mode: relay both ways, half-close, large transfer with back-pressure,
timeouts, and the tcplog line."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time

import pytest
from itest import HOST, free_port, wait_until

pytestmark = pytest.mark.timeout(40)

TCPLOG = re.compile(
    r"^(?P<ip>[\d.]+):(?P<port>\d+) \[(?P<date>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2}\.\d{3})\] "
    r"(?P<fe>\S+) (?P<be>\S+)/(?P<srv>\S+) (?P<tw>-?\d+)/(?P<tc>-?\d+)/(?P<tt>\+?\d+) "
    r"(?P<bytes>\d+) (?P<ts>\S\S) (?P<ac>\d+)/(?P<fc>\d+)/(?P<bc>\d+)/(?P<sc>\d+)/(?P<rc>\+?\d+) "
    r"(?P<sq>\d+)/(?P<bq>\d+)$"
)


class TcpServer:
    """Per connection: `mode` decides. echo: echo until EOF then half-close;
    upper: reply with upper-cased data after the client's EOF; big: send N bytes;
    silent: read and never answer."""

    def __init__(self, mode: str = "echo", size: int = 0) -> None:
        self.mode = mode
        self.size = size
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.received: list[int] = []
        self.stop = threading.Event()
        self.th = threading.Thread(target=self._loop, daemon=True)
        self.th.start()

    def _loop(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket) -> None:
        c.settimeout(20)
        with c, contextlib.suppress(OSError):
            if self.mode == "big":
                block = b"z" * 262144
                left = self.size
                while left:
                    n = c.send(block[: min(left, len(block))])
                    left -= n
                c.shutdown(socket.SHUT_WR)
                while c.recv(65536):
                    pass
                return
            data = b""
            total = 0
            while True:
                d = c.recv(262144)
                if not d:
                    break
                total += len(d)
                if self.mode == "echo":
                    c.sendall(d)
                elif self.mode == "upper":
                    data += d
                elif self.mode == "count":
                    pass
            self.received.append(total)
            if self.mode == "upper":
                c.sendall(data.upper())
            elif self.mode == "count":
                c.sendall(str(total).encode())
            c.shutdown(socket.SHUT_WR)
            time.sleep(0.2)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.th.join(2)


@pytest.fixture
def tcp_server():
    made: list[TcpServer] = []

    def make(mode: str = "echo", size: int = 0) -> TcpServer:
        s = TcpServer(mode, size)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def tcp_cfg(port: int, srv_port: int, timeouts: str = "") -> str:
    timeouts = timeouts or "    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"
    return f"""
global
    log stderr format raw local0
defaults
    mode tcp
    log global
    option tcplog
{timeouts}
listen tcpfe
    bind {HOST}:{port}
    server s1 {HOST}:{srv_port}
"""


def read_all(s: socket.socket) -> bytes:
    out = b""
    while d := s.recv(262144):
        out += d
    return out


def test_relay_both_ways_and_tcplog(lb, tcp_server):
    srv = tcp_server("echo")
    port = free_port()
    inst = lb(tcp_cfg(port, srv.port))
    with socket.create_connection((HOST, port), timeout=5) as s:
        for msg in (b"hello", b"world" * 1000):
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                got += s.recv(65536)
            assert got == msg
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b""
    lines = inst.wait_stderr(r" tcpfe tcpfe/s1 ")
    assert lines, inst.stderr
    m = TCPLOG.match(lines[-1])
    assert m, lines[-1]
    assert m["ip"] == "127.0.0.1" and m["fe"] == "tcpfe" and m["srv"] == "s1"
    assert m["ts"] == "--"
    assert int(m["bytes"]) == 5 + 5000
    assert int(m["tw"]) >= 0 and int(m["tc"]) >= 0


def test_half_close_passed_through(lb, tcp_server):
    # the server answers only after it sees the client's EOF
    srv = tcp_server("upper")
    port = free_port()
    lb(tcp_cfg(port, srv.port))
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(b"abc")
        time.sleep(0.1)
        s.sendall(b"def")
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"ABCDEF"


def test_large_transfer_with_backpressure(lb, tcp_server):
    size = 200 * 1024 * 1024
    srv = tcp_server("big", size)
    port = free_port()
    inst = lb(tcp_cfg(port, srv.port))
    with socket.create_connection((HOST, port), timeout=10) as s:
        time.sleep(0.5)  # let the server push while nobody reads
        rss_paused = inst.rss_kb()
        got = 0
        peak = rss_paused
        while d := s.recv(1 << 20):
            got += len(d)
            if got % (32 << 20) < (1 << 20):
                peak = max(peak, inst.rss_kb())
    assert got == size
    assert peak < 100 * 1024, f"lb RSS {peak} kB"


def test_large_upload(lb, tcp_server):
    size = 100 * 1024 * 1024
    srv = tcp_server("count")
    port = free_port()
    lb(tcp_cfg(port, srv.port))
    block = b"u" * 262144
    with socket.create_connection((HOST, port), timeout=10) as s:
        for _ in range(size // len(block)):
            s.sendall(block)
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == str(size).encode()


def test_timeout_client_closes_idle_relay(lb, tcp_server):
    srv = tcp_server("echo")
    port = free_port()
    t = "    timeout connect 1s\n    timeout client 300ms\n    timeout server 300ms\n"
    inst = lb(tcp_cfg(port, srv.port, t))
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(b"x")
        assert s.recv(10) == b"x"
        t0 = time.monotonic()
        assert read_all(s) == b""
        assert 0.2 < time.monotonic() - t0 < 1.5
    lines = inst.wait_stderr(r" tcpfe tcpfe/s1 ")
    m = TCPLOG.match(lines[-1])
    assert m and m["ts"][0] in "cs" and m["ts"][1] == "D", lines[-1]


def test_server_down_connection_closed(lb):
    port = free_port()
    inst = lb(tcp_cfg(port, free_port()))
    with (
        socket.create_connection((HOST, port), timeout=5) as s,
        contextlib.suppress(ConnectionResetError),
    ):
        assert read_all(s) == b""
    lines = inst.wait_stderr(r" tcpfe tcpfe/s1 ")
    m = TCPLOG.match(lines[-1])
    assert m and m["ts"] == "SC", lines[-1]


def test_many_connections(lb, tcp_server):
    srv = tcp_server("echo")
    port = free_port()
    lb(tcp_cfg(port, srv.port))
    for i in range(30):
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(b"%d" % i)
            assert s.recv(10) == b"%d" % i
    # (the readiness probe of the fixture is one more connection)
    assert wait_until(lambda: len(srv.received) >= 30, 5)
