"""Head limits and relaxed parsing through a real lb: `tune.bufsize` -
`tune.maxrewrite` (a larger head: 400 / 502), `tune.http.maxhdr`, and
`option accept-invalid-http-request|response`. The boundaries are the byte counts
HAProxy 2.6 has; where haproxy is installed the same exchanges are run against it."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from itest import HOST, free_port, haproxy_serving, http_cfg, raw_exchange, run_lb

pytestmark = pytest.mark.timeout(60)


class RawBackend:
    """Reads one request head per connection and answers `responses[path]` (bytes as
    given), or a small 200; closes after each answer."""

    def __init__(self) -> None:
        self.responses: dict[bytes, bytes] = {}
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket) -> None:
        with c:
            c.settimeout(3)
            buf = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in buf and b"\n\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                parts = buf.split(b"\n", 1)[0].split(b" ")
                path = parts[1] if len(parts) > 1 else b"/"
                c.sendall(
                    self.responses.get(
                        path, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    )
                )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_backend() -> Iterator[RawBackend]:
    b = RawBackend()
    yield b
    b.close()


def req_of(n: int) -> bytes:
    """A request head of exactly `n` bytes."""
    base = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX: "
    return base + b"a" * (n - len(base) - 4) + b"\r\n\r\n"


def resp_of(n: int) -> bytes:
    base = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nX: "
    return base + b"a" * (n - len(base) - 4) + b"\r\n\r\nok"


def with_headers(k: int) -> bytes:
    return (
        b"GET / HTTP/1.1\r\nConnection: close\r\n"
        + b"".join(b"H%d: v\r\n" % i for i in range(k - 1))
        + b"\r\n"
    )


def status(out: bytes) -> bytes:
    return out.split(b"\r\n", 1)[0]


def cfg(port: int, b: RawBackend, glob: str = "", fe: str = "", be: str = "") -> str:
    text = http_cfg(port, f"    server s1 {HOST}:{b.port}\n", extra_fe=fe, extra_be=be)
    return text.replace("    tune.bufsize 16384\n", glob, 1)


def run_cases(port: int, b: RawBackend, cases: list[tuple[bytes, bytes]]) -> list[bytes]:
    """Each case: (request, response the backend sends for path /r, or b"")."""
    out = []
    for req, resp in cases:
        if resp:
            b.responses[b"/r"] = resp
        out.append(status(raw_exchange(port, req)))
    return out


def get_r() -> bytes:
    return b"GET /r HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"


DEFAULT_CASES = [
    (req_of(15292), b""),
    (req_of(15293), b""),
    (get_r(), resp_of(15292)),
    (get_r(), resp_of(15293)),
    (with_headers(101), b""),
    (with_headers(102), b""),
]
DEFAULT_EXPECTED = [b"HTTP/1.1 200 OK", b"HTTP/1.1 400 Bad request"] + [
    b"HTTP/1.1 200 OK",
    b"HTTP/1.1 502 Bad Gateway",
    b"HTTP/1.1 200 OK",
    b"HTTP/1.1 400 Bad request",
]


def test_default_limits(lb, raw_backend):
    port = free_port()
    lb(cfg(port, raw_backend))
    assert run_cases(port, raw_backend, DEFAULT_CASES) == DEFAULT_EXPECTED


TUNED = "global\n    tune.maxrewrite 0\n    tune.http.maxhdr 10\n"
TUNED_CASES = [
    (req_of(16316), b""),
    (req_of(16317), b""),
    (get_r(), resp_of(16316)),
    (get_r(), resp_of(16317)),
    (with_headers(10), b""),
    (with_headers(11), b""),
]


def test_tuned_limits(lb, raw_backend):
    port = free_port()
    lb(cfg(port, raw_backend, TUNED))
    assert run_cases(port, raw_backend, TUNED_CASES) == DEFAULT_EXPECTED


def test_larger_bufsize_takes_larger_response_head(lb, raw_backend):
    port = free_port()
    lb(cfg(port, raw_backend, "global\n    tune.bufsize 32768\n"))
    cases = [(req_of(31676), b""), (req_of(31677), b""), (get_r(), resp_of(31676))]
    cases.append((get_r(), resp_of(31677)))
    assert run_cases(port, raw_backend, cases) == DEFAULT_EXPECTED[:4]


BAD_NAME_REQ = b"GET / HTTP/1.1\r\nHost: a\r\nFoo Bar: x\r\nConnection: close\r\n\r\n"
FRAGMENT_REQ = b"GET /a#b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
EMPTY_NAME_REQ = b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\nConnection: close\r\n\r\n"
BAD_NAME_RESP = b"HTTP/1.1 200 OK\r\nFoo Bar: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
BAD_VERSION_RESP = b"HTTP/1.10 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
INVALID_CASES = [
    (BAD_NAME_REQ, b""),
    (FRAGMENT_REQ, b""),
    (EMPTY_NAME_REQ, b""),
    (get_r(), BAD_NAME_RESP),
    (get_r(), BAD_VERSION_RESP),
]


def test_invalid_refused_by_default(lb, raw_backend):
    port = free_port()
    lb(cfg(port, raw_backend))
    assert run_cases(port, raw_backend, INVALID_CASES) == [
        b"HTTP/1.1 400 Bad request",
        b"HTTP/1.1 400 Bad request",
        b"HTTP/1.1 400 Bad request",
        b"HTTP/1.1 502 Bad Gateway",
        b"HTTP/1.1 502 Bad Gateway",
    ]


OPTS = (
    "    option accept-invalid-http-request\n",
    "    option accept-invalid-http-response\n",
)
RELAXED_EXPECTED = [
    b"HTTP/1.1 200 OK",
    b"HTTP/1.1 200 OK",
    b"HTTP/1.1 400 Bad request",  # an empty header name is never taken
    b"HTTP/1.1 200 OK",
    b"HTTP/1.10 200 OK",
]


def test_accept_invalid_options(lb, raw_backend):
    port = free_port()
    lb(cfg(port, raw_backend, fe=OPTS[0], be=OPTS[1]))
    assert run_cases(port, raw_backend, INVALID_CASES) == RELAXED_EXPECTED


def test_accept_invalid_from_defaults_and_no_option(lb, raw_backend):
    port = free_port()
    text = cfg(port, raw_backend, fe="    no option accept-invalid-http-request\n")
    text = text.replace("defaults\n", "defaults\n" + OPTS[0] + OPTS[1], 1)
    lb(text)
    got = run_cases(port, raw_backend, INVALID_CASES)
    assert got == [b"HTTP/1.1 400 Bad request"] * 3 + RELAXED_EXPECTED[3:]


@pytest.mark.parametrize(
    ("line", "alert"),
    [
        ("tune.http.maxhdr 0", "'tune.http.maxhdr' expects a numeric value between 1 and 32767"),
        (
            "tune.http.maxhdr 40000",
            "'tune.http.maxhdr' expects a numeric value between 1 and 32767",
        ),
        ("tune.http.maxhdr", "'tune.http.maxhdr' expects an integer argument."),
        ("tune.maxrewrite -1", "'tune.maxrewrite' expects a positive integer argument."),
        ("tune.maxrewrite", "'tune.maxrewrite' expects an integer argument."),
    ],
)
def test_config_alerts(tmp_path: Path, line: str, alert: str) -> None:
    f = tmp_path / "h.cfg"
    f.write_text(f"global\n    {line}\n")
    r = run_lb("-c", "-f", str(f))
    assert r.returncode != 0
    assert f"parsing [{f}:2] : {alert}" in r.stderr, r.stderr


def test_config_accepted_and_option_warnings(tmp_path: Path) -> None:
    f = tmp_path / "h.cfg"
    f.write_text(
        "global\n    tune.maxrewrite 2k\n    tune.http.maxhdr 200\n"
        "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
        "    timeout connect 1s\n"
        "backend b\n    option accept-invalid-http-request\n"
        "frontend f\n    bind 127.0.0.1:1\n    option accept-invalid-http-response\n"
        "    default_backend b\n"
    )
    r = run_lb("-c", "-f", str(f))
    assert r.returncode == 0, r.stderr
    assert (
        f"parsing [{f}:10] : 'accept-invalid-http-request' ignored because backend 'b' "
        "has no frontend capability." in r.stderr
    )
    assert (
        f"parsing [{f}:13] : 'accept-invalid-http-response' ignored because frontend 'f' "
        "has no backend capability." in r.stderr
    )


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
@pytest.mark.parametrize(
    ("glob", "fe", "be", "cases"),
    [
        ("", "", "", DEFAULT_CASES + INVALID_CASES),
        (TUNED, OPTS[0], OPTS[1], TUNED_CASES + INVALID_CASES),
    ],
)
def test_same_as_haproxy(lb, raw_backend, tmp_path, glob, fe, be, cases):
    port, hport = free_port(), free_port()
    lb(cfg(port, raw_backend, glob, fe, be))
    mine = run_cases(port, raw_backend, cases)
    f = tmp_path / "haproxy.cfg"
    f.write_text(cfg(hport, raw_backend, glob, fe, be).replace("log stderr format raw local0", ""))
    with haproxy_serving(f, [hport]):
        theirs = run_cases(hport, raw_backend, cases)
    assert mine == theirs
