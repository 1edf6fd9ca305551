"""`option tcpka|clitcpka|srvtcpka` with `clitcpka-*` / `srvtcpka-*`, and
`tune.rcvbuf|sndbuf.client|server`: read back from lb's own client and server
sockets (duplicated with pidfd_getfd), in HTTP and TCP mode."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import pytest
from itest import HOST, free_port, peer_socket, run_haproxy_check, run_lb, wait_until

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(
        os.geteuid() != 0 or not hasattr(os, "pidfd_open"),
        reason="reading another process's socket needs root and pidfd_open",
    ),
]

TCP, SOL = socket.IPPROTO_TCP, socket.SOL_SOCKET


def _settings(s: socket.socket) -> tuple[int, int, int, int]:
    return (
        s.getsockopt(SOL, socket.SO_KEEPALIVE),
        s.getsockopt(TCP, socket.TCP_KEEPCNT),
        s.getsockopt(TCP, socket.TCP_KEEPIDLE),
        s.getsockopt(TCP, socket.TCP_KEEPINTVL),
    )


@pytest.mark.parametrize("mode", ["http", "tcp"])
def test_keepalive_and_buffers_on_both_sides(lb, mode: str) -> None:  # noqa: ANN001
    server = socket.create_server((HOST, 0))
    port = free_port()
    inst = lb(
        f"""global
    tune.rcvbuf.client 40000
    tune.sndbuf.server 60000
defaults
    mode {mode}
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    option tcpka
    clitcpka-cnt 5
    clitcpka-idle 77
    clitcpka-intvl 11s
frontend fe
    bind {HOST}:{port}
    default_backend be
backend be
    srvtcpka-idle 1m
    server s1 {HOST}:{server.getsockname()[1]}
"""
    )
    with socket.socket() as default:
        plain = _settings(default)[1:]  # the system's count, idle and interval
    with socket.create_connection((HOST, port), timeout=3) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        upstream, _ = server.accept()
        mine = client.getsockname()[1]
        front = peer_socket(inst.pid, lambda s: s.getpeername()[1] == mine)
        back = peer_socket(inst.pid, lambda s: s.getpeername()[1] == server.getsockname()[1])
        assert front is not None and back is not None
        assert _settings(front) == (1, 5, 77, 11)
        assert front.getsockopt(SOL, socket.SO_RCVBUF) == 80000  # (the kernel doubles it)
        # (lb sets them once its connect completes, just after the server accepted)
        wait_until(lambda: _settings(back)[0] == 1, 3)
        assert _settings(back) == (1, plain[0], 60, plain[2])
        assert back.getsockopt(SOL, socket.SO_SNDBUF) == 120000
        front.close()
        back.close()
        upstream.close()
    server.close()


def test_without_options_nothing_is_set(lb) -> None:  # noqa: ANN001
    server = socket.create_server((HOST, 0))
    port = free_port()
    inst = lb(
        f"""defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind {HOST}:{port}
    default_backend be
backend be
    server s1 {HOST}:{server.getsockname()[1]}
"""
    )
    with socket.create_connection((HOST, port), timeout=3) as client:
        upstream, _ = server.accept()
        mine = client.getsockname()[1]
        front = peer_socket(inst.pid, lambda s: s.getpeername()[1] == mine)
        back = wait_until(
            lambda: peer_socket(inst.pid, lambda s: s.getpeername()[1] == server.getsockname()[1])
        )
        assert front is not None and back is not None
        assert front.getsockopt(SOL, socket.SO_KEEPALIVE) == 0
        assert back.getsockopt(SOL, socket.SO_KEEPALIVE) == 0
        front.close()
        back.close()
        upstream.close()
    server.close()


P7 = "parsing [{f}:7]"
CASES = [
    (
        "    option clitcpka foo\n",
        1,
        f"{P7} : 'option clitcpka' cannot handle unexpected argument 'foo'.",
    ),
    ("    clitcpka-idle\n", 1, f"{P7} : 'clitcpka-idle' expects an integer value"),
    (
        "    clitcpka-cnt x\n",
        1,
        f"{P7} : 'clitcpka-cnt' : unexpected character 'x' in integer value 'x'",
    ),
    (
        "    srvtcpka-idle 99999999999\n",
        1,
        f"{P7} : timer overflow in argument '99999999999' to 'srvtcpka-idle' (maximum value "
        "is 2147483647 ms or ~24.8 days)",
    ),
]


@pytest.mark.parametrize(("line", "code", "alert"), CASES)
def test_config_alerts_as_haproxy(tmp_path: Path, line: str, code: int, alert: str) -> None:
    f = tmp_path / "k.cfg"
    f.write_text(
        "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
        f"    timeout connect 1s\nbackend b\n{line}"
    )
    want = alert.format(f=f)
    out = run_lb("-c", "-f", str(f))
    assert out.returncode == code and want in out.stderr, out.stderr
    if (ref := run_haproxy_check(f)) is not None:
        assert want in ref.stderr, ref.stderr


def test_side_settings_in_the_wrong_section_warn(tmp_path: Path) -> None:
    f = tmp_path / "k.cfg"
    f.write_text(
        "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
        "    timeout connect 1s\nbackend b\n    clitcpka-idle 30\n"
    )
    out = run_lb("-c", "-f", str(f))
    want = (
        f"parsing [{f}:7] : clitcpka-idle will be ignored because backend 'b' has no "
        "frontend capability"
    )
    assert out.returncode == 2 and want in out.stderr, out.stderr  # (2: no listener)


@pytest.mark.parametrize("mode", ["http", "tcp"])
def test_nolinger_on_both_sides(lb, mode: str) -> None:  # noqa: ANN001
    server = socket.create_server((HOST, 0))
    port = free_port()
    inst = lb(
        f"""defaults
    mode {mode}
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    option nolinger
frontend fe
    bind {HOST}:{port}
    default_backend be
backend be
    server s1 {HOST}:{server.getsockname()[1]}
"""
    )

    def linger(s: socket.socket) -> tuple[int, int]:
        return struct.unpack("ii", s.getsockopt(SOL, socket.SO_LINGER, 8))

    with socket.create_connection((HOST, port), timeout=3) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        server.settimeout(3)
        upstream, _ = server.accept()
        mine = client.getsockname()[1]
        front = peer_socket(inst.pid, lambda s: s.getpeername()[1] == mine)
        back = peer_socket(inst.pid, lambda s: s.getpeername()[1] == server.getsockname()[1])
        assert front is not None and back is not None
        assert linger(front) == (1, 0)
        wait_until(lambda: linger(back) == (1, 0), 3)
        assert linger(back) == (1, 0)
        front.close()
        back.close()
        upstream.close()
    server.close()


def test_values_the_kernel_refuses_are_warned_not_fatal(lb) -> None:  # noqa: ANN001
    """A count no socket takes (HAProxy accepts it as well) is skipped with a warning
    on the listener, and server connections still open; it used to stop lb with a
    Python traceback."""
    server = socket.create_server((HOST, 0))
    port = free_port()
    inst = lb(
        f"""global
    tune.sndbuf.server 99999999999
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    option tcpka
    clitcpka-cnt 99999999999
    srvtcpka-cnt 99999999999
frontend fe
    bind {HOST}:{port}
    backlog 99999999999
    default_backend be
backend be
    server s1 {HOST}:{server.getsockname()[1]}
"""
    )
    assert "cannot set keep-alive probe count to 99999999999" in inst.stderr, inst.stderr
    server.settimeout(3)
    with socket.create_connection((HOST, port), timeout=3) as client:
        client.sendall(b"ping")
        got = []
        for _ in range(3):  # (lb's readiness probe reached the server first)
            upstream, _ = server.accept()
            with upstream:
                upstream.settimeout(3)
                got.append(upstream.recv(10))
            if got[-1]:
                break
        assert got[-1] == b"ping", got
    assert "Traceback" not in inst.stderr, inst.stderr
    server.close()
