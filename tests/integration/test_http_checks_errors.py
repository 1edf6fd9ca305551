"""Health checks taking a server DOWN and UP again, error pages and errorfile."""

from __future__ import annotations

import pytest
from itest import HOST, free_port, get, http_cfg

from lb.http.errors import error_response

pytestmark = pytest.mark.timeout(30)


def test_health_check_down_and_up(lb, backend):
    s1, s2 = backend("s1"), backend("s2")
    port = free_port()
    srv = (
        f"    server s1 {HOST}:{s1.port} check inter 200ms rise 2 fall 2\n"
        f"    server s2 {HOST}:{s2.port} check inter 200ms rise 2 fall 2\n"
    )
    inst = lb(http_cfg(port, srv))
    s1_port = s1.port
    s1.close()
    down = inst.wait_stderr(r"Server be/s1 is DOWN, reason: Layer4 connection problem", 5)
    assert down, inst.stderr
    line = down[0]
    assert line.startswith("[WARNING]")
    assert 'info: "Connection refused"' in line
    assert "1 active and 0 backup servers left." in line
    # traffic now goes to s2 only
    for _ in range(6):
        assert get(port, "/").body == b"hello from s2"
    backend("s1", port=s1_port)
    up = inst.wait_stderr(r"Server be/s1 is UP, reason: Layer4 check passed", 5)
    assert up, inst.stderr
    assert "2 active and 0 backup servers online." in up[0]
    bodies = {get(port, "/").body for _ in range(6)}
    assert bodies == {b"hello from s1", b"hello from s2"}


def test_last_server_down_backend_alert(lb, backend):
    s1 = backend("s1")
    port = free_port()
    inst = lb(http_cfg(port, f"    server s1 {HOST}:{s1.port} check inter 200ms fall 2\n"))
    s1.close()
    assert inst.wait_stderr(r"^\[ALERT\].*backend 'be' has no server available!", 5), inst.stderr
    r = get(port, "/")
    assert r.status == 503
    assert r.raw_head + r.body == error_response(503)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_error_pages_are_haproxys(lb, status):
    # 503: no server; 502: server closes; 504: server timeout
    port = free_port()
    if status == 503:
        servers = f"    server s1 {HOST}:{free_port()}\n"
        path = "/"
    else:
        from itest import Backend

        b = Backend("s1")
        servers = f"    server s1 {HOST}:{b.port}\n"
        path = "/close" if status == 502 else "/hang"
    defaults = (
        "defaults\n    mode http\n    timeout connect 300ms\n    timeout client 2s\n"
        "    timeout server 300ms\n    retries 0\n"
    )
    lb(http_cfg(port, servers, defaults=defaults))
    r = get(port, path)
    assert r.status == status
    assert r.raw_head + r.body == error_response(status)


def test_errorfile_override(lb, tmp_path):
    page = (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 5\r\n\r\nsorry"
    )
    ef = tmp_path / "503.http"
    ef.write_bytes(page)
    port = free_port()
    lb(
        http_cfg(
            port,
            f"    server s1 {HOST}:{free_port()}\n",
            extra_be=f"    errorfile 503 {ef}\n    retries 0\n",
        )
    )
    r = get(port, "/")
    assert r.status == 503
    # as HAProxy re-emits it: header names in lower case, its own connection header
    assert r.raw_head + r.body == (
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n"
        b"content-length: 5\r\nconnection: close\r\n\r\nsorry"
    )
