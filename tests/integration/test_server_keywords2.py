"""`minconn`/`fullconn`, `redir`, `dispatch`, `option external-check`, `check-alpn` and
`tfo` through a running `lb` (behaviours and wording checked against HAProxy 2.6)."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest
from itest import (
    HOST,
    free_port,
    get,
    raw_exchange,
    request,
    run_haproxy_check,
    run_lb,
    wait_until,
)

from tests.integration.test_issue7_persist import cli as _cli

pytestmark = pytest.mark.timeout(60)

DEFAULTS = (
    "defaults\n    mode {mode}\n    timeout connect 1s\n    timeout client 5s\n"
    "    timeout server 5s\n    timeout check 1s\n"
)


def _cfg(sock: Path, body: str, mode: str = "http", glob: str = "") -> str:
    return (
        f"global\n    stats socket {sock} level admin\n{glob}" + DEFAULTS.format(mode=mode) + body
    )


def _stat(sock: Path) -> dict[tuple[str, str], dict[str, str]]:
    assert wait_until(sock.exists), "no stats socket"
    text = _cli(sock, "show stat")
    lines = [ln for ln in text.splitlines() if ln]
    names = lines[0].lstrip("# ").split(",")
    rows = {}
    for ln in lines[1:]:
        row = dict(zip(names, ln.split(","), strict=False))
        rows[(row["pxname"], row["svname"])] = row
    return rows


# ---------------------------------------------------------------- minconn / fullconn


def test_minconn_slim_as_haproxy(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    """`slim` shows the configured maxconn; minconn above maxconn (or alone) becomes
    the fixed limit; the backend's slim is fullconn (10% of the frontends' maxconn)."""
    b = backend("a")
    port, sock = free_port(), tmp_path / "s.sock"
    body = (
        f"frontend fe\n    bind {HOST}:{port}\n    maxconn 500\n    default_backend be\n"
        f"backend be\n    server a {HOST}:{b.port} minconn 5 maxconn 20\n"
        f"    server b {HOST}:{b.port} minconn 30 maxconn 20\n"
        f"    server c {HOST}:{b.port} minconn 7\n"
    )
    lb(_cfg(sock, body))
    rows = _stat(sock)
    assert [rows[("be", s)]["slim"] for s in "abc"] == ["20", "30", "7"]
    assert rows[("be", "BACKEND")]["slim"] == "50"


def _concurrent(port: int, n: int, path: str) -> list[int]:
    out: list[int] = []

    def one() -> None:
        out.append(get(port, path, timeout=8).status)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join(10)
    return out


@pytest.mark.parametrize(("opts", "expect_max"), [("minconn 1 maxconn 10", 1), ("maxconn 10", 4)])
def test_minconn_dynamic_limit(lb, backend, tmp_path: Path, opts: str, expect_max: int) -> None:  # noqa: ANN001
    """With fullconn 100 and one connection in the backend, the limit is
    max(minconn, 1 * maxconn / fullconn) = 1: the other requests wait in the queue."""
    b = backend("a")
    port, sock = free_port(), tmp_path / "s.sock"
    body = (
        f"frontend fe\n    bind {HOST}:{port}\n    default_backend be\n"
        f"backend be\n    fullconn 100\n    timeout queue 5s\n"
        f"    server a {HOST}:{b.port} {opts}\n"
    )
    lb(_cfg(sock, body))
    assert _concurrent(port, 4, "/delay?ms=300") == [200] * 4
    assert b.max_active == expect_max


# ---------------------------------------------------------------- redir


def test_redir_get_head_redirect_post_forwarded(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    b = backend("r")
    port, sock = free_port(), tmp_path / "s.sock"
    body = (
        f"frontend fe\n    bind {HOST}:{port}\n    default_backend be\n"
        f"backend be\n    server r {HOST}:{b.port} redir http://example.com\n"
    )
    lb(_cfg(sock, body))
    raw = raw_exchange(port, b"GET /foo/bar?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw == (
        b"HTTP/1.1 302 Found\r\ncache-control: no-cache\r\ncontent-length: 0\r\n"
        b"location: http://example.com/foo/bar?x=1\r\nconnection: close\r\n\r\n"
    )
    raw = raw_exchange(port, b"HEAD http://h.example/p HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"location: http://example.com/p\r\n" in raw
    raw_post = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
    r = request(port, raw_post, "POST")
    assert (r.status, r.body) == (200, b"hi")
    assert b.requests and not any(req.startswith(b"GET") for req in b.requests)
    assert _stat(sock)[("be", "r")]["stot"] == "3"


# ---------------------------------------------------------------- dispatch


def test_dispatch_serves_without_servers(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    b = backend("d")
    port, sock = free_port(), tmp_path / "s.sock"
    body = (
        f"frontend fe\n    bind {HOST}:{port}\n    default_backend be\n"
        f"backend be\n    dispatch {HOST}:{b.port}\n"
    )
    lb(_cfg(sock, body))
    r = get(port, "/")
    assert (r.status, r.body) == (200, b"hello from d")
    rows = _stat(sock)
    assert [k for k in rows if k[0] == "be"] == [("be", "BACKEND")]  # no server row
    assert rows[("be", "BACKEND")]["status"] == "UP"
    assert rows[("be", "BACKEND")]["stot"] == "1"


def test_dispatch_config_messages(tmp_path: Path) -> None:
    cfg = tmp_path / "d.cfg"
    cfg.write_text(
        DEFAULTS.format(mode="http")
        + "backend b\n    dispatch 127.0.0.1\nbackend c\n    dispatch 1.2.3.4:80 x\n"
    )
    out = run_lb("-c", "-f", str(cfg))
    assert out.returncode != 0
    assert f"parsing [{cfg}:8] : 'dispatch' : missing port specification in '127.0.0.1'" in (
        out.stderr
    )
    assert f"parsing [{cfg}:10] : 'dispatch' cannot handle unexpected argument 'x'." in out.stderr
    ref = run_haproxy_check(cfg)
    if ref is not None:
        assert "missing port specification in '127.0.0.1'" in ref.stderr
    cfg.write_text(
        DEFAULTS.format(mode="http")
        + "backend b\n    balance roundrobin\n    dispatch 127.0.0.1:80\n"
    )
    out = run_lb("-c", "-f", str(cfg))
    assert "dispatch address of backend 'b' will be ignored in balance mode." in out.stderr


def test_dispatch_wins_over_servers_without_balance(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    """As HAProxy: a backend with `dispatch` and no `balance` leaves its servers out."""
    d, s = backend("d"), backend("s")
    port, sock = free_port(), tmp_path / "s.sock"
    body = (
        f"frontend fe\n    bind {HOST}:{port}\n    default_backend be\n"
        f"backend be\n    dispatch {HOST}:{d.port}\n    server s {HOST}:{s.port}\n"
    )
    lb(_cfg(sock, body))
    assert [get(port, "/").body for _ in range(3)] == [b"hello from d"] * 3
    assert _stat(sock)[("be", "s")]["stot"] == "0"


# ---------------------------------------------------------------- external-check


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "chk.sh"
    path.write_text(
        "#!/bin/sh\n"
        f"/usr/bin/env | /usr/bin/sort > {tmp_path}/env.$HAPROXY_SERVER_NAME\n"
        f'echo "$@" > {tmp_path}/args.$HAPROXY_SERVER_NAME\n'
        '[ "$HAPROXY_SERVER_NAME" = slow ] && exec /bin/sleep 5\n'
        '[ "$HAPROXY_SERVER_NAME" = down ] && exit 3\n'
        "exit 0\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_external_check_statuses_and_environment(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    b = backend("x")
    port, sock = free_port(), tmp_path / "s.sock"
    script = _script(tmp_path)
    body = (
        f"listen ext\n    bind {HOST}:{port}\n    option external-check\n"
        f"    external-check command {script}\n"
        f"    server up {HOST}:{b.port} check inter 500 maxconn 7\n"
        f"    server slow {HOST}:{b.port} check inter 500\n"
        f"    server down {HOST}:{b.port} check inter 500 rise 1 fall 1\n"
    )
    lb(_cfg(sock, body, glob="    external-check\n    insecure-fork-wanted\n"))

    def statuses() -> list[tuple[str, str, str]]:
        rows = _stat(sock)
        return [
            (rows[("ext", s)]["status"], rows[("ext", s)]["check_status"],
             rows[("ext", s)]["check_code"])
            for s in ("up", "slow", "down")
        ]  # fmt: skip

    want = [("UP", "PROCOK", "0"), ("DOWN", "PROCTOUT", "0"), ("DOWN", "PROCERR", "3")]
    assert wait_until(lambda: statuses() == want, timeout=8), statuses()
    rows = _stat(sock)
    assert rows[("ext", "down")]["check_desc"] == "External check error"
    assert (tmp_path / "args.up").read_text() == f"{HOST} {port} {HOST} {b.port}\n"
    env = dict(
        ln.split("=", 1) for ln in (tmp_path / "env.up").read_text().splitlines() if "=" in ln
    )
    env.pop("PWD", None)  # (set by the shell itself)
    assert env == {
        "PATH": "",
        "HAPROXY_PROXY_ADDR": HOST,
        "HAPROXY_PROXY_ID": "2",
        "HAPROXY_PROXY_NAME": "ext",
        "HAPROXY_PROXY_PORT": str(port),
        "HAPROXY_SERVER_ADDR": HOST,
        "HAPROXY_SERVER_CURCONN": "0",
        "HAPROXY_SERVER_ID": "1",
        "HAPROXY_SERVER_MAXCONN": "7",
        "HAPROXY_SERVER_NAME": "up",
        "HAPROXY_SERVER_PORT": str(b.port),
        "HAPROXY_SERVER_PROTO": "h1",
        "HAPROXY_SERVER_SSL": "0",
    }
    assert get(port, "/").status == 200


def test_external_check_backend_args_and_path(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    b = backend("x")
    sock = tmp_path / "s.sock"
    _script(tmp_path)
    body = (
        f"backend ext\n    option external-check\n    external-check command chk.sh\n"
        f'    external-check path "{tmp_path}:/usr/bin:/bin"\n'
        f"    server up {HOST}:{b.port} check inter 500\n"
    )
    lb(_cfg(sock, body, mode="tcp", glob="    external-check\n    insecure-fork-wanted\n"))
    args = tmp_path / "args.up"
    assert wait_until(args.exists, timeout=5)
    assert args.read_text() == f"NOT_USED NOT_USED {HOST} {b.port}\n"
    env = (tmp_path / "env.up").read_text()
    assert f"PATH={tmp_path}:/usr/bin:/bin\n" in env
    assert "HAPROXY_PROXY_ADDR=\n" in env and "HAPROXY_SERVER_PROTO=tcp\n" in env


def test_external_check_config_alerts(tmp_path: Path) -> None:
    cfg = tmp_path / "e.cfg"
    cfg.write_text(
        DEFAULTS.format(mode="http")
        + "backend b\n    option external-check\n"
        + "backend c\n    option external-check\n    external-check command foo\n"
        + "    server s 127.0.0.1:1 check\n"
    )
    out = run_lb("-c", "-f", str(cfg))
    assert out.returncode != 0
    want = [
        "Proxy 'b' : 'option external-check' unable to find required 'global.external-check'.",
        "Proxy 'b' : 'option external-check' unable to find required 'external-check command'.",
        "Proxy 'c': 'external-check command' does not have a leading '/' and "
        "'external-check path' is not set.",
    ]
    for line in want:
        assert line in out.stderr
    ref = run_haproxy_check(cfg)
    if ref is not None:
        for line in want:
            assert line in ref.stderr


# ---------------------------------------------------------------- check-alpn, tfo


def test_server_option_messages(tmp_path: Path) -> None:
    cfg = tmp_path / "o.cfg"
    cfg.write_text(
        DEFAULTS.format(mode="http")
        + "backend b\n    server s 127.0.0.1:1 check-alpn\n    server t 127.0.0.1:1 redir\n"
    )
    out = run_lb("-c", "-f", str(cfg))
    assert (
        f"[{cfg}:8] : 'server b/s' : 'check-alpn' : missing the comma-delimited ALPN "
        "protocol suite." in out.stderr
    )
    assert f"[{cfg}:9] : 'server b/t' : 'redir' expects <prefix> as argument.." in out.stderr


def test_tfo_and_check_alpn_accepted(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    b = backend("t")
    port, sock = free_port(), tmp_path / "s.sock"
    body = (
        f"frontend fe\n    bind {HOST}:{port}\n    default_backend be\n"
        f"backend be\n    server t {HOST}:{b.port} tfo check-alpn http/1.1 check\n"
    )
    lb(_cfg(sock, body))
    assert get(port, "/").status == 200
    assert os.path.exists(sock)
