"""Head limits (tune.bufsize - tune.maxrewrite, tune.http.maxhdr) and the relaxed
parsing of `option accept-invalid-http-request|response`, fed bytes (lb.http.h1).
The boundaries are the ones measured against HAProxy 2.6."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lb.http import h1
from lb.http.h1 import H1Error, head_limit, htx_size, parse_request_head, parse_response_head


@pytest.fixture(autouse=True)
def _defaults() -> Iterator[None]:
    h1.configure()
    yield
    h1.configure()


def req_of(n: int) -> bytes:
    """A request head of exactly `n` bytes (HTTP/1.1, Host, Connection: close, X)."""
    base = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX: "
    return base + b"a" * (n - len(base) - 4) + b"\r\n\r\n"


def resp_of(n: int) -> bytes:
    base = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nX: "
    return base + b"a" * (n - len(base) - 4) + b"\r\n\r\n"


@pytest.mark.parametrize(
    ("bufsize", "maxrewrite", "room"),
    [
        (16384, None, 15360),  # default: 1024 reserved
        (16384, 0, 16384),
        (16384, 100000, 8192),  # at most half the buffer
        (8192, 6000, 4096),
        (1800, None, 904),  # bufsize rounded up to 1808, half of it reserved
        (32768, None, 31744),
    ],
)
def test_head_limit(bufsize: int, maxrewrite: int | None, room: int) -> None:
    assert head_limit(bufsize, maxrewrite) == room


def test_htx_size_drops_connection_close_and_keepalive() -> None:
    base = b"GET / HTTP/1.1\r\nHost: a\r\n"
    plain = htx_size(base + b"\r\n")
    assert plain == 85 + 12 + (4 + 1 + 8)
    assert htx_size(base + b"Connection: close\r\n\r\n") == plain
    assert htx_size(base + b"Connection: keep-alive\r\n\r\n") == plain
    assert htx_size(base + b"Connection: foo\r\n\r\n") == plain + 10 + 3 + 8
    # blanks around a value do not count; LF-only lines take the same room
    assert htx_size(base + b"Y:    v   \r\n\r\n") == plain + 1 + 1 + 8
    assert htx_size(b"GET / HTTP/1.1\nHost: a\n\n") == plain


@pytest.mark.parametrize("size", [15292, 15293])
def test_request_size_boundary_default(size: int) -> None:
    # HAProxy 2.6 (bufsize 16384, maxrewrite 1024) takes 15292 bytes of this head
    if size <= 15292:
        assert parse_request_head(req_of(size)).host == b"a"
    else:
        with pytest.raises(H1Error) as exc:
            parse_request_head(req_of(size))
        assert exc.value.status == 400


def test_response_size_boundary_default() -> None:
    assert parse_response_head(resp_of(15292)).status == 200
    with pytest.raises(H1Error) as exc:
        parse_response_head(resp_of(15293))
    assert exc.value.status == 502


def test_size_boundary_follows_configuration() -> None:
    h1.configure(16384, 0)
    parse_request_head(req_of(16316))
    with pytest.raises(H1Error):
        parse_request_head(req_of(16317))
    h1.configure(8192)
    parse_response_head(resp_of(7100))
    with pytest.raises(H1Error):
        parse_response_head(resp_of(7101))


def with_headers(k: int, request: bool = True) -> bytes:
    first = b"GET / HTTP/1.1\r\n" if request else b"HTTP/1.1 200 OK\r\n"
    return first + b"".join(b"H%d: v\r\n" % i for i in range(k)) + b"\r\n"


@pytest.mark.parametrize("is_request", [True, False])
def test_maxhdr_default(is_request: bool) -> None:
    parse = parse_request_head if is_request else parse_response_head
    parse(with_headers(101, is_request))
    with pytest.raises(H1Error) as exc:
        parse(with_headers(102, is_request))
    assert exc.value.status == (400 if is_request else 502)


def test_maxhdr_configured() -> None:
    h1.configure(maxhdr=10)
    assert h1.parse_plain_request(with_headers(10)) is not None
    assert h1.parse_plain_request(with_headers(11)) is None
    parse_response_head(with_headers(10, False))
    with pytest.raises(H1Error):
        parse_request_head(with_headers(11))
    with pytest.raises(H1Error):
        parse_response_head(with_headers(11, False))
    # LF-only line ends count the same
    with pytest.raises(H1Error):
        parse_request_head(with_headers(11).replace(b"\r\n", b"\n"))


RELAXED_REQUESTS = [
    b"GET / HTTP/1.1\r\nFoo Bar: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nFo(o): x\r\n\r\n",
    b"GET / HTTP/1.1\r\nF\x00o: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nF\xe9o: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nFoo : x\r\n\r\n",
    b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a\xe9b HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / RTSP/1.0\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.10\r\nHost: a\r\n\r\n",
]


@pytest.mark.parametrize("raw", RELAXED_REQUESTS)
def test_accept_invalid_http_request(raw: bytes) -> None:
    with pytest.raises(H1Error):
        parse_request_head(raw)
    assert parse_request_head(raw, True).raw == raw


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\n: x\r\n\r\n",  # empty name
        b"GET / HTTP/1.1\r\nFoo\r\n\r\n",  # no colon
        b"GET /a\x01b HTTP/1.1\r\n\r\n",  # control character in the URI
        b"GET /a\tb HTTP/1.1\r\n\r\n",
        b"GET / http/1.1\r\n\r\n",  # version in lower case
        b"G(T / HTTP/1.1\r\n\r\n",  # method
        b"GET / HTTP/1.1\r\nFoo: a\rb\r\n\r\n",  # bare CR
    ],
)
def test_still_refused_when_relaxed(raw: bytes) -> None:
    with pytest.raises(H1Error):
        parse_request_head(raw, True)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nFoo Bar: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nF\x01o: x\r\n\r\n",
        b"HTTP/1.10 200 OK\r\n\r\n",
        b"HTTP1.1 200 OK\r\n\r\n",
    ],
)
def test_accept_invalid_http_response(raw: bytes) -> None:
    with pytest.raises(H1Error):
        parse_response_head(raw)
    assert parse_response_head(raw, True).status == 200
    with pytest.raises(H1Error):
        parse_response_head(b"HTTP/1.1 200 OK\r\n: x\r\n\r\n", True)


def test_relaxed_still_reads_framing() -> None:
    h = parse_request_head(b"POST /a#b HTTP/1.1\r\nX Y: 1\r\nContent-Length: 3\r\n\r\n", True)
    assert h.content_length == 3
