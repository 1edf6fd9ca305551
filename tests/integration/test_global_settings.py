"""Global settings that change how the process runs: `ulimit-n`, `spread-checks`.
Config alerts are compared with HAProxy 2.6's `-c` where it is installed."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from itest import HOST, Backend, free_port, http_cfg, run_haproxy_check, run_lb, wait_until

pytestmark = pytest.mark.timeout(30)


def _open_files_limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open files line")


def _show_info(sock: Path) -> str:
    return subprocess.run(
        ["socat", "-t", "2", "-", f"UNIX-CONNECT:{sock}"],
        input="show info\n",
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout


def test_ulimit_n_sets_the_open_files_limit(lb, tmp_path: Path) -> None:  # noqa: ANN001
    port, sock = free_port(), tmp_path / "s.sock"
    cfg = http_cfg(port, "    server s1 127.0.0.1:9\n").replace(
        "global\n", f"global\n    ulimit-n 3000\n    stats socket {sock} level admin\n", 1
    )
    inst = lb(cfg)
    assert _open_files_limits(inst.pid) == (3000, 3000)
    assert "\nUlimit-n: 3000\n" in wait_until(lambda: _show_info(sock), 5)


def test_ulimit_n_beyond_what_the_system_allows_stops(lb) -> None:  # noqa: ANN001
    port = free_port()
    cfg = http_cfg(port, "    server s1 127.0.0.1:9\n").replace(
        "global\n", "global\n    ulimit-n 2000000000\n", 1
    )
    inst = lb(cfg, wait=False).start(ports=[])
    assert inst.wait(10) == 1
    assert "[haproxy.main()] Cannot raise FD limit to 2000000000, limit is " in inst.stderr


def test_spread_checks_keeps_checking(lb, backend) -> None:  # noqa: ANN001
    """With 50 % spread, checks every 100 ms still come (the spread itself is
    measured in tests/unit/test_checks.py)."""
    b: Backend = backend("s1")
    port = free_port()
    cfg = http_cfg(
        port,
        f"    option httpchk GET /health\n    server s1 {HOST}:{b.port} check inter 100\n",
    ).replace("global\n", "global\n    spread-checks 50\n", 1)
    lb(cfg)
    assert wait_until(lambda: sum(r.startswith(b"GET /health ") for r in b.requests) >= 8, 10)


P2, P3 = "parsing [{f}:2]", "parsing [{f}:3]"
# (a configuration without any listener checks out with exit code 2, as in HAProxy)
CASES = [
    ("    ulimit-n\n", 1, [f"{P2} : 'ulimit-n' expects an integer argument."]),
    ("    ulimit-n abc\n", 2, []),  # read as 0: the limit is left as it is
    (
        "    ulimit-n 10\n    ulimit-n 20\n",
        2,
        [f"{P3} : 'ulimit-n' already specified. Continuing."],
    ),
    ("    spread-checks\n", 1, [f"{P2}: 'spread-checks' expects an integer argument (0..50)."]),
    (
        "    spread-checks 60\n",
        1,
        [f"{P2}: 'spread-checks' needs a positive value in range 0..50."],
    ),
    (
        "    spread-checks 10 x\n",
        1,
        [f"{P2} : 'spread-checks' cannot handle unexpected argument 'x'."],
    ),
    (
        "    spread-checks 5\n    spread-checks 6\n",
        2,
        [f"{P3}: spread-checks already specified. Continuing."],
    ),
]


@pytest.mark.parametrize(("body", "code", "alerts"), CASES)
def test_alerts_as_haproxy(tmp_path: Path, body: str, code: int, alerts: list[str]) -> None:
    f = tmp_path / "g.cfg"
    f.write_text("global\n" + body)
    want = [a.format(f=f) for a in alerts]

    def alerts_of(stderr: str) -> list[str]:
        return [ln.split(" : config : ", 1)[1] for ln in stderr.splitlines() if "[ALERT]" in ln]

    out = run_lb("-c", "-f", str(f))
    assert out.returncode == code, out.stderr
    assert alerts_of(out.stderr)[: len(want)] == want, out.stderr
    if (ref := run_haproxy_check(f)) is not None:
        assert alerts_of(ref.stderr)[: len(want)] == want, ref.stderr
        assert ref.returncode == code


def _cli_conn(sock: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    s.connect(str(sock))
    return s


@pytest.mark.parametrize("limit", [3, None])
def test_stats_maxconn_queues_the_extra_connection(lb, tmp_path: Path, limit) -> None:  # noqa: ANN001
    """The limit counts connections at once (10 unless set); one more is answered
    only once a served one closes, as HAProxy does."""
    port, sock = free_port(), tmp_path / "s.sock"
    extra = f"    stats maxconn {limit}\n" if limit else ""
    cfg = http_cfg(port, "    server s1 127.0.0.1:9\n").replace(
        "global\n", f"global\n    stats socket {sock} level admin\n{extra}", 1
    )
    lb(cfg)
    assert wait_until(sock.exists, 5)
    served = [_cli_conn(sock) for _ in range(limit or 10)]
    try:
        served[0].sendall(b"prompt\n")
        assert served[0].recv(10) == b"\n> "  # a served one answers
        waiting = _cli_conn(sock)
        waiting.sendall(b"show info\n")
        waiting.shutdown(socket.SHUT_WR)  # as socat does: the command, then EOF
        with pytest.raises(TimeoutError):
            waiting.recv(100)
        served.pop().close()
        waiting.settimeout(5)
        reply = b""
        while chunk := waiting.recv(65536):
            reply += chunk
        assert reply.startswith(b"Name: HAProxy\n") and reply.endswith(b"\n\n")
        waiting.close()
    finally:
        for s in served:
            s.close()
