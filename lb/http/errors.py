"""HAProxy's built-in HTTP error pages and ``http-request return`` responses.

Everything here reproduces what HAProxy 2.6.12 puts on the wire, captured on
loopback: the status line always says ``HTTP/1.1``, header names are lower
case, and the ``connection`` header is added last, only when needed:

* ``connection: close`` when the connection ends after the response (the
  client asked for it, spoke HTTP/1.0 without keep-alive, or the page is the
  400 or 408 one, which always closes);
* ``connection: keep-alive`` for an HTTP/1.0 client that asked to keep alive;
* nothing for an HTTP/1.1 keep-alive connection.

The built-in pages use their own reason phrases (``400 Bad request``,
``407 Unauthorized``, ``413 Payload Too Large``, ``502 Bad Gateway``), which
differ from the generic table `REASONS` used for other responses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

#: default tune.bufsize: errorfiles larger than this are truncated
DEFAULT_BUFSIZE = 16384

# status: (reason phrase of the page, sentence of its body)
_PAGES: dict[int, tuple[str, str]] = {
    200: ("OK", "Service ready."),
    400: ("Bad request", "Your browser sent an invalid request."),
    401: ("Unauthorized", "You need a valid user and password to access this content."),
    403: ("Forbidden", "Request forbidden by administrative rules."),
    404: ("Not Found", "The resource could not be found."),
    405: (
        "Method Not Allowed",
        "A request was made of a resource using a request method not supported by that resource",
    ),
    407: ("Unauthorized", "You need a valid user and password to access this content."),
    408: ("Request Time-out", "Your browser didn't send a complete request in time."),
    410: ("Gone", "The resource is no longer available and will not be available again."),
    413: ("Payload Too Large", "The request entity exceeds the maximum allowed."),
    425: ("Too Early", "Your browser sent early data."),
    429: ("Too Many Requests", "You have sent too many requests in a given amount of time."),
    500: ("Internal Server Error", "An internal server error occurred."),
    501: (
        "Not Implemented",
        ".The server does not support the functionality required to fulfill the request.",
    ),
    502: ("Bad Gateway", "The server returned an invalid or incomplete response."),
    503: ("Service Unavailable", "No server is available to handle this request."),
    504: ("Gateway Time-out", "The server didn't respond in time."),
}


def handled_status(code: int) -> bool:
    """Whether `errorfile` may replace the page of this status."""
    return code in _PAGES


#: pages that always close the connection
ALWAYS_CLOSE = frozenset({400, 408})

#: HAProxy's reason phrases for statuses it knows by name (see `reason`)
REASONS: dict[int, str] = {
    100: "Continue",
    101: "Switching Protocols",
    102: "Processing",
    103: "Early Hints",
    200: "OK",
    201: "Created",
    202: "Accepted",
    203: "Non-Authoritative Information",
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    207: "Multi-Status",
    210: "Content Different",
    226: "IM Used",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    310: "Too many Redirects",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Time-out",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Requested range unsatisfiable",
    417: "Expectation failed",
    418: "I'm a teapot",
    421: "Misdirected Request",
    422: "Unprocessable Content",
    423: "Locked",
    424: "Method failure",
    425: "Too Early",
    426: "Upgrade Required",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    449: "Retry With",
    450: "Blocked by Windows Parental Controls",
    451: "Unavailable For Legal Reasons",
    456: "Unrecoverable Error",
    499: "client has closed connection",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway or Proxy Error",
    503: "Service Unavailable",
    504: "Gateway Time-out",
    505: "HTTP Version not supported",
    506: "Variant also negotiate",
    507: "Insufficient storage",
    508: "Loop detected",
    509: "Bandwidth Limit Exceeded",
    510: "Not extended",
    511: "Network authentication required",
    520: "Web server is returning an unknown error",
}

_CLASS_REASONS = {
    1: "Informational",
    2: "Success",
    3: "Redirection",
    4: "Client Error",
    5: "Server Error",
}


def reason(status: int) -> str:
    """The reason phrase HAProxy writes for `status` (class name when unnamed)."""
    return REASONS.get(status) or _CLASS_REASONS.get(status // 100, "Other")


def _connection_header(close: bool, http10: bool) -> bytes:
    if close:
        return b"connection: close\r\n"
    if http10:
        return b"connection: keep-alive\r\n"
    return b""


def _page(status: int, close: bool, http10: bool) -> bytes:
    phrase, sentence = _PAGES[status]
    body = f"<html><body><h1>{status} {phrase}</h1>\n{sentence}\n</body></html>\n".encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        f"content-length: {len(body)}\r\n"
        "cache-control: no-cache\r\n"
        "content-type: text/html\r\n"
    ).encode()
    close = close or status in ALWAYS_CLOSE
    return head + _connection_header(close, http10) + b"\r\n" + body


#: the built-in pages as sent when the connection closes afterwards
ERROR_PAGES: dict[int, bytes] = {status: _page(status, True, False) for status in _PAGES}


def error_response(status: int, *, close: bool = True, http10: bool = False) -> bytes:
    """The built-in page for `status` as HAProxy sends it.

    With ``close=False`` the connection stays open (no ``connection`` header
    for HTTP/1.1, ``connection: keep-alive`` for HTTP/1.0 clients); 400 and
    408 close regardless.  Raise ValueError for a status without a page.
    """
    if status not in _PAGES:
        raise ValueError(f"no built-in error page for status {status}")
    return _page(status, close, http10)


def build_return_response(
    status: int,
    content_type: str | None,
    body: bytes,
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
    *,
    close: bool = False,
    http10: bool = False,
) -> bytes:
    """What HAProxy sends for ``http-request return status N [content-type T] [string S]``.

    Order on the wire: the ``hdr`` headers in configuration order (names
    lower-cased), ``content-length``, ``content-type`` (only when given), then
    the connection header decided as for `error_response` (default: keep-alive
    over HTTP/1.1, so none).  `content_type` is ignored when the body is empty,
    as HAProxy does (it warns ``content-type '...' ignored by the http reply
    because neither errorfile nor payload defined.`` at parse time).
    """
    lines = [f"HTTP/1.1 {status} {reason(status)}\r\n".encode()]
    for name, value in extra_headers:
        lines.append(name.lower() + b": " + value + b"\r\n")
    lines.append(b"content-length: %d\r\n" % len(body))
    if content_type is not None and body:
        lines.append(b"content-type: " + content_type.encode("latin-1") + b"\r\n")
    lines.append(_connection_header(close, http10))
    lines.append(b"\r\n")
    return b"".join(lines) + body


def _check_errorfile(path: str, data: bytes) -> None:
    """Validate a raw errorfile the way HAProxy's loader does, roughly."""
    head_end = data.find(b"\r\n\r\n")
    sep = 4
    if head_end < 0:
        head_end, sep = data.find(b"\n\n"), 2
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    parts = first.split(b" ", 2)
    valid_start = (
        len(parts) >= 2
        and len(parts[0]) == 8
        and parts[0].startswith(b"HTTP/")
        and parts[0][5:6].isdigit()
        and parts[0][6:7] == b"."
        and parts[0][7:8].isdigit()
        and len(parts[1]) == 3
        and parts[1].isdigit()
    )
    if not valid_start:
        raise ValueError(f"'{path}': unable to parse headers (error offset: 0)")
    if head_end < 0:
        raise ValueError(f"'{path}': unable to parse headers (error offset: -2)")
    payload = len(data) - head_end - sep
    for line in data[:head_end].split(b"\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"content-length":
            announced = int(value.strip() or b"0")
            if announced != payload:
                raise ValueError(
                    f"'{path}': payload size does not match the announced content-length "
                    f"({payload} != {announced})"
                )


#: errorfile pages that always end their connection (HAProxy closes after them): no
#: Content-Length nor Transfer-Encoding, or a `Connection: close` of their own
CLOSING_PAGES: set[bytes] = set()


def errorfile_page(data: bytes) -> bytes:
    """An errorfile as HAProxy sends it: header names in lower case, `name: value`,
    its own `connection` headers dropped, and in the closing form lb's pages share
    (`connection: close` last for HTTP/1.1; none for HTTP/1.0, where closing is
    implicit). Pages that cannot be followed by another response go to CLOSING_PAGES."""
    if not data:
        return data
    end = re.search(rb"\r?\n\r?\n", data)
    head, body = (data[: end.start()], data[end.end() :]) if end else (data, b"")
    lines = re.split(rb"\r?\n", head)
    out = [lines[0]]
    close = framed = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        if name == b"connection":
            close = close or b"close" in value.lower()
            continue
        framed = framed or name in (b"content-length", b"transfer-encoding")
        out.append(name + b": " + value)
    if not lines[0].startswith(b"HTTP/1.0"):
        out.append(b"connection: close")
    page = b"\r\n".join(out) + b"\r\n\r\n" + body
    if close or not framed:
        CLOSING_PAGES.add(page)
    return page


def load_errorfile(
    path: str,
    bufsize: int = DEFAULT_BUFSIZE,
    warn: Callable[[str], None] | None = None,
) -> bytes:
    """Read an ``errorfile``: a complete raw HTTP response, returned unchanged.

    An empty file is allowed (HAProxy then sends nothing).  Files larger than
    `bufsize` are truncated with HAProxy's warning passed to `warn`.  Raise
    ValueError with HAProxy's sentence (the part after ``errorfile : ``) when
    the file cannot be read, its start line is not ``HTTP/x.y NNN``, its
    headers do not end, or the payload does not match ``Content-Length``.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(bufsize + 1)
    except OSError:
        raise ValueError(f"error opening file '{path}'.") from None
    if len(data) > bufsize:
        if warn is not None:
            warn(f"custom error message file '{path}' larger than {bufsize} bytes. Truncating.")
        data = data[:bufsize]
    if data:
        _check_errorfile(path, data)
    return data
