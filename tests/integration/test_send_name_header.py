"""`http-send-name-header`: the request reaches the server with one header naming
that server, whatever the client sent, and a redispatch to another server renames
it (compared with HAProxy 2.6 where it is installed)."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import pytest
from itest import HOST, free_port, haproxy_serving, run_lb

pytestmark = pytest.mark.timeout(30)


def cfg_text(port: int, live: int) -> str:
    return f"""defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    retries 1
    option redispatch
listen px
    bind {HOST}:{port}
    http-send-name-header X-Srv
    balance first
    server dead {HOST}:{free_port()}
    server live {HOST}:{live}
"""


def header_lines_seen(port: int, server: socket.socket) -> list[bytes]:
    """The `x-srv` lines of the request the live server got."""
    got: list[bytes] = []

    def serve() -> None:
        c, _ = server.accept()
        with c:
            data = b""
            while b"\r\n\r\n" not in data:
                data += c.recv(4096)
            got.extend(ln for ln in data.split(b"\r\n") if ln.lower().startswith(b"x-srv:"))
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-SRV: forged\r\nConnection: close\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 200")
    t.join(5)
    return got


def test_server_name_after_redispatch(lb, tmp_path: Path) -> None:  # noqa: ANN001
    server = socket.create_server((HOST, 0))
    server.settimeout(5)
    port = free_port()
    lb(cfg_text(port, server.getsockname()[1]))
    assert header_lines_seen(port, server) == [b"x-srv: live"]
    haproxy = shutil.which("haproxy")
    if haproxy is not None:
        ref_port = free_port()
        cfg = tmp_path / "h.cfg"
        cfg.write_text(cfg_text(ref_port, server.getsockname()[1]))
        with haproxy_serving(cfg, [ref_port]):
            assert header_lines_seen(ref_port, server) == [b"x-srv: live"]
    server.close()


def test_alerts(tmp_path: Path) -> None:
    f = tmp_path / "s.cfg"
    f.write_text("defaults\n    mode http\nbackend b\n    http-send-name-header\n")
    out = run_lb("-c", "-f", str(f))
    assert out.returncode == 1
    assert f"parsing [{f}:4] : 'http-send-name-header' requires a header string." in out.stderr
    f.write_text("defaults\n    mode http\nfrontend f\n    http-send-name-header X\n")
    out = run_lb("-c", "-f", str(f))
    assert (
        f"parsing [{f}:4] : 'http-send-name-header' ignored because frontend 'f' has no "
        "backend capability." in out.stderr
    )
