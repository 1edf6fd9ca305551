"""Sans-IO HTTP/1 framing: head parsing, smuggling vectors, the chunked reader."""

from __future__ import annotations

import pytest

from lb.http.h1 import (
    ChunkedReader,
    H1Error,
    find_head_end,
    parse_request_head,
    parse_response_head,
    request_keeps_alive,
    response_has_body,
)


def req(*lines: str, first: str = "GET /p?q=1 HTTP/1.1") -> bytes:
    return ("\r\n".join([first, *lines]) + "\r\n\r\n").encode()


# ---------------------------------------------------------------- heads


def test_find_head_end():
    raw = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY"
    assert find_head_end(raw) == len(raw) - 4
    assert find_head_end(b"GET / HTTP/1.1\r\nHost: a\r\n") == -1
    assert find_head_end(b"GET / HTTP/1.1\nHost: a\n\nX") == len(b"GET / HTTP/1.1\nHost: a\n\n")


def test_request_head_fields():
    h = parse_request_head(
        req(
            "Host: example",
            "Content-Length: 12",
            "Connection: keep-alive, Upgrade",
            "Upgrade: websocket",
            "Expect: 100-continue",
            "X-A:  spaced  ",
        )
    )
    assert (h.method, h.uri, h.version) == (b"GET", b"/p?q=1", b"HTTP/1.1")
    assert h.host == b"example" and h.content_length == 12 and not h.chunked
    assert h.conn_keepalive and h.conn_upgrade and not h.conn_close
    assert h.upgrade == b"websocket" and h.expect_continue
    assert h.path == b"/p" and h.query == b"q=1"
    assert h.get(b"x-a") == b"spaced"
    assert h.headers()[0] == (b"Host", b"example")


def test_absolute_uri_path():
    h = parse_request_head(req("Host: a", first="GET http://a.b/x/y?z HTTP/1.1"))
    assert h.path == b"/x/y" and h.query == b"z"


def test_keep_alive_rules():
    assert request_keeps_alive(parse_request_head(req("Host: a")))
    assert not request_keeps_alive(parse_request_head(req("Host: a", "Connection: close")))
    assert not request_keeps_alive(parse_request_head(req(first="GET / HTTP/1.0")))
    assert request_keeps_alive(
        parse_request_head(req("Connection: Keep-Alive", first="GET / HTTP/1.0"))
    )


def test_response_head_and_body_rules():
    h = parse_response_head(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n")
    assert h.status == 404 and h.reason == b"Not Found" and h.content_length == 3
    h = parse_response_head(b"HTTP/1.1 200\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
    assert h.chunked and h.reason == b""
    assert not response_has_body(200, b"HEAD")
    assert not response_has_body(204, b"GET") and not response_has_body(304, b"GET")
    assert not response_has_body(101, b"GET") and response_has_body(200, b"GET")


def test_missing_host_is_accepted_like_haproxy():
    assert parse_request_head(req()).host is None


def test_bare_lf_head_rewritten_with_crlf():
    h = parse_request_head(b"GET / HTTP/1.1\nHost: a\nX: 1\n\n")
    assert h.raw == b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"
    assert h.host == b"a"


def test_equal_content_lengths_merge():
    h = parse_request_head(req("Host: a", "Content-Length: 3, 3", "Content-Length: 3"))
    assert h.content_length == 3


def test_cl_and_te_drops_content_length():
    h = parse_request_head(req("Host: a", "Content-Length: 3", "Transfer-Encoding: chunked"))
    assert h.chunked and h.content_length is None and h.cl_te
    assert b"content-length" not in h.raw.lower()
    assert h.raw.endswith(b"\r\n\r\n")


# ---------------------------------------------------------------- smuggling vectors

BAD_REQUESTS = {
    "differing content-length": req("Host: a", "Content-Length: 3", "Content-Length: 4"),
    "content-length list": req("Host: a", "Content-Length: 3, 4"),
    "negative content-length": req("Host: a", "Content-Length: -1"),
    "signed content-length": req("Host: a", "Content-Length: +1"),
    "hex content-length": req("Host: a", "Content-Length: 0x10"),
    "huge content-length": req("Host: a", "Content-Length: 1" + "0" * 30),
    "empty content-length": req("Host: a", "Content-Length: "),
    "chunked twice": req("Host: a", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"),
    "chunked not last": req("Host: a", "Transfer-Encoding: chunked, identity"),
    "gzip then chunked": req("Host: a", "Transfer-Encoding: gzip, chunked"),
    "unknown coding": req("Host: a", "Transfer-Encoding: xchunked"),
    "empty coding": req("Host: a", "Transfer-Encoding: "),
    "te in http/1.0": req("Transfer-Encoding: chunked", first="POST / HTTP/1.0"),
    "control char": req("Host: a", "X: a\x01b"),
    "NUL": req("Host: a", "X: a\x00b"),
    "DEL": req("Host: a", "X: a\x7fb"),
    "bare CR": req("Host: a", "X: a\rb"),
    "space before colon": req("Host: a", "X : b"),
    "no colon": req("Host: a", "Xb"),
    "empty name": req("Host: a", ": b"),
    "obs-fold": req("Host: a", "X: a", "  folded"),
    "two hosts": req("Host: a", "Host: b"),
    "bad method": req("Host: a", first="G(T / HTTP/1.1"),
    "space in uri": req("Host: a", first="GET /a b HTTP/1.1"),
    "http/2.0": req("Host: a", first="GET / HTTP/2.0"),
    "http/0.9": b"GET /\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_bad_request_heads(name):
    with pytest.raises(H1Error) as ei:
        parse_request_head(BAD_REQUESTS[name])
    assert ei.value.status == 400


def test_bad_response_heads_are_502():
    for raw in (
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
    ):
        with pytest.raises(H1Error) as ei:
            parse_response_head(raw)
        assert ei.value.status == 502


# ---------------------------------------------------------------- chunked reader

BODY = b'5\r\nhello\r\n1a;ext=1;b="x"\r\n' + b"z" * 26 + b"\r\n0\r\nTrailer: t\r\n\r\n"


def test_chunked_whole():
    r = ChunkedReader()
    assert r.feed(BODY + b"NEXT") == (len(BODY), True)


def test_chunked_byte_by_byte():
    r = ChunkedReader()
    for i in range(len(BODY)):
        end, done = r.feed(BODY[i : i + 1])
        assert end == 1
        assert done == (i == len(BODY) - 1)


@pytest.mark.parametrize("cut", range(1, len(BODY)))
def test_chunked_split_anywhere(cut):
    r = ChunkedReader()
    end1, done1 = r.feed(BODY[:cut])
    assert end1 == cut and not done1
    data = BODY[cut:] + b"GET"
    end2, done2 = r.feed(data)
    assert done2 and data[end2:] == b"GET"


def test_chunked_feed_from_pos_and_memoryview():
    r = ChunkedReader()
    data = b"XXXX" + BODY
    assert r.feed(memoryview(data), 4) == (len(data), True)


@pytest.mark.parametrize("cut", range(1, len(BODY)))
def test_chunked_payload_and_trailers_split_anywhere(cut):
    """What compression reads: the chunk data and the trailer fields, in any cut."""
    r = ChunkedReader(keep_trailers=True)
    parts: list[bytes] = []
    end1, done1 = r.feed(BODY[:cut], 0, parts)
    end2, done2 = r.feed(BODY[cut:] + b"GET", 0, parts)
    assert not done1 and done2 and end1 == cut and end2 == len(BODY) - cut
    assert b"".join(parts) == b"hello" + b"z" * 26
    assert r.trailers == b"Trailer: t\r\n"
    assert ChunkedReader().trailers is None  # (framing only: nothing kept)


def test_chunked_no_trailer_and_lf_only():
    r = ChunkedReader()
    assert r.feed(b"3\nabc\n0\n\n") == (len(b"3\nabc\n0\n\n"), True)


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"\r\nhello\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"1_0\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
        b"fffffffffffffffff\r\n",
    ],
)
def test_chunked_bad_framing(body):
    r = ChunkedReader()
    with pytest.raises(H1Error) as ei:
        for i in range(len(body)):
            r.feed(body[i : i + 1])
    assert ei.value.status == 400


def test_chunked_long_extension_accepted_but_bounded():
    r = ChunkedReader()
    ok = b"5;" + b"e" * 5000 + b"\r\nhello\r\n0\r\n\r\n"
    assert r.feed(ok) == (len(ok), True)
    r = ChunkedReader()
    with pytest.raises(H1Error):
        r.feed(b"5;" + b"e" * 70000)
    r = ChunkedReader()
    with pytest.raises(H1Error):
        for _i in range(0, 70000, 1000):
            r.feed(b"e" * 1000)
