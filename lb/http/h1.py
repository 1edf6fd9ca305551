"""Sans-IO HTTP/1 framing: find message heads, read the few headers the proxy
needs in one pass, and count body bytes so they can be forwarded unchanged.

Why not httptools here: its parser reports no byte offsets, so a proxy that
forwards pipelined messages as received (the cheap path measured in
`performance.md`) cannot tell where one message ends inside a read. These
functions keep the raw bytes, apply HAProxy's rules on ambiguous framing
(request smuggling), and leave the message untouched unless a rule edits it.
"""

from __future__ import annotations

import re

import httptools

# Header lines the proxy itself acts on, matched in one regex pass over the head.
_HOP = re.compile(
    rb"\n(content-length|transfer-encoding|connection|host|upgrade|expect)[ \t]*:[ \t]*"
    rb"([^\r\n]*)",
    re.I,
)
# Anything HAProxy refuses inside a head: NUL and control characters, a CR not
# followed by LF, or a header line that does not start with a token then ':'.
# Bytes allowed anywhere in a head; `translate` deletes them, so what is left is bad.
_GOOD_BYTES = bytes(b for b in range(256) if b in (9, 10, 13) or 0x20 <= b <= 0x7E or b >= 0x80)
_BAD_LINE = re.compile(rb"\n(?![!#$%&'*+.^_`|~0-9A-Za-z-]+:|\r?\n|\Z)")
# A URI as HAProxy takes it by default: visible ASCII but '#' (a fragment), no tab, no
# byte >= 0x80. `option accept-invalid-http-request` lets '#' and bytes >= 0x80 in, and
# any version made of capitals, digits, '/' and '.' (RTSP/1.0, HTTP/1.10).
_REQ_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21\x22\x24-\x7e]+) (HTTP/1\.[01])\r?\n")
_REQ_LINE_RELAXED = re.compile(
    rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e\x80-\xff]+) ([A-Z0-9./]+)\r?\n"
)
_RESP_LINE = re.compile(rb"(HTTP/1\.[01]) ([0-9]{3})(?: ([^\r\n]*))?\r?\n")
_RESP_LINE_RELAXED = re.compile(rb"([A-Z0-9./]+) ([0-9]{3})(?: ([^\r\n]*))?\r?\n")
# With accept-invalid-http-request|response a header name is any bytes up to ':' (not
# empty, not starting with a blank: that would be a folded line). The character checks
# then run on a copy where each such name is replaced by `x`.
_ANY_NAME = re.compile(rb"\n[^:\r\n \t][^:\r\n]*:")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
# The common case in one pass: a head in CRLF form whose every byte is allowed, whose
# header lines are all `token:value` and whose start line is well formed. A head that
# matches passes every check `_scan_common` makes; anything else takes the full path.
_TOK = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"


def _fast_regexes(maxhdr: int) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """The one-pass head regexes; at most `maxhdr` header lines (tune.http.maxhdr), so
    a head with more fails them and the full scan refuses it."""
    fields = rb"(?:" + _TOK + rb":[\t\x20-\x7e\x80-\xff]*\r\n){0,%d}\r\n" % maxhdr
    req = re.compile(rb"(" + _TOK + rb") ([\x21\x22\x24-\x7e]+) (HTTP/1\.[01])\r\n" + fields)
    resp = re.compile(rb"(HTTP/1\.[01]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?\r\n" + fields)
    return req, resp


# Head limits, set once at start-up by `configure` (module globals: the parsers read
# them without any per-request lookup). HAProxy stores a head in a buffer of
# tune.bufsize bytes, tune.maxrewrite of which stay reserved for rewrites; how much a
# head takes there is `htx_size`. A head of at most `_FAST_MAX` raw bytes always fits,
# so only longer ones are measured.
DEFAULT_MAXHDR = 101
DEFAULT_MAXREWRITE = 1024
# what a head takes in HAProxy's buffer beyond its start-line parts and header fields
HTX_OVERHEAD = 85
HTX_PER_HEADER = 8
_MAXHDR = DEFAULT_MAXHDR
_HEAD_MAX = 16384 - DEFAULT_MAXREWRITE
_FAST_MAX = 0
_REQ_FAST, _RESP_FAST = _fast_regexes(DEFAULT_MAXHDR)
_TOKEN_SPLIT = re.compile(rb"[ \t]*,[ \t]*")
# longest chunk-size line (with extensions) accepted, about what fits HAProxy's buffer
MAX_CHUNK_LINE = 16384


class H1Error(Exception):
    """A message the proxy must refuse: `status` is the error to answer with
    (400 for requests, 502 for responses), `pos` where the problem was found."""

    def __init__(self, status: int, reason: str, pos: int = 0) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.pos = pos


def find_head_end(buf: bytes | bytearray, start: int = 0) -> int:
    """Index just past the blank line that ends a head, or -1 if not there yet."""
    i = buf.find(b"\r\n\r\n", start)
    if i >= 0 and buf.find(b"\n\n", start, i) < 0:
        return i + 4
    m = _HEAD_END.search(buf, start)
    return m.end() if m else -1


def head_limit(bufsize: int, maxrewrite: int | None = None) -> int:
    """The room a head has, as HAProxy 2.6 computes it: tune.bufsize rounded up to a
    multiple of 16, less tune.maxrewrite (1024 unless set, at most half the buffer)."""
    bufsize = (bufsize + 15) & ~15
    if maxrewrite is None:
        maxrewrite = DEFAULT_MAXREWRITE
    return bufsize - min(max(maxrewrite, 0), bufsize // 2)


def configure(
    bufsize: int = 16384, maxrewrite: int | None = None, maxhdr: int = DEFAULT_MAXHDR
) -> None:
    """Set the head limits for this process (once, when the state is built)."""
    global _MAXHDR, _HEAD_MAX, _FAST_MAX, _REQ_FAST, _RESP_FAST
    _HEAD_MAX = head_limit(bufsize, maxrewrite)
    # htx_size(raw) <= len(raw) + 82 + 6 per header line (LF line ends, no blanks)
    _FAST_MAX = _HEAD_MAX - HTX_OVERHEAD + 3 - (HTX_PER_HEADER - 2) * maxhdr
    if maxhdr != _MAXHDR:
        _REQ_FAST, _RESP_FAST = _fast_regexes(maxhdr)
        _MAXHDR = maxhdr


def htx_size(raw: bytes) -> int:
    """The bytes a head takes in HAProxy's buffer: a fixed overhead, the start line's
    parts, and per header field its name, its trimmed value and 8 bytes; the
    `close` / `keep-alive` tokens of Connection are not kept (measured against 2.6)."""
    lines = raw.split(b"\n")
    first = lines[0].rstrip(b"\r")
    size = HTX_OVERHEAD + len(first) - min(first.count(b" "), 2)
    for line in lines[1:]:
        line = line.rstrip(b"\r")
        if not line:
            break
        name, _, value = line.partition(b":")
        value = value.strip(b" \t")
        if name.lower() == b"connection":
            toks = [
                t for t in _TOKEN_SPLIT.split(value) if t.lower() not in (b"close", b"keep-alive")
            ]
            if not any(toks):
                continue
            value = b", ".join(toks)
        size += len(name) + len(value) + HTX_PER_HEADER
    return size


def _check_limits(raw: bytes, status: int) -> None:
    """Refuse a head with more than tune.http.maxhdr header lines, or one larger than
    HAProxy's buffer takes (tune.bufsize - tune.maxrewrite)."""
    if raw.count(b"\n") - 2 > _MAXHDR:
        raise H1Error(status, "too many headers", 0)
    if len(raw) > _FAST_MAX and htx_size(raw) > _HEAD_MAX:
        raise H1Error(status, "head too large", 0)


class Head:
    """What the proxy needs from a request or response head; the raw bytes stay in `raw`."""

    # Defaults live on the class: a new head only sets what differs (cheaper per message).
    method: bytes = b""
    uri: bytes = b""
    version: bytes = b"HTTP/1.1"
    status: int = 0
    reason: bytes = b""
    host: bytes | None = None
    content_length: int | None = None
    chunked: bool = False
    conn_close: bool = False
    conn_keepalive: bool = False
    conn_upgrade: bool = False
    upgrade: bytes | None = None
    expect_continue: bool = False
    cl_te: bool = False  # both Content-Length and Transfer-Encoding were sent
    _headers: list[tuple[bytes, bytes]] | None = None

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    @property
    def http10(self) -> bool:
        return self.version == b"HTTP/1.0"

    def headers(self) -> list[tuple[bytes, bytes]]:
        """All header fields (name as written, value trimmed), built on first use."""
        if self._headers is None:
            out = []
            lines = self.raw.split(b"\n")[1:]
            for line in lines:
                line = line.rstrip(b"\r")
                if not line:
                    break
                name, _, value = line.partition(b":")
                out.append((name, value.strip(b" \t")))
            self._headers = out
        return self._headers

    def get(self, lname: bytes) -> bytes | None:
        """The first value of a header (lower-case name), or None."""
        for name, value in self.headers():
            if name.lower() == lname:
                return value
        return None

    def get_all(self, lname: bytes) -> list[bytes]:
        return [v for n, v in self.headers() if n.lower() == lname]

    @property
    def path(self) -> bytes:
        uri = self.uri
        if uri[:1] != b"/" and b"://" in uri:
            # absolute form (proxies, some clients): let llhttp's URL parser find the path
            try:
                return httptools.parse_url(uri).path or b"/"
            except httptools.HttpParserInvalidURLError:
                rest = uri.split(b"://", 1)[1]
                slash = rest.find(b"/")
                uri = rest[slash:] if slash >= 0 else b"/"
        q = uri.find(b"?")
        return uri if q < 0 else uri[:q]

    @property
    def query(self) -> bytes | None:
        q = self.uri.find(b"?")
        return None if q < 0 else self.uri[q + 1 :]


def _scan_common(h: Head, raw: bytes, is_request: bool, relaxed: bool = False) -> None:
    status = 400 if is_request else 502
    _check_limits(raw, status)
    # relaxed (accept-invalid-http-*): header names are not checked, the rest is
    chk = _ANY_NAME.sub(b"\nx:", raw) if relaxed else raw
    if chk.translate(None, _GOOD_BYTES) or chk.count(b"\r") != chk.count(b"\r\n"):
        pos = next(
            (
                i
                for i, c in enumerate(chk)
                if c not in _GOOD_BYTES or (c == 13 and chk[i + 1 : i + 2] != b"\n")
            ),
            0,
        )
        raise H1Error(status, "invalid character in head", pos)
    m = _BAD_LINE.search(chk)
    if m:
        raise H1Error(status, "malformed header line", m.start() + 1)
    cl: int | None = None
    te_seen = False
    for m in _HOP.finditer(raw):
        name, value = m.groups()
        name = name.lower()
        value = value.rstrip(b" \t\r")
        if name == b"content-length":
            for part in _TOKEN_SPLIT.split(value) if b"," in value else (value,):
                if not part.isdigit() or len(part) > 18:
                    raise H1Error(status, "invalid content-length", m.start(2))
                v = int(part)
                if cl is not None and v != cl:
                    raise H1Error(status, "conflicting content-length", m.start(2))
                cl = v
        elif name == b"transfer-encoding":
            te_seen = True
            codings = [c.lower() for c in _TOKEN_SPLIT.split(value) if c]
            if h.chunked or not codings:
                # chunked applied twice, or an empty value
                raise H1Error(status, "invalid transfer-encoding", m.start(2))
            if b"chunked" in codings[:-1]:
                raise H1Error(status, "chunked is not the final coding", m.start(2))
            if is_request and codings != [b"chunked"]:
                # HAProxy refuses any request coding but chunked alone
                raise H1Error(status, "unsupported transfer-encoding", m.start(2))
            if codings[-1] == b"chunked":
                h.chunked = True
        elif name == b"connection":
            lv = value.lower()
            for tok in _TOKEN_SPLIT.split(lv) if b"," in lv else (lv,):
                if tok == b"close":
                    h.conn_close = True
                elif tok == b"keep-alive":
                    h.conn_keepalive = True
                elif tok == b"upgrade":
                    h.conn_upgrade = True
        elif name == b"host":
            if h.host is not None and is_request and h.host != value:
                raise H1Error(status, "several host headers", m.start(2))
            h.host = value
        elif name == b"upgrade":
            h.upgrade = value
        elif name == b"expect" and value.lower() == b"100-continue":
            h.expect_continue = True
    if te_seen:
        if is_request and h.version == b"HTTP/1.0":
            raise H1Error(status, "transfer-encoding in HTTP/1.0", 0)
        # Transfer-Encoding wins over Content-Length; the latter is dropped when forwarding.
        h.content_length = None
        if cl is not None:
            h.cl_te = True
            h._headers = None
            h.raw = drop_header(raw, b"content-length")
    else:
        h.content_length = cl


def drop_header(raw: bytes, lname: bytes) -> bytes:
    """`raw` without its `lname` header lines."""
    lines = raw.split(b"\n")
    keep = [lines[0]]
    for line in lines[1:]:
        if line.split(b":", 1)[0].strip().lower() == lname:
            continue
        keep.append(line)
    return b"\n".join(keep)


def _scan_fast(h: Head, raw: bytes) -> bool:
    """`_scan_common` for a head `_REQ_FAST`/`_RESP_FAST` matched, in the plain cases
    (single Host and Content-Length, `chunked` alone, single-token Connection); False
    when the head needs the full scan, which then decides (and refuses) exactly as before."""
    cl = None
    for name, value in _HOP.findall(raw):  # tuples, no match objects
        name = name.lower()
        value = value.rstrip(b" \t")
        if name == b"host":
            if h.host is not None:
                return False
            h.host = value
        elif name == b"content-length":
            if cl is not None or not value.isdigit() or len(value) > 18:
                return False
            cl = int(value)
        elif name == b"connection":
            lv = value.lower()
            if lv == b"keep-alive":
                h.conn_keepalive = True
            elif lv == b"close":
                h.conn_close = True
            elif lv == b"upgrade":
                h.conn_upgrade = True
            elif b"," in lv or not lv:
                return False
        elif name == b"transfer-encoding":
            if h.chunked or value.lower() != b"chunked":
                return False
            h.chunked = True
        elif name == b"upgrade":
            h.upgrade = value
        elif value.lower() == b"100-continue":  # expect
            h.expect_continue = True
    if h.chunked:
        if cl is not None or (h.version == b"HTTP/1.0" and h.method):
            return False  # Content-Length with Transfer-Encoding, or chunked in an HTTP/1.0 request
    elif cl is not None:
        h.content_length = cl
    return True


def parse_request_head(raw: bytes, relaxed: bool = False) -> Head:
    """Parse a complete request head (ending with its blank line); `relaxed`: the
    frontend has `option accept-invalid-http-request`."""
    h = parse_plain_request(raw)
    return h if h is not None else _parse_request_full(raw, relaxed)


def parse_plain_request(data: bytes) -> Head | None:
    """`data` as one plain request head and nothing else (the usual read), or None.

    A head `_REQ_FAST` matches has no blank line before its end, so where it matches
    all of `data`, `find_head_end(data) == len(data)`: the caller need not look for
    the end first. None: anything else (several messages, a partial head, a head
    needing the full scan or refused); `parse_request_head` then decides as before."""
    if len(data) > _FAST_MAX:
        return None  # maybe too large: measured by the full scan
    m = _REQ_FAST.fullmatch(data)
    if m is None:
        return None
    h = Head(data)
    h.method, h.uri, h.version = m.groups()
    return h if _scan_fast(h, data) else None


def _parse_request_full(raw: bytes, relaxed: bool = False) -> Head:
    m = (_REQ_LINE_RELAXED if relaxed else _REQ_LINE).match(raw)
    if m is None:
        raise H1Error(400, "invalid request line", 0)
    if not raw.endswith(b"\r\n\r\n"):
        raw = _crlf(raw)
    h = Head(raw)
    h.method, h.uri, h.version = m.group(1), m.group(2), m.group(3)
    _scan_common(h, raw, True, relaxed)
    # (an HTTP/1.1 request without Host is let through, as HAProxy 2.6 does)
    return h


def _crlf(raw: bytes) -> bytes:
    """A head written with bare LF line ends, rewritten with CRLF (as HAProxy emits)."""
    return b"\r\n".join(line.rstrip(b"\r") for line in raw.split(b"\n"))


def parse_response_head(raw: bytes, relaxed: bool = False) -> Head:
    """Parse a complete response head; `relaxed`: the backend has
    `option accept-invalid-http-response`."""
    m = _RESP_FAST.fullmatch(raw) if len(raw) <= _FAST_MAX else None
    if m is not None:
        h = _plain_response(m, raw)
        if h is not None:
            return h
    return _parse_response_full(raw, relaxed)


def parse_plain_response(data: bytes) -> Head | None:
    """The plain response head `data` starts with (the usual read: a head, maybe some
    body), or None. Its end is `len(head.raw)`: a head `_RESP_FAST` matches has no
    blank line before its end, so that is where `find_head_end(data)` would find it.
    None: anything else; the caller then takes the general path, which decides as before."""
    m = _RESP_FAST.match(data)
    if m is None:
        return None
    end = m.end()
    if end > _FAST_MAX:
        return None  # maybe too large: measured by the full scan
    return _plain_response(m, data if end == len(data) else data[:end])


def _plain_response(m: re.Match, raw: bytes) -> Head | None:
    h = Head(raw)
    version, status, reason = m.groups()
    h.status = int(status)
    if version != b"HTTP/1.1":
        h.version = version
    if reason:
        h.reason = reason
    return h if _scan_fast(h, raw) else None


def _parse_response_full(raw: bytes, relaxed: bool = False) -> Head:
    m = (_RESP_LINE_RELAXED if relaxed else _RESP_LINE).match(raw)
    if m is None:
        raise H1Error(502, "invalid status line", 0)
    h = Head(raw)
    h.version = m.group(1)
    h.status = int(m.group(2))
    h.reason = m.group(3) or b""
    _scan_common(h, raw, False, relaxed)
    return h


def request_keeps_alive(h: Head) -> bool:
    if h.version == b"HTTP/1.1":
        return not h.conn_close
    return h.conn_keepalive and not h.conn_close


def response_has_body(status: int, method: bytes) -> bool:
    return not (method == b"HEAD" or 100 <= status < 200 or status in (204, 304))


class ChunkedReader:
    """Walks a chunked body to find where it ends, without copying it; when asked,
    hands out the payload (`feed`'s `payload` list) and keeps the trailer fields."""

    __slots__ = ("state", "left", "line", "trailers")

    SIZE, DATA, DATA_CRLF, TRAILER, DONE = range(5)

    def __init__(self, keep_trailers: bool = False) -> None:
        self.state = self.SIZE
        self.left = 0
        self.line = b""
        self.trailers: bytes | None = b"" if keep_trailers else None

    def feed(
        self,
        data: bytes | bytearray | memoryview,
        pos: int = 0,
        payload: list[bytes] | None = None,
    ) -> tuple[int, bool]:
        """Consume from `pos`; return (position after what was consumed, finished).
        With `payload`, the chunk data found is appended to it."""
        if isinstance(data, memoryview):
            data = data.tobytes()
        n = len(data)
        while pos < n:
            st = self.state
            if st == self.DATA:
                take = min(self.left, n - pos)
                if payload is not None:
                    payload.append(bytes(data[pos : pos + take]))
                pos += take
                self.left -= take
                if self.left == 0:
                    self.state = self.DATA_CRLF
                continue
            nl = data.find(b"\n", pos, min(n, pos + MAX_CHUNK_LINE + 1))
            if nl < 0:
                self.line += bytes(data[pos:n])
                if len(self.line) > MAX_CHUNK_LINE:
                    raise H1Error(400, "chunk line too long", pos)
                return n, False
            line = self.line + bytes(data[pos:nl])
            self.line = b""
            if len(line) > MAX_CHUNK_LINE + 1:
                raise H1Error(400, "chunk line too long", pos)
            pos = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if st == self.SIZE:
                size_txt = line.split(b";", 1)[0].strip(b" \t")
                if not size_txt or len(size_txt) > 15:
                    raise H1Error(400, "invalid chunk size", pos)
                try:
                    size = int(size_txt, 16)
                except ValueError:
                    raise H1Error(400, "invalid chunk size", pos) from None
                if not all(c in b"0123456789abcdefABCDEF" for c in size_txt):
                    raise H1Error(400, "invalid chunk size", pos)
                if size == 0:
                    self.state = self.TRAILER
                else:
                    self.left = size
                    self.state = self.DATA
            elif st == self.DATA_CRLF:
                if line:
                    raise H1Error(400, "missing CRLF after chunk", pos)
                self.state = self.SIZE
            elif st == self.TRAILER:
                if not line:
                    self.state = self.DONE
                    return pos, True
                if self.trailers is not None:
                    self.trailers += line + b"\r\n"
        return pos, self.state == self.DONE


configure()
