"""Sans-IO parsing of the HTTP/1 response to a health check.

Checks read at most one buffer (``BUFSIZE``, HAProxy's default
``tune.bufsize``); a body longer than that is judged on what fits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BUFSIZE = 16384

_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) +(\d{3})(?: +([^\r\n]*))?\r?\Z")
_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*\r?\Z")
_NO_BODY_CODES = frozenset({204, 304})


class InvalidResponse(Exception):
    """The bytes received are not an HTTP/1 response."""


@dataclass(slots=True)
class HttpResponse:
    code: int
    reason: str
    version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


def _head_end(buf: bytes) -> tuple[int, int] | None:
    """(end of head, start of body) or None if the head is incomplete."""
    crlf = buf.find(b"\r\n\r\n")
    lf = buf.find(b"\n\n")
    if crlf < 0 and lf < 0:
        return None
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, lf + 2
    return crlf, crlf + 4


def _check_prefix(buf: bytes) -> None:
    n = min(len(buf), 5)
    if buf[:n] != b"HTTP/"[:n]:
        raise InvalidResponse("not HTTP")


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    """Decode chunked data; returns (body so far, complete)."""
    out = bytearray()
    pos = 0
    while True:
        eol = data.find(b"\n", pos)
        if eol < 0:
            return bytes(out), False
        size_text = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise InvalidResponse("bad chunk size") from None
        pos = eol + 1
        if size == 0:
            return bytes(out), True
        out += data[pos : pos + size]
        if len(data) < pos + size + 1:
            return bytes(out), False
        pos += size
        if data[pos : pos + 2] == b"\r\n":
            pos += 2
        elif data[pos : pos + 1] == b"\n":
            pos += 1
        elif len(data) - pos < 2:
            return bytes(out), False
        else:
            raise InvalidResponse("bad chunk end")


def parse_response(
    buf: bytes, eof: bool, *, need_body: bool, head_request: bool = False
) -> HttpResponse | None:
    """Parse ``buf``; None means "wait for more data".

    Raises InvalidResponse when the data cannot be a response, or when the
    peer closed (``eof``) before the end of the head.
    """
    while True:
        _check_prefix(buf)
        ends = _head_end(buf)
        if ends is None:
            if eof or len(buf) >= BUFSIZE:
                raise InvalidResponse("incomplete head")
            return None
        head_end, body_start = ends
        lines = buf[:head_end].split(b"\n")
        m = _STATUS_LINE.match(lines[0])
        if not m:
            raise InvalidResponse("bad status line")
        code = int(m.group(3))
        if 100 <= code < 200 and code != 101:
            buf = buf[body_start:]  # interim response: skip it
            continue
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            hm = _HEADER.match(line)
            if not hm:
                raise InvalidResponse("bad header")
            headers.append((hm.group(1).decode("latin-1"), hm.group(2).decode("latin-1")))
        resp = HttpResponse(
            code=code,
            reason=(m.group(4) or b"").decode("latin-1"),
            version=f"HTTP/{m.group(1).decode()}.{m.group(2).decode()}",
            headers=headers,
        )
        if not need_body or head_request or code in _NO_BODY_CODES:
            return resp
        rest = buf[body_start:]
        full = len(buf) >= BUFSIZE
        te = resp.header("transfer-encoding")
        if te is not None and "chunked" in te.lower():
            body, complete = _dechunk(rest)
            if not complete and not eof and not full:
                return None
            resp.body = body
            return resp
        cl = resp.header("content-length")
        if cl is not None:
            try:
                length = int(cl)
            except ValueError:
                raise InvalidResponse("bad content-length") from None
            if len(rest) < length and not eof and not full:
                return None
            resp.body = rest[:length]
            return resp
        if not eof and not full:
            return None
        resp.body = rest
        return resp
