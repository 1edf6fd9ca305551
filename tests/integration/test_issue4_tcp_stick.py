"""Issue 4: `tcp-request` rules, stick persistence, `use_backend … unless`,
`monitor-uri`, `unique-id-format`/`unique-id-header` and `tarpit`, through real sockets."""

from __future__ import annotations

import contextlib
import re
import socket
import time

from itest import (
    GLOBAL,
    HOST,
    Reader,
    connect,
    free_port,
    get,
    raw_exchange,
    wait_until,
)

DEFAULTS = """\
defaults
    mode {mode}
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
"""


def _cfg(
    port: int,
    servers: str,
    fe: str = "",
    be: str = "",
    log: str = "",
    mode: str = "http",
    extra: str = "",
) -> str:
    fmt = f"    log-format {log}\n" if log else ""
    return (
        f"{GLOBAL}\n{DEFAULTS.format(mode=mode)}\nfrontend fe\n    bind {HOST}:{port}\n{fmt}{fe}"
        f"    default_backend be\n\nbackend be\n{be}{servers}\n{extra}"
    )


def _servers(*bs) -> str:
    return "".join(f"    server {b.name} {HOST}:{b.port}\n" for b in bs)


def _closed_without_answer(port: int) -> bool:
    try:
        out = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", timeout=2)
    except (ConnectionResetError, OSError):
        return True
    return out == b""


# ---------------------------------------------------------------- tcp-request


def test_tcp_request_connection_reject(lb, backend):
    b = backend("s1")
    port = free_port()
    fe = "    tcp-request connection reject if { src 127.0.0.1 }\n"
    inst = lb(_cfg(port, _servers(b), fe=fe))
    assert _closed_without_answer(port)
    assert b.requests == []
    time.sleep(0.2)
    assert inst.log_lines() == []  # rejected connections are not logged


def test_tcp_request_connection_accept_first(lb, backend):
    b = backend("s1")
    port = free_port()
    fe = (
        "    tcp-request connection accept if { src 127.0.0.0/8 }\n"
        "    tcp-request connection reject\n"
    )
    lb(_cfg(port, _servers(b), fe=fe))
    assert get(port, "/").body == b"hello from s1"


def test_tcp_connection_track_conn_cur_limit(lb, backend):
    """`sc0_conn_cur` limits concurrent connections; `sess.` vars and the session's
    counters reach every request of the connection (logged)."""
    b = backend("s1")
    port = free_port()
    fe = (
        "    stick-table type ip size 1k expire 30s store conn_cur,conn_cnt,http_req_cnt\n"
        "    tcp-request connection track-sc0 src\n"
        "    tcp-request connection reject if { sc0_conn_cur gt 2 }\n"
        "    tcp-request connection set-var(sess.tag) src\n"
    )
    inst = lb(
        _cfg(
            port,
            _servers(b),
            fe=fe,
            log="tag=%[var(sess.tag)]\\ cnt=%[sc0_conn_cnt]\\ req=%[sc0_http_req_cnt]",
        )
    )
    assert get(port, "/").status == 200  # the start-up probe is surely gone after this
    with connect(port) as c1, connect(port) as c2:
        r1, r2 = Reader(c1), Reader(c2)
        c1.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert r1.response().status == 200
        c1.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert r1.response().status == 200
        c2.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert r2.response().status == 200
        assert _closed_without_answer(port)  # a third concurrent connection
    lines = inst.wait_stderr(r"tag=", count=4)[1:]
    vals = [re.fullmatch(r"tag=127\.0\.0\.1 cnt=(\d+) req=(\d+)", ln) for ln in lines]
    assert all(vals), lines
    cnt = [int(m.group(1)) for m in vals]  # (the start-up probe was a connection too)
    req = [int(m.group(2)) for m in vals]
    assert cnt == [cnt[0]] * 3 and cnt[0] >= 3  # c1 and c2 were both open before
    assert req == [req[0], req[0] + 1, req[0] + 2]
    # both closed: conn_cur went back down, a new connection is accepted
    assert wait_until(lambda: get(port, "/").status == 200)


def test_tcp_request_content_http(lb, backend):
    b = backend("s1")
    port = free_port()
    fe = (
        "    tcp-request inspect-delay 1s\n"
        "    tcp-request content reject if { path_beg /private }\n"
        "    tcp-request content set-var(txn.p) path\n"
        "    http-request set-header X-P %[var(txn.p)]\n"
    )
    lb(_cfg(port, _servers(b), fe=fe))
    assert _closed_without_answer_path(port, "/private/x")
    assert b"\r\nX-P: /headers\r\n" in get(port, "/headers").body
    assert get(port, "/").body == b"hello from s1"


def _closed_without_answer_path(port: int, path: str) -> bool:
    raw = f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
    try:
        out = raw_exchange(port, raw, timeout=2)
    except (ConnectionResetError, OSError):
        return True
    return out == b""


def _tcp_echo_server():
    srv = socket.socket()
    srv.bind((HOST, 0))
    srv.listen(16)
    return srv


def test_tcp_mode_rules(lb, backend):
    """TCP mode: connection reject by a tracked rate, content rules, session vars in logs."""
    b = backend("s1")
    port = free_port()
    fe = (
        "    stick-table type ip size 1k expire 30s store conn_rate(10s),sess_cnt\n"
        "    tcp-request connection track-sc1 src\n"
        "    tcp-request connection reject if { sc1_conn_rate gt 4 }\n"
        "    tcp-request content set-var(sess.n) sc1_sess_cnt\n"
    )
    inst = lb(_cfg(port, _servers(b), fe=fe, mode="tcp", log="n=%[var(sess.n)]\\ %ts"))
    for _ in range(3):
        r = get(port, "/")
        assert r.body == b"hello from s1"
    assert _closed_without_answer(port)
    # the start-up probe was the first connection (and session): 1 + 3 pass, the 5th not
    lines = inst.wait_stderr(r"^n=", count=4)
    assert sorted(ln.split()[0] for ln in lines) == ["n=1", "n=2", "n=3", "n=4"]


def test_tcp_mode_content_reject(lb, backend):
    b = backend("s1")
    port = free_port()
    fe = "    tcp-request content reject if { dst_port " + str(port) + " }\n"
    inst = lb(_cfg(port, _servers(b), fe=fe, mode="tcp", log="%ts"))
    assert _closed_without_answer(port)
    assert inst.wait_stderr(r"^PR$")
    assert b.accepted == 0


# ---------------------------------------------------------------- stick


def _who(port: int, headers: str = "") -> str:
    return get(port, "/", headers=headers).body.decode().rsplit(" ", 1)[-1]


def test_stick_on_src(lb, backend):
    b1, b2 = backend("s1"), backend("s2")
    port = free_port()
    be = "    balance roundrobin\n    stick-table type ip size 1k expire 30s\n    stick on src\n"
    lb(_cfg(port, _servers(b1, b2), be=be))
    first = _who(port)
    assert all(_who(port) == first for _ in range(5))


def test_stick_match_store_request_by_header(lb, backend):
    b1, b2 = backend("s1"), backend("s2")
    port = free_port()
    be = (
        "    balance roundrobin\n"
        "    stick-table type string len 32 size 1k expire 30s\n"
        "    stick match req.hdr(x-user)\n"
        "    stick store-request req.hdr(x-user)\n"
    )
    lb(_cfg(port, _servers(b1, b2), be=be))
    users = {u: _who(port, f"X-User: {u}\r\n") for u in ("alice", "bob", "carol", "dave")}
    assert set(users.values()) == {"s1", "s2"}
    for _ in range(3):
        for u, srv in users.items():
            assert _who(port, f"X-User: {u}\r\n") == srv
    # no key: plain round robin
    assert {_who(port), _who(port)} == {"s1", "s2"}


def test_stick_store_response_and_show_table(lb, backend, tmp_path):
    b1, b2 = backend("s1"), backend("s2")
    port = free_port()
    sock = tmp_path / "stats.sock"
    be = (
        "    balance roundrobin\n"
        "    stick-table type string len 32 size 1k expire 30s\n"
        "    stick match req.hdr(x-user)\n"
        "    stick store-response req.hdr(x-user)\n"
    )
    extra = ""
    cfg = _cfg(port, _servers(b1, b2), be=be, extra=extra)
    cfg = cfg.replace("global\n", f"global\n    stats socket {sock} level admin\n", 1)
    lb(cfg)
    first = _who(port, "X-User: zed\r\n")
    assert all(_who(port, "X-User: zed\r\n") == first for _ in range(4))
    out = _cli(sock, "show table be")
    sid = 1 if first == "s1" else 2
    assert re.search(rf"key=zed use=0 exp=\d+ server_id={sid} server_key={first}\n", out), out


def test_stick_ignores_down_server(lb, backend, tmp_path):
    b1, b2 = backend("s1"), backend("s2")
    port = free_port()
    sock = tmp_path / "stats.sock"
    be = "    balance roundrobin\n    stick-table type ip size 1k expire 30s\n    stick on src\n"
    cfg = _cfg(port, _servers(b1, b2), be=be)
    cfg = cfg.replace("global\n", f"global\n    stats socket {sock} level admin\n", 1)
    lb(cfg)
    first = _who(port)
    _cli(sock, f"disable server be/{first}")
    other = _who(port)
    assert other != first
    assert _who(port) == other  # the store moved the entry to the other server


def test_tcp_mode_stick_on_src(lb, backend):
    b1, b2 = backend("s1"), backend("s2")
    port = free_port()
    be = "    stick-table type ip size 1k expire 30s\n    stick on src\n"
    lb(_cfg(port, _servers(b1, b2), be=be, mode="tcp"))
    first = _who(port)
    assert all(_who(port) == first for _ in range(4))


def _cli(path, cmd: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(3)
        s.connect(str(path))
        s.sendall(cmd.encode() + b"\n")
        out = b""
        with contextlib.suppress(TimeoutError):
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
    return out.decode()


# ---------------------------------------------------------------- routing and the rest


def test_use_backend_unless(lb, backend):
    b1, b2 = backend("s1"), backend("s2")
    port = free_port()
    cfg = (
        f"{GLOBAL}\n{DEFAULTS.format(mode='http')}\nfrontend fe\n    bind {HOST}:{port}\n"
        "    use_backend other unless { path_beg /main }\n"
        "    default_backend main\n\n"
        f"backend main\n    server s1 {HOST}:{b1.port}\n\n"
        f"backend other\n    server s2 {HOST}:{b2.port}\n"
    )
    lb(cfg)
    assert get(port, "/main/x").body == b"hello from s1"
    assert get(port, "/elsewhere").body == b"hello from s2"


def test_monitor_uri(lb, backend):
    b = backend("s1")
    port = free_port()
    inst = lb(_cfg(port, _servers(b), fe="    monitor-uri /health\n", log="%r"))
    r = get(port, "/health")
    assert r.status == 200
    assert b"Service ready." in r.body
    assert b.requests == []
    assert get(port, "/").body == b"hello from s1"
    lines = inst.wait_stderr(r"GET")
    time.sleep(0.1)
    assert all("/health" not in ln for ln in inst.log_lines()), lines


def test_unique_id(lb, backend):
    b = backend("s1")
    port = free_port()
    fe = '    unique-id-format "%{+X}o\\ %ci:%cp_%rt_%[path]"\n    unique-id-header X-Unique-ID\n'
    inst = lb(_cfg(port, _servers(b), fe=fe, log="id=%ID"))
    r = get(port, "/headers")
    m = re.search(rb"\r\nX-Unique-ID: ([^\r]+)\r\n", r.body)
    assert m, r.body
    uid = m.group(1).decode()
    assert re.fullmatch(r"7F000001:[0-9A-F]+_[0-9A-F]+_/headers", uid), uid
    assert inst.wait_stderr(rf"^id={re.escape(uid)}$")


def test_tarpit_delay(lb, backend):
    b = backend("s1")
    port = free_port()
    fe = "    timeout tarpit 400ms\n    http-request tarpit deny_status 403 if { path /trap }\n"
    inst = lb(_cfg(port, _servers(b), fe=fe, log="%ST\\ %ts"))
    t0 = time.monotonic()
    r = get(port, "/trap")
    took = time.monotonic() - t0
    assert r.status == 403
    assert took >= 0.35
    assert b.requests == []
    assert inst.wait_stderr(r"^403 PT$")
    t0 = time.monotonic()
    assert get(port, "/").status == 200
    assert time.monotonic() - t0 < 0.3
