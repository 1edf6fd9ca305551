"""Cookie persistence through a running `lb`: insert, prefix and rewrite keep
a client on its server across 100 requests; the client moves when its server
goes DOWN or into maintenance, and stays while it is drained."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from itest import HOST, Reader, connect, free_port, wait_until

pytestmark = pytest.mark.timeout(90)


def cli(path: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(path))
        s.sendall(command.encode() + b"\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out.decode()


def cfg(port: int, sock: Path, servers: str, cookie: str, extra: str = "") -> str:
    return (
        f"global\n    stats socket {sock} level admin\n"
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n"
        "    timeout server 5s\n"
        f"listen px\n    bind {HOST}:{port}\n    balance roundrobin\n    cookie {cookie}\n"
        f"{extra}{servers}"
    )


class Client:
    """A browser-like client with a cookie jar for one cookie name, on one
    keep-alive connection."""

    def __init__(self, port: int, name: str = "SID") -> None:
        self.port = port
        self.name = name
        self.jar: str | None = None
        self.sock = connect(port)
        self.reader = Reader(self.sock)

    def get(self, path: str = "/") -> str:
        cookie = f"Cookie: {self.name}={self.jar}\r\n" if self.jar is not None else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n{cookie}\r\n".encode())
        r = self.reader.response()
        for n, v in r.headers:
            if n.lower() == "set-cookie":
                m = re.match(rf"{self.name}=([^;]*)", v)
                if m:
                    self.jar = m.group(1)
        if r.header("connection") == "close":
            self.sock.close()
            self.sock = connect(self.port)
            self.reader = Reader(self.sock)
        return r.body.decode()

    def close(self) -> None:
        self.sock.close()


def _own_cookie_server(name: str) -> tuple[socket.socket, int]:
    import threading

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((HOST, 0))
    srv.listen(64)

    def serve(c: socket.socket) -> None:
        r = Reader(c)
        try:
            while True:
                r.head()
                body = f"hello from {name}".encode()
                c.sendall(
                    b"HTTP/1.1 200 OK\r\nSet-Cookie: SID=app-"
                    + name.encode()
                    + b"; path=/\r\ncontent-length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
        except (EOFError, OSError):
            c.close()

    def accept() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv, srv.getsockname()[1]


@pytest.mark.parametrize("mode", ["insert indirect nocache", "prefix", "rewrite"])
def test_cookie_keeps_client_and_moves_on_down(lb, tmp_path: Path, mode: str) -> None:  # noqa: ANN001
    socks = {n: _own_cookie_server(n) for n in ("a", "b", "c")}
    port = free_port()
    sock = tmp_path / "lb.sock"
    servers = "".join(
        f"    server {n} {HOST}:{p} cookie {n.upper()} check inter 100 fall 1 rise 1\n"
        for n, (_, p) in socks.items()
    )
    lb(cfg(port, sock, servers, f"SID {mode}", "    option redispatch\n"))
    clients = [Client(port) for _ in range(3)]
    homes = [c.get() for c in clients]
    assert all(h.startswith("hello from ") for h in homes)
    for c, home in zip(clients, homes, strict=True):
        for _ in range(100):
            assert c.get() == home
    # the first client's server goes DOWN: the client moves, then sticks again
    victim = homes[0].rsplit(" ", 1)[1]
    socks[victim][0].close()
    assert wait_until(lambda: f"{victim},DOWN" in _states(sock), 5)
    c = clients[0]
    c.sock.close()
    c.sock = connect(port)
    c.reader = Reader(c.sock)
    moved = c.get()
    assert moved != homes[0] and moved.startswith("hello from ")
    for _ in range(20):
        assert c.get() == moved
    for cl in clients:
        cl.close()
    for s, _ in socks.values():
        s.close()


def _states(sock: Path) -> str:
    try:
        out = cli(sock, "show stat")
    except OSError:  # the stats socket may come up just after the listeners
        return ""
    return "\n".join(
        ",".join(line.split(",")[1:2] + line.split(",")[17:18]) for line in out.splitlines()
    )


def test_drain_keeps_persistence_maint_does_not(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    a, b = backend("a"), backend("b")
    port = free_port()
    sock = tmp_path / "lb.sock"
    servers = f"    server a {HOST}:{a.port} cookie A\n    server b {HOST}:{b.port} cookie B\n"
    lb(cfg(port, sock, servers, "SID insert indirect nocache"))
    c = Client(port)
    c.jar = "A"
    assert c.get() == "hello from a"
    cli(sock, "set server px/a state drain")
    for _ in range(10):
        assert c.get() == "hello from a"  # drained: persistence still honoured
    fresh = Client(port)
    assert all(fresh.get() == "hello from b" for _ in range(5))  # no new client for a
    cli(sock, "set server px/a state maint")
    assert c.get() == "hello from b"  # maintenance: persistence is not honoured
    assert c.jar == "B"
    cli(sock, "set server px/a state ready")
    c.close()
    fresh.close()


def test_option_persist_and_redispatch(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    """option persist sends a client to its DOWN server; when the connection
    fails, option redispatch moves it to a working one."""
    a = backend("a")
    dead = free_port()
    port = free_port()
    sock = tmp_path / "lb.sock"
    servers = (
        f"    server a {HOST}:{a.port} cookie A\n"
        f"    server d {HOST}:{dead} cookie D check inter 100 fall 1\n"
    )
    lb(
        cfg(
            port,
            sock,
            servers,
            "SID insert",
            "    option persist\n    option redispatch\n    retries 1\n",
        )
    )
    assert wait_until(lambda: "d,DOWN" in _states(sock), 5)
    c = Client(port)
    c.jar = "D"
    assert c.get() == "hello from a"
    assert c.jar == "A"
    out = cli(sock, "show stat")
    row = next(line for line in out.splitlines() if line.startswith("px,BACKEND"))
    head = out.splitlines()[0].lstrip("# ").split(",")
    assert int(row.split(",")[head.index("wredis")]) >= 1
    c.close()
