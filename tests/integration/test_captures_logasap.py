"""`capture cookie`, `declare capture` + `http-request|http-response|tcp-request content
capture`, and `option logasap`: the log lines, compared with what haproxy 2.6 logs.

Each case sends the same requests through lb and (when installed) a real haproxy
with the same configuration, both logging to a UDP socket, and compares the
lines once the client port, the date, the timers and the byte counts (which
HAProxy counts from its internal representation) are masked; the `+` of
logasap is kept. The expected masked lines were taken from haproxy 2.6.12.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from itest import HOST, free_port, haproxy_serving, run_haproxy_check

pytestmark = pytest.mark.timeout(60)


class CookieServer:
    """A keep-alive HTTP/1.1 server: `sc=a,b` (URL-encoded) in the query adds one
    Set-Cookie per item, `xh=v` an X-H header; `/slow` sends half its body late."""

    def __init__(self) -> None:
        self.sock = socket.create_server((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket) -> None:
        buf = b""
        try:
            while not self.stop.is_set():
                d = c.recv(65536)
                if not d:
                    return
                buf += d
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    self._answer(c, head.split(b"\r\n")[0].split(b" ")[1].decode())
        except OSError:
            return
        finally:
            c.close()

    def _answer(self, c: socket.socket, target: str) -> None:
        path, _, query = target.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        extra = b""
        for v in params.get("sc", "").split(",") if "sc" in params else []:
            extra += b"Set-Cookie: " + unquote(v).encode() + b"\r\n"
        if "xh" in params:
            extra += b"X-H: " + params["xh"].encode() + b"\r\n"
        if path == "/slow":
            c.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n" + extra + b"\r\n" + b"x" * 1000
            )
            time.sleep(0.4)
            c.sendall(b"x" * 1000)
            return
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n" + extra + b"\r\nhello")

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        for c in self.conns:
            c.close()


class LogSink:
    """A UDP socket receiving raw log lines."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]

    def lines(self, count: int, timeout: float = 5.0) -> list[str]:
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                d = self.sock.recv(65536)
            except TimeoutError:
                break
            out.append(d.rstrip(b"\n").decode("utf-8", "surrogateescape"))
        return out

    def drain(self, wait: float = 0.3) -> None:
        """Drop what came so far (the lines of the probes that waited for the ports)."""
        time.sleep(wait)
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65536)
        except BlockingIOError:
            pass
        self.sock.setblocking(True)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def upstream() -> Iterator[CookieServer]:
    s = CookieServer()
    yield s
    s.close()


_HTTP = re.compile(r"^(\S+?):\d+ \[[^\]]+\] (\S+ \S+) (\S+) (\d+) (\+?)\d+ (.*)$")
_TCP = re.compile(r"^(\S+?):\d+ \[[^\]]+\] (\S+ \S+) (\S+) (\+?)\d+ (.*)$")


def _timers(t: str) -> str:
    """Timer values masked to N, keeping -1 (a phase not reached) and the `+`."""
    return "/".join(x if x == "-1" else re.sub(r"\d+", "N", x) for x in t.split("/"))


def mask(line: str) -> str:
    # %ac/%fc: haproxy may still count a connection that the client just closed
    line = re.sub(r" \d+/\d+(/\d+/\d+/\+?\d+ \d+/\d+)", r" N/N\1", line)
    m = _HTTP.match(line)
    if m:
        ip, names, timers, status, plus, rest = m.groups()
        return f"{ip} {names} {_timers(timers)} {status} {plus}B {rest}"
    m = _TCP.match(line)
    assert m, line
    ip, names, timers, plus, rest = m.groups()
    return f"{ip} {names} {_timers(timers)} {plus}B {rest}"


def run_both(
    tmp_path: Path,
    lb: Callable[..., object],
    cfg: Callable[[int, list[int]], str],
    nports: int,
    drive: Callable[[list[int]], int],
) -> tuple[list[str], list[str] | None]:
    """The masked log lines of lb and of haproxy (None when it is not installed) for
    the same configuration and traffic; `drive` returns the number of lines."""
    got: list[list[str] | None] = []
    for who in ("lb", "haproxy"):
        sink = LogSink()
        ports = [free_port() for _ in range(nports)]
        text = cfg(sink.port, ports)
        try:
            if who == "lb":
                lb(text)
                sink.drain()
                n = drive(ports)
                got.append([mask(ln) for ln in sink.lines(n)])
                continue
            path = tmp_path / "haproxy.cfg"
            path.write_text(text)
            if run_haproxy_check(path) is None:
                got.append(None)
                continue
            with haproxy_serving(path, ports):
                sink.drain()
                n = drive(ports)
                got.append([mask(ln) for ln in sink.lines(n)])
        finally:
            sink.close()
    return got[0], got[1]  # type: ignore[return-value]


def curl(port: int, target: str, headers: dict[str, str] | None = None, keep: bool = False) -> None:
    """One request on its own connection (the response read to its end)."""
    hdrs = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    raw = f"GET {target} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{hdrs}Connection: close\r\n\r\n"
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(raw.encode("utf-8"))
        while s.recv(65536):
            pass


GLOBAL = "global\n    log 127.0.0.1:{udp} format raw local0\n"
DEFAULTS = """
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
"""


def test_capture_cookie_httplog(tmp_path, lb, upstream):
    """`capture cookie`: the first request cookie / Set-Cookie starting with the name
    (`NAME=` for an exact name), spaces around `=` dropped, attributes left out, cut
    to len (63 at most); `-` when none. Raw bytes are logged as they are."""

    def cfg(udp: int, ports: list[int]) -> str:
        return (
            GLOBAL.format(udp=udp)
            + DEFAULTS
            + f"""
frontend fe
    bind {HOST}:{ports[0]}
    capture cookie SESS len 12
    http-request deny if {{ path /deny }}
    default_backend be
frontend fe2
    bind {HOST}:{ports[1]}
    capture cookie SESS= len 200
    http-request del-header cookie if {{ path /del }}
    default_backend be
backend be
    server s1 {HOST}:{upstream.port}
"""
        )

    def drive(ports: list[int]) -> int:
        a, b = ports
        curl(
            a,
            "/1?sc=SESSX%3Dval%3B%20path%3D%2F",
            {"Cookie": "a=1; SESSION=abcdefghijklmnop; SESS=zz"},
        )
        curl(a, "/2?sc=other%3D1,SESS%3D2", {"Cookie": "SESS="})
        curl(a, "/3")
        curl(a, "/4?sc=SESS", {"Cookie": "x=1"} | {"cookie": "SESSa=q"})
        curl(a, "/deny", {"Cookie": "SESS=1"})
        curl(b, "/5?sc=SESS%20%3D%20x%20%3B%20a", {"Cookie": "SESSX=1;   SESS  =  v v  ; b=2"})
        curl(b, "/6?sc=a%3D1%2C%20SESS%3Dcc", {"Cookie": "a=1, SESS=comma"})
        curl(b, "/7?sc=SESS%3D" + "z" * 80, {"Cookie": "SESS=" + "y" * 80})
        curl(b, "/8", {"Cookie": "SESS=é#"})
        curl(b, "/del", {"Cookie": "SESS=1"})
        return 10

    expected = [
        "127.0.0.1 fe be/s1 N/N/N/N/N 200 B SESSION=abcd SESSX=val ---- N/N/0/0/0 0/0 "
        '"GET /1?sc=SESSX%3Dval%3B%20path%3D%2F HTTP/1.1"',
        "127.0.0.1 fe be/s1 N/N/N/N/N 200 B SESS= SESS=2 ---- N/N/0/0/0 0/0 "
        '"GET /2?sc=other%3D1,SESS%3D2 HTTP/1.1"',
        '127.0.0.1 fe be/s1 N/N/N/N/N 200 B - - ---- N/N/0/0/0 0/0 "GET /3 HTTP/1.1"',
        '127.0.0.1 fe be/s1 N/N/N/N/N 200 B SESSa=q - ---- N/N/0/0/0 0/0 "GET /4?sc=SESS HTTP/1.1"',
        "127.0.0.1 fe fe/<NOSRV> N/-1/-1/-1/N 403 B SESS=1 - PR-- N/N/0/0/0 0/0 "
        '"GET /deny HTTP/1.1"',
        "127.0.0.1 fe2 be/s1 N/N/N/N/N 200 B SESS=v v SESS=x ---- N/N/0/0/0 0/0 "
        '"GET /5?sc=SESS%20%3D%20x%20%3B%20a HTTP/1.1"',
        "127.0.0.1 fe2 be/s1 N/N/N/N/N 200 B SESS=comma - ---- N/N/0/0/0 0/0 "
        '"GET /6?sc=a%3D1%2C%20SESS%3Dcc HTTP/1.1"',
        f"127.0.0.1 fe2 be/s1 N/N/N/N/N 200 B SESS={'y' * 58} SESS={'z' * 58} ---- N/N/0/0/0 0/0 "
        f'"GET /7?sc=SESS%3D{"z" * 80} HTTP/1.1"',
        '127.0.0.1 fe2 be/s1 N/N/N/N/N 200 B SESS=é# - ---- N/N/0/0/0 0/0 "GET /8 HTTP/1.1"',
        '127.0.0.1 fe2 be/s1 N/N/N/N/N 200 B - - ---- N/N/0/0/0 0/0 "GET /del HTTP/1.1"',
    ]
    mine, ref = run_both(tmp_path, lb, cfg, 2, drive)
    assert mine == expected
    if ref is not None:
        assert ref == expected


def test_capture_slots_in_declaration_order(tmp_path, lb, upstream):
    """Request slots of `capture request header`, `http-request capture … len`,
    `tcp-request content capture … len` and `declare capture` are numbered in the
    order written; `… capture … id N` (also from a backend) fills slot N cut to its
    length; response slots likewise, with `http-response capture … id N`."""

    def cfg(udp: int, ports: list[int]) -> str:
        return (
            GLOBAL.format(udp=udp)
            + DEFAULTS
            + f"""
frontend fe
    bind {HOST}:{ports[0]}
    capture request header Host len 5
    http-request capture path len 4
    declare capture request len 6
    tcp-request content capture str(abcdefgh) len 3
    capture request header X-A len 5
    declare capture response len 7
    http-request capture req.hdr(x-b) id 1 if {{ req.hdr(x-b) -m found }}
    http-response capture res.hdr(x-h) id 0
    capture response header X-H len 3
    default_backend be
backend be
    http-request capture req.hdr(x-c) id 2
    http-request capture req.hdr(x-c) id 9
    http-response capture res.hdr(x-h),lower id 1
    server s1 {HOST}:{upstream.port}
"""
        )

    def drive(ports: list[int]) -> int:
        a = ports[0]
        curl(a, "/pathxx?xh=HHHHHHHHHHH", {"X-A": "aaaaaaaa", "X-B": "bbbbbbbbbb", "X-C": "c|{}"})
        curl(a, "/p2")
        return 2

    expected = [
        "127.0.0.1 fe be/s1 N/N/N/N/N 200 B - - ---- N/N/0/0/0 0/0 "
        '{127.0|bbbb|c#7C#7B#7D|abc|aaaaa} {HHHHHHH|hhh} "GET /pathxx?xh=HHHHHHHHHHH HTTP/1.1"',
        "127.0.0.1 fe be/s1 N/N/N/N/N 200 B - - ---- N/N/0/0/0 0/0 {127.0|/p2||abc|} {|} "
        '"GET /p2 HTTP/1.1"',
    ]
    mine, ref = run_both(tmp_path, lb, cfg, 1, drive)
    assert mine == expected
    if ref is not None:
        assert ref == expected


def test_logasap_http_and_tcp(tmp_path, lb, upstream):
    """`option logasap`: HTTP logs once the response head is handled (bytes so far,
    the stream still counted on its server), a proxy-made response at its end; TCP
    logs once the server connection is up. Ta/Tt and B carry a `+`."""

    def cfg(udp: int, ports: list[int]) -> str:
        return (
            GLOBAL.format(udp=udp)
            + f"""
defaults
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    mode http
    option httplog
    option logasap
    bind {HOST}:{ports[0]}
    capture cookie S len 0
    capture response header Content-Length len 8
    http-request deny if {{ path /deny }}
    default_backend be
frontend ft
    mode tcp
    option tcplog
    option logasap
    bind {HOST}:{ports[1]}
    default_backend bt
backend be
    mode http
    server s1 {HOST}:{upstream.port}
backend bt
    mode tcp
    server s1 {HOST}:{upstream.port}
"""
        )

    def drive(ports: list[int]) -> int:
        a, t = ports
        t0 = time.monotonic()
        curl(a, "/slow?sc=S%3D3", {"Cookie": "A=1; S=2"})
        assert time.monotonic() - t0 >= 0.35  # the whole body did come
        curl(a, "/deny", {"Cookie": "S=2"})
        with socket.create_connection((HOST, t), timeout=5) as s:
            time.sleep(0.2)
            s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while not got.endswith(b"x" * 1000 * 2):  # (the server keeps the connection)
                got += s.recv(65536)
        return 3

    mine, ref = run_both(tmp_path, lb, cfg, 2, drive)
    expected = [
        # logged before the slow half of the body: Ta well under the 400 ms pause
        "127.0.0.1 fe be/s1 N/N/N/N/+N 200 +B   ---- N/N/1/1/0 0/0 {2000} "
        '"GET /slow?sc=S%3D3 HTTP/1.1"',
        "127.0.0.1 fe fe/<NOSRV> N/-1/-1/-1/+N 403 +B  - PR-- N/N/0/0/0 0/0 {} "
        '"GET /deny HTTP/1.1"',
        "127.0.0.1 ft bt/s1 N/N/+N +B -- N/N/1/1/0 0/0",
    ]
    assert mine == expected
    if ref is not None:
        assert ref == expected


def test_logasap_times_and_counts(tmp_path, lb, upstream):
    """The early line: Ta is taken at the response head (not after the slow body), B
    is what was sent by then, and the stream still holds its server slot (1/1/1/1)."""
    sink = LogSink()
    port = free_port()
    try:
        lb(
            GLOBAL.format(udp=sink.port)
            + DEFAULTS
            + f"""
frontend fe
    bind {HOST}:{port}
    option logasap
    default_backend be
backend be
    server s1 {HOST}:{upstream.port}
"""
        )
        curl(port, "/slow")
        (line,) = sink.lines(1)
    finally:
        sink.close()
    m = re.search(r" (\d+)/(\d+)/(\d+)/(\d+)/\+(\d+) 200 \+(\d+) - - ---- 1/1/1/1/0 0/0 ", line)
    assert m, line
    assert int(m[5]) < 300
    assert 1000 <= int(m[6]) < 2000  # the head and the first half of the body


def test_config_alerts(tmp_path):
    """The alerts of these keywords, as haproxy 2.6 words them."""
    from itest import run_lb

    head = "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
    head += "    timeout connect 1s\n"
    fe = f"frontend fe\n    bind {HOST}:{free_port()}\n"
    cases = [
        (
            fe + "    capture cookie A len\n",
            "'capture' expects 'cookie' <cookie_name> 'len' <len>.",
        ),
        (
            fe + "    declare capture\n",
            "'declare capture' requires a direction ('request' or 'response')",
        ),
        (fe + "    declare capture request len 0\n", "length must be > 0"),
        (fe + "    declare foo\n", "unknown declaration type 'foo' (supports 'capture')"),
        (
            "backend b\n    declare capture request len 3\n",
            "'declare' only available in frontend or listen section",
        ),
        (
            fe + "    http-request capture path id 0\n",
            "Proxy 'fe': unable to find capture id '0' referenced by http-request capture rule.",
        ),
        (
            fe + "    declare capture request len 3\n    http-response capture res.hdr(a) id 0\n",
            "Proxy 'fe': unable to find capture id '0' referenced by http-response capture rule.",
        ),
        (
            fe + "    http-response capture res.hdr(a) len 3\n",
            "error detected in frontend 'fe' while parsing 'http-response capture' rule : "
            "expects 'id', found 'len'.",
        ),
        (
            fe + "    http-request capture path len 0\n",
            "error detected in frontend 'fe' while parsing 'http-request capture' rule : "
            "length must be > 0.",
        ),
        (
            fe + "    tcp-request content capture src\n",
            "'tcp-request content capture' : a positive 'len' argument is mandatory",
        ),
        (
            "backend b\n    http-request capture path len 3\n",
            "proxy 'b' has no frontend capability.",
        ),
        (
            fe + "    capture cookie A len 64\n",
            "truncating capture length to 63 bytes for frontend 'fe'.",
        ),
    ]
    for body, msg in cases:
        path = tmp_path / "c.cfg"
        path.write_text(head + body)
        r = run_lb("-c", "-f", str(path))
        assert msg in r.stderr, (body, r.stderr)
        ref = run_haproxy_check(path)
        if ref is not None:
            assert msg in ref.stderr, (body, ref.stderr)
