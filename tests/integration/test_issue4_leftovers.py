"""Leftovers of the rules work, through real sockets (each checked against haproxy 2.6):
`http-request return lf-string|lf-file|hdr`, the constant fetches (`str()`, `int()` …),
`http-after-response` on the proxy's own responses, `monitor fail`, and
`tcp-request content` rules in backends and with `inspect-delay` in TCP mode."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from itest import DEFAULTS, GLOBAL, HOST, LB, Backend, connect, free_port, get, run_lb

# ---------------------------------------------------------------- HTTP


def test_return_lf_string_hdr_and_after_response_on_local_replies(
    lb: Callable[..., LB], tmp_path: Path
) -> None:
    port, dead = free_port(), free_port()
    LF = (  # noqa: N806
        "hello %[src]  two %[str(abc)] %[int(-5)] %[bool(1)] %[ipv4(10.0.0.1)] "
        "%[ipv6(::1)] %[bin(414243)] %[meth(GET)] [%[req.hdr(nope)]]"
    )
    RET = (  # noqa: N806
        f'http-request return status 200 content-type text/plain lf-string "{LF}"'
        ' hdr X-H "v-%[path]" if { path /r }'
    )
    lf = tmp_path / "lf.txt"
    lf.write_text("file %[path] end\n")
    cfg = f"""{GLOBAL}
{DEFAULTS}
frontend fe
    bind {HOST}:{port}
    http-after-response set-header X-After fe-%[status]
    {RET}
    http-request deny if {{ path /d }}
    http-request redirect location /x if {{ path /redir }}
    use_backend be2 if {{ path /lf }}
    default_backend be
backend be
    http-after-response set-header X-After-Be be
    server s1 {HOST}:{dead}
backend be2
    http-request return status 201 content-type text/plain lf-file {lf}
"""
    lb(cfg)
    r = get(port, "/r")
    assert r.status == 200
    # the same text as haproxy 2.6: spaces kept, an empty sample prints nothing
    assert r.body == b"hello 127.0.0.1  two abc -5 1 10.0.0.1 ::1 ABC GET []"
    assert r.header("x-h") == "v-/r"
    assert r.header("content-length") == str(len(r.body))
    assert r.header("x-after") == "fe-200"
    # evaluated per request
    assert get(port, "/r", headers="Nope: here\r\n").body.endswith(b"[here]")

    r = get(port, "/d")
    assert r.status == 403 and r.header("x-after") == "fe-403"
    assert r.header("x-after-be") is None  # no backend chosen yet
    r = get(port, "/redir")
    assert r.status == 302 and r.header("location") == "/x" and r.header("x-after") == "fe-302"
    r = get(port, "/lf")
    assert r.status == 201 and r.body == b"file /lf end\n" and r.header("x-after") == "fe-201"
    r = get(port, "/nobody-home")  # the server is down: 503, backend rules first
    assert r.status == 503
    assert r.header("x-after-be") == "be" and r.header("x-after") == "fe-503"
    names = [n.lower() for n, _ in r.headers]
    assert names.index("x-after-be") < names.index("x-after")


def test_return_lf_keeps_alive(lb: Callable[..., LB]) -> None:
    port = free_port()
    cfg = f"""{GLOBAL}
{DEFAULTS}
frontend fe
    bind {HOST}:{port}
    http-request return status 200 content-type text/plain lf-string "n=%[url_param(n)]"
"""
    lb(cfg)
    from itest import Reader

    with connect(port) as s:
        rd = Reader(s)
        for i in range(3):
            s.sendall(f"GET /?n={i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            r = rd.response()
            assert r.status == 200 and r.body == f"n={i}".encode()


def test_deny_and_monitor_keep_the_connection(lb: Callable[..., LB]) -> None:
    """As haproxy 2.6 (same bytes, seen on the wire): `http-request deny` and a
    monitor-uri answer keep a keep-alive connection open, with no `connection: close`;
    a client asking to close gets it."""
    port = free_port()
    lb(
        f"""{GLOBAL}
{DEFAULTS}
frontend fe
    bind {HOST}:{port}
    monitor-uri /health
    http-request deny if {{ path /deny }}
    http-request deny deny_status 429 if {{ path /429 }}
    http-request return status 200 content-type text/plain string ok
"""
    )
    with connect(port) as s:
        s.sendall(
            b"GET /deny HTTP/1.1\r\nHost: x\r\n\r\nGET /429 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /deny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        data = b""
        s.settimeout(5)
        while chunk := s.recv(65536):
            data += chunk
    heads = [part.split(b"\r\n\r\n", 1)[0] for part in data.split(b"HTTP/1.1 ")[1:]]
    assert [h.split(b"\r\n", 1)[0] for h in heads] == [
        b"403 Forbidden",
        b"429 Too Many Requests",
        b"200 OK",
        b"200 OK",
        b"403 Forbidden",
    ]
    assert [b"connection: close" in h.lower() for h in heads] == [False] * 4 + [True]


def test_local_answers_logged_as_haproxy(lb: Callable[..., LB]) -> None:
    """A `return` is logged LR, also when the client asked to close; a deny PR
    (the termination states haproxy 2.6 logs for the same requests)."""
    port = free_port()
    inst = lb(
        f"""global
    log stdout format raw local0
{DEFAULTS}
frontend fe
    bind {HOST}:{port}
    http-request deny if {{ path /deny }}
    http-request return status 200 content-type text/plain string ok
"""
    )
    for req in (
        b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /deny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ):
        with connect(port) as s:
            s.sendall(req)
            s.settimeout(5)
            s.recv(65536)
    deadline = time.monotonic() + 5
    while inst.stdout.count("\n") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    states = [line.split()[9] for line in inst.stdout.splitlines()]
    assert states == ["LR--", "LR--", "PR--"], inst.stdout


def test_constant_fetch_errors_name_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.cfg"
    head = f"{DEFAULTS}\nfrontend fe\n    bind {HOST}:{free_port()}\n"
    line = head.count("\n") + 1
    cfg.write_text(
        head
        + '    http-request return status 200 content-type text/plain lf-string "%[int(abc)]"\n'
    )
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode != 0
    assert f"[{cfg}:{line}]" in r.stderr, r.stderr
    assert "fetch method 'int' : failed to parse 'abc' as type 'integer'" in r.stderr


def test_monitor_fail(lb: Callable[..., LB], backend: Callable[..., Backend]) -> None:
    port = free_port()
    b = backend("app")
    cfg = f"""{GLOBAL}
{DEFAULTS}
frontend fe
    bind {HOST}:{port}
    monitor-uri /mon
    monitor fail if {{ req.hdr(x-fail) -m found }}
    monitor fail unless {{ nbsrv(be) ge 1 }}
    http-after-response set-header X-After yes
    default_backend be
backend be
    server s1 {HOST}:{b.port}
"""
    inst = lb(cfg)
    r = get(port, "/mon")
    assert r.status == 200 and b"Service ready." in r.body and r.header("x-after") == "yes"
    r = get(port, "/mon", headers="X-Fail: 1\r\n")
    assert r.status == 503 and b"No server is available" in r.body
    assert r.header("x-after") == "yes"
    assert get(port, "/other").body == b"hello from app"
    assert not b.requests or all(b"/mon" not in q for q in b.requests)
    assert inst.proc is not None and inst.proc.poll() is None


def test_monitor_config_errors(tmp_path: Path) -> None:
    for line, msg in (
        ("monitor foo", "'monitor' only supports 'fail'."),
        (
            "monitor fail",
            "'monitor fail' requires either 'if' or 'unless' followed by a condition.",
        ),
    ):
        cfg = tmp_path / "m.cfg"
        head = f"{DEFAULTS}\nfrontend fe\n    bind {HOST}:{free_port()}\n    monitor-uri /m\n"
        cfg.write_text(f"{head}    {line}\n")
        where = f"[{cfg}:{head.count(chr(10)) + 1}]"
        r = run_lb("-c", "-f", str(cfg))
        assert r.returncode != 0 and msg in r.stderr and where in r.stderr, r.stderr


def test_backend_tcp_request_content_in_http_mode(lb: Callable[..., LB]) -> None:
    p_listen, p_fe = free_port(), free_port()
    cfg = f"""{GLOBAL}
{DEFAULTS}
listen li
    bind {HOST}:{p_listen}
    tcp-request content set-var(txn.n) str(x),concat(,txn.n,)
    http-request return status 200 content-type text/plain lf-string "li n=%[var(txn.n)]"
frontend fe
    bind {HOST}:{p_fe}
    tcp-request content set-var(txn.n) str(f),concat(,txn.n,)
    use_backend li if {{ path /li }}
    default_backend be
backend be
    tcp-request content set-var(txn.n) str(b),concat(,txn.n,)
    tcp-request content reject if {{ path /rej }}
    http-request return status 200 content-type text/plain lf-string "be n=%[var(txn.n)]"
"""
    lb(cfg)
    assert get(p_listen, "/").body == b"li n=x"  # a listen's rules run once
    assert get(p_fe, "/").body == b"be n=bf"  # the backend's after the frontend's
    assert get(p_fe, "/li").body == b"li n=xf"  # a listen used as a backend
    with connect(p_fe) as s:
        s.sendall(b"GET /rej HTTP/1.1\r\nHost: t\r\n\r\n")
        try:
            assert s.recv(100) == b""  # closed without an answer
        except ConnectionResetError:
            pass


# ---------------------------------------------------------------- TCP mode


@pytest.fixture
def echo() -> Iterator[Callable[[str], int]]:
    """Echo servers that first send `NAME:`."""
    socks: list[socket.socket] = []

    def make(name: str) -> int:
        ls = socket.socket()
        ls.bind((HOST, 0))
        ls.listen(50)
        ls.settimeout(0.2)
        socks.append(ls)

        def serve(c: socket.socket) -> None:
            with c:
                c.sendall(name.encode() + b":")
                while d := c.recv(4096):
                    c.sendall(d)

        def loop() -> None:
            while True:
                try:
                    c, _ = ls.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                threading.Thread(target=serve, args=(c,), daemon=True).start()

        threading.Thread(target=loop, daemon=True).start()
        return ls.getsockname()[1]

    yield make
    for s in socks:
        s.close()


def talk(port: int, chunks: list[bytes | float], want: int = 0, timeout: float = 2.0) -> bytes:
    """Send the chunks (floats are pauses); read until `want` bytes, EOF or timeout."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        for c in chunks:
            if isinstance(c, float):
                time.sleep(c)
            else:
                s.sendall(c)
        out = b""
        try:
            while not want or len(out) < want:
                d = s.recv(4096)
                if not d:
                    break
                out += d
        except (TimeoutError, ConnectionResetError):
            pass
        return out


def client_hello(sni: str) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


TCP_DEFAULTS = """\
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
"""


def test_tcp_inspect_delay_waits_for_payload(
    lb: Callable[..., LB], echo: Callable[[str], int]
) -> None:
    one, two = echo("one"), echo("two")
    p, p_be, p_li = free_port(), free_port(), free_port()
    cfg = f"""{TCP_DEFAULTS}
frontend fe
    bind {HOST}:{p}
    tcp-request inspect-delay 1s
    tcp-request content accept if {{ req.payload(0,4) -m str PING }}
    tcp-request content accept if {{ req_ssl_hello_type 1 }}
    tcp-request content reject
    use_backend two if {{ req_ssl_sni -i two.example }}
    default_backend one
backend one
    server s {HOST}:{one}
backend two
    server s {HOST}:{two}
frontend fe3
    bind {HOST}:{p_be}
    default_backend bk
backend bk
    tcp-request inspect-delay 1s
    tcp-request content reject if {{ req.payload(0,3) -m str BAD }}
    server s {HOST}:{two}
listen li
    bind {HOST}:{p_li}
    tcp-request inspect-delay 1s
    tcp-request content accept if {{ req.len ge 3 }}
    tcp-request content reject
    server s {HOST}:{one}
"""
    lb(cfg)
    # the payload comes in two pieces: the rule waits for the second
    assert talk(p, [b"PI", 0.3, b"NG"], want=8) == b"one:PING"
    # a payload that does not match: rejected at once
    t0 = time.monotonic()
    assert talk(p, [b"XXXX"]) == b""
    assert time.monotonic() - t0 < 0.8
    # nothing comes: rejected when inspect-delay is over
    t0 = time.monotonic()
    assert talk(p, [], timeout=3.0) == b""
    assert 0.8 <= time.monotonic() - t0 < 2.5
    # TLS ClientHello in two pieces, routed on its SNI
    h = client_hello("two.example")
    assert talk(p, [h[:20], 0.3, h[20:]], want=4)[:4] == b"two:"
    assert talk(p, [client_hello("x.example")], want=4)[:4] == b"one:"
    # a backend's content rules run once it is chosen, with its own inspect-delay
    assert talk(p_be, [b"BA", 0.3, b"D"]) == b""
    assert talk(p_be, [b"GOOD"], want=8) == b"two:GOOD"
    # req.len grows with the data
    assert talk(p_li, [b"ab", 0.3, b"c"], want=7) == b"one:abc"
