"""`option http-buffer-request`: the request waits for its body before the rules run,
so `req.body` and its kin see it; `timeout http-request` bounds the wait (408); the
body then reaches the server unchanged. The answers are compared with HAProxy 2.6
where it is installed."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest
from itest import HOST, Backend, free_port, haproxy_serving

pytestmark = pytest.mark.timeout(40)

ECHO = (
    'lf-string "len=%[req.body_len] size=%[req.body_size] body=%[req.body] '
    'p=%[req.body_param(a)]\\n"'
)


def cfg_text(port: int, srv: int, where: str = "frontend") -> str:
    fe_opt = "    option http-buffer-request\n" if where == "frontend" else ""
    be_opt = "    option http-buffer-request\n" if where == "backend" else ""
    return f"""defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout http-request 800ms
frontend fe
    bind {HOST}:{port}
{fe_opt}    http-request deny if {{ req.body -m sub evil }}
    http-request return status 200 content-type text/plain {ECHO} if {{ path /local }}
    default_backend be
backend be
{be_opt}    http-request deny deny_status 401 if {{ req.body -m sub bad }}
    server s1 {HOST}:{srv}
"""


def exchange(port: int, parts: list[bytes], pause: float = 0.25) -> bytes:
    """Send the request in parts (pausing between them), return the whole answer."""
    with socket.create_connection((HOST, port), timeout=5) as s:
        for i, part in enumerate(parts):
            if i:
                time.sleep(pause)
            s.sendall(part)
        data = b""
        while True:
            try:
                got = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not got:
                break
            data += got
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep and b"content-length:" in head.lower():
                n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= n:
                    break
        return data


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
    )


CHUNKED = (
    b"POST /local HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\na=1\r\n4\r\n&A=2\r\n0\r\n\r\n"
)


def answers(port: int) -> dict[str, bytes]:
    """The first line (and body for /local) of each case."""
    out: dict[str, bytes] = {}
    out["whole"] = exchange(port, [post("/local", b"a=1&b=2") + b"a=1&b=2"]).split(b"\r\n\r\n")[1]
    # the body in two parts: the rules see it whole
    out["split"] = exchange(port, [post("/local", b"a=1&b=2"), b"a=1", b"&b=2"]).split(b"\r\n\r\n")[
        1
    ]
    out["chunked"] = exchange(port, [CHUNKED[:70], CHUNKED[70:]]).split(b"\r\n\r\n")[1]
    out["no body"] = exchange(port, [b"GET /local HTTP/1.1\r\nHost: x\r\n\r\n"]).split(b"\r\n\r\n")[
        1
    ]
    late_evil = exchange(port, [post("/x", b"abc-evil"), b"abc", b"-evil"])
    out["late evil"] = late_evil.split(b"\r\n")[0]
    slow = exchange(port, [post("/local", b"a=1&b=2"), b"a=1"], pause=0)
    out["slow"] = slow.split(b"\r\n")[0]
    return out


def test_rules_see_the_held_body(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    srv = backend("s1")
    port = free_port()
    lb(cfg_text(port, srv.port))
    got = answers(port)
    assert got["whole"] == b"len=7 size=7 body=a=1&b=2 p=1\n"
    assert got["split"] == b"len=7 size=7 body=a=1&b=2 p=1\n"
    assert got["chunked"] == b"len=7 size=7 body=a=1&A=2 p=1\n"
    assert got["no body"] == b"len=0 size=0 body= p=\n"
    assert got["late evil"] == b"HTTP/1.1 403 Forbidden"
    assert got["slow"] == b"HTTP/1.1 408 Request Time-out"
    # a held body reaches the server whole, after the head
    answer = exchange(port, [post("/echo", b"hello-body"), b"hello", b"-body"])
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello-body")
    if shutil.which("haproxy") is None:
        return
    ref_port = free_port()
    cfg = tmp_path / "h.cfg"
    cfg.write_text(cfg_text(ref_port, srv.port))
    with haproxy_serving(cfg, [ref_port]):
        assert answers(ref_port) == got


def test_backend_option_and_unbuffered_frontend(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    srv = backend("s1")
    port = free_port()
    lb(cfg_text(port, srv.port, where="backend"))
    # the frontend does not wait: its rule sees no body, the backend's rule does
    late_bad = exchange(port, [post("/x", b"abc-bad"), b"abc", b"-bad"])
    assert late_bad.startswith(b"HTTP/1.1 401")
    late_evil = exchange(port, [post("/echo", b"abc-evil"), b"abc", b"-evil"])
    assert late_evil.startswith(b"HTTP/1.1 200")
    if shutil.which("haproxy") is None:
        return
    ref_port = free_port()
    cfg = tmp_path / "h.cfg"
    cfg.write_text(cfg_text(ref_port, srv.port, where="backend"))
    with haproxy_serving(cfg, [ref_port]):
        ref = exchange(ref_port, [post("/x", b"abc-bad"), b"abc", b"-bad"])
        assert ref.split(b"\r\n")[0] == late_bad.split(b"\r\n")[0]


def test_without_the_option_rules_see_what_came_with_the_head(lb, backend) -> None:  # noqa: ANN001
    srv: Backend = backend("s1")
    port = free_port()
    lb(cfg_text(port, srv.port, where="none"))
    same_read = exchange(port, [post("/local", b"a=1") + b"a=1"])
    assert same_read.split(b"\r\n\r\n")[1] == b"len=3 size=3 body=a=1 p=1\n"
    later = exchange(port, [post("/local", b"a=1"), b"a=1"])
    assert later.split(b"\r\n\r\n")[1] == b"len=0 size=3 body= p=\n"
    chunked = exchange(port, [CHUNKED])
    assert chunked.split(b"\r\n\r\n")[1] == b"len=7 size=7 body=a=1&A=2 p=1\n"


def expect_continue(port: int) -> tuple[bytes, bytes]:
    """(what comes before the body is sent, the whole answer after it)."""
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(
            b"POST /headers HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: 3\r\n\r\n"
        )
        first = s.recv(1000)
        s.sendall(b"a=1")
        rest = b""
        while True:
            head, sep, body = rest.partition(b"\r\n\r\n")
            if sep and b"content-length:" in head.lower():
                n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= n:
                    return first, rest
            got = s.recv(65536)
            if not got:
                return first, rest
            rest += got


def test_expect_continue_answered_while_holding(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    srv = backend("s1")
    port = free_port()
    lb(cfg_text(port, srv.port))
    first, rest = expect_continue(port)
    assert first == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert rest.startswith(b"HTTP/1.1 200")
    seen = rest.lower().split(b"\r\n\r\n", 1)[1]  # the head the server got
    assert seen.startswith(b"post /headers") and b"expect" not in seen
    if shutil.which("haproxy") is None:
        return
    ref_port = free_port()
    cfg = tmp_path / "h.cfg"
    cfg.write_text(cfg_text(ref_port, srv.port))
    with haproxy_serving(cfg, [ref_port]):
        ref_first, ref_rest = expect_continue(ref_port)
    assert ref_first == first
    assert b"expect" not in ref_rest.lower().split(b"\r\n\r\n", 1)[1]
