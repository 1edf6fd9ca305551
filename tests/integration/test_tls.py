"""TLS termination end to end: SNI, ALPN, client certificates, ticket resumption across
processes (and with a real HAProxy), key rotation, OCSP stapling changed at run time,
and configuration errors. Every process listens on 127.0.0.1 and is stopped by pid.
"""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from itest import free_port

from lb.tls import devpki

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def wait_port(port: int, timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Proc:
    """`python -m lb` (or haproxy) on a config file; stopped by pid."""

    def __init__(self, tmp: Path, name: str, cfg: str, argv: list[str] | None = None) -> None:
        self.tmp = tmp
        path = tmp / f"{name}.cfg"
        path.write_text(cfg)
        self.err_path = tmp / f"{name}.err"
        self.err = open(self.err_path, "wb")  # noqa: SIM115
        cmd = argv or [sys.executable, "-m", "lb"]
        self.proc = subprocess.Popen(
            [*cmd, "-f", str(path)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=self.err,
            stdin=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def backend() -> Iterator[int]:
    srv = http.server.ThreadingHTTPServer((HOST, 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("pki")
    ca = devpki.CA()
    leaves = {
        "a": ca.issue("a.example", "localhost"),
        "b": ca.issue("b.example", kind="ec"),
        "c": ca.issue("*.c.example"),
    }
    paths = {}
    for name, leaf in leaves.items():
        sub = d / name
        sub.mkdir()
        paths[name] = devpki.write_site(sub, "site.pem", ca, leaf, ca.ocsp(leaf))
    (d / "ca.pem").write_bytes(ca.pem)
    client = ca.issue("client", client=True)
    (d / "client.pem").write_bytes(client.pem())
    keys = d / "tickets.keys"
    keys.write_text(
        "".join(__import__("base64").b64encode(k).decode() + "\n" for k in devpki.ticket_keys())
    )
    return {"dir": d, "ca": ca, "leaves": leaves, "paths": paths, "keys": str(keys)}


def lb_config(pki: dict, backend: int, port: int, extra: str = "", sock: str = "") -> str:
    p = pki["paths"]
    glob = f"    stats socket {sock} level admin\n" if sock else ""
    crts = " ".join(f"crt {p[k]}" for k in ("a", "b", "c"))
    return f"""global
{glob}defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind {HOST}:{port} ssl {crts} tls-ticket-keys {pki["keys"]} alpn http/1.1 {extra}
    default_backend be
backend be
    server s1 {HOST}:{backend}
"""


@pytest.fixture
def run(tmp_path: Path) -> Iterator:
    procs: list[Proc] = []

    def start(cfg: str, port: int, name: str = "lb", argv: list[str] | None = None) -> Proc:
        p = Proc(tmp_path, f"{name}{len(procs)}", cfg, argv)
        procs.append(p)
        assert wait_port(port), p.err_path.read_text()
        return p

    yield start
    for p in procs:
        p.stop()


def client_ctx(pki: dict, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=pki["ca"].pem.decode())
    ctx.check_hostname = False
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def fetch(port: int, ctx: ssl.SSLContext, sni: str = "a.example", session=None) -> dict:
    with (
        socket.create_connection((HOST, port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=sni, session=session) as t,
    ):
        out = {
            "cn": t.getpeercert()["subject"][0][0][1],
            "alpn": t.selected_alpn_protocol(),
            "version": t.version(),
        }
        t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := t.recv(65536):
            data += chunk
        out.update(data=data, reused=t.session_reused, session=t.session)
        return out


def cli(sock: Path, line: str) -> str:
    deadline = time.monotonic() + 5
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(line.encode() + b"\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


# ---------------------------------------------------------------- SNI, ALPN, verify


def test_sni_picks_certificate_among_three_and_alpn(pki, backend, run) -> None:
    port = free_port()
    run(lb_config(pki, backend, port), port)
    ctx = client_ctx(pki)
    assert fetch(port, ctx, "a.example")["cn"] == "a.example"
    assert fetch(port, ctx, "b.example")["cn"] == "b.example"
    assert fetch(port, ctx, "www.c.example")["cn"] == "*.c.example"
    r = fetch(port, ctx, "unknown.example")  # no match: the first certificate
    assert r["cn"] == "a.example"
    assert r["alpn"] == "http/1.1"
    assert r["data"].startswith(b"HTTP/1.1 200") and r["data"].endswith(b"hello\n")


def test_strict_sni_refuses_unknown_names(pki, backend, run) -> None:
    port = free_port()
    run(lb_config(pki, backend, port, "strict-sni"), port)
    ctx = client_ctx(pki)
    assert fetch(port, ctx, "b.example")["cn"] == "b.example"
    with pytest.raises(ssl.SSLError):
        fetch(port, ctx, "unknown.example")


def test_client_certificate_required(pki, backend, run) -> None:
    port = free_port()
    ca = pki["dir"] / "ca.pem"
    run(lb_config(pki, backend, port, f"ca-file {ca} verify required"), port)
    ctx = client_ctx(pki)
    try:  # under TLS 1.3 the refusal only shows after the client's handshake
        refused = not fetch(port, ctx)["data"]
    except (OSError, ValueError):
        refused = True
    assert refused
    ctx.load_cert_chain(str(pki["dir"] / "client.pem"))
    assert fetch(port, ctx)["data"].startswith(b"HTTP/1.1 200")


# ---------------------------------------------------------------- tickets


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_two_lb_processes_resume_each_others_tickets(pki, backend, run, version) -> None:
    p1, p2 = free_port(), free_port()
    run(lb_config(pki, backend, p1), p1)
    run(lb_config(pki, backend, p2), p2)
    ctx = client_ctx(pki, version)
    first = fetch(p1, ctx)
    assert not first["reused"]
    assert fetch(p2, ctx, session=first["session"])["reused"]
    again = fetch(p2, ctx)
    assert fetch(p1, ctx, session=again["session"])["reused"]


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_resumption_between_lb_and_haproxy(pki, backend, run, version) -> None:
    lp, hp = free_port(), free_port()
    run(lb_config(pki, backend, lp), lp)
    run(lb_config(pki, backend, hp), hp, name="haproxy", argv=["haproxy", "-db"])
    ctx = client_ctx(pki, version)
    from_lb = fetch(lp, ctx)
    assert fetch(hp, ctx, session=from_lb["session"])["reused"], "lb ticket on haproxy"
    from_ha = fetch(hp, ctx)
    assert fetch(lp, ctx, session=from_ha["session"])["reused"], "haproxy ticket on lb"


def test_rotation_keeps_old_ticket_for_one_push_only(pki, backend, run, tmp_path) -> None:
    port = free_port()
    sock = tmp_path / "admin.sock"
    run(lb_config(pki, backend, port, sock=str(sock)), port)
    ctx = client_ctx(pki, ssl.TLSVersion.TLSv1_2)
    old = fetch(port, ctx)["session"]
    before = cli(sock, "show tls-keys #0").splitlines()
    import base64
    import os

    new_keys = [base64.b64encode(os.urandom(48)).decode() for _ in range(3)]
    assert cli(sock, f"set ssl tls-key #0 {new_keys[0]}") == "TLS ticket key updated!\n\n"
    after = cli(sock, "show tls-keys #0").splitlines()
    assert after[2].split()[1] == before[3].split()[1]  # .1 moved to .0
    assert after[4] == f"0.2 {new_keys[0]}"
    assert fetch(port, ctx, session=old)["reused"]
    for k in new_keys[1:]:
        cli(sock, f"set ssl tls-key {pki['keys']} {k}")
    assert not fetch(port, ctx, session=old)["reused"]


# ---------------------------------------------------------------- OCSP


def _staple(port: int, sni: str) -> str:
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-servername", sni, "-status"],
        input=b"",
        capture_output=True,
        timeout=10,
    ).stdout.decode()
    for line in out.splitlines():
        if "Cert Status:" in line:
            return line.split(":", 1)[1].strip()
    return "none"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_ocsp_staple_swapped_at_run_time(pki, backend, run, tmp_path) -> None:
    port = free_port()
    sock = tmp_path / "admin.sock"
    run(lb_config(pki, backend, port, sock=str(sock)), port)
    assert _staple(port, "a.example") == "good"
    assert _staple(port, "b.example") == "good"
    revoked = pki["ca"].ocsp(pki["leaves"]["b"], revoked=True)
    b64 = __import__("base64").b64encode(revoked).decode()
    assert cli(sock, f"set ssl ocsp-response {b64}") == "OCSP Response updated!\n\n"
    assert _staple(port, "b.example") == "revoked"
    assert _staple(port, "a.example") == "good"
    # the payload form
    good = __import__("base64").encodebytes(pki["ca"].ocsp(pki["leaves"]["b"])).decode()
    assert cli(sock, f"set ssl ocsp-response <<\n{good}") == "OCSP Response updated!\n\n"
    assert _staple(port, "b.example") == "good"
    assert cli(sock, "set ssl ocsp-response Zm9v") == "Unable to parse OCSP response.\n\n"


# ---------------------------------------------------------------- counters


def test_ssl_counters_in_show_stat(pki, backend, run, tmp_path) -> None:
    port = free_port()
    sock = tmp_path / "admin.sock"
    run(lb_config(pki, backend, port, sock=str(sock)), port)
    ctx = client_ctx(pki, ssl.TLSVersion.TLSv1_2)

    def stat() -> dict[str, str]:
        lines = cli(sock, "show stat").splitlines()
        head = lines[0][2:].split(",")
        row = next(ln.split(",") for ln in lines if ln.startswith("fe,FRONTEND"))
        return dict(zip(head, row, strict=False))

    failed = int(stat()["ssl_failed_handshake"])  # wait_port's probe may count as one
    s = fetch(port, ctx)["session"]
    fetch(port, ctx, session=s)
    with socket.create_connection((HOST, port)) as raw:
        raw.sendall(b"not tls at all\r\n\r\n")
        raw.recv(100)
    time.sleep(0.2)
    now = stat()
    assert now["ssl_sess"] == "2"
    assert now["ssl_reused_sess"] == "1"
    assert int(now["ssl_failed_handshake"]) == failed + 1


# ---------------------------------------------------------------- config errors


def _check(tmp: Path, cfg: str) -> subprocess.CompletedProcess:
    path = tmp / "check.cfg"
    path.write_text(cfg)
    return subprocess.run(
        [sys.executable, "-m", "lb", "-c", "-f", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("cert", "unable to load certificate from file '{f}'."),
        ("key", "No Private Key found in '{f}.key'."),
        ("keys", "'{f}' : unable to decode base64 key on line 2"),
        ("ocsp", "'{f}.ocsp' : Unable to parse OCSP response."),
    ],
)
def test_broken_files_are_config_errors(pki, backend, tmp_path, kind, message) -> None:
    d = tmp_path / "broken"
    d.mkdir()
    site = Path(shutil.copy(pki["paths"]["b"], d / "site.pem"))
    shutil.copy(pki["paths"]["b"] + ".issuer", d / "site.pem.issuer")
    keys = Path(shutil.copy(pki["keys"], d / "tickets.keys"))
    if kind == "cert":
        site.write_text("garbage\n")
    elif kind == "key":
        site.write_text(site.read_text().split("-----BEGIN PRIVATE KEY-----")[0])
    elif kind == "keys":
        lines = keys.read_text().splitlines()
        keys.write_text(f"{lines[0]}\n!!notbase64\n{lines[2]}\n")
    elif kind == "ocsp":
        (d / "site.pem.ocsp").write_bytes(b"garbage")
    cfg = f"""defaults
    mode http
frontend fe
    bind {HOST}:{free_port()} ssl crt {site} tls-ticket-keys {keys}
    default_backend be
backend be
    server s1 {HOST}:{backend}
"""
    r = _check(tmp_path, cfg)
    assert r.returncode != 0
    f = keys if kind == "keys" else site
    expected = f"parsing [{tmp_path / 'check.cfg'}:4] : 'bind {HOST}:"
    assert expected in r.stderr
    assert message.format(f=f) in r.stderr, r.stderr


# ---------------------------------------------------------------- server side


@pytest.mark.parametrize(("ca_name", "status"), [("ca.pem", b"200"), ("other-ca.pem", b"503")])
def test_server_ssl_verify_required(pki, backend, run, tmp_path, ca_name, status) -> None:
    tls_port, plain_port = free_port(), free_port()
    run(lb_config(pki, backend, tls_port), tls_port)
    (pki["dir"] / "other-ca.pem").write_bytes(devpki.CA("other").pem)
    ca = pki["dir"] / ca_name
    cfg = f"""defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind {HOST}:{plain_port}
    default_backend be
backend be
    server s1 {HOST}:{tls_port} ssl verify required ca-file {ca} sni str(a.example)
"""
    run(cfg, plain_port, name="front")
    with socket.create_connection((HOST, plain_port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.split(b" ")[1] == status


# ---------------------------------------------------------------- DHE parameters

FFDHE2048 = subprocess.run(
    ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_param:ffdhe2048"],
    capture_output=True,
).stdout if shutil.which("openssl") else b""  # fmt: skip


def dhe_client(pki: dict) -> ssl.SSLContext:
    ctx = client_ctx(pki, ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("DHE-RSA-AES128-GCM-SHA256")
    return ctx


@pytest.mark.skipif(not FFDHE2048, reason="openssl is not installed")
def test_dhe_ciphers_need_dh_parameters(pki, backend, run, tmp_path) -> None:
    """Without parameters a DHE-only client is refused; `ssl-dh-param-file` or
    parameters appended to the certificate's file let it in."""
    dh = tmp_path / "dh.pem"
    dh.write_bytes(FFDHE2048)
    port = free_port()
    run(lb_config(pki, backend, port), port)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        fetch(port, dhe_client(pki))
    port = free_port()
    cfg = lb_config(pki, backend, port).replace("global\n", f"global\n    ssl-dh-param-file {dh}\n")
    run(cfg, port)
    r = fetch(port, dhe_client(pki))
    assert r["data"].startswith(b"HTTP/1.1 200") and r["version"] == "TLSv1.2"
    # in the certificate's own file
    site = tmp_path / "site-dh.pem"
    site.write_bytes(Path(pki["paths"]["a"]).read_bytes() + FFDHE2048)
    port = free_port()
    run(lb_config(pki, backend, port).replace(f"crt {pki['paths']['a']}", f"crt {site}"), port)
    assert fetch(port, dhe_client(pki))["data"].startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    ("value", "alert"),
    [
        ("", "'ssl-dh-param-file' expects a file path as an argument."),
        ("/nonexistent.pem", "'ssl-dh-param-file': unable to load DH parameters from file "
         "</nonexistent.pem>."),
    ],
)  # fmt: skip
def test_dh_param_file_errors(tmp_path, value, alert) -> None:
    f = tmp_path / "dh.cfg"
    f.write_text(f"global\n    ssl-dh-param-file {value}\n")
    out = subprocess.run(
        [sys.executable, "-m", "lb", "-c", "-f", str(f)], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 1 and f"parsing [{f}:2] : {alert}" in out.stderr, out.stderr
