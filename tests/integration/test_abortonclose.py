"""`option abortonclose`: a client that closes its side while its request waits in
the queue is dropped (logged CQ); without the option, it is served anyway, as HTTP
wants (a half-close may be only the end of what it sends). HTTP and TCP mode; the
HTTP outcome is compared with HAProxy 2.6."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from itest import HOST, Backend, free_port, haproxy_serving

pytestmark = pytest.mark.timeout(40)


def cfg_text(mode: str, port: int, server_port: int, option: bool) -> str:
    return f"""global
    log stderr format raw local0
defaults
    mode {mode}
    log global
    option {"httplog" if mode == "http" else "tcplog"}
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout queue 5s
{"    option abortonclose" if option else ""}
frontend fe
    bind {HOST}:{port}
    default_backend be
backend be
    server s1 {HOST}:{server_port} maxconn 1
"""


def queued_client_outcome(port: int, first: bytes, second: bytes) -> tuple[float, bytes]:
    """A first client takes the server's only slot; a second one sends its request,
    half-closes and waits: (seconds until its connection ended, what it got)."""
    holder = socket.create_connection((HOST, port), timeout=5)
    holder.sendall(first)
    time.sleep(0.3)  # the first one is on the server now
    start = time.monotonic()
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(second)
        s.shutdown(socket.SHUT_WR)
        got = b""
        with contextlib.suppress(OSError):
            while chunk := s.recv(65536):
                got += chunk
    took = time.monotonic() - start
    holder.close()
    return took, got


HTTP_FIRST = b"GET /delay?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n"
HTTP_SECOND = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("option", [True, False])
def test_http_queued_request(lb, backend, tmp_path: Path, option: bool) -> None:  # noqa: ANN001
    b: Backend = backend("s1")
    port = free_port()
    text = cfg_text("http", port, b.port, option)
    inst = lb(text)
    took, got = queued_client_outcome(port, HTTP_FIRST, HTTP_SECOND)
    if option:
        assert got == b"" and took < 1.0, (took, got)
        line = inst.wait_stderr(r" CQ-- ")
        assert line and '"GET / HTTP/1.1"' in line[0], inst.stderr
    else:
        assert got.startswith(b"HTTP/1.1 200") and took > 1.0, (took, got)
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        return
    ref_port = free_port()
    cfg = tmp_path / "h.cfg"
    cfg.write_text(cfg_text("http", ref_port, b.port, option))
    with haproxy_serving(cfg, [ref_port]):
        ref_took, ref_got = queued_client_outcome(ref_port, HTTP_FIRST, HTTP_SECOND)
        assert (ref_got == b"") == (got == b""), (ref_took, ref_got)


def test_tcp_queued_session(lb) -> None:  # noqa: ANN001
    """The first session holds the slot until it closes; the second gives up."""
    server = socket.create_server((HOST, 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    port = free_port()
    inst = lb(cfg_text("tcp", port, server.getsockname()[1], True))
    took, got = queued_client_outcome(port, b"first", b"second")
    assert got == b"" and took < 1.0, (took, got)
    assert inst.wait_stderr(r" CQ "), inst.stderr  # (tcplog: two flags)
    server.close()
    for c in held:
        c.close()
