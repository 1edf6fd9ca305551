"""Frontend `rate-limit sessions` (new sessions per second) and `backlog` (the listen
queue of binds that set none), through real sockets; `show stat` reports the limit
in `rate_lim` as HAProxy does."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from itest import HOST, free_port, run_haproxy_check, run_lb, wait_until

pytestmark = pytest.mark.timeout(40)

DEFAULTS = """\
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
"""


def _served_at(port: int, n: int) -> list[float]:
    """Open `n` connections at once, one request each: when each answer came."""
    start = time.monotonic()
    times: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        with socket.create_connection((HOST, port), timeout=15) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 200")
            with lock:
                times.append(time.monotonic() - start)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return sorted(times)


def test_rate_limit_sessions_spreads_new_sessions(lb, tmp_path: Path) -> None:  # noqa: ANN001
    port, sock = free_port(), tmp_path / "s.sock"
    lb(
        f"global\n    stats socket {sock} level admin\n{DEFAULTS}"
        f"frontend fe\n    bind {HOST}:{port}\n    rate-limit sessions 5\n"
        "    http-request return status 200 content-type text/plain string ok\n"
    )
    times = _served_at(port, 15)
    assert len(times) == 15
    # 5 a second: the first ones at once, the last ones only after two more seconds
    assert times[0] < 0.8, times
    assert times[-1] > 1.8, times
    assert wait_until(sock.exists, 5)
    stat = subprocess.run(
        ["socat", "-t", "2", "-", f"UNIX-CONNECT:{sock}"],
        input="show stat\n",
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    head = stat.splitlines()[0].lstrip("# ").split(",")
    row = next(r.split(",") for r in stat.splitlines() if r.startswith("fe,FRONTEND,"))
    assert row[head.index("rate_lim")] == "5"


def test_without_limit_no_wait(lb) -> None:  # noqa: ANN001
    port = free_port()
    lb(
        f"{DEFAULTS}frontend fe\n    bind {HOST}:{port}\n"
        "    http-request return status 200 content-type text/plain string ok\n"
    )
    assert _served_at(port, 15)[-1] < 1.5


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss is not installed")
def test_backlog_of_the_frontend(lb) -> None:  # noqa: ANN001
    port, port2 = free_port(), free_port()
    lb(
        f"{DEFAULTS}frontend fe\n    backlog 7\n    bind {HOST}:{port}\n"
        f"    bind {HOST}:{port2} backlog 9\n"
        "    http-request return status 200\n"
    )

    def backlog(p: int) -> int:
        out = subprocess.run(
            ["ss", "-Hltn", f"sport = :{p}"], capture_output=True, text=True, timeout=5
        ).stdout
        return int(out.split()[2])

    assert backlog(port) == 7
    assert backlog(port2) == 9  # the bind's own wins


CASES = [
    ("rate-limit", "'rate-limit' only supports 'sessions' (got '')"),
    (
        "rate-limit sessions",
        "'rate-limit sessions' expects expects an integer value (in sessions/second)",
    ),
    (
        "rate-limit sessions abc",
        "'rate-limit sessions' : unexpected character 'a' in integer value 'abc'",
    ),
    ("backlog", "'backlog' expects an integer argument."),
]


@pytest.mark.parametrize(("line", "alert"), CASES)
def test_alerts_as_haproxy(tmp_path: Path, line: str, alert: str) -> None:
    f = tmp_path / "r.cfg"
    f.write_text(f"{DEFAULTS}frontend fe\n    bind {HOST}:1\n    {line}\n")
    want = f"parsing [{f}:8] : {alert}"
    out = run_lb("-c", "-f", str(f))
    assert out.returncode == 1 and want in out.stderr, out.stderr
    if (ref := run_haproxy_check(f)) is not None:
        assert want in ref.stderr, ref.stderr
