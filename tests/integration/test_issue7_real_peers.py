"""Protocol checks against real peers: redis-server, PostgreSQL, MariaDB and
an aiosmtpd SMTP server, each started here on a free loopback port in a
temporary directory (a private instance, never the system's service).

Each test points `option redis-check` / `pgsql-check user U` / `mysql-check
user U` / `smtpchk` at its peer with `inter 200ms rise 2 fall 2`, makes the
peer answer wrongly, then stops it, and brings it back after each: `lb` must
log HAProxy's DOWN and UP lines word for word. When haproxy is installed it
checks the same peer at the same time and its lines must be `lb`'s (durations
aside). A peer whose binary is missing is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from itest import HOST, free_port, wait_port, wait_until

pytestmark = pytest.mark.timeout(120)

PREFIX = re.compile(r"^\[\w+\]\s+\(\d+\) : ")
DURATION = re.compile(r"check duration: \d+ms")
LEFT = "0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
ONLINE = "1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."


def down_line(px: str, reason: str) -> str:
    return f"Server {px}/s1 is DOWN, reason: {reason}, check duration: Nms. {LEFT}"


def up_line(px: str, reason: str) -> str:
    return f"Server {px}/s1 is UP, reason: {reason}, check duration: Nms. {ONLINE}"


REFUSED = 'Layer4 connection problem, info: "Connection refused"'


# ---------------------------------------------------------------- processes


class Proc:
    """A peer process, its output in a file, stopped by pid."""

    def __init__(self, args: list[str], log: Path, **kw: Any) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.p = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw
            )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.p.pid, sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait(5)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in reversed(started):
        p.stop()


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A short path under /tmp that a database's own user can enter (pytest's
    tmp_path is private to root): Unix socket paths must stay short too."""
    d = Path(tempfile.mkdtemp(prefix="lbpeer", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Checked:
    """`lb`, and haproxy when installed, checking one peer with the same
    backend; their stderr lines with the level/pid prefix and the durations
    taken out."""

    def __init__(
        self,
        lb: Callable[..., Any],
        procs: list[Proc],
        tmp: Path,
        px: str,
        opt: str,
        peer_port: int,
    ) -> None:
        self.px = px

        def cfg(port: int) -> str:
            return (
                "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 2s\n"
                "    timeout server 2s\n    timeout check 300ms\n"
                f"listen {px}\n    bind {HOST}:{port}\n    {opt}\n"
                f"    server s1 {HOST}:{peer_port} check inter 200ms rise 2 fall 2\n"
            )

        def ready_proxy(port: int) -> str:
            # readiness is probed on a proxy of its own: a probe through `px` would be a
            # session on s1, and could still be counted active in its DOWN line
            return f"listen ready\n    bind {HOST}:{port}\n    tcp-request connection reject\n"

        ready = free_port()
        self.lb = lb(cfg(free_port()) + ready_proxy(ready), ports=[ready])
        self.haproxy: Proc | None = None
        exe = shutil.which("haproxy")
        if exe is not None:
            hport, ready = free_port(), free_port()
            path = tmp / "haproxy.cfg"
            path.write_text(cfg(hport) + ready_proxy(ready))
            self.haproxy = Proc([exe, "-db", "-f", str(path)], tmp / "haproxy.log")
            procs.append(self.haproxy)
            assert wait_port(ready, 10), self.haproxy.output()

    @staticmethod
    def _lines(text: str) -> list[str]:
        return [DURATION.sub("check duration: Nms", PREFIX.sub("", ln)) for ln in text.splitlines()]

    def transitions(self, who: str = "lb") -> list[str]:
        if who == "lb":
            text = self.lb.stderr
        else:
            assert self.haproxy is not None
            text = self.haproxy.output()
        return [ln for ln in self._lines(text) if ln.startswith(f"Server {self.px}/s1 is ")]

    def expect(
        self, n: int, line: str, timeout: float = 15.0, haproxy_line: str | None = None
    ) -> None:
        """The n-th (1-based) transition line is `line`, in lb and in haproxy
        (or `haproxy_line` there, where haproxy is known to word it otherwise)."""
        for who in ("lb", "haproxy") if self.haproxy is not None else ("lb",):
            got = wait_until(lambda w=who: len(self.transitions(w)) >= n, timeout)
            lines = self.transitions(who)
            assert got, f"{who}: no transition #{n} yet, {lines}"
            want = haproxy_line if who == "haproxy" and haproxy_line is not None else line
            assert lines[n - 1] == want, f"{who}: {lines}"


def wait_listening(port: int, proc: Proc, timeout: float = 30.0) -> None:
    def ready() -> bool:
        assert proc.p.poll() is None, proc.output()[-3000:]
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return True
        return False

    assert wait_until(ready, timeout, step=0.05), proc.output()[-3000:]


def wait_closed(port: int, timeout: float = 10.0) -> None:
    def closed() -> bool:
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
        except OSError:
            return True
        return False

    assert wait_until(closed, timeout, step=0.05)


# ---------------------------------------------------------------- redis


def resp(port: int, *words: str) -> bytes:
    cmd = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
    with socket.create_connection((HOST, port), timeout=3) as s:
        s.sendall(cmd.encode())
        return s.recv(4096)


def test_redis_check_real_redis(lb, procs, workdir) -> None:  # noqa: ANN001
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    args = [
        exe,
        "--port",
        str(port),
        "--bind",
        HOST,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        str(workdir),
    ]

    def start() -> Proc:
        p = Proc(args, workdir / "redis.log")
        procs.append(p)
        wait_listening(port, p)
        return p

    server = start()
    c = Checked(lb, procs, workdir, "rd", "option redis-check", port)
    ok = up_line("rd", 'Layer7 check passed, code: 0, info: "Redis server is ok"')
    # answers wrongly: a password is now required. PING gets "-NOAUTH …" on a
    # connection kept open; HAProxy's `expect string +PONG` (no min-recv) then
    # waits for more until `timeout check`, so the reason is a timeout
    assert resp(port, "CONFIG", "SET", "requirepass", "sekrit") == b"+OK\r\n"
    c.expect(1, down_line("rd", "Layer7 timeout"))
    with socket.create_connection((HOST, port), timeout=3) as s:
        s.sendall(b"AUTH sekrit\r\n")
        assert s.recv(100) == b"+OK\r\n"
        s.sendall(b'CONFIG SET requirepass ""\r\n')
        assert s.recv(100) == b"+OK\r\n"
    c.expect(2, ok)
    # stops answering at all
    server.stop()
    c.expect(3, down_line("rd", REFUSED))
    start()
    c.expect(4, ok)


# ---------------------------------------------------------------- postgresql


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def test_pgsql_check_real_postgres(lb, procs, workdir) -> None:  # noqa: ANN001
    initdb, postgres = pg_bin("initdb"), pg_bin("postgres")
    if initdb is None or postgres is None:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql)")
    as_user: dict[str, Any] = {}
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL")
        os.chown(workdir, pw.pw_uid, pw.pw_gid)
        as_user = {"user": pw.pw_uid, "group": pw.pw_gid}
    data = workdir / "data"
    subprocess.run(
        [initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=60,
        **as_user,
    )
    hba = data / "pg_hba.conf"
    hba.write_text("host all all 127.0.0.1/32 trust\n")
    port = free_port()
    args = [
        postgres,
        "-D",
        str(data),
        "-p",
        str(port),
        "-k",
        str(workdir),
        "-h",
        HOST,
        "-c",
        "fsync=off",
    ]

    def start() -> Proc:
        p = Proc(args, workdir / "postgres.log", **as_user)
        procs.append(p)
        wait_listening(port, p)
        return p

    server = start()
    c = Checked(lb, procs, workdir, "pg", "option pgsql-check user postgres", port)
    ok = up_line("pg", 'Layer7 check passed, code: 0, info: "PostgreSQL server is ok"')
    # answers wrongly: pg_hba.conf now rejects the check's connection
    hba.write_text("host all all 127.0.0.1/32 reject\n")
    os.kill(server.p.pid, signal.SIGHUP)
    c.expect(1, down_line("pg", 'Layer7 invalid response, info: "FATAL"'))
    hba.write_text("host all all 127.0.0.1/32 trust\n")
    os.kill(server.p.pid, signal.SIGHUP)
    c.expect(2, ok)
    # stops: an immediate shutdown (SIGQUIT), then started again
    server.stop(signal.SIGQUIT)
    wait_closed(port)
    c.expect(3, down_line("pg", REFUSED))
    start()
    c.expect(4, ok)


# ---------------------------------------------------------------- mariadb


def test_mysql_check_real_mariadb(lb, procs, workdir) -> None:  # noqa: ANN001
    mariadbd = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/bin")
    install = shutil.which("mariadb-install-db")
    client = shutil.which("mariadb")
    if mariadbd is None or install is None or client is None:
        pytest.skip("MariaDB is not installed (Debian package mariadb-server)")
    data, sock = workdir / "data", workdir / "my.sock"
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            *user,
            "--skip-test-db",
            "--auth-root-authentication-method=normal",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    args = [
        mariadbd,
        "--no-defaults",
        f"--datadir={data}",
        f"--port={port}",
        f"--bind-address={HOST}",
        f"--socket={sock}",
        *user,
        "--skip-log-bin",
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=16M",
        f"--pid-file={workdir}/my.pid",
    ]

    def start() -> Proc:
        p = Proc(args, workdir / "mariadb.log")
        procs.append(p)
        wait_listening(port, p, 60)
        return p

    def sql(stmt: str) -> None:
        subprocess.run(
            [client, "--no-defaults", f"--socket={sock}", "-uroot", "-e", stmt],
            check=True,
            capture_output=True,
            timeout=30,
        )

    server = start()
    sql("CREATE USER 'haproxy'@'127.0.0.1'")
    c = Checked(lb, procs, workdir, "my", "option mysql-check user haproxy", port)
    version = re.search(
        rb"\x0a([0-9][^\x00]*)\x00", socket.create_connection((HOST, port), 3).recv(200)
    )
    assert version is not None
    ok = up_line("my", f'Layer7 check passed, code: 0, info: "{version.group(1).decode()}"')
    # answers wrongly: the check's user is gone
    sql("DROP USER 'haproxy'@'127.0.0.1'")
    c.expect(
        1,
        down_line(
            "my",
            'Layer7 wrong status, code: 1045, info: "#28000Access denied for '
            "user 'haproxy'@'127.0.0.1' (using password: NO)\"",
        ),
    )
    # HAProxy 2.6's custom MySQL expect reports its success twice in one check:
    # with the version, then again with no text at the end of the ruleset (so
    # one good answer counts twice towards `rise`), and its UP line has no info.
    # lb counts it once and keeps the version, as every other check does.
    bare = up_line("my", "Layer7 check passed, code: 0")
    sql("CREATE USER 'haproxy'@'127.0.0.1'")
    c.expect(2, ok, haproxy_line=bare)
    server.stop()
    c.expect(3, down_line("my", REFUSED))
    start()
    c.expect(4, ok, timeout=30, haproxy_line=bare)


# ---------------------------------------------------------------- smtp (aiosmtpd)


def test_smtpchk_real_aiosmtpd(lb, procs, workdir) -> None:  # noqa: ANN001
    controller_mod = pytest.importorskip(
        "aiosmtpd.controller", reason="aiosmtpd is not installed (the test extra's SMTP sink)"
    )

    class Handler:
        refuse = False

        async def handle_HELO(self, server, session, envelope, hostname):  # noqa: ANN001, ANN201, N802
            if self.refuse:
                return "550 go away"
            session.host_name = hostname
            return f"250 {server.hostname}"

    handler = Handler()
    port = free_port()

    def start() -> Any:
        ctl = controller_mod.Controller(handler, hostname=HOST, port=port, ident="sink")
        ctl.start()
        return ctl

    ctl = start()
    try:
        c = Checked(lb, procs, workdir, "sm", "option smtpchk HELO lb.test", port)
        ok = up_line("sm", 'Layer7 check passed, code: 221, info: "Bye"')
        # answers wrongly: HELO refused with a 5xx on a connection kept open,
        # which HAProxy's smtpchk waits on until `timeout check`
        handler.refuse = True
        c.expect(1, down_line("sm", "Layer7 timeout"))
        handler.refuse = False
        c.expect(2, ok)
        ctl.stop()
        wait_closed(port)
        c.expect(3, down_line("sm", REFUSED))
        ctl = start()
        c.expect(4, ok)
    finally:
        with contextlib.suppress(Exception):
            ctl.stop()
