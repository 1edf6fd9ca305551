"""`lb-keep-state-on-reload`: runtime changes survive a master-worker reload.

A weight set on the socket, an ACL entry added on the socket and the stick-table entries
of tracked traffic are still there after a reload when the opt-in is on; a weight the
file itself changed wins; without the opt-in a reload starts from the file (HAProxy 2.6).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.test_mworker import (  # noqa: F401
    HOST,
    Master,
    free_port,
    http_get,
    master,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)

EXTRA = """\
frontend fe_track
    bind {host}:{port}
    stick-table type ip size 100 expire 60s store http_req_cnt,gpc0
    http-request track-sc0 src
    http-request deny if {{ path_beg -f {tmp}/deny.acl }}
    http-request return status 200 content-type text/plain string tracked
backend be_app
    balance roundrobin
    server s1 {host}:1 weight 3
    server s2 {host}:2 weight {w2}
"""


def setup(m: Master, port: int, w2: int = 5, keep: bool = True) -> None:
    m.write_cfg(
        extra=EXTRA.format(host=HOST, port=port, tmp=m.tmp, w2=w2),
        extra_global="    lb-keep-state-on-reload" if keep else "",
    )


def weight(m: Master, srv: str) -> bytes:
    return m.cli(f"@1 get weight be_app/{srv}\n")


def table_entry(m: Master) -> str:
    text = m.cli("@1 show table fe_track\n").decode()
    found = re.search(r"key=127\.0\.0\.1 use=0 exp=(\d+) gpc0=(\d+) http_req_cnt=(\d+)", text)
    assert found, text
    return found.group(0)


def test_mworker_keep_state_on_reload(
    master: Callable[..., Master],  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "deny.acl").write_text("/forbidden\n")
    port = free_port()
    m = master()
    setup(m, port)
    m.start()
    first = m.procs()["worker"][0]
    for _ in range(3):
        assert http_get(port, "/x") == (200, b"tracked")
    assert m.cli(f"@1 set table fe_track key {HOST} data.gpc0 5\n") == b"\n"
    assert http_get(port, "/secret")[0] == 200
    assert m.cli("@1 set weight be_app/s1 7\n") == b"\n"
    assert m.cli("@1 disable server be_app/s2\n") == b"\n"
    assert m.cli(f"@1 add acl {tmp_path}/deny.acl /secret\n") == b"\n"
    assert http_get(port, "/secret")[0] == 403
    before = table_entry(m)
    assert "gpc0=5 http_req_cnt=5" in before

    m.reload()  # same file: everything carried over
    assert wait_until(lambda: m.procs()["worker"] != [first])
    assert "Runtime state carried over: 2 servers, 1 ACL/map entries, 1 table entries." in (
        m.stderr()
    )
    assert weight(m, "s1") == b"7 (initial 3)\n\n"
    state = m.cli("@1 show servers state be_app\n").decode().splitlines()
    assert state[2].split()[3:8] == ["s1", HOST, "2", "0", "7"], state
    assert state[3].split()[3:8] == ["s2", HOST, "0", "1", "5"], state  # still disabled
    acl = m.cli(f"@1 show acl {tmp_path}/deny.acl\n").decode()
    assert acl.split("\n")[1].endswith(" /secret"), acl
    after = table_entry(m)
    assert "gpc0=5 http_req_cnt=5" in after, after
    exp_before = int(before.split("exp=")[1].split()[0])
    assert 0 < int(after.split("exp=")[1].split()[0]) <= exp_before  # expiry carried too
    assert http_get(port, "/secret")[0] == 403

    setup(m, port, w2=6)  # the file changes s2's weight: the file wins for s2 only
    m.reload()
    assert weight(m, "s1") == b"7 (initial 3)\n\n"
    assert weight(m, "s2") == b"6 (initial 6)\n\n"
    assert http_get(port, "/secret")[0] == 403

    setup(m, port, w2=6, keep=False)  # without the opt-in: HAProxy 2.6's fresh start
    m.reload()
    assert "Loading failure!" not in m.stderr()
    assert weight(m, "s1") == b"3 (initial 3)\n\n"
    assert http_get(port, "/secret")[0] == 200
    assert "gpc0=0 http_req_cnt=1" in table_entry(m)  # only the request just made


def test_mworker_keep_state_frozen_worker_does_not_block(
    master: Callable[..., Master],  # noqa: F811
    tmp_path: Path,
) -> None:
    """A worker that cannot answer costs the carried state, not the reload."""
    import os
    import signal

    (tmp_path / "deny.acl").write_text("")
    port = free_port()
    m = master(env={"LB_MWORKER_FORWARD_TIMEOUT": "0.5"})
    setup(m, port)
    m.start()
    worker = m.procs()["worker"][0]
    os.kill(worker, signal.SIGSTOP)
    try:
        m.reload()
    finally:
        os.kill(worker, signal.SIGCONT)
    assert "Loading success." in m.stderr().split("Reloading HAProxy")[1]
    assert http_get(port, "/x") == (200, b"tracked")
