"""Request smuggling vectors through a real lb: each is refused (400 + HAProxy's
page, nothing reaches the server) or normalised the way HAProxy 2.6 does."""

from __future__ import annotations

import pytest
from itest import HOST, free_port, http_cfg, raw_exchange

from lb.http.errors import error_response

pytestmark = pytest.mark.timeout(30)

PAGE_400 = error_response(400)
AFTER = b"GET /after HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One lb and one backend for the whole module (fast)."""
    from itest import LB, Backend

    b = Backend("s1")
    port = free_port()
    inst = LB(tmp_path_factory.mktemp("smug"), http_cfg(port, f"    server s1 {HOST}:{b.port}\n"))
    inst.start()
    yield port, b, inst
    inst.stop()
    b.close()


def statuses(out: bytes) -> list[bytes]:
    return [chunk.split(b"\r\n", 1)[0] for chunk in out.split(b"HTTP/1.")[1:]]


REFUSED = {
    "differing content-length": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
    b"Content-Length: 4\r\n\r\nabcd",
    "content-length list": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 4\r\n\r\nabcd",
    "negative content-length": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -3\r\n\r\nabc",
    "signed content-length": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc",
    "bad chunk size": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nhello\r\n0\r\n\r\n",
    "chunk without CRLF": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhelloXX0\r\n\r\n",
    "control character": b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n",
    "NUL": b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n",
    "bare CR": b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n",
    "space before colon": b"GET / HTTP/1.1\r\nHost: t\r\nX-A : ab\r\n\r\n",
    "empty header name": b"GET / HTTP/1.1\r\nHost: t\r\n: x\r\n\r\n",
    "chunked not last": b"POST /echo HTTP/1.1\r\nHost: t\r\n"
    b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "chunked twice": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "unknown coding": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n"
    b"0\r\n\r\n",
    "two hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "bad method": b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n",
    "space in uri": b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n",
    "HTTP/0.9": b"GET /\r\n\r\n",
    "head over bufsize": b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_400(env, name):
    port, b, _ = env
    before = len(b.requests)
    out = raw_exchange(port, REFUSED[name] + AFTER)
    # HAProxy's page, then the connection is closed: the trailing request is never read
    assert out == PAGE_400, out[:300]
    assert len(b.requests) == before


def test_refusal_is_logged_as_badreq(env):
    port, _b, inst = env
    raw_exchange(port, REFUSED["bare CR"])
    lines = inst.wait_stderr(r'^.* 400 0 - - PR-- .* "<BADREQ>"$')
    assert lines
    assert " fe fe/<NOSRV> -1/-1/-1/-1/" in lines[-1]


def test_cl_and_te_uses_chunked_and_closes(env):
    # HAProxy drops Content-Length, reads the chunked body, then closes the connection
    port, b, _ = env
    before = len(b.requests)
    out = raw_exchange(
        port,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n" + AFTER,
    )
    assert statuses(out) == [b"1 200 OK"]
    assert out.endswith(b"\r\n\r\nhello")
    assert b"connection: close" in out.lower()
    assert len(b.requests) == before + 1
    fwd = b.requests[-1].lower()
    assert b"content-length" not in fwd and b"transfer-encoding: chunked" in fwd


def test_repeated_equal_content_length_accepted(env):
    port, b, _ = env
    out = raw_exchange(
        port,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc"
        + AFTER,
    )
    assert statuses(out) == [b"1 200 OK", b"1 200 OK"]
    assert b"\r\n\r\nabc" in out


def test_long_chunk_extension_accepted(env):
    port, b, _ = env
    out = raw_exchange(
        port,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;"
        + b"a" * 5000
        + b"\r\nhello\r\n0\r\n\r\n"
        + AFTER,
    )
    assert statuses(out) == [b"1 200 OK", b"1 200 OK"]


def test_bare_lf_head_normalised(env):
    # HAProxy accepts LF-only line ends and forwards CRLF
    port, b, _ = env
    out = raw_exchange(port, b"GET /lf HTTP/1.1\nHost: t\nConnection: close\n\n")
    assert statuses(out) == [b"1 200 OK"]
    assert b.requests[-1].startswith(b"GET /lf HTTP/1.1\r\nHost: t\r\n")


def test_missing_host_accepted_like_haproxy(env):
    port, _b, _ = env
    out = raw_exchange(port, b"GET /nohost HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert statuses(out) == [b"1 200 OK"]
