"""Built-in error pages and `return` responses, compared with bytes captured from HAProxy 2.6.12."""

from __future__ import annotations

import pytest

from lb.http.errors import (
    ERROR_PAGES,
    REASONS,
    build_return_response,
    error_response,
    load_errorfile,
    reason,
)

# Captured from haproxy 2.6.12 with `http-request deny deny_status N`, HTTP/1.1
# keep-alive client (no connection header except for 400 and 408, which close).
CAPTURED_KEEPALIVE = {
    200: (
        b"HTTP/1.1 200 OK\r\n"
        b"content-length: 58\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>200 OK</h1>\n"
        b"Service ready.\n"
        b"</body></html>\n"
    ),
    400: (
        b"HTTP/1.1 400 Bad request\r\n"
        b"content-length: 90\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"connection: close\r\n"
        b"\r\n"
        b"<html><body><h1>400 Bad request</h1>\n"
        b"Your browser sent an invalid request.\n"
        b"</body></html>\n"
    ),
    401: (
        b"HTTP/1.1 401 Unauthorized\r\n"
        b"content-length: 112\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>401 Unauthorized</h1>\n"
        b"You need a valid user and password to access this content.\n"
        b"</body></html>\n"
    ),
    403: (
        b"HTTP/1.1 403 Forbidden\r\n"
        b"content-length: 93\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>403 Forbidden</h1>\n"
        b"Request forbidden by administrative rules.\n"
        b"</body></html>\n"
    ),
    404: (
        b"HTTP/1.1 404 Not Found\r\n"
        b"content-length: 83\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>404 Not Found</h1>\n"
        b"The resource could not be found.\n"
        b"</body></html>\n"
    ),
    405: (
        b"HTTP/1.1 405 Method Not Allowed\r\n"
        b"content-length: 146\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>405 Method Not Allowed</h1>\n"
        b"A request was made of a resource using a request method not supported by that resource\n"
        b"</body></html>\n"
    ),
    407: (
        b"HTTP/1.1 407 Unauthorized\r\n"
        b"content-length: 112\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>407 Unauthorized</h1>\n"
        b"You need a valid user and password to access this content.\n"
        b"</body></html>\n"
    ),
    408: (
        b"HTTP/1.1 408 Request Time-out\r\n"
        b"content-length: 110\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"connection: close\r\n"
        b"\r\n"
        b"<html><body><h1>408 Request Time-out</h1>\n"
        b"Your browser didn't send a complete request in time.\n"
        b"</body></html>\n"
    ),
    410: (
        b"HTTP/1.1 410 Gone\r\n"
        b"content-length: 114\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>410 Gone</h1>\n"
        b"The resource is no longer available and will not be available again.\n"
        b"</body></html>\n"
    ),
    413: (
        b"HTTP/1.1 413 Payload Too Large\r\n"
        b"content-length: 106\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>413 Payload Too Large</h1>\n"
        b"The request entity exceeds the maximum allowed.\n"
        b"</body></html>\n"
    ),
    425: (
        b"HTTP/1.1 425 Too Early\r\n"
        b"content-length: 80\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>425 Too Early</h1>\n"
        b"Your browser sent early data.\n"
        b"</body></html>\n"
    ),
    429: (
        b"HTTP/1.1 429 Too Many Requests\r\n"
        b"content-length: 117\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>429 Too Many Requests</h1>\n"
        b"You have sent too many requests in a given amount of time.\n"
        b"</body></html>\n"
    ),
    500: (
        b"HTTP/1.1 500 Internal Server Error\r\n"
        b"content-length: 97\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>500 Internal Server Error</h1>\n"
        b"An internal server error occurred.\n"
        b"</body></html>\n"
    ),
    501: (
        b"HTTP/1.1 501 Not Implemented\r\n"
        b"content-length: 136\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>501 Not Implemented</h1>\n"
        b".The server does not support the functionality required to fulfill the request.\n"
        b"</body></html>\n"
    ),
    502: (
        b"HTTP/1.1 502 Bad Gateway\r\n"
        b"content-length: 107\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>502 Bad Gateway</h1>\n"
        b"The server returned an invalid or incomplete response.\n"
        b"</body></html>\n"
    ),
    503: (
        b"HTTP/1.1 503 Service Unavailable\r\n"
        b"content-length: 107\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>503 Service Unavailable</h1>\n"
        b"No server is available to handle this request.\n"
        b"</body></html>\n"
    ),
    504: (
        b"HTTP/1.1 504 Gateway Time-out\r\n"
        b"content-length: 92\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"\r\n"
        b"<html><body><h1>504 Gateway Time-out</h1>\n"
        b"The server didn't respond in time.\n"
        b"</body></html>\n"
    ),
}

# Same deny 403, HTTP/1.1 client sending "Connection: close" (and HTTP/1.0 without keep-alive).
CAPTURED_403_CLOSE = (
    b"HTTP/1.1 403 Forbidden\r\n"
    b"content-length: 93\r\n"
    b"cache-control: no-cache\r\n"
    b"content-type: text/html\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"<html><body><h1>403 Forbidden</h1>\n"
    b"Request forbidden by administrative rules.\n"
    b"</body></html>\n"
)
# HTTP/1.0 client sending "Connection: keep-alive".
CAPTURED_403_HTTP10_KA = (
    b"HTTP/1.1 403 Forbidden\r\n"
    b"content-length: 93\r\n"
    b"cache-control: no-cache\r\n"
    b"content-type: text/html\r\n"
    b"connection: keep-alive\r\n"
    b"\r\n"
    b"<html><body><h1>403 Forbidden</h1>\n"
    b"Request forbidden by administrative rules.\n"
    b"</body></html>\n"
)


@pytest.mark.parametrize("status", sorted(CAPTURED_KEEPALIVE))
def test_keepalive_pages_match_haproxy(status: int) -> None:
    assert error_response(status, close=False) == CAPTURED_KEEPALIVE[status]


def test_close_and_http10_variants() -> None:
    assert error_response(403) == CAPTURED_403_CLOSE
    assert error_response(403, close=False, http10=True) == CAPTURED_403_HTTP10_KA
    assert error_response(400, close=False, http10=True) == CAPTURED_KEEPALIVE[400]


def test_error_pages_table_is_closing_variant() -> None:
    assert set(ERROR_PAGES) == set(CAPTURED_KEEPALIVE)
    assert ERROR_PAGES[403] == CAPTURED_403_CLOSE
    for status, page in ERROR_PAGES.items():
        assert b"\r\nconnection: close\r\n\r\n" in page, status


def test_unknown_status_page() -> None:
    with pytest.raises(ValueError):
        error_response(418)


# `http-request return` captures (HTTP/1.1 keep-alive client unless stated).
def test_return_without_body() -> None:
    # http-request return status 200
    assert build_return_response(200, None, b"") == b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
    # http-request return status 404
    assert (
        build_return_response(404, None, b"")
        == b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
    )


def test_return_with_string() -> None:
    # http-request return status 404 content-type text/plain string hello
    assert (
        build_return_response(404, "text/plain", b"hello")
        == b"HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nhello"
    )
    # same, client sent Connection: close (or HTTP/1.0)
    assert (
        build_return_response(404, "text/plain", b"hello", close=True)
        == b"HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n"
        b"connection: close\r\n\r\nhello"
    )
    # http-request return status 201 string abc content-type text/plain
    assert (
        build_return_response(201, "text/plain", b"abc")
        == b"HTTP/1.1 201 Created\r\ncontent-length: 3\r\ncontent-type: text/plain\r\n\r\nabc"
    )


def test_return_with_headers() -> None:
    # return status 503 content-type "text/plain; charset=utf-8" string "x y"
    #        hdr X-Foo bar hdr x-bar "baz"
    got = build_return_response(
        503, "text/plain; charset=utf-8", b"x y", [(b"X-Foo", b"bar"), (b"x-bar", b"baz")]
    )
    assert got == (
        b"HTTP/1.1 503 Service Unavailable\r\nx-foo: bar\r\nx-bar: baz\r\ncontent-length: 3\r\n"
        b"content-type: text/plain; charset=utf-8\r\n\r\nx y"
    )
    # http-request return status 302 hdr location /x
    assert (
        build_return_response(302, None, b"", [(b"location", b"/x")])
        == b"HTTP/1.1 302 Moved Temporarily\r\nlocation: /x\r\ncontent-length: 0\r\n\r\n"
    )


def test_content_type_without_body_is_ignored() -> None:
    assert build_return_response(200, "text/plain", b"") == (
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (200, "OK"),
        (208, "Success"),
        (226, "IM Used"),
        (302, "Moved Temporarily"),
        (306, "Redirection"),
        (310, "Too many Redirects"),
        (400, "Bad Request"),
        (413, "Request Entity Too Large"),
        (416, "Requested range unsatisfiable"),
        (418, "I'm a teapot"),
        (419, "Client Error"),
        (422, "Unprocessable Content"),
        (499, "client has closed connection"),
        (502, "Bad Gateway or Proxy Error"),
        (506, "Variant also negotiate"),
        (512, "Server Error"),
        (520, "Web server is returning an unknown error"),
        (599, "Server Error"),
    ],
)
def test_reasons(status: int, phrase: str) -> None:
    assert reason(status) == phrase


def test_reasons_table_values() -> None:
    assert REASONS[504] == "Gateway Time-out"
    assert REASONS[408] == "Request Time-out"


def test_load_errorfile_ok(tmp_path) -> None:
    raw = (
        b"HTTP/1.0 503 Oops\r\nCache-Control: no-cache\r\nConnection: close\r\n"
        b"Content-Type: text/html\r\n\r\n<html>x</html>\n"
    )
    p = tmp_path / "e503.http"
    p.write_bytes(raw)
    assert load_errorfile(str(p)) == raw
    empty = tmp_path / "empty.http"
    empty.write_bytes(b"")
    assert load_errorfile(str(empty)) == b""
    nolen = tmp_path / "nolen.http"
    nolen.write_bytes(b"HTTP/1.1 200 OK\r\n\r\nbody")
    assert load_errorfile(str(nolen)) == b"HTTP/1.1 200 OK\r\n\r\nbody"


def test_load_errorfile_errors(tmp_path) -> None:
    missing = str(tmp_path / "nope.http")
    with pytest.raises(ValueError) as exc:
        load_errorfile(missing)
    assert str(exc.value) == f"error opening file '{missing}'."

    bad = tmp_path / "bad.http"
    bad.write_bytes(b"hello world\n")
    with pytest.raises(ValueError) as exc:
        load_errorfile(str(bad))
    assert str(exc.value) == f"'{bad}': unable to parse headers (error offset: 0)"

    trunc = tmp_path / "trunc.http"
    trunc.write_bytes(b"HTTP/1.0 503 Oops\r\nX: y\r\n")
    with pytest.raises(ValueError) as exc:
        load_errorfile(str(trunc))
    assert str(exc.value) == f"'{trunc}': unable to parse headers (error offset: -2)"

    cl = tmp_path / "cl.http"
    cl.write_bytes(b"HTTP/1.0 503 Oops\r\nContent-Length: 3\r\n\r\nabcdef")
    with pytest.raises(ValueError) as exc:
        load_errorfile(str(cl))
    assert str(exc.value) == (
        f"'{cl}': payload size does not match the announced content-length (6 != 3)"
    )


def test_load_errorfile_too_big(tmp_path) -> None:
    big = tmp_path / "big.http"
    big.write_bytes(b"HTTP/1.0 503 X\r\nContent-Length: 20000\r\n\r\n" + b"a" * 20000)
    warnings: list[str] = []
    with pytest.raises(ValueError) as exc:
        load_errorfile(str(big), warn=warnings.append)
    assert warnings == [f"custom error message file '{big}' larger than 16384 bytes. Truncating."]
    assert str(exc.value) == (
        f"'{big}': payload size does not match the announced content-length (16343 != 20000)"
    )
