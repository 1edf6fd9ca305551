"""TLS beyond termination: the `ssl_fc*`/`ssl_c_*` fetches through real sockets, `server … ssl`
in `mode tcp`, `check-ssl` health checks, and `accept-proxy` + `ssl` counters and fields.
Every process listens on 127.0.0.1 and is stopped by pid (the `lb` fixture)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from itest import free_port, wait_until

from lb.tls import devpki

HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("pki-hooks")
    ca = devpki.CA()
    paths = {}
    for name in ("a.example", "b.example"):
        sub = d / name
        sub.mkdir()
        paths[name] = devpki.write_site(sub, "site.pem", ca, ca.issue(name))
    (d / "ca.pem").write_bytes(ca.pem)
    (d / "client.pem").write_bytes(ca.issue("client", client=True).pem())
    return {"dir": d, "ca": ca, "paths": paths}


def client_ctx(pki: dict, cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=pki["ca"].pem.decode())
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["http/1.1"])
    if cert:
        ctx.load_cert_chain(str(pki["dir"] / "client.pem"))
    return ctx


def read_all(s: socket.socket | ssl.SSLSocket) -> bytes:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


def https_get(port: int, ctx: ssl.SSLContext, sni: str, prefix: bytes = b"", session=None):
    with socket.create_connection((HOST, port), timeout=5) as raw:
        if prefix:
            raw.sendall(prefix)
            time.sleep(0.05)  # the PROXY header is taken before the ClientHello
        with ctx.wrap_socket(raw, server_hostname=sni, session=session) as t:
            t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_all(t)
            return data, t.session


def http_get(port: int) -> bytes:
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_all(s)


def body(resp: bytes) -> str:
    return resp.split(b"\r\n\r\n", 1)[1].decode()


def fields(resp: bytes) -> list[str]:
    """The `|`-separated fields of the redirect's location header."""
    for line in resp.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"location: /"):
            return line[11:].decode().split("|")
    raise AssertionError(resp)


def cli(sock: Path, line: str) -> str:
    wait_until(sock.exists, 5)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(line.encode() + b"\n")
        return read_all(s).decode()


def stat_rows(sock: Path) -> dict[tuple[str, str], dict[str, str]]:
    lines = cli(sock, "show stat").splitlines()
    head = lines[0][2:].split(",")
    rows = {}
    for ln in lines[1:]:
        if ln:
            row = dict(zip(head, ln.split(","), strict=False))
            rows[(row["pxname"], row["svname"])] = row
    return rows


# a log-format (in a redirect location: the fields come back in one header)
FIELDS = (
    "%[ssl_fc]|%[ssl_fc_sni]|%[ssl_fc_protocol]|%[ssl_fc_cipher]|%[ssl_fc_alpn]|"
    "%[ssl_fc_session_reused]|%[ssl_c_used]|%[ssl_c_verify]|%[ssl_c_s_dn]|%sslv"
)


def http_cfg(pki: dict, tls: int, plain: int, sock: Path, extra: str = "") -> str:
    p = pki["paths"]
    verify = f"ca-file {pki['dir'] / 'ca.pem'} verify optional"
    return f"""global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind {HOST}:{tls} ssl crt {p["a.example"]} crt {p["b.example"]} alpn http/1.1 {verify}
    bind {HOST}:{plain}
    use_backend be_b if {{ ssl_fc_sni -i b.example }}
    default_backend be_a
backend be_a
    http-request redirect location "/a|{FIELDS}"
backend be_b
    http-request redirect location "/b|{FIELDS}"
{extra}"""


# ---------------------------------------------------------------- sample fetches


def test_ssl_fetches_route_and_fill_log_format(pki, lb, tmp_path) -> None:
    tls, plain = free_port(), free_port()
    sock = tmp_path / "admin.sock"
    lb(http_cfg(pki, tls, plain, sock))
    ctx = client_ctx(pki)
    resp, sess = https_get(tls, ctx, "a.example")
    f = fields(resp)
    assert f[0] == "a" and f[1] == "1" and f[2] == "a.example"
    assert f[3] == "TLSv1.3" and f[4].startswith("TLS_") and f[5] == "http/1.1"
    # not resumed, no client cert, verify ok, no DN (a missing sample prints nothing
    # outside log lines, as haproxy 2.6 does)
    assert f[6:10] == ["0", "0", "0", ""]
    assert f[10] == "TLSv1.3"
    # the ACL on ssl_fc_sni picks the other backend
    f = fields(https_get(tls, ctx, "b.example")[0])
    assert f[:3] == ["b", "1", "b.example"]
    # resumption is seen by ssl_fc_session_reused
    resp2, _ = https_get(tls, ctx, "a.example", session=sess)
    assert fields(resp2)[6] == "1"
    # a client certificate: ssl_c_used and ssl_c_s_dn
    f = fields(https_get(tls, client_ctx(pki, cert=True), "a.example")[0])
    assert f[7:10] == ["1", "0", "/CN=client"]
    # plain connection: ssl_fc is false, the others are no sample (empty, as haproxy
    # 2.6 prints them outside log lines), %sslv a dash
    assert fields(http_get(plain)) == ["a", "0", *[""] * 8, "-"]


def test_ssl_fc_sni_routes_in_tcp_mode(pki, lb, tmp_path) -> None:
    tls, plain, tcp_front = free_port(), free_port(), free_port()
    sock = tmp_path / "admin.sock"
    p = pki["paths"]
    a_port, b_port = free_port(), free_port()
    extra = f"""frontend fe_a
    bind {HOST}:{a_port}
    http-request return status 200 content-type text/plain string "plain-a"
frontend fe_b
    bind {HOST}:{b_port}
    http-request return status 200 content-type text/plain string "plain-b"
frontend fe_tcp
    mode tcp
    bind {HOST}:{tcp_front} ssl crt {p["a.example"]} crt {p["b.example"]}
    use_backend bt_b if {{ ssl_fc_sni -i b.example }}
    default_backend bt_a
backend bt_a
    mode tcp
    server s {HOST}:{a_port}
backend bt_b
    mode tcp
    server s {HOST}:{b_port}
"""
    lb(http_cfg(pki, tls, plain, sock, extra))
    ctx = client_ctx(pki)
    assert body(https_get(tcp_front, ctx, "a.example")[0]) == "plain-a"
    assert body(https_get(tcp_front, ctx, "b.example")[0]) == "plain-b"
    row = stat_rows(sock)[("fe_tcp", "FRONTEND")]
    assert row["ssl_sess"] == "2"


# ---------------------------------------------------------------- server side, tcp mode


def test_tcp_mode_server_ssl_with_sni(pki, lb, tmp_path) -> None:
    tls, plain, relay = free_port(), free_port(), free_port()
    ca = pki["dir"] / "ca.pem"
    extra = f"""frontend fe_relay
    mode tcp
    bind {HOST}:{relay}
    default_backend bt
backend bt
    mode tcp
    server s1 {HOST}:{tls} ssl verify required ca-file {ca} sni str(b.example)
"""
    lb(http_cfg(pki, tls, plain, tmp_path / "admin.sock", extra))
    f = fields(http_get(relay))
    assert f[:4] == ["b", "1", "b.example", "TLSv1.3"]


def test_tcp_mode_server_ssl_verify_fails_with_other_ca(pki, lb, tmp_path) -> None:
    tls, plain, relay = free_port(), free_port(), free_port()
    other = tmp_path / "other-ca.pem"
    other.write_bytes(devpki.CA("other").pem)
    extra = f"""frontend fe_relay
    mode tcp
    bind {HOST}:{relay}
    default_backend bt
backend bt
    mode tcp
    server s1 {HOST}:{tls} ssl verify required ca-file {other}
"""
    lb(http_cfg(pki, tls, plain, tmp_path / "admin.sock", extra))
    assert http_get(relay) == b""  # the server leg never opens: the client is closed


# ---------------------------------------------------------------- check-ssl


@pytest.fixture
def garbage_port() -> Iterator[int]:
    """A server that answers anything with a plain-text line and closes."""
    srv = socket.create_server((HOST, 0))
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            with c:
                c.sendall(b"HTTP/1.0 400 Bad request\r\n\r\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    srv.close()


def test_check_ssl_status(pki, lb, tmp_path, garbage_port) -> None:
    tls, plain = free_port(), free_port()
    sock = tmp_path / "admin.sock"
    extra = f"""backend be_chk
    timeout check 300ms
    default-server inter 200ms rise 1 fall 1
    server tls_ok {HOST}:{tls} check check-ssl verify none
    server tls_bad {HOST}:{garbage_port} check check-ssl verify none
    server tls_silent {HOST}:{plain} check check-ssl verify none
    server ssl_implied {HOST}:{tls} ssl verify none check
    server port_override {HOST}:{tls} ssl verify none check port {plain}
    server plain {HOST}:{plain} check
"""
    lb(http_cfg(pki, tls, plain, sock, extra))

    def statuses() -> dict[str, str] | None:
        rows = stat_rows(sock)
        out = {sv: r["check_status"] for (px, sv), r in rows.items() if px == "be_chk"}
        out.pop("BACKEND", None)
        done = all(v and not v.startswith("*") and v != "INI" for v in out.values())
        return out if done else None

    got = wait_until(statuses, 5)
    assert got == {
        "tls_ok": "L6OK",
        "tls_bad": "L6RSP",
        "tls_silent": "L6TOUT",  # a plain HTTP frontend waits for a request head
        "ssl_implied": "L6OK",
        "port_override": "L4OK",
        "plain": "L4OK",
    }, got
    rows = stat_rows(sock)
    assert rows[("be_chk", "tls_ok")]["status"] == "UP"
    assert rows[("be_chk", "tls_bad")]["status"] == "DOWN"


def test_httpchk_over_check_ssl(pki, lb, tmp_path) -> None:
    tls, plain = free_port(), free_port()
    sock = tmp_path / "admin.sock"
    extra = f"""backend be_chk
    option httpchk GET /
    default-server inter 200ms rise 1 fall 1
    server tls_ok {HOST}:{tls} check check-ssl verify none check-sni a.example
"""
    lb(http_cfg(pki, tls, plain, sock, extra))

    def status() -> str | None:
        v = stat_rows(sock)[("be_chk", "tls_ok")]["check_status"]
        return v if v.startswith("L7") else None

    assert wait_until(status, 5) == "L7OK"


# ---------------------------------------------------------------- accept-proxy + ssl


def test_accept_proxy_then_tls_fills_fields_and_counters(pki, lb, tmp_path) -> None:
    tls, plain, pp_tls = free_port(), free_port(), free_port()
    sock = tmp_path / "admin.sock"
    p = pki["paths"]
    extra = f"""frontend fe_pp
    bind {HOST}:{pp_tls} accept-proxy ssl crt {p["a.example"]} crt {p["b.example"]}
    http-request redirect location "/%[src]|{FIELDS}"
"""
    lb(http_cfg(pki, tls, plain, sock, extra))
    header = b"PROXY TCP4 192.0.2.7 192.0.2.1 4321 443\r\n"
    ctx = client_ctx(pki)
    resp, sess = https_get(pp_tls, ctx, "b.example", prefix=header)
    f = fields(resp)
    assert f[:4] == ["192.0.2.7", "1", "b.example", "TLSv1.3"]
    assert f[-1] == "TLSv1.3"  # %sslv
    https_get(pp_tls, ctx, "b.example", prefix=header, session=sess)
    with socket.create_connection((HOST, pp_tls), timeout=5) as raw:
        raw.sendall(header + b"not tls at all\r\n\r\n")
        raw.recv(100)

    def counters() -> tuple[str, str, str] | None:
        row = stat_rows(sock)[("fe_pp", "FRONTEND")]
        out = (row["ssl_sess"], row["ssl_reused_sess"], row["ssl_failed_handshake"])
        return out if out[2] == "1" else None

    assert wait_until(counters, 3) == ("2", "1", "1")


def test_accept_proxy_header_and_client_hello_in_one_segment(pki, lb, tmp_path) -> None:
    """Bytes of the ClientHello read together with the PROXY header are not lost."""
    tls, plain, pp_tls = free_port(), free_port(), free_port()
    p = pki["paths"]
    extra = f"""frontend fe_pp
    bind {HOST}:{pp_tls} accept-proxy ssl crt {p["a.example"]}
    http-request redirect location "/%[src]|{FIELDS}"
"""
    lb(http_cfg(pki, tls, plain, tmp_path / "admin.sock", extra))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx(pki).wrap_bio(incoming, outgoing, server_hostname="a.example")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    with socket.create_connection((HOST, pp_tls), timeout=5) as raw:
        raw.sendall(b"PROXY TCP4 192.0.2.9 192.0.2.1 4321 443\r\n" + outgoing.read())
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                if data := outgoing.read():
                    raw.sendall(data)
                chunk = raw.recv(65536)
                assert chunk, "closed during the handshake"
                incoming.write(chunk)
        obj.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw.sendall(outgoing.read())
        resp = b""
        while b"\r\n\r\n" not in resp:
            try:
                resp += obj.read(65536)
            except ssl.SSLWantReadError:
                chunk = raw.recv(65536)
                assert chunk, resp
                incoming.write(chunk)
    assert fields(resp)[:4] == ["192.0.2.9", "1", "a.example", "TLSv1.3"]
