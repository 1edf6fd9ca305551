"""`add server` / `del server` on a running `lb`, with HAProxy 2.6.12's replies."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest
from itest import HOST, free_port, get, wait_until

pytestmark = pytest.mark.timeout(60)


def raw_cli(path: Path, command: str) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(path))
        s.sendall(command.encode() + b"\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_add_enable_del(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    a, b = backend("a"), backend("b")
    port = free_port()
    sock = tmp_path / "lb.sock"
    inst = lb(
        f"global\n    stats socket {sock} level admin\n"
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 2s\n"
        "    timeout server 2s\n"
        f"backend be\n    balance roundrobin\n    server s1 {HOST}:{a.port}\n"
        f"backend st\n    balance static-rr\n    server s1 {HOST}:{a.port}\n"
        f"frontend fe\n    bind {HOST}:{port}\n    default_backend be\n"
    )
    assert wait_until(lambda: sock.exists(), 5)

    def cli(cmd: str) -> bytes:
        return raw_cli(sock, cmd)

    assert cli(f"add server be/s2 {HOST}:{b.port}") == b"New server registered.\n\n"
    assert cli(f"add server be/s2 {HOST}:{b.port}") == (
        b"Already exists a server with the same name in backend.\n\n"
    )
    assert cli(f"add server st/s2 {HOST}:{b.port}") == (
        b"Backend must use a dynamic load balancing to support dynamic servers.\n"
    )
    assert cli(f"add server be/s3 {HOST}:{b.port} bogus") == b"unknown keyword 'bogus'.\n\n"
    assert cli(f"add server be/s3 {HOST}:{b.port} cookie X") == (
        b"'cookie' option is not accepted for dynamic server\n\n"
    )
    assert cli("add server nobe/s4 1.2.3.4:80") == b"No such backend.\n"
    assert cli("add server be") == b"Require 'backend/server'.\n"
    # the new server waits in maintenance
    assert all(get(port).body == b"hello from a" for _ in range(4))
    assert cli("enable server be/s2") == b"\n"
    bodies = {get(port).body for _ in range(4)}
    assert bodies == {b"hello from a", b"hello from b"}  # in the rotation at once
    assert cli("del server be/s2") == b"Only servers in maintenance mode can be deleted.\n"
    assert cli("disable server be/s2") == b"\n"
    assert cli("del server be/s2") == b"Server deleted.\n"
    assert cli("del server be/s2") == b"No such server.\n"
    assert all(get(port).body == b"hello from a" for _ in range(4))
    assert "CLI : 'server be/s2' : New server registered." in inst.stderr
    assert "CLI : Server deleted." in inst.stderr


def test_del_refused_with_connections(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    a = backend("a")
    port = free_port()
    sock = tmp_path / "lb.sock"
    lb(
        f"global\n    stats socket {sock} level admin\n"
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n"
        "    timeout server 5s\n"
        f"listen px\n    bind {HOST}:{port}\n    server s1 {HOST}:{a.port}\n"
    )
    assert wait_until(lambda: sock.exists(), 5)
    with socket.create_connection((HOST, port)) as c:
        c.sendall(b"GET /hang HTTP/1.1\r\nHost: t\r\n\r\n")
        # (the start-up probe of the fixture also reached the backend: wait for scur)
        assert wait_until(lambda: a.accepted >= 2, 5)
        assert wait_until(lambda: b"\npx,s1,0,0,1," in raw_cli(sock, "show stat"), 5)
        assert raw_cli(sock, "disable server px/s1") == b"\n"
        assert raw_cli(sock, "del server px/s1") == (
            b"Server still has connections attached to it, cannot remove it.\n"
        )
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset
    assert wait_until(lambda: raw_cli(sock, "del server px/s1") == b"Server deleted.\n", 5)
