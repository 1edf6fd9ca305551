"""Protocol checks and agents through a running `lb`, against scripted TCP
peers: DOWN when the peer stops answering correctly, UP when it recovers,
with HAProxy's log lines; an agent that sets 50 % and drains."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from itest import HOST, free_port, get, wait_until

from tests.integration.test_issue7_persist import cli

pytestmark = pytest.mark.timeout(60)


class Scripted:
    """A TCP peer whose answer is computed by ``self.answer(received)``."""

    def __init__(self, answer: Callable[[bytes], bytes | None], read_first: bool = True) -> None:
        self.answer = answer
        self.read_first = read_first
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c: socket.socket) -> None:
        c.settimeout(3)
        with contextlib.suppress(OSError), c:
            data = c.recv(4096) if self.read_first else b""
            out = self.answer(data)
            if out is None:  # silent: hold the connection until the peer gives up
                c.recv(1)
                return
            c.sendall(out)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    made: list[Scripted] = []

    def make(answer: Callable[[bytes], bytes | None], read_first: bool = True) -> Scripted:
        s = Scripted(answer, read_first)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def test_redis_check_down_and_up(lb, scripted) -> None:  # noqa: ANN001
    state = {"reply": b"+PONG\r\n"}
    peer = scripted(lambda data: state["reply"] if data.startswith(b"*1\r\n$4\r\nPING") else b"?")
    port = free_port()
    inst = lb(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 2s\n"
        "    timeout server 2s\n    timeout check 500ms\n"
        f"listen r\n    bind {HOST}:{port}\n    option redis-check\n    option log-health-checks\n"
        f"    server r1 {HOST}:{peer.port} check inter 100 rise 2 fall 2\n"
    )
    state["reply"] = b"-ERR nope\r\n"
    inst.wait_stderr(r"Server r/r1 is DOWN")
    state["reply"] = b"+PONG\r\n"
    inst.wait_stderr(r"Server r/r1 is UP")
    text = inst.stderr
    assert (
        "Health check for server r/r1 failed, reason: Layer7 wrong status, code: 0, "
        'info: "-ERR nope"' in text
    )
    assert "status: 0/2 DOWN." in text
    assert "Server r/r1 is DOWN. 0 active and 0 backup servers left." in text
    assert (
        "Health check for server r/r1 succeeded, reason: Layer7 check passed, code: 0, "
        'info: "Redis server is ok"' in text
    )
    assert "status: 2/2 UP." in text


def test_tcp_check_sequence_timeout_message(lb, scripted) -> None:  # noqa: ANN001
    state = {"ok": True}
    peer = scripted(lambda data: b"PONG\r\n" if state["ok"] else None)
    port = free_port()
    inst = lb(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 2s\n"
        "    timeout server 2s\n    timeout check 300ms\n"
        f"listen t\n    bind {HOST}:{port}\n    option tcp-check\n    option log-health-checks\n"
        '    tcp-check send "PING\\r\\n"\n'
        '    tcp-check expect string PONG comment "pong test"\n'
        f"    server t1 {HOST}:{peer.port} check inter 100 rise 1 fall 1\n"
    )
    inst.wait_stderr(r'info: "\(tcp-check\)"')
    state["ok"] = False
    lines = inst.wait_stderr(r"^.*Health check for server t/t1 failed.*$")
    assert lines and (
        "reason: Layer7 timeout, info: \" at step 2 of tcp-check (expect string 'PONG') "
        "comment: 'pong test'\"" in lines[0]
    )


def test_agent_weight_and_drain(lb, scripted, backend, tmp_path: Path) -> None:  # noqa: ANN001
    state = {"reply": b"50%\n"}
    agent = scripted(lambda data: state["reply"], read_first=False)
    a, b = backend("a"), backend("b")
    port = free_port()
    sock = tmp_path / "lb.sock"
    inst = lb(
        f"global\n    stats socket {sock} level admin\n"
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 2s\n"
        "    timeout server 2s\n"
        f"listen px\n    bind {HOST}:{port}\n    balance roundrobin\n"
        f"    server a {HOST}:{a.port} weight 10 agent-check agent-port {agent.port} "
        "agent-inter 100\n"
        f"    server b {HOST}:{b.port} weight 10\n"
    )

    def row(name: str) -> dict[str, str]:
        with contextlib.suppress(OSError):
            out = cli(sock, "show stat").splitlines()
            head = out[0].lstrip("# ").split(",")
            for line in out[1:]:
                cells = line.split(",")
                if cells[:2] == ["px", name]:
                    return dict(zip(head, cells, strict=False))
        return {}

    assert wait_until(lambda: row("a").get("weight") == "5", 5)
    hits = [get(port).body for _ in range(30)]
    assert hits.count(b"hello from b") == 2 * hits.count(b"hello from a")
    state["reply"] = b"drain\n"
    assert wait_until(lambda: row("a").get("status") == "DRAIN", 5)
    assert "Server px/a enters drain state." in inst.stderr
    assert all(get(port).body == b"hello from b" for _ in range(10))
    state["reply"] = b"ready 100%\n"
    assert wait_until(lambda: row("a").get("weight") == "10", 5), row("a")
    assert row("a")["status"] == "no check"  # UP, and not checked by a health check
