"""`source <addr>[:<port>]` in a backend and on a server line: the server sees its
connections come from that address (a server's own `source` wins)."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest
from itest import HOST, free_port, run_haproxy_check, run_lb

pytestmark = pytest.mark.timeout(30)


def _peer_of_next_connection(server: socket.socket, port: int, raw: bytes) -> str:
    with socket.create_connection((HOST, port), timeout=3) as client:
        client.sendall(raw)
        conn, peer = server.accept()
        conn.close()
    return peer[0]


@pytest.mark.parametrize("mode", ["http", "tcp"])
def test_source_address_of_server_connections(lb, mode: str) -> None:  # noqa: ANN001
    server = socket.create_server((HOST, 0))
    server.settimeout(5)
    sport = server.getsockname()[1]
    port_be, port_srv = free_port(), free_port()
    lb(
        f"""defaults
    mode {mode}
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe_be
    bind {HOST}:{port_be}
    default_backend be
frontend fe_srv
    bind {HOST}:{port_srv}
    default_backend be_srv
backend be
    source 127.0.0.2
    server s1 {HOST}:{sport}
backend be_srv
    source 127.0.0.2
    server s1 {HOST}:{sport} source 127.0.0.3:0
"""
    )
    # in tcp mode, lb's readiness probes on both ports already reached the server
    server.settimeout(0.5 if mode == "tcp" else 0.01)
    with contextlib.suppress(TimeoutError):
        while True:
            server.accept()[0].close()
    server.settimeout(5)
    raw = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert _peer_of_next_connection(server, port_be, raw) == "127.0.0.2"
    assert _peer_of_next_connection(server, port_srv, raw) == "127.0.0.3"
    server.close()


BAD = [
    (
        "    source\n",
        "'source' expects <addr>[:<port>], and optionally 'usesrc' <addr>, and 'interface' <name>.",
    ),
    ("    source abc:x\n", "'source abc:x' : invalid character 'x' in port number 'x' in 'abc:x'"),
]


@pytest.mark.parametrize(("line", "alert"), BAD)
def test_source_alerts_as_haproxy(tmp_path: Path, line: str, alert: str) -> None:
    f = tmp_path / "s.cfg"
    f.write_text(
        "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
        f"    timeout connect 1s\nbackend b\n{line}"
    )
    want = f"parsing [{f}:7] : {alert}"
    out = run_lb("-c", "-f", str(f))
    assert out.returncode == 1 and want in out.stderr, out.stderr
    if (ref := run_haproxy_check(f)) is not None:
        assert want in ref.stderr, ref.stderr


def test_usesrc_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "s.cfg"
    f.write_text("defaults\n    mode http\nbackend b\n    source 127.0.0.2 usesrc clientip\n")
    out = run_lb("-c", "-f", str(f))
    assert out.returncode == 1
    assert f"parsing [{f}:4] : 'source' : 'usesrc' is not supported." in out.stderr
