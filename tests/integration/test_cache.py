"""The HTTP cache (`cache` section, `http-request cache-use`, `http-response
cache-store`, `show cache`), through real sockets, and compared with a real
HAProxy 2.6 when one is installed."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from itest import HOST, free_port, haproxy_serving, run_lb, wait_until

pytestmark = pytest.mark.timeout(60)


class QueryServer:
    """Keep-alive HTTP/1.1 server whose response follows the query string: `cc`
    Cache-Control, `exp` Expires, `vary`, `sc` Set-Cookie, `etag`, `age`, `status`,
    `rep` (body: `hello world ` that many times), `chunked=1`, `nolen=1` (ends by close).
    `count` is the number of requests it answered."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(32)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.count = 0
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
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                n = int(m.group(1)) if m else 0
                while len(buf) < n:
                    buf += c.recv(65536)
                buf = buf[n:]
                self.count += 1
                method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
                q = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
                body = b"hello world " * int(q.get("rep", "5"))
                lines = [f"HTTP/1.1 {q.get('status', '200')} OK", "Content-Type: text/plain"]
                for key, name in (
                    ("cc", "Cache-Control"),
                    ("exp", "Expires"),
                    ("vary", "Vary"),
                    ("sc", "Set-Cookie"),
                    ("etag", "ETag"),
                    ("age", "Age"),
                ):
                    if key in q:
                        lines.append(f"{name}: {q[key]}")
                if q.get("chunked") == "1":
                    lines.append("Transfer-Encoding: chunked")
                    out = b"".join(
                        b"%x\r\n%s\r\n" % (len(body[i : i + 100]), body[i : i + 100])
                        for i in range(0, len(body), 100)
                    )
                    body = out + b"0\r\n\r\n"
                elif "nolen" not in q:
                    lines.append(f"Content-Length: {len(body)}")
                out = ("\r\n".join(lines) + "\r\n\r\n").encode()
                c.sendall(out if method == "HEAD" else out + body)
                if "nolen" in q:
                    c.close()
                    return

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()
        self._thread.join(2)


@pytest.fixture
def qserver() -> Iterator[QueryServer]:
    s = QueryServer()
    yield s
    s.close()


def cfg_text(port: int, srv_port: int, sock: Path, cache: str = "") -> str:
    return f"""global
    stats socket {sock} level admin
    log stderr format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind {HOST}:{port}
    default_backend be
backend be
    http-request cache-use c1
    http-response cache-store c1
    server s1 {HOST}:{srv_port}
cache c1
    total-max-size 4
    max-age 240
{cache}"""


def fetch(port: int, path: str, hdrs: str = "", method: str = "GET", ver: str = "1.1") -> bytes:
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(
            f"{method} {path} HTTP/{ver}\r\nHost: t\r\n{hdrs}Connection: close\r\n\r\n".encode()
        )
        out = b""
        while d := s.recv(65536):
            out += d
    return out


def cli(sock: Path, cmd: str) -> str:
    return subprocess.run(
        ["socat", "stdio", f"unix-connect:{sock}"],
        input=cmd + "\n",
        capture_output=True,
        text=True,
        timeout=5,
    ).stdout


def cache_counters(sock: Path) -> tuple[str, str]:
    rows = list(csv.reader(io.StringIO(cli(sock, "show stat").lstrip("# "))))
    i = rows[0].index("cache_lookups")
    be = next(r for r in rows[1:] if len(r) > i and r[1] == "BACKEND")
    return be[i], be[i + 1]


@pytest.fixture
def started(lb, qserver, tmp_path):
    port = free_port()
    sock = tmp_path / "lb.sock"
    inst = lb(cfg_text(port, qserver.port, sock))
    return inst, port, sock


def test_hit_is_answered_from_memory(started, qserver):
    inst, port, sock = started
    first = fetch(port, "/a?cc=max-age=100")
    second = fetch(port, "/a?cc=max-age=100")
    assert qserver.count == 1
    head1, body1 = first.split(b"\r\n\r\n", 1)
    head2, body2 = second.split(b"\r\n\r\n", 1)
    assert body1 == body2 == b"hello world " * 5
    lines2 = head2.split(b"\r\n")
    assert b"age: 0" in lines2
    # (lb writes the `connection` header of its own answers in lower case, as HAProxy)
    assert [ln for ln in lines2 if ln != b"age: 0"] == [
        ln.lower() if ln.lower().startswith(b"connection:") else ln for ln in head1.split(b"\r\n")
    ]
    line = wait_until(lambda: [ln for ln in inst.log_lines() if "<CACHE>" in ln])
    assert " be/<CACHE> 0/0/0/0/" in line[0]
    assert " LR-- " in line[0]
    assert cache_counters(sock) == ("2", "1")


RULES = [  # (query, request headers, stored?) as HAProxy 2.6 decides
    ("cc=max-age=100", "", True),
    ("cc=s-maxage=30", "", True),
    ("cc=public,%20max-age=100", "", True),
    ("exp=Thu,%2001%20Jan%202099%2000:00:00%20GMT", "", True),
    ("etag=%22x%22", "", True),
    ("cc=max-age=100&sc=a=b", "", True),
    ("cc=max-age=100&age=5", "", True),
    ("status=201&cc=max-age=100", "", False),
    ("status=404&cc=max-age=100", "", False),
    ("x=1", "", False),
    ("cc=public", "", False),
    ("cc=no-cache", "", False),
    ("cc=no-store", "", False),
    ("cc=max-age=100,%20private", "", False),
    ("cc=max-age=0", "", False),
    ("cc=max-age=100,no-cache=%22set-cookie%22", "", False),
    ("exp=garbage", "", False),
    ("cc=max-age=100&vary=accept-encoding", "", False),
    ("cc=max-age=100&age=500", "", False),
    ("cc=max-age=100&rep=2000", "", False),  # over max-object-size (16384)
    ("cc=max-age=100", "Authorization: x\r\n", False),
    ("cc=max-age=100", "Cache-Control: no-store\r\n", False),
]


@pytest.mark.parametrize(("query", "hdrs", "stored"), RULES)
def test_storing_rules(started, qserver, query, hdrs, stored):
    _inst, port, _sock = started
    fetch(port, f"/r?{query}", hdrs)
    fetch(port, f"/r?{query}")
    assert qserver.count == (1 if stored else 2)


def test_request_bypass_still_stores(started, qserver):
    _inst, port, sock = started
    fetch(port, "/n?cc=max-age=100", "Cache-Control: no-cache\r\n")
    fetch(port, "/n?cc=max-age=100", "Pragma: no-cache\r\n")
    assert qserver.count == 2
    fetch(port, "/n?cc=max-age=100")
    assert qserver.count == 2
    fetch(port, "/n?cc=max-age=100", ver="1.0")  # HTTP/1.0: the cache is not used
    assert qserver.count == 3


@pytest.mark.parametrize("query", ["chunked=1&rep=30", "nolen=1"])
def test_other_framings_replay_byte_for_byte(started, qserver, query):
    _inst, port, _sock = started
    first = fetch(port, f"/c?cc=max-age=100&{query}")
    second = fetch(port, f"/c?cc=max-age=100&{query}")
    assert qserver.count == 1
    assert first.split(b"\r\n\r\n", 1)[1] == second.split(b"\r\n\r\n", 1)[1]
    assert b"age: 0\r\n" in second


def test_head_hit_and_post_invalidation(started, qserver):
    _inst, port, _sock = started
    fetch(port, "/h?cc=max-age=100")
    r = fetch(port, "/h?cc=max-age=100", method="HEAD")
    assert qserver.count == 1
    assert r.endswith(b"\r\n\r\n") and b"age: " in r
    fetch(port, "/h?cc=max-age=100", "Content-Length: 0\r\n", method="POST")
    fetch(port, "/h?cc=max-age=100")
    assert qserver.count == 3


def test_show_cache(started, qserver):
    _inst, port, sock = started
    fetch(port, "/a?cc=max-age=100")
    fetch(port, "/e?etag=%22x%22")
    out = cli(sock, "show cache")
    lines = out.rstrip("\n").split("\n")
    assert re.fullmatch(r"0x[0-9a-f]+: c1 \(shctx:0x[0-9a-f]+, available blocks:4096\)", lines[0])
    ha = int.from_bytes(hashlib.sha1(b"https://t/a?cc=max-age=100").digest()[:4], "little")
    he = int.from_bytes(hashlib.sha1(b"https://t/e?etag=%22x%22").digest()[:4], "little")
    want = sorted([(ha, 292, 100), (he, 275, 240)])
    for line, (h, size, exp) in zip(lines[1:], want, strict=True):
        m = re.fullmatch(
            r"0x[0-9a-f]+ hash:(\d+) vary:0x0{16} size:(\d+) \(1 blocks\), "
            r"refcount:0, expire:(\d+)",
            line,
        )
        assert m, line
        assert (int(m[1]), int(m[2])) == (h, size)
        assert exp - 2 <= int(m[3]) <= exp


def test_lru_bounded_by_total_size(lb, qserver, tmp_path):
    port = free_port()
    sock = tmp_path / "lb.sock"
    lb(
        cfg_text(port, qserver.port, sock).replace("total-max-size 4", "total-max-size 1")
        + "    max-object-size 400000\n"
    )
    for i in range(4):  # ~300 kB each: the oldest goes when the 4th comes
        fetch(port, f"/l{i}?cc=max-age=100&rep=25000")
    assert qserver.count == 4
    fetch(port, "/l3?cc=max-age=100&rep=25000")
    assert qserver.count == 4
    fetch(port, "/l0?cc=max-age=100&rep=25000")
    assert qserver.count == 5
    assert cli(sock, "show cache").count("hash:") == 3


CFG_ERRORS = [
    ("cache\n", "'cache' expects a <name> argument"),
    ("cache c2 x\n    total-max-size 1\n", "'cache' cannot handle unexpected argument 'x'."),
    ("cache c2\n", "Size not specified for cache 'c2'"),
    ("cache c2\n    total-max-size abc\n", "total-max-size wrong value 'abc'"),
    (
        "cache c2\n    total-max-size 5000\n",
        '"total-max-size" (5000) must not be greater than 4095',
    ),
    (
        "cache c2\n    total-max-size 4\n    max-object-size 3000000\n",
        '"max-object-size" is limited to an half of "total-max-size" => 2097152',
    ),
    (
        "cache c2\n    total-max-size 4\n    max-secondary-entries 0\n",
        "max-secondary-entries wrong value '0'",
    ),
    ("cache c2\n    total-max-size 4\n    foo bar\n", "unknown keyword 'foo' in 'cache' section"),
    ("cache c1\n    total-max-size 4\n", "Duplicate cache name 'c1'."),
]


@pytest.mark.parametrize(("extra", "message"), CFG_ERRORS)
def test_config_errors(tmp_path, extra, message):
    path = tmp_path / "c.cfg"
    path.write_text(cfg_text(free_port(), 1, tmp_path / "s.sock", extra))
    r = run_lb("-c", "-f", str(path))
    assert r.returncode != 0
    assert message in r.stderr


def test_unknown_cache_and_missing_name(tmp_path):
    path = tmp_path / "c.cfg"
    path.write_text(
        cfg_text(free_port(), 1, tmp_path / "s.sock").replace("cache-store c1", "cache-store nope")
    )
    r = run_lb("-c", "-f", str(path))
    assert r.returncode != 0
    assert (
        "config: backend 'be': unable to find the cache 'nope' referenced by the filter 'cache'."
        in r.stderr
    )
    path.write_text(
        cfg_text(free_port(), 1, tmp_path / "s.sock").replace("cache-use c1", "cache-use")
    )
    r = run_lb("-c", "-f", str(path))
    assert "while parsing 'http-request cache-use' rule : expects a cache name." in r.stderr


def _mask(text: str) -> str:
    text = re.sub(r"0x[0-9a-f]+", "0xADDR", text)
    return re.sub(r"expire:\d+", "expire:N", text)


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_same_as_haproxy(lb, tmp_path):
    """The same requests through lb and a real HAProxy 2.6: the same hits and misses,
    the same `show cache` once addresses and times are masked."""
    seq = [q for q, h, _ in RULES if not h] + [
        "cc=max-age=100&chunked=1&rep=30",
        "nolen=1&cc=max-age=100",
    ]
    results = []
    for kind in ("lb", "haproxy"):
        srv = QueryServer()
        try:
            port = free_port()
            sock = tmp_path / f"{kind}.sock"
            text = cfg_text(port, srv.port, sock)
            if kind == "lb":
                lb(text)
                ctx: contextlib.AbstractContextManager = contextlib.nullcontext()
            else:
                path = tmp_path / "h.cfg"
                path.write_text(text)
                ctx = haproxy_serving(path, [port])
            with ctx:
                hits = []
                for q in seq:
                    n = srv.count
                    fetch(port, f"/s?{q}")
                    fetch(port, f"/s?{q}")
                    hits.append(srv.count - n)
                time.sleep(0.1)
                results.append((hits, _mask(cli(sock, "show cache"))))
        finally:
            srv.close()
    assert results[0] == results[1]
