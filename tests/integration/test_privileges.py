"""`user`/`group` (`uid`/`gid`) and `chroot`: once it has bound, the worker serves
as that user, confined to that directory."""

from __future__ import annotations

import grp
import os
import pwd
import socket
import subprocess
from pathlib import Path

import pytest
from itest import HOST, free_port, get, http_cfg, run_haproxy_check, run_lb, wait_until

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


def _socat(sock: Path, command: str) -> str:
    return subprocess.run(
        ["socat", "-t", "2", "-", f"UNIX-CONNECT:{sock}"],
        input=command + "\n",
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_worker_serves_from_its_chroot(lb, backend, tmp_path):
    """Debian's layout: the jail holds only dev/log. The worker's root is the jail;
    it still proxies, checks its server, answers on its stats socket (bound outside
    the jail before entering it), logs to the jail's dev/log, and removes its pid
    file on the way out."""
    jail = tmp_path / "jail"
    (jail / "dev").mkdir(parents=True)
    syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    syslog.bind(str(jail / "dev" / "log"))
    syslog.settimeout(5)
    b = backend("s1")
    port = free_port()
    sock, pidfile = tmp_path / "stats.sock", tmp_path / "lb.pid"
    cfg = http_cfg(port, f"    server s1 {HOST}:{b.port} check inter 200\n").replace(
        "global\n",
        f"global\n    chroot {jail}\n    log /dev/log local0\n"
        f"    stats socket {sock} level admin\n    pidfile {pidfile}\n",
        1,
    )
    inst = lb(cfg)
    try:
        # (it listens a moment before it enters the jail)
        assert wait_until(lambda: os.readlink(f"/proc/{inst.pid}/root") == str(jail), 5)
        assert get(port, "/").status == 200
        line = syslog.recv(4096).decode()
        assert line.startswith("<134>") and '"GET / HTTP/1.1"' in line, line
        rows = wait_until(
            lambda: [r for r in _socat(sock, "show stat").splitlines() if "L4OK" in r], 5
        )
        assert rows and rows[0].startswith("be,s1,"), _socat(sock, "show stat")
        assert _socat(sock, "show info").startswith("Name: HAProxy\n")
        # the worker's own stderr tells nothing went wrong in the jail
        assert "Traceback" not in inst.stderr and "ALERT" not in inst.stderr, inst.stderr
    finally:
        syslog.close()
    assert inst.stop() == 0
    assert not pidfile.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_chroot_missing_directory_stops_the_worker(lb, tmp_path):
    port = free_port()
    missing = tmp_path / "nowhere"
    cfg = http_cfg(port, "    server s1 127.0.0.1:9\n").replace(
        "global\n", f"global\n    chroot {missing}\n", 1
    )
    inst = lb(cfg, wait=False).start(ports=[])
    assert inst.wait(10) == 1
    assert f"[ALERT]    ({inst.pid}) : [haproxy.main()] Cannot chroot({missing}).\n" in (
        inst.stderr
    )


def test_chroot_config_errors_as_haproxy(tmp_path):
    """`-c` leaves the directory alone (it is only entered at start-up)."""
    cases = {
        "    chroot /nonexistent/dir\n": (2, []),  # (valid, but no listener: 2)
        "    chroot\n": (1, ["parsing [{f}:2] : 'chroot' expects a directory as an argument."]),
        "    chroot /a /b\n": (
            1,
            ["parsing [{f}:2] : 'chroot' cannot handle unexpected argument '/b'."],
        ),
        "    chroot /a\n    chroot /b\n": (
            2,
            ["parsing [{f}:3] : 'chroot' already specified. Continuing."],
        ),
    }
    for n, (body, (code, alerts)) in enumerate(cases.items()):
        f = tmp_path / f"c{n}.cfg"
        f.write_text("global\n" + body)
        out = run_lb("-c", "-f", str(f))
        assert out.returncode == code, (body, out.stderr)
        got = [ln.split(" : config : ", 1)[1] for ln in out.stderr.splitlines() if "[ALERT]" in ln]
        want = [a.format(f=f) for a in alerts]
        assert got[: len(want)] == want, (body, out.stderr)
        if (ref := run_haproxy_check(f)) is not None:
            ref_alerts = [
                ln.split(" : config : ", 1)[1] for ln in ref.stderr.splitlines() if "[ALERT]" in ln
            ]
            assert ref_alerts[: len(want)] == want, ref.stderr
