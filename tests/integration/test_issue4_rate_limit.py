"""The reference configuration's rate limit through real sockets: a stick table
tracking `src`, a whitelist ACL file, a 429 deny, all changed at run time."""

from __future__ import annotations

import http.client
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

from itest import LB, free_port

CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe_main
    bind 127.0.0.1:{port}
    stick-table type ip size 1m expire 15m store http_req_rate(10s),gpt0
    http-request track-sc0 src
    acl whitelist src -f {whitelist}
    acl too_fast sc_http_req_rate(0) gt 50
    http-request deny deny_status 429 if too_fast !whitelist
    default_backend be
backend be
    server app 127.0.0.1:{app}
listen app
    bind 127.0.0.1:{app}
    http-request return status 200 content-type text/plain string ok
"""


def cli(sock: Path, line: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(line.encode() + b"\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


def statuses(port: int, n: int) -> list[int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    out = []
    for _ in range(n):
        conn.request("GET", "/")
        r = conn.getresponse()
        r.read()
        out.append(r.status)
        if r.getheader("connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.close()
    return out


def test_rate_limit_whitelist_and_runtime_changes(lb: Callable[..., LB], tmp_path: Path) -> None:
    port, app = free_port(), free_port()
    sock = tmp_path / "admin.sock"
    whitelist = tmp_path / "whitelist.lst"
    whitelist.write_text("192.0.2.0/24\n")
    lb(CFG.format(sock=sock, port=port, app=app, whitelist=whitelist))
    deadline = time.monotonic() + 5
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)

    # 50 requests in 10 s pass, the 51st is refused with 429
    got = statuses(port, 51)
    assert got[:50] == [200] * 50 and got[50] == 429
    table = cli(sock, "show table fe_main")
    assert "key=127.0.0.1" in table
    assert re.search(r"http_req_rate\(10000\)=51\b", table), table

    # whitelisting the source at run time lifts the limit on the next request
    assert cli(sock, f"add acl {whitelist} 127.0.0.1") == "\n"
    assert statuses(port, 1) == [200]
    assert cli(sock, f"del acl {whitelist} 127.0.0.1") == "\n"
    assert statuses(port, 1) == [429]

    # set table flags the entry; clear table resets its counters
    assert cli(sock, "set table fe_main key 127.0.0.1 data.gpt0 1") == "\n"
    assert "gpt0=1" in cli(sock, "show table fe_main")
    assert cli(sock, "clear table fe_main key 127.0.0.1") == "\n"
    assert statuses(port, 1) == [200]
    assert re.search(r"http_req_rate\(10000\)=1\b", cli(sock, "show table fe_main"))
