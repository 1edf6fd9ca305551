"""Master-worker mode: `lb -W -S SOCK -f CFG` as a subprocess, driven through the Master CLI.

Every process (master, workers, programs) is tracked by pid and killed in a finalizer.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from itest import free_port

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

pytestmark = pytest.mark.timeout(60)


def wait_until(pred: Callable[[], Any], timeout: float = 15.0, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"
    return True


def http_get(port: int, path: str = "/", timeout: float = 5.0) -> tuple[int, bytes]:
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


CONFIG = """\
global
    stats socket {tmp}/admin.sock level admin
{extra_global}
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe_main
    bind {host}:{port}
    http-request return status 200 content-type text/plain string {body}
{extra}
program sleeper_restart
    command sleep 100000

program sleeper_keep
    command sleep 200000
    no option start-on-reload
"""


class Master:
    """One `python -m lb -W` process and what it started."""

    def __init__(self, tmp: Path, args: list[str] | None = None, env: dict[str, str] | None = None):
        self.tmp = tmp
        self.port = free_port()
        self.sock = str(tmp / "master.sock")
        self.cfg = tmp / "lb.cfg"
        self.err = tmp / "master.err"
        self.args = args or []
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.seen: set[int] = set()

    def write_cfg(self, body: str = "ok", extra: str = "", extra_global: str = "") -> None:
        self.cfg.write_text(
            CONFIG.format(
                tmp=self.tmp,
                host=HOST,
                port=self.port,
                body=body,
                extra=extra,
                extra_global=extra_global,
            )
        )

    def start(self) -> Master:
        if not self.cfg.exists():
            self.write_cfg()
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lb", "-W", "-S", self.sock, "-f", str(self.cfg)]
                + self.args,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
            )
        assert wait_until(lambda: "Loading success." in self.stderr()), self.stderr()
        self.procs()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stderr(self) -> str:
        return self.err.read_text(errors="replace") if self.err.exists() else ""

    def cli(self, text: str, timeout: float = 5.0) -> bytes:
        out = subprocess.run(
            ["socat", "-t", "3", "-", f"UNIX-CONNECT:{self.sock}"],
            input=text.encode(),
            capture_output=True,
            timeout=timeout,
        )
        return out.stdout

    def procs(self) -> dict[str, list[int]]:
        """`show proc` as {type: [pids]} (old workers under `old`)."""
        out: dict[str, list[int]] = {}
        section = ""
        for line in self.cli("show proc\n").decode().splitlines():
            if line.startswith("# "):
                section = line[2:]
                continue
            parts = line.split()
            if not parts or not parts[0].isdigit():
                continue
            kind = "old" if section == "old workers" else parts[1]
            out.setdefault(kind, []).append(int(parts[0]))
            self.seen.add(int(parts[0]))
        return out

    def reload(self) -> None:
        before = self.loads()
        assert self.cli("reload\n") == b""
        assert wait_until(lambda: self.loads() > before), self.stderr()

    def loads(self) -> int:
        """Reloads finished so far, good or bad."""
        err = self.stderr()
        return err.count("Loading success.") + err.count("Loading failure!")

    def wait(self, timeout: float = 8.0) -> int | None:
        assert self.proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(timeout)
        return None

    def kill_all(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.procs()
            self.proc.send_signal(signal.SIGTERM)
            if self.wait(5) is None:
                self.proc.kill()
                self.proc.wait(5)
        for pid in self.seen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def master(tmp_path: Path) -> Iterator[Callable[..., Master]]:
    started: list[Master] = []

    def make(**kw: Any) -> Master:
        m = Master(tmp_path, **kw)
        started.append(m)
        return m

    yield make
    for m in started:
        m.kill_all()


# ------------------------------------------------------------------ show proc, routing


def test_mworker_show_proc_and_forwarding(master: Callable[..., Master]) -> None:
    m = master().start()
    procs = m.procs()
    assert procs["master"] == [m.pid]
    assert len(procs["worker"]) == 1 and "old" not in procs
    assert len(procs["sleeper_restart"]) == 1 and len(procs["sleeper_keep"]) == 1
    worker = procs["worker"][0]
    assert http_get(m.port) == (200, b"ok")
    assert m.cli("@1 show cli level\n") == b"admin\n\n"
    assert m.cli(f"@!{worker} show cli level\n") == b"admin\n\n"
    assert m.cli("operator; @1 show cli level\n") == b"operator\n\n"
    assert m.cli("user; @1 show cli level\n") == b"user\n\n"
    assert m.cli("@2 show info\n") == b"Can't find the target PID matching the prefix '@2'\n"
    sleeper = procs["sleeper_keep"][0]
    assert m.cli(f"@!{sleeper} show info\n") == (
        f"Can't find the target PID matching the prefix '@!{sleeper}'\n".encode()
    )
    info = m.cli("@1 show info\n").decode()
    assert f"Pid: {worker}\n" in info
    pidfile_free = m.cli("show version\n")
    assert pidfile_free.endswith(b"\n\n")


def test_mworker_forward_timeout_on_frozen_worker(master: Callable[..., Master]) -> None:
    m = master(env={"LB_MWORKER_FORWARD_TIMEOUT": "0.5"}).start()
    worker = m.procs()["worker"][0]
    os.kill(worker, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        reply = m.cli("@1 show info; show cli level\n")
        assert time.monotonic() - t0 < 3
        assert reply == f"Timeout while waiting for process {worker} to answer.\n".encode() + (
            b"admin\n\n"
        )
        assert m.cli("show cli level\n") == b"admin\n\n"  # the master is not stuck
    finally:
        os.kill(worker, signal.SIGCONT)
    assert m.cli("@1 show cli level\n") == b"admin\n\n"


# ------------------------------------------------------------------ reloads


class Client(threading.Thread):
    """Short HTTP requests in a loop, counting failures."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.ok = 0
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                status, _ = http_get(self.port)
            except Exception as exc:  # noqa: BLE001 - any failure is a dropped request
                self.errors.append(repr(exc))
                continue
            if status == 200:
                self.ok += 1
            else:
                self.errors.append(f"status {status}")


class SlowBackend(threading.Thread):
    """Answers one request with a body sent slowly, to span a reload."""

    SIZE = 400_000

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.srv = socket.create_server((HOST, 0))
        self.port = self.srv.getsockname()[1]

    def run(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.srv.accept()
                threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {self.SIZE}\r\n\r\n".encode())
            for _ in range(20):
                conn.sendall(b"x" * (self.SIZE // 20))
                time.sleep(0.1)


RELOADS = 20


@pytest.mark.timeout(120)
def test_mworker_zero_drop_reloads(master: Callable[..., Master]) -> None:
    backend = SlowBackend()
    backend.start()
    slow = "\n".join(
        [
            "frontend fe_slow",
            f"    bind {HOST}:{{slow_port}}",
            "    default_backend be_slow",
            "backend be_slow",
            f"    server s1 {HOST}:{backend.port}",
        ]
    )
    m = master()
    slow_port = free_port()
    m.write_cfg(extra=slow.replace("{slow_port}", str(slow_port)))
    m.start()
    download: dict[str, Any] = {}

    def fetch() -> None:
        download["result"] = http_get(slow_port, timeout=10)

    dl = threading.Thread(target=fetch, daemon=True)
    dl.start()
    time.sleep(0.3)  # the download is under way before the first reload
    clients = [Client(m.port) for _ in range(3)]
    for c in clients:
        c.start()
    restart_pids = set()
    for i in range(RELOADS):  # half of them with a changed configuration
        if i % 2:
            m.write_cfg(body=f"ok{i}", extra=slow.replace("{slow_port}", str(slow_port)))
        m.reload()
        restart_pids.add(m.procs()["sleeper_restart"][0])
    time.sleep(0.3)
    for c in clients:
        c.stop.set()
    for c in clients:
        c.join(10)
    dl.join(10)
    assert not [e for c in clients for e in c.errors], [c.errors[:5] for c in clients]
    assert sum(c.ok for c in clients) > 100
    assert download["result"] == (200, b"x" * SlowBackend.SIZE)
    assert "Loading failure!" not in m.stderr()
    assert len(restart_pids) == RELOADS
    assert m.cli("show proc\n").split(b"\n")[1].split()[1:4] == [
        b"master",
        str(RELOADS).encode(),
        b"[failed:",
    ]
    assert wait_until(lambda: "old" not in m.procs())


def test_mworker_failed_reload_keeps_worker(master: Callable[..., Master]) -> None:
    m = master().start()
    worker = m.procs()["worker"][0]
    good = m.cfg.read_text()
    m.cfg.write_text(good + "\nprogram broken\n    this_is_not_a_keyword\n")
    m.reload()
    assert "Loading failure!" in m.stderr()
    assert "unknown keyword 'this_is_not_a_keyword'" in m.stderr()
    proc = m.cli("show proc\n").decode()
    assert re.search(rf"^{m.pid} +master +1 \[failed: 1\]", proc, re.M), proc
    assert re.search(rf"^{worker} +worker +1 ", proc, re.M), proc
    assert http_get(m.port) == (200, b"ok")
    m.cfg.write_text(good)
    m.reload()
    proc = m.cli("show proc\n").decode()
    assert re.search(rf"^{m.pid} +master +2 \[failed: 0\]", proc, re.M), proc
    assert m.procs()["worker"] != [worker]


# ------------------------------------------------------------------ programs, exits


def test_mworker_programs_across_reload(master: Callable[..., Master]) -> None:
    m = master().start()
    before = m.procs()
    m.reload()
    after = m.procs()
    assert after["sleeper_keep"] == before["sleeper_keep"]  # no option start-on-reload
    assert after["sleeper_restart"] != before["sleeper_restart"]
    old = before["sleeper_restart"][0]
    assert wait_until(lambda: not alive(old))
    assert f"Former program 'sleeper_restart' ({old}) exited with code 138" in m.stderr()
    # a program stopped by SIGTERM is a normal exit: the master stays
    keep = after["sleeper_keep"][0]
    os.kill(keep, signal.SIGTERM)
    assert wait_until(lambda: "Current program 'sleeper_keep'" in m.stderr())
    assert f"Current program 'sleeper_keep' ({keep}) exited with code 143 (Terminated)" in (
        m.stderr()
    )
    assert m.proc is not None and m.proc.poll() is None
    assert "sleeper_keep" not in m.procs()


def test_mworker_worker_death_stops_everything(master: Callable[..., Master]) -> None:
    m = master().start()
    procs = m.procs()
    os.kill(procs["worker"][0], signal.SIGKILL)
    assert m.wait() == 137
    err = m.stderr()
    assert "exited with code 137 (Killed)" in err
    assert "exit-on-failure: killing every processes with SIGTERM" in err
    assert "All workers exited. Exiting... (137)" in err
    for pid in m.seen:
        assert wait_until(lambda pid=pid: not alive(pid)), pid


def test_mworker_no_exit_on_failure(master: Callable[..., Master]) -> None:
    m = master()
    m.write_cfg(extra_global="    master-worker no-exit-on-failure")
    m.start()
    procs = m.procs()
    os.kill(procs["worker"][0], signal.SIGKILL)
    assert wait_until(lambda: "exited with code 137" in m.stderr())
    assert m.proc is not None and m.proc.poll() is None
    now = m.procs()
    assert "worker" not in now and now["sleeper_restart"] == procs["sleeper_restart"]
    m.reload()  # a reload brings a worker back
    assert http_get(m.port) == (200, b"ok")


def test_mworker_sigterm_and_pidfile(master: Callable[..., Master], tmp_path: Path) -> None:
    pidfile = tmp_path / "lb.pid"
    m = master(args=["-p", str(pidfile)]).start()
    assert pidfile.read_text().strip() == str(m.pid)
    m.procs()
    assert m.proc is not None
    m.proc.send_signal(signal.SIGTERM)
    assert m.wait() == 0
    assert "All workers exited. Exiting... (0)" in m.stderr()
    for pid in m.seen:
        assert wait_until(lambda pid=pid: not alive(pid)), pid
    assert not pidfile.exists()
    assert not os.path.exists(m.sock)


def test_mworker_systemd_notify(master: Callable[..., Master], tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        m = master(env={"NOTIFY_SOCKET": path})
        m.args = ["-Ws"]
        m.start()
        first = sock.recv(4096).decode()
        assert "READY=1\n" in first and f"MAINPID={m.pid}\n" in first
        m.reload()
        assert sock.recv(4096).decode().startswith("RELOADING=1\n")
        assert sock.recv(4096).decode().startswith("READY=1\n")


def test_mworker_tcp_stats_socket_moves_to_the_new_worker(master: Callable[..., Master]) -> None:
    """A TCP stats socket cannot be bound twice: the old worker hands it over at reload."""
    stats_port = free_port()
    m = master()
    m.write_cfg(extra_global=f"    stats socket ipv4@{HOST}:{stats_port} level admin")
    m.start()

    def stats(cmd: str) -> bytes:
        with socket.create_connection((HOST, stats_port), timeout=3) as s:
            s.sendall(cmd.encode() + b"\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return data

    assert stats("show cli level") == b"admin\n\n"
    m.reload()
    assert "Loading success." in m.stderr().split("Reloading HAProxy")[1]
    worker = m.procs()["worker"][0]
    assert f"Pid: {worker}\n".encode() in stats("show info")


WRAPPER = """\
program wrapper
    command sh -c "sleep 100003 & exec sleep 100004"
"""


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(") ", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
    return out


def test_mworker_killed_program_leaves_no_orphan(master: Callable[..., Master]) -> None:
    """A program killed by SIGKILL: exit-on-failure stops everything, its children too."""
    m = master()
    m.write_cfg(extra=WRAPPER)
    m.start()
    wrapper = m.procs()["wrapper"][0]
    grandchild = wait_until(lambda: children_of(wrapper))[0]
    os.kill(wrapper, signal.SIGKILL)
    assert m.wait() == 137
    err = m.stderr()
    assert f"Current program 'wrapper' ({wrapper}) exited with code 137 (Killed)" in err
    assert "exit-on-failure: killing every processes with SIGTERM" in err
    for pid in [*m.seen, grandchild]:
        assert wait_until(lambda pid=pid: not alive(pid)), pid


def test_mworker_killed_program_no_exit_on_failure(master: Callable[..., Master]) -> None:
    """With `no-exit-on-failure` the rest keeps running; the program's own children go."""
    m = master()
    m.write_cfg(extra=WRAPPER, extra_global="    master-worker no-exit-on-failure")
    m.start()
    procs = m.procs()
    wrapper = procs["wrapper"][0]
    grandchild = wait_until(lambda: children_of(wrapper))[0]
    os.kill(wrapper, signal.SIGKILL)
    assert wait_until(lambda: not alive(wrapper) and not alive(grandchild))
    assert m.proc is not None and m.proc.poll() is None
    now = m.procs()
    assert "wrapper" not in now
    assert now["worker"] == procs["worker"] and now["sleeper_keep"] == procs["sleeper_keep"]
    assert http_get(m.port) == (200, b"ok")
    m.proc.send_signal(signal.SIGTERM)
    assert m.wait() is not None  # 137: the code of the failure seen earlier
    for pid in m.seen:
        assert wait_until(lambda pid=pid: not alive(pid)), pid
