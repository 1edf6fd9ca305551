"""Runtime API changes take effect on traffic at once: drain, maint, ready, weights and
`disable frontend` change where the very next request goes."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from itest import DEFAULTS, HOST, free_port, get, wait_until

pytestmark = pytest.mark.timeout(60)


def cli(sock: Path, command: str) -> str:
    socat = shutil.which("socat")
    assert socat
    out = subprocess.run(
        [socat, "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(command + "\n").encode(),
        capture_output=True,
        timeout=10,
    ).stdout
    return out.decode()


@pytest.fixture
def setup(lb, backend, tmp_path):  # type: ignore[no-untyped-def]
    a, b = backend("A"), backend("B")
    port = free_port()
    sock = tmp_path / "admin.sock"
    cfg = (
        f"global\n    stats socket {sock} level admin\n\n{DEFAULTS}\n"
        f"frontend fe\n    bind {HOST}:{port}\n    default_backend be\n\n"
        f"backend be\n    balance roundrobin\n"
        f"    server a {HOST}:{a.port}\n    server b {HOST}:{b.port}\n"
    )
    lb(cfg)
    assert wait_until(sock.exists), "stats socket not created"
    return port, sock


def who(port: int) -> str:
    return get(port).body.decode().strip().rsplit(" ", 1)[-1]


def spread(port: int, n: int = 8) -> Counter[str]:
    return Counter(who(port) for _ in range(n))


def test_drain_maint_ready(setup) -> None:  # type: ignore[no-untyped-def]
    port, sock = setup
    assert spread(port) == Counter({"A": 4, "B": 4})
    assert cli(sock, "set server be/a state drain") == "\n"
    assert spread(port, 4) == Counter({"B": 4})
    assert cli(sock, "set server be/a state ready") == "\n"
    assert set(spread(port, 4)) == {"A", "B"}
    assert cli(sock, "set server be/b state maint") == "\n"
    assert spread(port, 4) == Counter({"A": 4})
    assert cli(sock, "disable server be/a") == "\n"  # both out: 503
    assert get(port).status == 503
    assert cli(sock, "enable server be/a") == "\n"
    assert who(port) == "A"


def test_weights(setup) -> None:  # type: ignore[no-untyped-def]
    port, sock = setup
    assert cli(sock, "set server be/a weight 0") == "\n"
    assert spread(port, 4) == Counter({"B": 4})
    assert cli(sock, "set weight be/a 3") == "\n"
    assert cli(sock, "get weight be/a") == "3 (initial 1)\n\n"
    counts = spread(port, 8)
    assert counts["A"] == 6 and counts["B"] == 2
    assert cli(sock, "set weight be/b 0%") == "\n"
    assert spread(port, 4) == Counter({"A": 4})


def test_disable_frontend(setup) -> None:  # type: ignore[no-untyped-def]
    port, sock = setup
    assert who(port) in ("A", "B")
    assert cli(sock, "disable frontend fe") == "\n"
    assert "PAUSED" in cli(sock, "show stat -1 1 -1")
    # lb stops accepting: the connection waits in the backlog and gets no answer
    with pytest.raises((TimeoutError, socket.timeout, ConnectionError, OSError)):
        get(port, timeout=0.5)
    assert cli(sock, "enable frontend fe") == "\n"
    assert who(port) in ("A", "B")
    assert cli(sock, "shutdown frontend fe") == "\n"
    with pytest.raises(OSError):
        get(port, timeout=1)
    assert (
        cli(sock, "enable frontend fe") == "Frontend was previously shut down, cannot enable.\n\n"
    )
