"""`user`/`group` (`uid`/`gid`): the worker serves as that user once it has bound."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

import pytest
from itest import HOST, free_port, get, http_cfg

pytestmark = pytest.mark.timeout(30)


def _ids(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    uid = next(ln for ln in status.splitlines() if ln.startswith("Uid:")).split()[1]
    gid = next(ln for ln in status.splitlines() if ln.startswith("Gid:")).split()[1]
    return int(uid), int(gid)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_worker_drops_to_user_and_group(lb, backend):
    user = pwd.getpwnam("nobody")
    group = grp.getgrgid(user.pw_gid)
    b = backend("s1")
    port = free_port()
    cfg = http_cfg(port, f"    server s1 {HOST}:{b.port}\n").replace(
        "global\n", f"global\n    user nobody\n    group {group.gr_name}\n", 1
    )
    inst = lb(cfg)
    assert get(port, "/").status == 200  # bound as root, serving as nobody
    assert _ids(inst.pid) == (user.pw_uid, group.gr_gid)
