"""The stats socket under load: many clients at once while traffic flows, clients
that vanish mid-reply, and the line protocol driven through socat."""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from itest import LB, free_port

CFG = """
global
    stats socket {sock} mode 600 level admin
    stats timeout 5s
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
{servers}
listen app
    bind 127.0.0.1:{app}
    http-request return status 200 content-type text/plain string ok
"""


def _config(tmp: Path, nservers: int = 2) -> tuple[str, int, Path]:
    port, app = free_port(), free_port()
    sock = tmp / "admin.sock"
    servers = "\n".join(f"    server s{i} 127.0.0.1:{app}" for i in range(1, nservers + 1))
    return CFG.format(sock=sock, port=port, app=app, servers=servers), port, sock


def start(lb: Callable[..., LB], cfg: str, sock: Path) -> LB:
    """Start lb and wait until its stats socket accepts connections."""
    inst = lb(cfg)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(str(sock))
                return inst
            except OSError:
                time.sleep(0.05)
    raise AssertionError(f"stats socket not ready: {inst.stderr}")


def cli(sock: Path, data: bytes, timeout: float = 5.0) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def socat(sock: Path, data: bytes) -> bytes:
    exe = shutil.which("socat")
    if exe is None:
        pytest.skip("socat is not installed")
    done = subprocess.run(
        [exe, "-t", "5", "-", f"UNIX-CONNECT:{sock}"], input=data, capture_output=True, timeout=10
    )
    return done.stdout


def test_fifty_clients_while_wrk_runs(lb: Callable[..., LB], tmp_path: Path) -> None:
    cfg, port, sock = _config(tmp_path)
    start(lb, cfg, sock)
    stop = threading.Event()
    results = {"ok": 0, "bad": 0}

    def traffic() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        while not stop.is_set():
            conn.request("GET", "/")
            r = conn.getresponse()
            r.read()
            results["ok" if r.status == 200 else "bad"] += 1
        conn.close()

    loaders = [threading.Thread(target=traffic) for _ in range(2)]
    for t in loaders:
        t.start()
    wrk = shutil.which("wrk")
    wrk_proc = (
        subprocess.Popen(
            [wrk, "-t1", "-c20", "-d4s", f"http://127.0.0.1:{port}/"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        if wrk
        else None
    )
    time.sleep(0.3)
    replies: list[bytes] = []
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            replies.append(cli(sock, b"show stat\n"))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    started = time.monotonic()
    pollers = [threading.Thread(target=poll) for _ in range(50)]
    for t in pollers:
        t.start()
    for t in pollers:
        t.join(10)
    elapsed = time.monotonic() - started
    time.sleep(0.2)
    stop.set()
    for t in loaders:
        t.join(10)
    if wrk_proc is not None:
        try:
            out, _ = wrk_proc.communicate(timeout=10)
        finally:
            if wrk_proc.poll() is None:
                wrk_proc.kill()
        assert b"requests in" in out and b"Non-2xx" not in out
    assert not errors
    assert len(replies) == 50
    for r in replies:
        assert r.startswith(b"# pxname,svname,")
        assert b"\nbe,s1," in r and r.endswith(b"\n\n")
    assert results["ok"] > 0 and results["bad"] == 0
    assert elapsed < 10


def test_client_vanishing_mid_reply_is_harmless(lb: Callable[..., LB], tmp_path: Path) -> None:
    # a large reply (many servers) that the client stops reading, then drops
    cfg, port, sock = _config(tmp_path, nservers=300)
    inst = start(lb, cfg, sock)
    for _ in range(20):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock))
            s.sendall(b"show stat\nshow stat typed\n")
            s.recv(100)  # read a little, then vanish
    # the socket still answers, the process is alive, and traffic still flows
    assert cli(sock, b"show cli level\n") == b"admin\n\n"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/")
    assert conn.getresponse().status == 200
    assert inst.proc is not None and inst.proc.poll() is None
    assert "Traceback" not in inst.stderr


def test_line_protocol_through_socat(lb: Callable[..., LB], tmp_path: Path) -> None:
    cfg, _port, sock = _config(tmp_path)
    start(lb, cfg, sock)
    # chains: each reply with its own terminator; an error does not stop the chain
    out = socat(sock, b"show cli level; get weight be/nosuch; get weight be/s1\n")
    assert out == b"admin\n\nNo such server.\n\n1 (initial 1)\n\n"
    # several lines received together all run, then the connection closes
    assert socat(sock, b"show cli level\nshow cli level\n") == b"admin\n\nadmin\n\n"
    # a line without its newline is never run
    assert socat(sock, b"show cli level") == b""
    # levels only go down, and admin commands are then refused
    assert socat(sock, b"user; set weight be/s1 2\n") == b"\nPermission denied\n\n"
    # unknown command: the closest matches, then the fixed help lines
    out = socat(sock, b"show stats\n")
    assert out.startswith(b"Unknown command, but maybe one of the following ones is a better")
    assert b"  show stat " in out and out.endswith(
        b"  quit                                    : disconnect\n\n"
    )
    # prompt mode: `> ` after each reply, `quit` closes
    out = socat(sock, b"prompt\nshow cli level\nquit\n")
    assert out == b"\n> admin\n\n> "


def test_set_rate_limit_connections_slows_accepts(lb: Callable[..., LB], tmp_path: Path) -> None:
    cfg, port, sock = _config(tmp_path)
    start(lb, cfg, sock)

    def burst(n: int) -> float:
        t0 = time.monotonic()
        for _ in range(n):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/", headers={"Connection": "close"})
            assert conn.getresponse().status == 200
            conn.close()
        return time.monotonic() - t0

    assert burst(30) < 3.0  # no limit: as fast as the machine goes
    assert cli(sock, b"set rate-limit connections global 10\n") == b"\n"
    time.sleep(1.1)
    # 30 new connections at 10 per second: about two seconds at least
    assert burst(30) >= 1.5
    assert b"ConnRateLimit: 10\n" in cli(sock, b"show info\n")
