"""HTTP response compression (`compression algo|type|offload`), through real sockets,
and compared with a real HAProxy 2.6 when one is installed."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from itest import (
    HOST,
    Reader,
    Resp,
    connect,
    free_port,
    haproxy_serving,
    http_cfg,
    run_haproxy_check,
    run_lb,
)

pytestmark = pytest.mark.timeout(30)

ALGOS = "    compression algo gzip deflate\n"


# ---------------------------------------------------------------- a backend with chosen headers


class HeaderServer:
    """Keep-alive HTTP/1.1 server whose response is chosen by the query string:
    `ct` Content-Type (`noct=1`: none), `ce` Content-Encoding, `etag`, `cc`
    Cache-Control, `status`, `rep` (the body is `hello world ` that many times),
    `chunked=1`. Path `/headers` answers with the request head it received."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.heads: list[bytes] = []
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket) -> None:
        c.settimeout(10)
        buf = b""
        with contextlib.suppress(OSError, ValueError):
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                self.heads.append(head)
                method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
                u = urlsplit(target)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                if u.path == "/headers":
                    body = head + b"\r\n\r\n"
                else:
                    body = b"hello world " * int(q.get("rep", "50"))
                status = int(q.get("status", "200"))
                lines = [f"HTTP/1.1 {status} OK"]
                if "noct" not in q:
                    lines.append("Content-Type: " + q.get("ct", "text/plain"))
                for key, name in (
                    ("ce", "Content-Encoding"),
                    ("etag", "ETag"),
                    ("cc", "Cache-Control"),
                ):
                    if key in q:
                        lines.append(f"{name}: {q[key]}")
                chunked = q.get("chunked") == "1"
                no_body = status in (204, 304)
                if no_body:
                    body = b""
                elif chunked:
                    lines.append("Transfer-Encoding: chunked")
                else:
                    lines.append(f"Content-Length: {len(body)}")
                out = ("\r\n".join(lines) + "\r\n\r\n").encode()
                if method != "HEAD" and not no_body:
                    if chunked:
                        for i in range(0, len(body), 1000):
                            part = body[i : i + 1000]
                            out += b"%x\r\n%s\r\n" % (len(part), part)
                        out += b"0\r\n\r\n"
                    else:
                        out += body
                c.sendall(out)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        self._thread.join(2)


@pytest.fixture
def hserver() -> Iterator[HeaderServer]:
    s = HeaderServer()
    yield s
    s.close()


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[Callable[[str, int], None]]:
    """`haproxy(cfg_text, port)`: a real haproxy on that configuration, stopped by pid
    when the test ends."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed")
    with contextlib.ExitStack() as stack:

        def start(cfg: str, port: int) -> None:
            path = tmp_path / "haproxy.cfg"
            path.write_text(cfg)
            stack.enter_context(haproxy_serving(path, [port]))

        yield start


# ---------------------------------------------------------------- helpers


def exchange(
    port: int, path: str, headers: str = "", method: str = "GET", version: str = "1.1"
) -> Resp:
    raw = f"{method} {path} HTTP/{version}\r\nHost: t\r\n{headers}Connection: close\r\n\r\n"
    with connect(port) as s:
        s.sendall(raw.encode())
        return Reader(s).response(method)


def decoded(r: Resp) -> bytes:
    enc = (r.header("content-encoding") or "").lower()
    if enc == "gzip":
        return zlib.decompress(r.body, 31)
    if enc == "deflate":
        return zlib.decompress(r.body)
    return r.body


def names(r: Resp) -> list[str]:
    return [n.lower() for n, _ in r.headers]


def start_lb(lb: Callable, server_port: int, extra_fe: str = ALGOS, extra_be: str = "") -> int:
    port = free_port()
    lb(http_cfg(port, f"    server s1 {HOST}:{server_port}\n", extra_fe, extra_be))
    return port


BODY = b"hello world " * 50


# ---------------------------------------------------------------- behaviour


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("gzip;q=0.5, deflate", "deflate"),
        ("br, GZIP", "gzip"),
        ("*", "deflate"),  # the last algorithm written is tried first, as HAProxy does
    ],
)
def test_negotiated(lb, hserver, accept, encoding):
    port = start_lb(lb, hserver.port)
    r = exchange(port, "/?etag=%22v1%22", f"Accept-Encoding: {accept}\r\n")
    assert r.status == 200
    assert r.header("content-encoding") == encoding
    assert r.header("vary") == "Accept-Encoding"
    assert r.header("transfer-encoding") == "chunked"
    assert r.header("content-length") is None
    assert r.header("etag") == 'W/"v1"'
    assert decoded(r) == BODY
    assert len(r.body) < len(BODY)


@pytest.mark.parametrize(
    ("path", "headers", "method", "version"),
    [
        ("/", "", "GET", "1.1"),  # no Accept-Encoding
        ("/", "Accept-Encoding: br\r\n", "GET", "1.1"),
        ("/", "Accept-Encoding: gzip;q=0\r\n", "GET", "1.1"),
        ("/?ct=image/png", "Accept-Encoding: gzip\r\n", "GET", "1.1"),  # not a listed type
        ("/?noct=1", "Accept-Encoding: gzip\r\n", "GET", "1.1"),
        ("/?ce=br", "Accept-Encoding: gzip\r\n", "GET", "1.1"),  # already encoded
        ("/?cc=public,%20no-transform", "Accept-Encoding: gzip\r\n", "GET", "1.1"),
        ("/?etag=bad", "Accept-Encoding: gzip\r\n", "GET", "1.1"),
        ("/?status=404", "Accept-Encoding: gzip\r\n", "GET", "1.1"),
        ("/?status=206", "Accept-Encoding: gzip\r\n", "GET", "1.1"),
        ("/?rep=0", "Accept-Encoding: gzip\r\n", "GET", "1.1"),
        ("/", "Accept-Encoding: gzip\r\n", "GET", "1.0"),
        (
            "/",
            "Accept-Encoding: gzip\r\nUser-Agent: Mozilla/4.0 (compatible; MSIE 5.5)\r\n",
            "GET",
            "1.1",
        ),
    ],
)
def test_untouched(lb, hserver, path, headers, method, version):
    port = start_lb(lb, hserver.port, ALGOS + "    compression type text/plain text/html\n")
    r = exchange(port, path, headers, method, version)
    assert r.header("content-encoding") in (None, "br")
    assert "vary" not in names(r)
    assert r.header("content-length") == str(len(r.body))
    assert r.body == (b"" if "rep=0" in path else BODY)


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_untouched(lb, hserver, status):
    port = start_lb(lb, hserver.port)
    r = exchange(port, f"/?status={status}", "Accept-Encoding: gzip\r\n")
    assert r.status == status
    assert r.header("content-encoding") is None and "vary" not in names(r)


def test_head_untouched(lb, hserver):
    port = start_lb(lb, hserver.port)
    r = exchange(port, "/", "Accept-Encoding: gzip\r\n", method="HEAD")
    assert r.status == 200
    assert r.header("content-length") == str(len(BODY))
    assert r.header("content-encoding") is None and r.body == b""


def test_type_matches_by_prefix(lb, hserver):
    port = start_lb(lb, hserver.port, ALGOS + "    compression type text/html\n")
    r = exchange(port, "/?ct=Text/HTML;%20charset=utf-8", "Accept-Encoding: gzip\r\n")
    assert r.header("content-encoding") == "gzip"
    assert decoded(r) == BODY


def test_chunked_upstream(lb, hserver):
    port = start_lb(lb, hserver.port)
    r = exchange(port, "/?chunked=1&rep=3000", "Accept-Encoding: gzip\r\n")
    assert r.header("content-encoding") == "gzip"
    assert [n for n in names(r) if n == "transfer-encoding"] == ["transfer-encoding"]
    assert decoded(r) == b"hello world " * 3000


@pytest.mark.parametrize("chunked", ["0", "1"])
def test_big_body_streamed(lb, backend, chunked):
    b = backend()
    port = start_lb(lb, b.port)
    size = 8_000_000
    d = zlib.decompressobj(31)
    got = 0
    chunks = 0

    def sink(data: bytes) -> None:
        nonlocal got, chunks
        chunks += 1
        out = d.decompress(data)
        assert out.count(b"x") == len(out)
        got += len(out)

    raw = f"GET /big?size={size}&chunked={chunked} HTTP/1.1\r\nHost: t\r\n"
    raw += "Accept-Encoding: gzip\r\n\r\n"
    with connect(port, timeout=20) as s:
        s.sendall(raw.encode())
        r = Reader(s).response(sink=sink)
    got += len(d.flush())
    assert r.header("content-encoding") == "gzip"
    assert got == size
    assert d.eof
    assert chunks > 1  # sent as it came, not as one block


def test_keepalive_continues_after_compressed_responses(lb, hserver):
    port = start_lb(lb, hserver.port)
    with connect(port) as s:
        rd = Reader(s)
        for path, enc in (
            ("/?rep=2000", "gzip"),
            ("/?chunked=1&rep=2500", "gzip"),
            ("/?ce=br", "br"),
            ("/?rep=10", "gzip"),
        ):
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n".encode())
            r = rd.response()
            assert r.status == 200 and r.header("content-encoding") == enc
            if enc == "gzip":
                rep = int(re.search(r"rep=(\d+)", path).group(1))  # type: ignore[union-attr]
                assert decoded(r) == b"hello world " * rep
        assert rd.buf == b""
    assert len(hserver.heads) == 4


def test_offload_strips_accept_encoding(lb, hserver):
    port = start_lb(lb, hserver.port, ALGOS + "    compression offload\n")
    r = exchange(port, "/headers", "Accept-Encoding: gzip\r\nAccept-Encoding: br\r\nX-A: 1\r\n")
    assert r.header("content-encoding") == "gzip"
    seen = decoded(r).lower()
    assert b"accept-encoding" not in seen and b"x-a: 1" in seen
    # a client naming no configured algorithm keeps its header
    r = exchange(port, "/headers", "Accept-Encoding: br\r\n")
    assert b"accept-encoding: br" in r.body.lower()
    assert r.header("content-encoding") is None


def test_backend_settings_win(lb, hserver):
    port = free_port()
    cfg = http_cfg(
        port,
        f"    server s1 {HOST}:{hserver.port}\n",
        "    compression algo gzip\n",
        "    compression algo deflate\n",
    )
    lb(cfg)
    assert exchange(port, "/", "Accept-Encoding: gzip\r\n").header("content-encoding") is None
    r = exchange(port, "/", "Accept-Encoding: gzip, deflate\r\n")
    assert r.header("content-encoding") == "deflate" and decoded(r) == BODY


def test_identity_and_raw_deflate(lb, hserver):
    port = start_lb(lb, hserver.port, "    compression algo identity raw-deflate\n")
    r = exchange(port, "/")  # identity needs no header: chunked, Vary, no encoding
    assert r.header("transfer-encoding") == "chunked" and r.header("vary") == "Accept-Encoding"
    assert r.header("content-encoding") is None and r.body == BODY
    r = exchange(port, "/", "Accept-Encoding: deflate\r\n")
    assert r.header("content-encoding") == "deflate"
    assert zlib.decompress(r.body, -15) == BODY


def test_defaults_inherited_and_fetches(lb, hserver):
    port = free_port()
    defaults = (
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n"
        "    timeout server 5s\n    compression algo gzip\n"
    )
    cfg = http_cfg(
        port,
        f"    server s1 {HOST}:{hserver.port}\n",
        "    http-after-response set-header X-Comp %[res.comp]/%[res.comp_algo]\n",
        defaults=defaults,
    )
    lb(cfg)
    r = exchange(port, "/", "Accept-Encoding: gzip\r\n")
    assert r.header("content-encoding") == "gzip" and r.header("x-comp") == "1/gzip"
    r = exchange(port, "/")
    assert r.header("x-comp") == "0/"


def _stat(sock: Path) -> dict[str, dict[str, str]]:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    lines = data.decode().splitlines()
    cols = lines[0][2:].split(",")
    rows = {}
    for ln in lines[1:]:
        if ln:
            v = dict(zip(cols, ln.split(","), strict=False))
            rows[v["pxname"] + "/" + v["svname"]] = v
    return rows


def test_stat_counters(lb, hserver, tmp_path):
    port = free_port()
    sock = tmp_path / "stats.sock"
    cfg = http_cfg(port, f"    server s1 {HOST}:{hserver.port}\n", ALGOS)
    cfg = cfg.replace("global\n", f"global\n    stats socket {sock} level admin\n", 1)
    lb(cfg)
    exchange(port, "/", "Accept-Encoding: gzip\r\n")  # 600 bytes in
    exchange(port, "/")  # not compressed
    exchange(port, "/?chunked=1&rep=1", "Accept-Encoding: gzip\r\n")  # 12 (+1: chunked end)
    rows = _stat(sock)
    for key in ("fe/FRONTEND", "be/BACKEND"):
        row = rows[key]
        assert row["comp_in"] == "613", row
        assert row["comp_rsp"] == "2" and row["comp_byp"] == "0"
        assert 0 < int(row["comp_out"]) < 613


# ---------------------------------------------------------------- against HAProxy


CASES = [
    ("/?etag=%22a%22", "Accept-Encoding: gzip\r\n"),
    ("/?chunked=1&rep=400", "Accept-Encoding: deflate, gzip\r\n"),
    ("/", "Accept-Encoding: *\r\n"),
    ("/", ""),
    ("/?ct=image/png", "Accept-Encoding: gzip\r\n"),
    ("/?ce=br", "Accept-Encoding: gzip\r\n"),
    ("/?cc=no-transform", "Accept-Encoding: gzip\r\n"),
    ("/?noct=1", "Accept-Encoding: gzip\r\n"),
    ("/?rep=0&chunked=1", "Accept-Encoding: gzip\r\n"),
    ("/headers?ct=text/html", "Accept-Encoding: gzip\r\n"),
    ("/headers?ct=text/html", "Accept-Encoding: br\r\n"),
]


def test_same_as_haproxy(lb, hserver, haproxy):
    extra = ALGOS + "    compression type text/ application/json\n    compression offload\n"
    hport, lport = free_port(), free_port()
    server = f"    server s1 {HOST}:{hserver.port}\n"
    haproxy(http_cfg(hport, server, extra).replace("    log stderr format raw local0\n", ""), hport)
    lb(http_cfg(lport, server, extra))
    for path, headers in CASES:
        want = exchange(hport, path, headers)
        got = exchange(lport, path, headers)
        assert (got.status, names(got)) == (want.status, names(want)), (path, headers)
        for name in ("content-encoding", "vary", "etag", "transfer-encoding"):
            assert got.header(name) == want.header(name), (path, name)
        body_got, body_want = decoded(got), decoded(want)
        if path.startswith("/headers"):  # what the server saw: Accept-Encoding or not
            assert (b"accept-encoding" in body_got.lower()) == (
                b"accept-encoding" in body_want.lower()
            ), path
        else:
            assert body_got == body_want, path


# ---------------------------------------------------------------- configuration


_HEAD = (
    "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
    "    timeout connect 1s\n"
)
BAD = [
    ("compression algo br", "'compression' : 'br' is not a supported algorithm."),
    ("compression algo gzip lzma", "'compression' : 'lzma' is not a supported algorithm."),
    ("compression algo", "parsing [{cfg}:8] : 'compression' expects <algorithm>."),
    ("compression type", "'compression' expects <type>."),
    ("compression", "'compression' expects 'algo', 'type' or 'offload'"),
    ("compression algo-res gzip", "'compression' expects 'algo', 'type' or 'offload'"),
]


def _alert(stderr: str) -> str:
    for ln in stderr.splitlines():
        m = re.match(r"\[ALERT\] +\(\d+\) : config : (parsing \[.*)$", ln)
        if m:
            return m.group(1)
    return ""


@pytest.mark.parametrize(("line", "msg"), BAD, ids=[b[0] for b in BAD])
def test_config_errors(tmp_path, line, msg):
    cfg = tmp_path / "c.cfg"
    cfg.write_text(_HEAD + f"frontend fe\n    bind {HOST}:1\n    {line}\n")
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 1, r.stderr
    alert = _alert(r.stderr)
    assert alert == f"parsing [{cfg}:8] : " + msg.format(cfg=cfg), r.stderr
    if (h := run_haproxy_check(cfg)) is not None:
        assert h.returncode != 0
        assert _alert(h.stdout + h.stderr) == alert


def test_config_valid_and_offload_in_defaults_warns(tmp_path):
    cfg = tmp_path / "c.cfg"
    cfg.write_text(
        _HEAD
        + "    compression offload\n    compression algo gzip\n"
        + f"frontend fe\n    bind {HOST}:1\n"
        + "    compression algo identity gzip deflate raw-deflate\n"
        + "    compression type text/html text/plain\n    compression offload\n"
        + "    default_backend be\nbackend be\n    compression type application/json\n"
        + f"    server s1 {HOST}:2\n"
    )
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 0, r.stderr
    warn = f"parsing [{cfg}:6] : 'compression' : 'offload' ignored in 'defaults' section."
    assert warn in r.stderr
    if (h := run_haproxy_check(cfg)) is not None:
        assert h.returncode == 0 and warn in h.stdout + h.stderr
