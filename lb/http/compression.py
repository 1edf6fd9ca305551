"""HTTP response compression: the `compression` keyword and its work on responses.

Configuration: `compression algo|type|offload` lines of a proxy (and of the
defaults it starts from) are checked when read and kept as rules; at start-up
`build_proxy` turns them into three attributes: `comp_algos` (tried in the
reverse order of the lines, as HAProxy does), `comp_types` (lower-case
Content-Type prefixes) and `comp_offload`. A stream uses the backend's
algorithms if it lists some, else the frontend's; the same for the types.

Cost when nothing is configured: `finish` sets `comp_any` on every frontend
(True only when it or some backend has algorithms); the server side tests that
one attribute per response and calls `on_head` only when it is set. Offload
wraps the router of the frontends concerned, so others pay nothing for it.

A response is compressed when the request chose an algorithm (Accept-Encoding
with q-values and `*`, or `identity` listed in the configuration) and the
response qualifies: status 200-203, request and response in HTTP/1.1, a body
framed by a non-zero Content-Length or chunked encoding, no Content-Encoding,
no `Cache-Control: no-transform`, no malformed or repeated ETag, not
multipart, and a Content-Type that starts with a configured type (when types
are configured). The head then loses Content-Length, becomes chunked, gets its
strong ETag turned weak, and `vary: Accept-Encoding` plus `content-encoding`
appended; the body is compressed as it arrives, each read flushed as one
chunk (nothing is buffered beyond what zlib keeps).
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from lb.http.h1 import ChunkedReader, H1Error, Head

# configuration name -> (name in Accept-Encoding / Content-Encoding, zlib wbits or None)
ALGOS: dict[str, tuple[bytes, int | None]] = {
    "identity": (b"identity", None),
    "gzip": (b"gzip", 31),
    "deflate": (b"deflate", 15),
    "raw-deflate": (b"deflate", -15),
}
LEVEL = 1  # HAProxy's default `tune.comp.maxlevel`
B_LENGTH, B_CHUNKED = 1, 2  # lb.http.back's body modes (it imports this module)

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]*")
_ETAG = re.compile(rb'(?:W/)?"[^"]*"\Z')


# ------------------------------------------------------------------ configuration


def check_keyword(kind: str, words: list[str], where: str) -> tuple[str | None, str | None]:
    """Check a `compression` line written at `where`: (error, warning), each the alert
    body that follows `parsing [file:line] : ` (HAProxy repeats that prefix once)."""
    sub = words[1] if len(words) > 1 else ""
    args = words[2:]
    if sub == "algo":
        if not args:
            return f"parsing [{where}] : 'compression' expects <algorithm>.", None
        for a in args:
            if a not in ALGOS:
                return f"'compression' : '{a}' is not a supported algorithm.", None
        return None, None
    if sub == "type":
        if not args:
            return "'compression' expects <type>.", None
        return None, None
    if sub == "offload":
        if kind == "defaults":
            return None, "'compression' : 'offload' ignored in 'defaults' section."
        return None, None
    return "'compression' expects 'algo', 'type' or 'offload'", None


class Algo:
    __slots__ = ("name", "token", "wbits", "level")

    def __init__(self, name: str, level: int) -> None:
        self.name = name
        self.token, self.wbits = ALGOS[name]
        self.level = level


def build_proxy(p: Any) -> None:
    """Set `comp_algos`, `comp_types` and `comp_offload` on a live proxy."""
    algos: list[Algo] = []
    types: list[bytes] = []
    offload = False
    level = int(p.state.cfg.global_.tune.get("comp.maxlevel", LEVEL))
    for r in p.conf.extra.get("compression", ()):
        words = r.words
        if words[0] == "algo":
            algos.extend(Algo(a, level) for a in words[1:])
        elif words[0] == "type":
            types.extend(t.lower().encode("latin-1") for t in words[1:])
        elif words[0] == "offload":
            offload = True
    algos.reverse()  # the last one written is tried first
    http = p.mode == "http"
    p.comp_algos = algos if http else []
    p.comp_types = types if http else []
    p.comp_offload = offload and http


def finish(proxies: list[Any]) -> None:
    """Once every proxy is built: which frontends may compress or offload at all. A
    frontend that may offload gets its router wrapped (others are left as they are)."""
    any_algos = any(q.comp_algos for q in proxies if q.is_backend)
    any_offload = any(q.comp_offload for q in proxies if q.is_backend)
    for p in proxies:
        p.comp_any = bool(p.comp_algos) or any_algos
        p.comp_offload_any = p.comp_offload or any_offload
        if p.is_frontend and p.mode == "http" and p.comp_any and p.comp_offload_any:
            p.route = _offloading_router(p, p.route)


def _offloading_router(fe: Any, route: Any) -> Any:
    def routed(st: Any, head: Head) -> Any:
        be = route(st, head)
        if be is not None and (fe.comp_offload or be.comp_offload):
            offload(st, head, fe, be)
        return be

    return routed


# ------------------------------------------------------------------ request side


def _qvalue(text: bytes) -> int:
    """A q-value in thousandths (anything unreadable counts as 1)."""
    if not text[:1].isdigit():
        return 1000
    q = (text[0] - 48) * 1000
    if text[1:2] == b".":
        scale = 100
        for c in text[2:5]:
            if not 48 <= c <= 57:
                break
            q += (c - 48) * scale
            scale //= 10
    return min(q, 1000)


def _old_agent(head: Head) -> bool:
    """Old browsers announcing `Mozilla/4` mishandle compressed responses, except
    MSIE 6 with SP2 (`SV1`) and later MSIE versions."""
    ua = head.get(b"user-agent")
    if ua is None or not ua.startswith(b"Mozilla/4"):
        return False
    return (
        len(ua) < 31
        or b"MSIE" not in ua
        or ua[30] < 54
        or (ua[30] == 54 and b"sv1" not in ua.lower())
    )


def select(head: Head, algos: list[Algo]) -> tuple[Algo | None, bool]:
    """The algorithm for a request: (algo or None, chosen from Accept-Encoding)."""
    if _old_agent(head):
        return None, False
    best: Algo | None = None
    best_q = 0
    for value in head.get_all(b"accept-encoding"):
        for item in value.split(b","):
            item = item.strip(b" \t")
            if not item:
                continue
            tok = _TOKEN.match(item).group()  # type: ignore[union-attr]
            q = 1000
            for param in item[len(tok) :].split(b";")[1:]:
                param = param.strip(b" \t")
                if param[:2] == b"q=":
                    q = _qvalue(param[2:])
                    break
            if q <= best_q:
                continue
            ltok = tok.lower()
            for a in algos:
                if item[:1] == b"*" or ltok == a.token:
                    best, best_q = a, q
                    break
    if best is not None:
        return best, True
    for a in algos:
        if a.name == "identity":  # implicit: needs no header
            return a, False
    return None, False


def offload(st: Any, head: Head, fe: Any, be: Any) -> None:
    """`compression offload`, once the backend is known: the algorithm is chosen now and
    kept on the stream, and when the client named it the request head (as every later
    step reads and forwards it) loses its Accept-Encoding lines."""
    algos = be.comp_algos or fe.comp_algos
    if not algos:
        return
    algo, named = select(head, algos)
    st.comp_sel = (algo,)
    if named:
        lines = head.raw.split(b"\n")
        kept = [
            ln for ln in lines[1:] if ln.split(b":", 1)[0].strip().lower() != b"accept-encoding"
        ]
        head.raw = b"\n".join(lines[:1] + kept)
        head._headers = None


# ------------------------------------------------------------------ response side


class Compressor:
    """One response body being compressed: its framing in, the zlib state out."""

    __slots__ = ("algo", "z", "left", "dechunk", "counters")

    def __init__(self, algo: Algo, left: int, chunked: bool, counters: tuple) -> None:
        self.algo = algo
        wbits = algo.wbits
        self.z = None if wbits is None else zlib.compressobj(algo.level, zlib.DEFLATED, wbits)
        self.left = left
        self.dechunk = ChunkedReader(keep_trailers=True) if chunked else None
        self.counters = counters

    def run(self, payload: bytes, end: bool, trailers: bytes = b"") -> bytes:
        """The chunks to send for `payload` (and the last chunk when `end`)."""
        z = self.z
        if z is None:
            out = payload
        else:
            out = z.compress(payload) if payload else b""
            out += z.flush(zlib.Z_FINISH if end else zlib.Z_SYNC_FLUSH) if payload or end else b""
        n_in = len(payload)
        n_out = len(out)
        for c in self.counters:
            c.comp_in += n_in
            c.comp_out += n_out
        data = b"%x\r\n%s\r\n" % (n_out, out) if n_out else b""
        if end:
            data += b"0\r\n" + trailers + b"\r\n"
        return data


def _headers_ok(head: Head, types: list[bytes]) -> bool:
    if head.get(b"content-encoding") is not None:
        return False
    for v in head.get_all(b"cache-control"):
        if any(w.strip(b" \t").lower() == b"no-transform" for w in v.split(b",")):
            return False
    etags = head.get_all(b"etag")
    if etags and (len(etags) > 1 or not _ETAG.match(etags[0])):
        return False
    ct = head.get(b"content-type")
    if ct is None:
        return not types
    lct = ct.lower()
    if lct.startswith(b"multipart"):
        return False
    return not types or any(lct.startswith(t) for t in types)


def on_head(back: Any, front: Any, head: Head, raw: bytes, chunked_mode: int) -> bytes:
    """Decide whether this response is compressed; if so, set up `back.comp`, switch
    `back.mode` to `chunked_mode` and return the edited head (else `raw`)."""
    mode = back.mode
    if mode == B_LENGTH:
        if not head.content_length:
            return raw
    elif mode != B_CHUNKED:
        return raw
    if not 200 <= head.status <= 203 or head.version != b"HTTP/1.1" or front.http10:
        return raw
    st = front.stream
    req = st.head if st is not None else None
    if req is None:
        return raw
    fe, be = front.frontend, front.backend
    algos = be.comp_algos or fe.comp_algos
    if not algos:
        return raw
    sel = st.comp_sel  # (chosen at routing when offloading)
    algo = sel[0] if sel is not None else select(req, algos)[0]
    if algo is None or not _headers_ok(head, be.comp_types or fe.comp_types):
        return raw
    counters = (fe.fe_counters, be.be_counters)
    back.comp = Compressor(algo, back.left, mode == B_CHUNKED, counters)
    back.mode = chunked_mode
    st.comp_algo = algo.name
    new = _edit_head(raw, mode == B_CHUNKED, algo)
    head.raw = new
    head._headers = None
    return new


def _edit_head(raw: bytes, chunked: bool, algo: Algo) -> bytes:
    lines = raw.split(b"\n")  # (a head may end its lines with LF alone; CRLF goes out)
    out = [lines[0].rstrip(b"\r")]
    for ln in lines[1:]:
        ln = ln.rstrip(b"\r")
        if not ln:
            continue
        name, _, value = ln.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            continue
        if lname == b"etag" and value.strip(b" \t")[:1] == b'"':
            ln = name + b": W/" + value.strip(b" \t")
        out.append(ln)
    if not chunked:
        out.append(b"transfer-encoding: chunked")
    out.append(b"vary: Accept-Encoding")
    if algo.name != "identity":
        out.append(b"content-encoding: " + algo.token)
    out.append(b"")
    out.append(b"")
    return b"\r\n".join(out)


def feed(back: Any, data: bytes, pos: int) -> None:
    """Body bytes from the server (from `pos`): compress and forward them."""
    comp: Compressor = back.comp
    front = back.front
    dechunk = comp.dechunk
    trailers = b""
    if dechunk is None:
        n = len(data) - pos
        take = n if n <= comp.left else comp.left
        payload = data[pos : pos + take] if (pos or take != len(data)) else data
        comp.left -= take
        if take < n:
            back.reusable = False  # bytes after the body
        end = comp.left == 0
    else:
        parts: list[bytes] = []
        try:
            after, end = dechunk.feed(data, pos, parts)
        except H1Error:
            back.reusable = False
            back.comp = None
            front.abort_from_server()
            return
        payload = b"".join(parts)
        if end:
            trailers = dechunk.trailers or b""
            if after < len(data):
                back.reusable = False
    out = comp.run(payload, end, trailers)
    if out:
        front.send_from_server(out)
    if end:
        back.comp = None
        for c in comp.counters:
            c.comp_rsp += 1
            if dechunk is not None:
                c.comp_in += 1  # HAProxy counts one more byte for a chunked message's end
        if back.front is not None:
            back._done()
