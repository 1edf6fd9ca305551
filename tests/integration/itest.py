"""Shared fixtures for the integration tests: `lb` as a subprocess on free
loopback ports, tiny HTTP/TCP backends in the test process, raw-socket clients.

Everything listens on 127.0.0.1 only; every process is stopped by pid in a
finalizer (SIGTERM, then SIGKILL after a timeout); every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


# Ports handed out in this test process: bind(0) then close may give the same number
# twice, and two listeners on one port (SO_REUSEPORT) would split the traffic.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port, never one handed out before in this process."""
    while True:
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_port(port: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return True
        time.sleep(0.02)
    return False


def wait_until(pred: Callable[[], Any], timeout: float = 5.0, step: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# ---------------------------------------------------------------- the lb process


class LB:
    """One `python -m lb` process; stdout/stderr go to files so nothing blocks."""

    def __init__(self, tmp: Path, cfg: str, args: list[str] | None = None, name: str = "lb"):
        self.tmp = tmp
        self.cfg_path = tmp / f"{name}.cfg"
        self.cfg_path.write_text(cfg)
        self.out_path = tmp / f"{name}.out"
        self.err_path = tmp / f"{name}.err"
        self.args = args or []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ports: list[int] | None = None, timeout: float = 8.0) -> LB:
        out = open(self.out_path, "wb")  # noqa: SIM115
        err = open(self.err_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lb", "-f", str(self.cfg_path), *self.args],
            cwd=REPO,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
        out.close()
        err.close()
        if ports is None:
            ports = [
                int(p) for p in re.findall(r"bind\s+127\.0\.0\.1:(\d+)", self.cfg_path.read_text())
            ]
        for p in ports:
            if not wait_port(p, timeout):
                self.stop()
                raise AssertionError(f"lb did not listen on {p}: {self.stderr}")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace") if self.err_path.exists() else ""

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace") if self.out_path.exists() else ""

    def wait_stderr(self, pattern: str, timeout: float = 5.0, count: int = 1) -> list[str]:
        """The stderr lines matching `pattern`, once there are `count` of them ([] if not)."""
        rx = re.compile(pattern)

        def found() -> list[str]:
            m = [ln for ln in self.stderr.splitlines() if rx.search(ln)]
            return m if len(m) >= count else []

        return wait_until(found, timeout) or []

    def log_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln and not ln.startswith("[")]

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float = 5.0) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 3.0) -> int | None:
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout)
        return p.returncode


@pytest.fixture
def lb(tmp_path: Path) -> Iterator[Callable[..., LB]]:
    """`lb(cfg_text, args=[...])` starts lb and waits for every `bind 127.0.0.1:N`."""
    started: list[LB] = []

    def start(cfg: str, args: list[str] | None = None, wait: bool = True, **kw: Any) -> LB:
        inst = LB(tmp_path, cfg, args, name=f"lb{len(started)}")
        started.append(inst)
        if wait:
            inst.start(**kw)
        return inst

    yield start
    for inst in started:
        inst.stop()


def run_lb(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    """Run `python -m lb ARGS` to completion (for -c, -v, -cc)."""
    return subprocess.run(
        [sys.executable, "-m", "lb", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


# ---------------------------------------------------------------- the real haproxy


def run_haproxy_check(cfg: Path) -> subprocess.CompletedProcess[str] | None:
    """`haproxy -c -f CFG` run to completion, or None when haproxy is not installed."""
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        return None
    return subprocess.run(
        [haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=20
    )


@contextlib.contextmanager
def haproxy_serving(cfg: Path, ports: list[int]) -> Iterator[subprocess.Popen[bytes]]:
    """A real haproxy (`-db`) on CFG, once it listens on `ports`; stopped by pid after."""
    haproxy = shutil.which("haproxy")
    assert haproxy is not None, "haproxy is not installed"
    proc = subprocess.Popen(
        [haproxy, "-db", "-f", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert all(wait_port(p) for p in ports), f"haproxy did not listen on {ports}"
        yield proc
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


# ---------------------------------------------------------------- another process's sockets

_SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture


def peer_socket(
    pid: int, match: Callable[[socket.socket], bool], family: int = socket.AF_INET
) -> socket.socket | None:
    """A duplicate (pidfd_getfd(2): needs root) of the first TCP socket of `family` in
    process `pid` that `match` accepts, to read the options that process set on it."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                    continue
            fd = libc.syscall(_SYS_PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                continue
            s = socket.socket(fileno=fd)
            with contextlib.suppress(OSError):
                if s.family == family and s.type == socket.SOCK_STREAM and match(s):
                    return s
            s.close()
    finally:
        os.close(pidfd)
    return None


# ---------------------------------------------------------------- HTTP parsing helpers


class Resp:
    def __init__(
        self,
        status: int,
        reason: str,
        version: str,
        headers: list[tuple[str, str]],
        body: bytes,
        raw_head: bytes,
    ):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
        self.body = body
        self.raw_head = raw_head

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def __repr__(self) -> str:
        return f"<Resp {self.status} {self.headers} {self.body[:80]!r}>"


class Reader:
    """Reads HTTP/1 messages from a blocking socket, keeping leftovers."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            if not self._fill():
                raise EOFError(f"eof before {sep!r}: {self.buf[:200]!r}")
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"eof after {len(self.buf)} of {n} bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_all(self) -> bytes:
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def head(self) -> tuple[bytes, list[tuple[str, str]]]:
        raw = self.read_until(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        headers = []
        for ln in lines[1:]:
            if ln:
                n, _, v = ln.partition(":")
                headers.append((n.strip(), v.strip()))
        return raw, headers

    def response(self, method: str = "GET", sink: Callable[[bytes], None] | None = None) -> Resp:
        """One response; with `sink`, body bytes go there instead of being kept."""
        while True:
            raw, headers = self.head()
            first = raw.split(b"\r\n", 1)[0].decode("latin-1")
            version, status, *reason = first.split(" ", 2)
            code = int(status)
            if 100 <= code < 200 and code != 101:
                continue
            break
        r = Resp(code, reason[0] if reason else "", version, headers, b"", raw)
        parts: list[bytes] = []
        put = sink or parts.append
        te = (r.header("transfer-encoding") or "").lower()
        cl = r.header("content-length")
        if method == "HEAD" or code in (101, 204, 304):
            return r
        if "chunked" in te:
            while True:
                size = int(self.read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    while self.read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                left = size
                while left:
                    if not self.buf and not self._fill():
                        raise EOFError("eof in chunk")
                    take = self.buf[:left]
                    self.buf = self.buf[len(take) :]
                    left -= len(take)
                    put(take)
                self.read_exact(2)
        elif cl is not None:
            left = int(cl)
            while left:
                if not self.buf and not self._fill():
                    raise EOFError(f"eof with {left} body bytes missing")
                take = self.buf[:left]
                self.buf = self.buf[len(take) :]
                left -= len(take)
                put(take)
        else:
            put(self.read_all())
        r.body = b"".join(parts)
        return r


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request(port: int, raw: bytes, method: str = "GET", timeout: float = 5.0) -> Resp:
    """Send one raw request on a new connection and read one response."""
    with connect(port, timeout) as s:
        s.sendall(raw)
        return Reader(s).response(method)


def get(
    port: int, path: str = "/", headers: str = "", method: str = "GET", timeout: float = 5.0
) -> Resp:
    raw = f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n".encode()
    return request(port, raw, method, timeout)


def raw_exchange(port: int, raw: bytes, timeout: float = 3.0) -> bytes:
    """Send bytes, read until the peer closes (or timeout); returns what came back."""
    with connect(port, timeout) as s:
        s.sendall(raw)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not d:
                break
            out += d
        return out


# ---------------------------------------------------------------- tiny HTTP backend


class Backend:
    """A threaded HTTP/1.1 server with behaviours chosen by path:

    /echo        answers with the request body (content-length)
    /headers     answers with the raw request head it received
    /delay?ms=N  waits N ms, then answers `delayed`
    /close       closes without answering
    /hang        reads the request and never answers (until the test ends)
    /chunked?n=K answers K chunks of `chunk-i\\n`
    /big?size=N[&chunked=1]  answers N bytes (`x`), streamed
    /sink        reads the body (any framing), answers with the byte count
    /status?code=C  answers with that status (no body for 1xx/204/304)
    /auth?scheme=S  answers 401 with `WWW-Authenticate: S`
    /ws          101 Switching Protocols, then echoes bytes until EOF
    /continue    sends `100 Continue` only after the client's Expect, then echoes
    anything else: `hello from NAME`.
    """

    def __init__(self, name: str = "srv", port: int = 0, backlog: int = 128) -> None:
        self.name = name
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, port))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.requests: list[bytes] = []
        self.bodies: list[bytes] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def open_conns(self) -> int:
        """Connections accepted and not closed yet (by either side)."""
        with self._lock:
            return len(self._conns)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        self._thread.join(2)

    def _accept_loop(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            c.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._conns.add(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket) -> None:
        r = Reader(c)
        c.settimeout(30)
        try:
            while not self._stop.is_set():
                try:
                    raw, headers = r.head()
                except (EOFError, OSError):
                    return
                if not self._handle(c, r, raw, headers):
                    return
        except (OSError, EOFError, ValueError):
            pass
        finally:
            with self._lock:
                self._conns.discard(c)
            with contextlib.suppress(OSError):
                c.close()

    def _body(self, r: Reader, headers: dict[str, str], sink: Callable[[bytes], None]) -> None:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size = int(r.read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    while r.read_until(b"\r\n") != b"\r\n":
                        pass
                    return
                left = size
                while left:
                    if not r.buf and not r._fill():
                        raise EOFError
                    take = r.buf[:left]
                    r.buf = r.buf[len(take) :]
                    left -= len(take)
                    sink(take)
                r.read_exact(2)
        else:
            left = int(headers.get("content-length", "0"))
            while left:
                if not r.buf and not r._fill():
                    raise EOFError
                take = r.buf[:left]
                r.buf = r.buf[len(take) :]
                left -= len(take)
                sink(take)

    def _handle(self, c: socket.socket, r: Reader, raw: bytes, hl: list[tuple[str, str]]) -> bool:
        headers = {n.lower(): v for n, v in hl}
        line = raw.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, version = line.split(" ")
        u = urlsplit(target)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        path = u.path
        with self._lock:
            self.requests.append(raw)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            if path == "/continue" and headers.get("expect", "").lower() == "100-continue":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if path == "/sink":
                n = 0

                def count(b: bytes) -> None:
                    nonlocal n
                    n += len(b)

                self._body(r, headers, count)
                return self._send(c, 200, str(n).encode(), close)
            parts: list[bytes] = []
            self._body(r, headers, parts.append)
            body = b"".join(parts)
            with self._lock:
                self.bodies.append(body)
            if path in ("/echo", "/continue"):
                return self._send(c, 200, body, close)
            if path == "/headers":
                return self._send(c, 200, raw, close)
            if path == "/delay":
                time.sleep(int(q.get("ms", "500")) / 1000)
                return self._send(c, 200, b"delayed", close)
            if path == "/close":
                return False
            if path == "/hang":
                self._stop.wait(30)
                return False
            if path == "/chunked":
                n = int(q.get("n", "3"))
                out = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"]
                out.append(b"Connection: close\r\n\r\n" if close else b"\r\n")
                for i in range(n):
                    d = f"chunk-{i}\n".encode()
                    out.append(b"%x\r\n%s\r\n" % (len(d), d))
                out.append(b"0\r\n\r\n")
                c.sendall(b"".join(out))
                return not close
            if path == "/big":
                size = int(q.get("size", "1000000"))
                chunked = q.get("chunked") == "1"
                hdr = b"HTTP/1.1 200 OK\r\n"
                hdr += (
                    b"Transfer-Encoding: chunked\r\n"
                    if chunked
                    else b"Content-Length: %d\r\n" % size
                )
                c.sendall(hdr + (b"Connection: close\r\n\r\n" if close else b"\r\n"))
                block = b"x" * 262144
                left = size
                while left:
                    d = block[: min(left, len(block))]
                    c.sendall(b"%x\r\n%s\r\n" % (len(d), d) if chunked else d)
                    left -= len(d)
                if chunked:
                    c.sendall(b"0\r\n\r\n")
                return not close
            if path == "/auth":  # a 401 asking for the named scheme (NTLM: a private conn)
                scheme = q.get("scheme", "Basic").encode()
                c.sendall(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: %s\r\n"
                    b"Content-Length: 0\r\n\r\n" % scheme
                )
                return True
            if path == "/status":
                code = int(q.get("code", "200"))
                extra = b""
                if code in (204, 304):
                    c.sendall(b"HTTP/1.1 %d X\r\n%s\r\n" % (code, extra))
                    return not close
                return self._send(c, code, b"status body", close, head_only=method == "HEAD")
            if path == "/ws":
                c.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\n\r\n"
                )
                if r.buf:
                    c.sendall(r.buf)
                    r.buf = b""
                while True:
                    d = c.recv(65536)
                    if not d:
                        c.shutdown(socket.SHUT_WR)
                        return False
                    c.sendall(d)
            return self._send(
                c, 200, f"hello from {self.name}".encode(), close, head_only=method == "HEAD"
            )
        finally:
            with self._lock:
                self.active -= 1

    def _send(
        self, c: socket.socket, code: int, body: bytes, close: bool, head_only: bool = False
    ) -> bool:
        head = b"HTTP/1.1 %d OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n" % (
            code,
            len(body),
        )
        head += b"Connection: close\r\n\r\n" if close else b"\r\n"
        c.sendall(head if head_only else head + body)
        return not close


@pytest.fixture
def backend() -> Iterator[Callable[..., Backend]]:
    made: list[Backend] = []

    def make(name: str = "srv", port: int = 0, backlog: int = 128) -> Backend:
        b = Backend(name, port, backlog)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


GLOBAL = """\
global
    log stderr format raw local0
    tune.bufsize 16384
"""

DEFAULTS = """\
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
"""


def http_cfg(
    port: int, servers: str, extra_fe: str = "", extra_be: str = "", defaults: str = DEFAULTS
) -> str:
    """A frontend on `port` sending everything to backend `be`."""
    return (
        f"{GLOBAL}\n{defaults}\nfrontend fe\n    bind {HOST}:{port}\n{extra_fe}"
        f"    default_backend be\n\nbackend be\n{extra_be}{servers}\n"
    )
