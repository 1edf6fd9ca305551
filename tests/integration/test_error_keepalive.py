"""Error answers and the client connection, compared byte for byte with HAProxy 2.6
(and with fixed expectations where it is not installed): a 502, 503 or 504 page
keeps a keep-alive connection open for the next request (but a server that
closed without answering ends it); errorfiles go out with
lower-case header names and HAProxy's connection header, and one without a length
(or with its own `Connection: close`) ends the connection."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from pathlib import Path

import pytest
from itest import HOST, free_port, haproxy_serving

pytestmark = pytest.mark.timeout(40)


class Upstreams:
    """A server that closes each connection at once (502) and one that never answers
    (504)."""

    def __init__(self) -> None:
        self.closer = socket.create_server((HOST, 0))
        self.hanger = socket.create_server((HOST, 0))
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        for srv, hold in ((self.closer, False), (self.hanger, True)):
            threading.Thread(target=self._serve, args=(srv, hold), daemon=True).start()

    def _serve(self, srv: socket.socket, hold: bool) -> None:
        srv.settimeout(0.2)
        while not self.stop.is_set():
            try:
                c, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            if hold:
                self.held.append(c)
            else:
                with contextlib.suppress(OSError):
                    c.recv(1000)
                c.close()

    def close(self) -> None:
        self.stop.set()
        for s in [self.closer, self.hanger, *self.held]:
            s.close()


def page(tmp: Path, name: str, raw: bytes) -> Path:
    f = tmp / name
    f.write_bytes(raw)
    return f


def cfg_text(tmp: Path, ports: list[int], up: Upstreams) -> str:
    deb = page(
        tmp,
        "deb.http",  # as Debian ships them: HTTP/1.0, `Connection: close`, no length
        b"HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\n"
        b"Content-Type: text/html\r\n\r\n<html><body>busy</body></html>\n",
    )
    mixed = page(
        tmp,
        "mixed.http",
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nX-Mixed-Case:  Val\r\n"
        b"Content-Length: 2\r\n\r\nC\n",
    )
    return f"""defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 1s
    retries 0
listen no_server
    bind {HOST}:{ports[0]}
listen closes
    bind {HOST}:{ports[1]}
    server s1 {HOST}:{up.closer.getsockname()[1]}
listen hangs
    bind {HOST}:{ports[2]}
    server s1 {HOST}:{up.hanger.getsockname()[1]}
listen debian_page
    bind {HOST}:{ports[3]}
    errorfile 503 {deb}
listen mixed_page
    bind {HOST}:{ports[4]}
    errorfile 503 {mixed}
"""


REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
]


def exchange(port: int, raw: bytes) -> bytes:
    """One request; what came back, then whether the connection stayed open (a
    second request on it is answered) or was closed."""
    with socket.create_connection((HOST, port), timeout=4) as s:
        s.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return data + b"<closed>"
            data += chunk
        s.settimeout(2.5)
        try:
            while not data.endswith((b"</html>\n", b"C\n")):
                chunk = s.recv(65536)
                if not chunk:
                    return data + b"<closed>"
                data += chunk
            s.sendall(raw)
            again = s.recv(100)
        except ConnectionError:
            return data + b"<closed>"
        except TimeoutError:
            return data + b"<no second answer>"
        return data + (b"<open>" if again.startswith(b"HTTP/1.") else b"<closed>")


def results(ports: list[int]) -> list[bytes]:
    return [exchange(p, raw) for p in ports for raw in REQUESTS]


def test_error_answers_as_haproxy(lb, tmp_path: Path) -> None:  # noqa: ANN001
    up = Upstreams()
    try:
        ports = [free_port() for _ in range(5)]
        lb(cfg_text(tmp_path, ports, up))
        got = results(ports)
        # fixed expectations: keep-alive after 502/503/504, and the two errorfiles
        assert got[0].endswith(b"<open>") and b"connection" not in got[0].split(b"\r\n\r\n")[0]
        assert got[1].endswith(b"<closed>") and b"\r\nconnection: close\r\n" in got[1]
        assert got[3].endswith(b"<open>") and b"\r\nconnection: keep-alive\r\n" in got[3]
        # a server that closed without answering: the page reads as kept alive, but
        # the connection ends (HAProxy closes it when the next request comes)
        assert got[4].startswith(b"HTTP/1.1 502 ") and got[4].endswith(b"<closed>")
        assert b"connection:" not in got[4].split(b"\r\n\r\n")[0]
        assert got[8].startswith(b"HTTP/1.1 504 ") and got[8].endswith(b"<open>")
        assert got[12] == (
            b"HTTP/1.0 503 Service Unavailable\r\ncache-control: no-cache\r\n"
            b"content-type: text/html\r\n\r\n<html><body>busy</body></html>\n<closed>"
        )
        assert got[16] == (
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n"
            b"x-mixed-case: Val\r\ncontent-length: 2\r\n\r\nC\n<open>"
        )
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            return
        ref_ports = [free_port() for _ in range(5)]
        cfg = tmp_path / "h.cfg"
        cfg.write_text(cfg_text(tmp_path, ref_ports, up))
        with haproxy_serving(cfg, ref_ports):
            assert results(ref_ports) == got
    finally:
        up.close()
