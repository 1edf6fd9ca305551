"""Same key, same server: our hash balancers against a real HAProxy 2.6.

One haproxy process serves one frontend per scenario, each with its own
backend config, in front of four tiny in-process HTTP servers that answer
with their name. For every scenario ~50 distinct keys (URIs, client
addresses 127.0.0.x, Host headers, URL parameters) are sent through haproxy
and compared with what our balancer picks for the same key and config; for
static-rr the order of picks is compared.

Skipped when no haproxy binary is installed. Everything listens on
127.0.0.1. The frontend sockets are bound here (port 0, so the kernel picks
a free port) and handed to haproxy as inherited file descriptors (`bind
fd@N`): haproxy never binds a port itself. Picking a port, closing it and
letting haproxy bind it later is racy: the kernel can hand the same port out
twice, and haproxy binds with SO_REUSEPORT, so two frontends (or another
haproxy) would silently share a port and the kernel would split one
scenario's requests between them. Every response also names the backend
that answered, and a request answered by the wrong backend fails loudly.
haproxy is stopped by pid in the fixture finalizer.
"""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lb.balance import make_balancer, parse_balance

HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
)

pytestmark = [
    pytest.mark.skipif(HAPROXY is None, reason="haproxy binary not installed"),
    pytest.mark.timeout(120),
]

NAMES = ("s1", "s2", "s3", "s4")


@dataclass
class FakeServer:
    name: str
    puid: int
    eweight: int
    backup: bool = False
    usable: bool = True
    served: int = 0
    maxconn: int = 0


@dataclass
class Ctx:
    src: str = "127.0.0.1"
    uri: bytes | None = b"/"
    headers: dict[bytes, bytes] | None = None

    def get_header(self, lname: bytes) -> bytes | None:
        return (self.headers or {}).get(lname)


@dataclass
class Scenario:
    """One backend: its balance/hash-type lines and servers (name, weight, extra)."""

    ident: str
    balance: str
    hash_type: str
    kind: str  # which key varies: uri | source | host | bytes | absolute | param | sequence
    servers: tuple[tuple[str, int, str], ...] = (
        ("s1", 1, ""),
        ("s2", 2, ""),
        ("s3", 3, ""),
        ("s4", 1, ""),
    )
    allbackups: bool = False
    port: int = 0


SCENARIOS = [
    Scenario("uri-map", "uri", "", "uri"),
    Scenario("uri-map-wt6-aval", "uri", "map-based wt6 avalanche", "uri"),
    Scenario("uri-map-crc32", "uri", "map-based crc32", "uri"),
    Scenario("uri-chash", "uri", "consistent", "uri"),
    Scenario("uri-chash-djb2", "uri", "consistent djb2", "uri"),
    Scenario("uri-chash-sdbm", "uri", "consistent sdbm", "uri"),
    Scenario("uri-chash-crc32-aval", "uri", "consistent crc32 avalanche", "uri"),
    Scenario("uri-opts-map", "uri whole depth 2 len 12", "", "uri"),
    Scenario("uri-depth-chash", "uri depth 1", "consistent", "uri"),
    Scenario(
        "uri-chash-ids",
        "uri",
        "consistent",
        "uri",
        servers=(("s1", 1, "id 7"), ("s2", 4, "id 3"), ("s3", 2, "id 12"), ("s4", 1, "id 40")),
    ),
    Scenario("src-map", "source", "", "source"),
    Scenario("src-map-aval", "source", "map-based sdbm avalanche", "source"),
    Scenario("src-chash", "source", "consistent", "source"),
    Scenario("host-chash", "hdr(Host) use_domain_only", "consistent", "host"),
    Scenario("host-map-djb2", "hdr(host)", "map-based djb2", "host"),
    Scenario("bytes-map-sdbm", "hdr(x-k)", "", "bytes"),
    Scenario("bytes-map-wt6", "hdr(x-k)", "map-based wt6", "bytes"),
    Scenario("bytes-chash-crc32", "hdr(x-k)", "consistent crc32", "bytes"),
    Scenario("abs-uri-path-only", "uri path-only", "", "absolute"),
    Scenario("abs-uri", "uri", "consistent", "absolute"),
    Scenario("param-map", "url_param uid", "", "param"),
    Scenario("static-rr-sequence", "static-rr", "", "sequence"),
    Scenario("param-chash-wt6", "url_param uid", "consistent wt6", "param"),
    Scenario(
        "backups-all",
        "uri",
        "",
        "uri",
        servers=(
            ("s1", 1, "disabled"),
            ("s2", 1, "disabled"),
            ("s3", 2, "backup"),
            ("s4", 3, "backup"),
        ),
        allbackups=True,
    ),
    Scenario(
        "backups-all-chash",
        "uri",
        "consistent",
        "uri",
        servers=(
            ("s1", 1, "disabled"),
            ("s2", 1, "disabled"),
            ("s3", 2, "backup"),
            ("s4", 3, "backup"),
        ),
        allbackups=True,
    ),
    Scenario(
        "backup-first",
        "uri",
        "consistent",
        "uri",
        servers=(("s1", 1, "disabled"), ("s2", 1, "backup"), ("s3", 1, "backup"), ("s4", 1, "")),
    ),
    Scenario(
        "one-down",
        "uri",
        "",
        "uri",
        servers=(("s1", 1, ""), ("s2", 2, "disabled"), ("s3", 3, ""), ("s4", 2, "")),
    ),
]


def _keys(kind: str) -> list[tuple[str, bytes, dict[bytes, bytes]]]:
    """(client ip, request target, headers) for ~50 distinct keys of `kind`."""
    out = []
    for i in range(50):
        ip = "127.0.0.1"
        uri = b"/"
        headers: dict[bytes, bytes] = {b"host": b"lb.test"}
        if kind == "uri":
            uri = f"/img/{i}/p{i * 7}/file{i}.png?v={i % 3}&x=y".encode()
            if i % 5 == 0:
                uri = f"/{i}".encode()
            if i % 7 == 0:
                uri = f"/caf%C3%A9/{i}?q".encode()
        elif kind == "source":
            ip = f"127.0.{i // 40}.{2 + i % 40 * 5}"
        elif kind == "host":
            headers = {b"host": f"www.site{i}.example{i % 4}.com".encode()}
            if i % 6 == 0:
                headers = {b"host": f"host{i}".encode()}
        elif kind == "bytes":  # non-ASCII header bytes: hashed as unsigned values
            headers = {b"x-k": bytes([0x41 + i % 20, 0x80 + i, 0xC3, 0xA9, 0xFF - i])}
        elif kind == "absolute":
            uri = f"http://h{i}.test/p/{i}?z".encode()
            headers = {b"host": f"h{i}.test".encode()}
        elif kind == "sequence":  # same request each time: the order of picks is compared
            uri = b"/seq"
        elif kind == "param":
            uri = f"/app?a=1&uid=user{i * 13}&z=2".encode()
            if i % 9 == 0:
                uri = f"/app?uid=&n={i}".encode()
        out.append((ip, uri, headers))
    return out


def _listener() -> socket.socket:
    """A socket bound to a kernel-chosen port, to be inherited by haproxy."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


def _named_handler(name: str) -> type[http.server.BaseHTTPRequestHandler]:
    body = name.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    return Handler


def _request(port: int, src: str, uri: bytes, headers: dict[bytes, bytes], backend: str) -> str:
    """Send one request through haproxy; the answering server's name."""
    with socket.socket() as s:
        s.settimeout(30)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        head = b"GET " + uri + b" HTTP/1.1\r\n"
        for k, v in headers.items():
            head += k + b": " + v + b"\r\n"
        s.sendall(head + b"Connection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    status, _, rest = data.partition(b"\r\n")
    assert b" 200 " in status, data[:200]
    head, _, body = rest.partition(b"\r\n\r\n")
    answered_by = [
        v.strip().decode()
        for k, _, v in (line.partition(b":") for line in head.split(b"\r\n"))
        if k.strip().lower() == b"x-lb-backend"
    ]
    assert answered_by == [backend], (backend, answered_by, head)
    return body.decode()


@pytest.fixture(scope="module")
def haproxy_farm():
    servers = []
    for name in NAMES:
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _named_handler(name))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    ports = {name: srv.server_address[1] for name, srv in zip(NAMES, servers, strict=True)}
    tmp = tempfile.TemporaryDirectory(prefix="lb-balance-hx-")
    # A frontend answered by haproxy itself: once it answers, haproxy has
    # finished starting and is accepting on every listener. It is polled
    # instead of the scenario frontends so that no pick is spent before the
    # test (static-rr compares the order of picks from the first one on).
    ready = _listener()
    ready_port = ready.getsockname()[1]
    listeners = [ready]
    lines = [
        "global",
        "    maxconn 200",
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 30s",
        "    timeout server 30s",
        "frontend f-ready",
        f"    bind fd@{ready.fileno()}",
        '    http-request return status 200 content-type text/plain string "ready"',
    ]
    for sc in SCENARIOS:
        sock = _listener()
        listeners.append(sock)
        sc.port = sock.getsockname()[1]
        lines += [
            f"frontend f-{sc.ident}",
            f"    bind fd@{sock.fileno()}",
            f"    default_backend b-{sc.ident}",
            f"backend b-{sc.ident}",
            f"    balance {sc.balance}",
            "    http-response set-header X-LB-Backend %b",
        ]
        if sc.hash_type:
            lines.append(f"    hash-type {sc.hash_type}")
        if sc.allbackups:
            lines.append("    option allbackups")
        for name, weight, extra in sc.servers:
            lines.append(f"    server {name} 127.0.0.1:{ports[name]} weight {weight} {extra}")
    cfg = Path(tmp.name) / "haproxy.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    errlog = Path(tmp.name) / "haproxy.err"
    with errlog.open("wb") as err:
        proc = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            pass_fds=[s.fileno() for s in listeners],
        )
    # haproxy holds its own copies now; ours would only keep accepting into
    # the backlog if haproxy died.
    for s in listeners:
        s.close()
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"haproxy exited early: {errlog.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", ready_port), timeout=5) as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: ready\r\nConnection: close\r\n\r\n")
                    data = b""
                    while chunk := s.recv(4096):
                        data += chunk
                if data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"ready"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"haproxy did not start: {errlog.read_text(errors='replace')}")
            time.sleep(0.05)
        yield SCENARIOS
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        for srv in servers:
            srv.shutdown()
            srv.server_close()
        tmp.cleanup()


def _our_balancer(sc: Scenario):
    fakes = []
    for pos, (name, weight, extra) in enumerate(sc.servers, start=1):
        words = extra.split()
        puid = int(words[words.index("id") + 1]) if "id" in words else pos
        fakes.append(
            FakeServer(
                name,
                puid,
                weight,
                backup="backup" in words,
                usable="disabled" not in words,
            )
        )
    algo, args = parse_balance(sc.balance.split())
    return make_balancer(algo, args, sc.hash_type.split(), fakes, sc.allbackups)


@pytest.mark.parametrize("ident", [sc.ident for sc in SCENARIOS])
def test_same_server_as_haproxy(haproxy_farm, ident: str) -> None:
    sc = next(s for s in haproxy_farm if s.ident == ident)
    balancer = _our_balancer(sc)
    mismatches = []
    seen = set()
    for ip, uri, headers in _keys(sc.kind):
        theirs = _request(sc.port, ip, uri, headers, f"b-{sc.ident}")
        ours = balancer.pick(Ctx(src=ip, uri=uri, headers=headers))
        assert ours is not None
        seen.add(theirs)
        if ours.name != theirs:
            mismatches.append((ip, uri, headers, theirs, ours.name))
    assert not mismatches, mismatches[:5]
    if not ident.startswith("backup-first"):
        assert len(seen) > 1, "keys should spread over several servers"
