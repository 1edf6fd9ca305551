"""PROXY protocol end to end: `bind … accept-proxy`, server `send-proxy[-v2]`,
two `lb` chained, and interop with a real HAProxy 2.6 in both directions."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from itest import HOST, Reader, connect, free_port, wait_port, wait_until

from lb.proxy_protocol import build_v1, build_v2

pytestmark = pytest.mark.timeout(60)

DEFAULTS = """\
global
    log stderr format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 3s
    timeout server 3s
"""
LOGFMT = 'log-format "ci=%ci cp=%cp fi=%fi fp=%fp st=%ST"'


def _get(port: int, prefix: bytes, path: str = "/headers") -> tuple[int, bytes]:
    with connect(port) as s:
        s.sendall(prefix + f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        r = Reader(s).response()
        return r.status, r.body


class HAProxy:
    def __init__(self, tmp: Path, cfg: str) -> None:
        self.path = tmp / "haproxy.cfg"
        self.path.write_text(cfg)
        self.out = tmp / "haproxy.out"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, port: int) -> HAProxy:
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                ["haproxy", "-db", "-f", str(self.path)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        assert wait_port(port), self.text
        return self

    @property
    def text(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    def stop(self) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(3)


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[Callable[[str, int], HAProxy]]:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed")
    made: list[HAProxy] = []

    def start(cfg: str, port: int) -> HAProxy:
        h = HAProxy(tmp_path, cfg)
        made.append(h)
        return h.start(port)

    yield start
    for h in made:
        h.stop()


def test_accept_proxy_v1_v2_sets_client_address(lb, backend) -> None:  # noqa: ANN001
    be = backend("s1")
    port = free_port()
    inst = lb(
        f"{DEFAULTS}\nfrontend fe\n    bind {HOST}:{port} accept-proxy\n    {LOGFMT}\n"
        f"    option forwardfor\n    default_backend be\n"
        f"backend be\n    server s1 {HOST}:{be.port}\n"
    )
    status, body = _get(port, build_v1(("1.2.3.4", 1111), ("5.6.7.8", 2222)))
    assert status == 200 and b"X-Forwarded-For: 1.2.3.4" in body
    status, body = _get(port, build_v2(("2001:db8::7", 4444), ("2001:db8::8", 80)))
    assert status == 200 and b"X-Forwarded-For: 2001:db8::7" in body
    # LOCAL / UNKNOWN: the real connection's addresses
    status, body = _get(port, build_v2(None, None))
    assert status == 200 and b"X-Forwarded-For: 127.0.0.1" in body
    lines = inst.wait_stderr(r"^ci=.*$", count=3)
    assert lines[0] == "ci=1.2.3.4 cp=1111 fi=5.6.7.8 fp=2222 st=200"
    assert lines[1] == "ci=2001:db8::7 cp=4444 fi=2001:db8::8 fp=80 st=200"
    assert lines[2].startswith("ci=127.0.0.1 ")


def test_header_in_pieces_and_tcp_mode(lb) -> None:  # noqa: ANN001
    """The header may arrive byte by byte; TCP mode routes with the advertised address."""
    echo = socket.socket()
    echo.bind((HOST, 0))
    echo.listen(8)
    port = free_port()
    inst = lb(
        f"{DEFAULTS}\nlisten t\n    mode tcp\n    bind {HOST}:{port} accept-proxy\n"
        f'    log-format "tcp ci=%ci cp=%cp"\n    server e {HOST}:{echo.getsockname()[1]}\n'
    )
    with connect(port) as s:
        for b in build_v1(("9.8.7.6", 4321), ("1.1.1.1", 80)):
            s.sendall(bytes([b]))
            time.sleep(0.002)
        s.sendall(b"hello")
        echo.settimeout(3)
        c, _ = echo.accept()
        assert c.recv(100) == b"hello"
        c.close()
    echo.close()
    assert inst.wait_stderr(r"^tcp ci=9\.8\.7\.6 cp=4321$")


def test_malformed_header_closes_and_is_logged(lb, backend) -> None:  # noqa: ANN001
    be = backend("s1")
    port = free_port()
    sock = f"/tmp/lb-pp-{port}.sock"
    inst = lb(
        f"global\n    stats socket {sock} level admin\n"
        f"{DEFAULTS}\nfrontend fe\n    bind {HOST}:{port} accept-proxy\n    {LOGFMT}\n"
        f"    default_backend be\nbackend be\n    server s1 {HOST}:{be.port}\n"
    )
    with connect(port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        s.settimeout(3)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            data = s.recv(100)
        assert data == b""
    lines = inst.wait_stderr(r"^127\.0\.0\.1:\d+ \[.*\] fe/1: .*$")
    assert lines and lines[0].endswith(
        "fe/1: Received something which does not look like a PROXY protocol header"
    )
    assert re.match(
        r"^127\.0\.0\.1:\d+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] fe/1: ", lines[0]
    )
    assert be.accepted == 0
    # lb counts the broken header as a request error of the frontend (ereq)
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(3)
        c.connect(sock)
        c.sendall(b"show stat 2 1 -1\n")
        out = b""
        while chunk := c.recv(65536):
            out += chunk
    row = [ln for ln in out.decode().splitlines() if ln.startswith("fe,FRONTEND,")][0]
    assert row.split(",")[12] == "1"


@pytest.mark.parametrize("kind", ["send-proxy", "send-proxy-v2"])
def test_two_lb_chained(lb, backend, kind: str) -> None:  # noqa: ANN001
    """client -PROXY-> lb1 (accept-proxy, send-proxy) -PROXY-> lb2 (accept-proxy) -> server."""
    be = backend("s1")
    p1, p2 = free_port(), free_port()
    second = lb(
        f"{DEFAULTS}\nfrontend fe2\n    bind {HOST}:{p2} accept-proxy\n    {LOGFMT}\n"
        f"    option forwardfor\n    default_backend be2\n"
        f"backend be2\n    server s1 {HOST}:{be.port}\n"
    )
    lb(
        f"{DEFAULTS}\nfrontend fe1\n    bind {HOST}:{p1} accept-proxy\n    default_backend be1\n"
        f"backend be1\n    server next {HOST}:{p2} {kind}\n"
    )
    for i in range(3):
        status, body = _get(p1, build_v1((f"10.0.0.{i + 1}", 1000 + i), ("192.0.2.1", 443)))
        assert status == 200
        assert f"X-Forwarded-For: 10.0.0.{i + 1}".encode() in body
    lines = second.wait_stderr(r"^ci=.*$", count=3)
    assert lines[:3] == [
        f"ci=10.0.0.{i + 1} cp={1000 + i} fi=192.0.2.1 fp=443 st=200" for i in range(3)
    ]


@pytest.mark.parametrize("kind", ["send-proxy", "send-proxy-v2"])
def test_lb_sends_proxy_to_real_haproxy(lb, backend, haproxy, kind: str) -> None:  # noqa: ANN001
    be = backend("s1")
    hp, lp = free_port(), free_port()
    h = haproxy(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 3s\n"
        "    timeout server 3s\n"
        f"frontend hfe\n    bind {HOST}:{hp} accept-proxy\n    log stdout format raw local0\n"
        '    log-format "haproxy ci=%ci cp=%cp fi=%fi fp=%fp st=%ST"\n'
        f"    default_backend hbe\nbackend hbe\n    server s1 {HOST}:{be.port}\n",
        hp,
    )
    lb(
        f"{DEFAULTS}\nfrontend fe\n    bind {HOST}:{lp} accept-proxy\n    default_backend be\n"
        f"backend be\n    server h {HOST}:{hp} {kind}\n"
    )
    status, _ = _get(lp, build_v1(("203.0.113.9", 5555), ("198.51.100.1", 8443)))
    assert status == 200
    assert wait_until(lambda: "haproxy ci=" in h.text, 5)
    assert "haproxy ci=203.0.113.9 cp=5555 fi=198.51.100.1 fp=8443 st=200" in h.text


def test_real_haproxy_sends_proxy_v2_to_lb(lb, backend, haproxy) -> None:  # noqa: ANN001
    be = backend("s1")
    hp, lp = free_port(), free_port()
    inst = lb(
        f"{DEFAULTS}\nfrontend fe\n    bind {HOST}:{lp} accept-proxy\n    {LOGFMT}\n"
        f"    default_backend be\nbackend be\n    server s1 {HOST}:{be.port}\n"
    )
    haproxy(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 3s\n"
        "    timeout server 3s\n"
        f"frontend hfe\n    bind {HOST}:{hp} accept-proxy\n    unique-id-format x%[rand]\n"
        f"    default_backend hbe\nbackend hbe\n"
        f"    server l {HOST}:{lp} send-proxy-v2 proxy-v2-options crc32c,unique-id,ssl\n",
        hp,
    )
    status, _ = _get(hp, build_v1(("198.51.100.77", 6000), ("192.0.2.5", 80)))
    assert status == 200
    assert inst.wait_stderr(r"^ci=198\.51\.100\.77 cp=6000 fi=192\.0\.2\.5 fp=80 st=200$")
