"""Issue 8: `show sess` lists live streams, `shutdown session` kills one at once (logged
with `K`), `show errors` points at the offending byte, and a server-state file written
with `show servers state` is applied at the next start."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from itest import GLOBAL, HOST, connect, free_port, wait_until

pytestmark = pytest.mark.timeout(60)

DEFAULTS = """\
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 20s
    timeout server 20s
"""


def cli(sock: Path, command: str) -> str:
    socat = shutil.which("socat")
    assert socat
    return subprocess.run(
        [socat, "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(command + "\n").encode(),
        capture_output=True,
        timeout=10,
    ).stdout.decode()


def _cfg(sock: Path, port: int, servers: str, extra_global: str = "", extra_be: str = "") -> str:
    return (
        f"{GLOBAL}    stats socket {sock} level admin\n{extra_global}\n{DEFAULTS}{extra_be}\n"
        f"frontend fe\n    bind {HOST}:{port}\n    default_backend be\n\n"
        f"backend be\n{servers}\n"
    )


def test_show_sess_lists_waiting_clients_and_download_then_kill(lb, backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    srv = backend("S")
    port = free_port()
    sock = tmp_path / "admin.sock"
    inst = lb(_cfg(sock, port, f"    server s1 {HOST}:{srv.port}\n"))
    assert wait_until(sock.exists)
    waiting = []
    for _ in range(20):
        c = connect(port)
        c.sendall(b"GET /delay?ms=15000 HTTP/1.1\r\nHost: x\r\n\r\n")
        waiting.append(c)
    dl = connect(port)
    dl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    dl.sendall(b"GET /big?size=500000000 HTTP/1.1\r\nHost: x\r\n\r\n")
    idle = connect(port)  # a keep-alive connection between requests has no stream
    idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.recv(4096).startswith(b"HTTP/1.1 200")

    def listed() -> list[str]:
        return [ln for ln in cli(sock, "show sess").splitlines() if " fe=fe " in ln]

    lines = wait_until(lambda: (ls := listed()) and len(ls) == 21 and ls, timeout=10)
    assert lines and len(lines) == 21, listed()
    assert sum("rp[f=80400000h" in ln for ln in lines) == 20  # waiting for the response
    got = dl.recv(65536)
    assert got.startswith(b"HTTP/1.1 200")
    down = [ln for ln in lines if f":{dl.getsockname()[1]} " in ln]
    assert len(down) == 1
    handle = down[0].split(":", 1)[0]
    assert cli(sock, f"show sess {handle}").startswith(f"{handle}: [")
    assert cli(sock, f"shutdown session {handle}") == "\n"
    dl.settimeout(5)
    total = len(got)
    while total < 500_000_000:  # ends at once (reset), well before the 500 MB announced
        try:
            chunk = dl.recv(1 << 20)
        except ConnectionResetError:
            break
        if not chunk:
            break
        total += len(chunk)
    assert total < 500_000_000
    assert handle not in cli(sock, "show sess")
    assert inst.wait_stderr(r" KD-- ", timeout=5), inst.stderr
    assert cli(sock, f"shutdown session {handle}") == "No such session (use 'show sess').\n\n"
    for c in waiting + [dl, idle]:
        c.close()


def test_show_errors_position(lb, backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    srv = backend("S")
    port = free_port()
    sock = tmp_path / "admin.sock"
    lb(_cfg(sock, port, f"    server s1 {HOST}:{srv.port}\n"))
    assert wait_until(sock.exists)
    with connect(port) as c:
        c.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\nX-Ok: 1\r\nBad\x01Name: 2\r\n\r\n")
        assert c.recv(4096).startswith(b"HTTP/1.1 400")
    out = cli(sock, "show errors fe request")
    assert "Total events captured on [" in out and "] : 1\n" in out
    assert "frontend fe (#2): invalid request" in out
    # "GET /x HTTP/1.1\r\n" (17) + "Host: x\r\n" (9) + "X-Ok: 1\r\n" (9) + "Bad" (3)
    assert "error at position 38\n" in out
    assert "  00035  Bad\\x01Name: 2\\r\\n\n" in out
    assert cli(sock, "show errors nosuch") == "No such proxy.\n\n"


def test_server_state_file_restored_at_start(lb, backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, b = backend("A"), backend("B")
    port = free_port()
    sock = tmp_path / "admin.sock"
    state_file = tmp_path / "servers.state"
    cfg = _cfg(
        sock,
        port,
        f"    server a {HOST}:{a.port}\n    server b {HOST}:{b.port}\n"
        f"    server c {HOST}:{b.port} weight 10\n",
        extra_global=f"    server-state-file {state_file}\n",
        extra_be="    load-server-state-from-file global\n",
    )
    first = lb(cfg)
    assert wait_until(sock.exists)
    assert cli(sock, "set server be/a weight 42") == "\n"
    assert cli(sock, "set server be/b state maint") == "\n"
    assert cli(sock, "set server be/c state drain") == "\n"
    state_file.write_text(cli(sock, "show servers state"))
    first.stop()
    sock.unlink(missing_ok=True)
    lb(cfg)
    assert wait_until(sock.exists)
    assert cli(sock, "get weight be/a") == "42 (initial 1)\n\n"
    stat = {
        ln.split(",")[1]: ln.split(",")[17]
        for ln in cli(sock, "show stat").splitlines()
        if ln.startswith("be,")
    }
    assert stat["b"] == "MAINT"
    assert stat["c"] == "DRAIN"
    lines = [ln.split() for ln in cli(sock, "show servers state be").splitlines()[2:] if ln]
    admin = {w[3]: w[6] for w in lines}
    assert admin == {"a": "0", "b": "1", "c": "8"}


def test_server_state_local_file(lb, backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = backend("A")
    port = free_port()
    sock = tmp_path / "admin.sock"
    (tmp_path / "be").write_text(
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state "
        "srv_uweight srv_iweight srv_time_since_last_change srv_check_status "
        "srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id "
        "srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
        "srv_check_addr srv_agent_addr srv_agent_port\n"
        f"3 be 1 a 127.0.0.1 2 0 7 1 5 1 0 2 0 0 0 0 - {a.port} - 0 0 - - 0\n"
    )
    cfg = _cfg(
        sock,
        port,
        f"    server a {HOST}:{a.port}\n",
        extra_global=f"    server-state-base {tmp_path}\n",
        extra_be="    load-server-state-from-file local\n",
    )
    lb(cfg)
    assert wait_until(sock.exists)
    assert re.match(r"7 \(initial 1\)", cli(sock, "get weight be/a"))


def test_shutdown_sessions_server_kills_only_that_server(lb, backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s1, s2 = backend("S1"), backend("S2")
    port = free_port()
    sock = tmp_path / "admin.sock"
    cfg = _cfg(sock, port, f"    server s1 {HOST}:{s1.port}\n")
    cfg = cfg.replace(  # a request with `x-to` goes to be2/s2
        "    default_backend be\n",
        "    use_backend be2 if { req.hdr(x-to) -m found }\n    default_backend be\n",
    )
    inst = lb(cfg + f"\nbackend be2\n    server s2 {HOST}:{s2.port}\n")
    assert wait_until(sock.exists)
    waiter = connect(port)
    waiter.sendall(b"GET /delay?ms=15000 HTTP/1.1\r\nHost: x\r\n\r\n")
    other = connect(port)
    other.sendall(b"GET /delay?ms=15000 HTTP/1.1\r\nHost: x\r\nx-to: 1\r\n\r\n")
    dl = connect(port)
    dl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    dl.sendall(b"GET /big?size=500000000 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert dl.recv(65536).startswith(b"HTTP/1.1 200")

    def streams() -> list[str]:
        return [ln for ln in cli(sock, "show sess").splitlines() if " fe=fe " in ln]

    assert wait_until(lambda: len(streams()) == 3, timeout=10), streams()
    assert cli(sock, "shutdown sessions server be/s1") == "\n"
    for c in (waiter, dl):  # both of s1's streams end at once
        c.settimeout(5)
        total = 0
        while total < 500_000_000:
            try:
                chunk = c.recv(1 << 20)
            except ConnectionResetError:
                break
            if not chunk:
                break
            total += len(chunk)
        assert total < 500_000_000
    left = wait_until(lambda: (ls := streams()) and len(ls) == 1 and ls, timeout=5)
    assert left and " srv=s2 " in left[0], streams()  # be2/s2's stream is untouched
    assert inst.wait_stderr(r" KH-- ", timeout=5), inst.stderr  # the one waiting for headers
    assert inst.wait_stderr(r" KD-- ", timeout=5), inst.stderr  # the download
    assert cli(sock, "shutdown sessions server be/nosuch") == "No such server.\n\n"
    for c in (waiter, other, dl):
        c.close()
