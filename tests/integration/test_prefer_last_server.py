"""`option prefer-last-server`: a keep-alive client holding a private server connection
(`http-reuse never`) sends its next requests to that server; with shared connections
(`http-reuse safe`) the option changes nothing, as in HAProxy 2.6. A 401 asking for NTLM
makes the connection private and the server preferred, even without the option; a
Basic challenge does not. A hashing algorithm ignores the preference. Compared with
HAProxy 2.6 where it is installed."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest
from itest import HOST, Reader, free_port, haproxy_serving

pytestmark = pytest.mark.timeout(40)


def cfg_text(port: int, s1: int, s2: int, option: str = "", balance: str = "roundrobin") -> str:
    return f"""defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen px
    bind {HOST}:{port}
    balance {balance}
{option}    server s1 {HOST}:{s1}
    server s2 {HOST}:{s2}
"""


def servers_seen(port: int, paths: list[str]) -> list[str]:
    """Which server answered each request, all sent on one connection."""
    seen = []
    with socket.create_connection((HOST, port), timeout=5) as s:
        r = Reader(s)
        for path in paths:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            resp = r.response()
            seen.append(
                resp.body.decode().strip().rsplit(" ", 1)[-1]
                if resp.status == 200
                else str(resp.status)
            )
    return seen


NEVER = "    http-reuse never\n"
PREFER = "    option prefer-last-server\n"
CASES = {
    "plain": ("", "roundrobin", ["/", "/", "/", "/"]),
    "prefer": (PREFER, "roundrobin", ["/", "/", "/", "/"]),
    "never": (NEVER, "roundrobin", ["/", "/", "/", "/"]),
    "prefer never": (NEVER + PREFER, "roundrobin", ["/", "/", "/", "/"]),
    "basic": ("", "roundrobin", ["/", "/auth?scheme=Basic", "/", "/"]),
    "ntlm": ("", "roundrobin", ["/", "/auth?scheme=NTLM", "/", "/"]),
    "hashed": (NEVER + PREFER, "uri whole", ["/a", "/b", "/c", "/d"]),
}


def run_cases(port_of: dict[str, int]) -> dict[str, list[str]]:
    return {name: servers_seen(port_of[name], CASES[name][2]) for name in CASES}


def all_cases_cfg(ports: dict[str, int], s1: int, s2: int) -> str:
    """One configuration, a `listen` per case."""
    return "".join(
        cfg_text(ports[name], s1, s2, option, balance)
        .replace("listen px", f"listen {name.replace(' ', '_')}")
        .replace("defaults\n", "defaults\n" if not i else f"defaults d{i}\n")
        for i, (name, (option, balance, _)) in enumerate(CASES.items())
    )


def test_prefer_last_server(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    s1, s2 = backend("s1"), backend("s2")
    ports = {name: free_port() for name in CASES}
    lb(all_cases_cfg(ports, s1.port, s2.port))
    got = run_cases(ports)
    assert got["plain"] == ["s1", "s2", "s1", "s2"]
    assert got["prefer"] == ["s1", "s2", "s1", "s2"]
    assert got["never"] == ["s1", "s2", "s1", "s2"]
    assert got["prefer never"] == ["s1", "s1", "s1", "s1"]
    assert got["basic"] == ["s1", "401", "s1", "s2"]
    # the NTLM challenge came from s2: the following requests stay there
    assert got["ntlm"] == ["s1", "401", "s2", "s2"]
    assert len(set(got["hashed"])) == 2  # the hash decides, not the last server
    if shutil.which("haproxy") is None:
        return
    ref = {name: free_port() for name in CASES}
    cfg = tmp_path / "h.cfg"
    cfg.write_text(all_cases_cfg(ref, s1.port, s2.port))
    with haproxy_serving(cfg, list(ref.values())):
        assert run_cases(ref) == got


def queue_case(port: int) -> str:
    """A client whose private connection's server is busy: which server answers it."""
    with socket.create_connection((HOST, port), timeout=5) as a:
        ra = Reader(a)
        a.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ra.response().body.endswith(b"s1")
        with socket.create_connection((HOST, port), timeout=5) as b:  # s1's one slot, busy
            b.sendall(b"GET /delay?ms=600 HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.2)
            a.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            return ra.response().body.decode().rsplit(" ", 1)[-1]


def test_max_keep_alive_queue(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    """No limit: the client waits for its server's slot; `max-keep-alive-queue 0`: it is
    balanced to the other server at once."""
    s1, s2 = backend("s1"), backend("s2")
    opts = NEVER + PREFER
    texts = {
        limit: cfg_text(port, s1.port, s2.port, opts + extra, "first").replace(
            f"{HOST}:{s1.port}", f"{HOST}:{s1.port} maxconn 1"
        )
        for limit, port, extra in (
            ("none", free_port(), ""),
            ("zero", free_port(), "    max-keep-alive-queue 0\n"),
        )
    }
    got = {}
    for limit, text in texts.items():
        inst = lb(text)
        got[limit] = queue_case(int(text.split(f"{HOST}:")[1].split()[0]))
        inst.stop()
    assert got == {"none": "s1", "zero": "s2"}
    if shutil.which("haproxy") is None:
        return
    for limit, text in texts.items():
        cfg = tmp_path / f"h-{limit}.cfg"
        cfg.write_text(text)
        port = int(text.split(f"{HOST}:")[1].split()[0])
        with haproxy_serving(cfg, [port]):
            assert queue_case(port) == got[limit], limit
