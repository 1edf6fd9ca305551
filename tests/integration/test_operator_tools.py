"""Issue 3 acceptance: the operators' tools work unchanged on lb's stats socket.

* `hatop` (Debian package), driven in a private tmux server: it lists the servers with
  their status, its F10 / F9 hotkeys put the selected server in maintenance and back,
  and its embedded CLI drains it; every change is checked through the socket
  (`show stat`) and on hatop's own screen.
* `prometheus-haproxy-exporter` (Debian package) scraping the unix socket reports
  `haproxy_up 1` and per-server metrics that follow the traffic and the live state.

Each test skips with a clear message when its tool is not installed; `.ci/run` installs
them. Every process is stopped by pid in a finalizer and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from itest import HOST, LB, free_port, get, wait_port, wait_until

pytestmark = pytest.mark.timeout(60)

CFG = """\
global
    stats socket {sock} level admin

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind {host}:{fe}
    default_backend be

backend be
    balance roundrobin
    server s1 {host}:{p1} check inter 300ms
    server s2 {host}:{p2} check inter 300ms

listen app1
    bind {host}:{p1}
    http-request return status 200 content-type text/plain string ok1

listen app2
    bind {host}:{p2}
    http-request return status 200 content-type text/plain string ok2
"""


# ---------------------------------------------------------------- helpers


def cli(sock: Path, command: str, timeout: float = 5.0) -> str:
    """One non-interactive command on the unix stats socket (a plain Python client)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(command.encode() + b"\n")
        out = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            out += data
    return out.decode()


def server_status(sock: Path, backend: str, server: str) -> str:
    lines = cli(sock, "show stat").splitlines()
    cols = lines[0].lstrip("# ").split(",")
    for ln in lines[1:]:
        row = dict(zip(cols, ln.split(","), strict=False))
        if row.get("pxname") == backend and row.get("svname") == server:
            return row["status"]
    raise AssertionError(f"{backend}/{server} not in show stat: {lines}")


def wait_status(sock: Path, backend: str, server: str, want: str, timeout: float = 5.0) -> str:
    got = wait_until(lambda: server_status(sock, backend, server) == want, timeout, 0.05)
    status = server_status(sock, backend, server)
    assert got, f"{backend}/{server} status {status!r}, expected {want!r}"
    return status


def _alive(pid: int, name: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return name.encode() in f.read()
    except OSError:
        return False


def _stop_proc(proc: subprocess.Popen[bytes], timeout: float = 3.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout)


class Tmux:
    """A private tmux server (its own socket) running one program in a 200x50 pane."""

    def __init__(self, tmp: Path, argv: list[str]) -> None:
        self.tmux = shutil.which("tmux") or "tmux"
        self.sock = tmp / "tmux.sock"
        self.server_pid = 0
        self.pane_pid = 0
        self.setup: Setup | None = None
        env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
        env.setdefault("TERM", "xterm")
        self.env = env
        self._run("new-session", "-d", "-s", "t", "-x", "200", "-y", "50", *argv)
        info = self._run("display-message", "-p", "-t", "t", "#{pid} #{pane_pid}").split()
        self.server_pid, self.pane_pid = int(info[0]), int(info[1])

    def _run(self, *args: str) -> str:
        return subprocess.run(
            [self.tmux, "-S", str(self.sock), *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            env=self.env,
            stdin=subprocess.DEVNULL,
        ).stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self._run("send-keys", "-t", "t", *(["-l"] if literal else []), *keys)

    def screen(self, escapes: bool = False) -> str:
        return self._run("capture-pane", "-p", "-t", "t", *(["-e"] if escapes else []))

    def wait_screen(self, pattern: str, timeout: float = 8.0) -> str:
        rx = re.compile(pattern, re.M)
        if wait_until(lambda: rx.search(self.screen()), timeout, 0.1):
            return self.screen()
        raise AssertionError(f"{pattern!r} not on the screen after {timeout}s:\n{self.screen()}")

    def selected(self) -> str:
        """The row hatop shows in reverse video (the cursor), escapes removed."""
        for ln in self.screen(escapes=True).splitlines():
            if "\x1b[7m" in ln and "1-STATUS" not in ln:
                return re.sub(r"\x1b\[[0-9;]*m", "", ln.split("\x1b[7m", 1)[1])
        return ""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run("kill-server")
        for pid, name in ((self.pane_pid, "hatop"), (self.server_pid, "tmux")):
            if pid and wait_until(lambda p=pid, n=name: not _alive(p, n), 3.0, 0.05) is False:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------- lb


class Setup:
    def __init__(self, lb: LB, sock: Path, fe: int, tmp: Path) -> None:
        self.lb, self.sock, self.fe, self.tmp = lb, sock, fe, tmp


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("optools")
    sock = tmp / "lb.sock"
    fe, p1, p2 = free_port(), free_port(), free_port()
    cfg = CFG.format(sock=sock, host=HOST, fe=fe, p1=p1, p2=p2)
    inst = LB(tmp, cfg)
    try:
        inst.start()
        assert wait_until(sock.exists, 5.0), f"no stats socket: {inst.stderr}"
        # both servers UP through their checks before the tools look at them
        for srv in ("s1", "s2"):
            wait_status(sock, "be", srv, "UP", 5.0)
        yield Setup(inst, sock, fe, tmp)
    finally:
        inst.stop()


@pytest.fixture
def ready(setup: Setup) -> Iterator[Setup]:
    """Every test starts and ends with both servers ready and UP."""
    for srv in ("s1", "s2"):
        cli(setup.sock, f"set server be/{srv} state ready")
    yield setup
    for srv in ("s1", "s2"):
        cli(setup.sock, f"set server be/{srv} state ready")


# ---------------------------------------------------------------- hatop


@pytest.fixture
def hatop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tmux]:
    """hatop in tmux on lb's socket (the tools are checked before lb starts)."""
    exe = shutil.which("hatop")
    if exe is None:
        pytest.skip("hatop is not installed (apt-get install hatop; .ci/run installs it)")
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux; .ci/run installs it)")
    ready: Setup = request.getfixturevalue("ready")
    t = Tmux(tmp_path, [exe, "-s", str(ready.sock), "-i", "1"])
    t.setup = ready
    try:
        yield t
    finally:
        t.close()


def _row(screen: str, name: str) -> list[str]:
    for ln in screen.splitlines():
        cols = ln.split()
        if cols and cols[0] == name:
            return cols
    raise AssertionError(f"no {name} row on the screen:\n{screen}")


def test_hatop_lists_servers_disables_and_drains(hatop: Tmux) -> None:
    ready = hatop.setup
    assert ready is not None
    sock = ready.sock
    # 1-STATUS mode: hatop read `show info` and `show stat` through the socket
    screen = hatop.wait_screen(r"^s2 +1 +UP +L4OK")
    assert "HAProxy Version: 2.6.12" in screen, screen
    assert re.search(r"Proxies:\s+4\s+Services:\s+8\b", screen), screen
    assert ">>> be" in screen and ">>> fe" in screen, screen
    assert _row(screen, "s1")[:4] == ["s1", "1", "UP", "L4OK"], screen
    assert _row(screen, "s2")[:4] == ["s2", "1", "UP", "L4OK"], screen
    assert _row(screen, "FRONTEND")[:3] == ["FRONTEND", "0", "OPEN"], screen

    # move the cursor down to s1, one line at a time
    for _ in range(12):
        if hatop.selected().startswith("s1 "):
            break
        before = hatop.selected()
        hatop.keys("Down")
        wait_until(lambda b=before: hatop.selected() != b, 2.0, 0.05)
    assert hatop.selected().startswith("s1 "), hatop.screen()

    # F10: `disable server be/s1` -> MAINT, on the socket and on hatop's screen
    hatop.keys("F10")
    wait_status(sock, "be", "s1", "MAINT")
    assert server_status(sock, "be", "s2") == "UP"
    screen = hatop.wait_screen(r"^s1 +1 +MAINT")
    assert _row(screen, "s2")[2] == "UP", screen

    # F9: `enable server be/s1` -> back UP (its check passes again)
    hatop.keys("F9")
    wait_status(sock, "be", "s1", "UP")
    hatop.wait_screen(r"^s1 +1 +UP")

    # drain from hatop's embedded CLI (mode 5), then back to the status view
    hatop.keys("5")
    hatop.wait_screen(r"embedded interactive HAProxy shell|^> ")
    hatop.keys("set server be/s1 state drain", literal=True)
    hatop.keys("Enter")
    wait_status(sock, "be", "s1", "DRAIN")
    assert server_status(sock, "be", "s2") == "UP"
    hatop.wait_screen(r"^> set server be/s1 state drain")
    hatop.keys("show servers state be", literal=True)
    hatop.keys("Enter")
    # srv_admin_state 8 = SRV_ADMF_DRAIN, as HAProxy 2.6 prints it
    screen = hatop.wait_screen(r"^3 be 1 s1 127\.0\.0\.1 2 8 ")
    assert re.search(r"^3 be 2 s2 127\.0\.0\.1 2 0 ", screen, re.M), screen
    hatop.keys("M-1")
    hatop.wait_screen(r"^s1 +1 +DRAIN")

    # the drained server gets no new traffic
    assert {get(ready.fe).body for _ in range(4)} == {b"ok2"}


# ---------------------------------------------------------------- prometheus-haproxy-exporter

_METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def parse_metrics(text: str) -> dict[str, float]:
    """`name{labels}` (labels as printed, sorted by the exporter) -> value."""
    out: dict[str, float] = {}
    for ln in text.splitlines():
        m = _METRIC.match(ln)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


class Exporter:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path, setup: Setup) -> None:
        self.proc, self.port, self.log, self.setup = proc, port, log, setup

    def scrape(self) -> dict[str, float]:
        url = f"http://{HOST}:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 (loopback)
            return parse_metrics(r.read().decode())


@pytest.fixture
def exporter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Exporter]:
    exe = shutil.which("prometheus-haproxy-exporter")
    if exe is None:
        pytest.skip(
            "prometheus-haproxy-exporter is not installed "
            "(apt-get install prometheus-haproxy-exporter; .ci/run installs it)"
        )
    ready: Setup = request.getfixturevalue("ready")
    port = free_port()
    log = tmp_path / "exporter.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            [
                exe,
                f"--haproxy.scrape-uri=unix:{ready.sock}",
                f"--web.listen-address={HOST}:{port}",
                "--haproxy.timeout=5s",
            ],
            stdout=f,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        if not wait_port(port, 10.0):
            raise AssertionError(f"exporter did not listen: {log.read_text(errors='replace')}")
        yield Exporter(proc, port, log, ready)
    finally:
        _stop_proc(proc)


def _srv(name: str, server: str, **labels: str) -> str:
    lab = {"backend": "be", "server": server, **labels}
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(lab.items())) + "}"


def test_exporter_reports_up_and_server_metrics(exporter: Exporter) -> None:
    ready = exporter.setup
    before = exporter.scrape()
    assert before.get("haproxy_up") == 1, exporter.log.read_text(errors="replace")
    base = {
        s: before.get(_srv("haproxy_server_http_responses_total", s, code="2xx"), 0)
        for s in ("s1", "s2")
    }

    n = 8
    bodies = [get(ready.fe).body for _ in range(n)]
    assert sorted(bodies) == sorted([b"ok1", b"ok2"] * (n // 2))

    m = exporter.scrape()
    log = exporter.log.read_text(errors="replace")
    assert m.get("haproxy_up") == 1, log
    assert m.get("haproxy_exporter_csv_parse_failures_total") == 0, log
    assert m.get('haproxy_version_info{release_date="2023/03/28",version="2.6.12"}') == 1, m
    assert m.get('haproxy_backend_up{backend="be"}') == 1
    assert m.get('haproxy_frontend_current_sessions{frontend="fe"}') is not None
    assert m.get('haproxy_frontend_http_requests_total{frontend="fe"}', 0) >= n
    for s in ("s1", "s2"):
        assert m.get(_srv("haproxy_server_up", s)) == 1, s
        assert m.get(_srv("haproxy_server_weight", s)) == 1, s
        assert m.get(_srv("haproxy_server_check_duration_seconds", s)) is not None, s
        got = m.get(_srv("haproxy_server_http_responses_total", s, code="2xx"), 0) - base[s]
        assert got == n // 2, (s, got)
        assert m.get(_srv("haproxy_server_sessions_total", s), 0) >= n // 2, s
        assert m.get(_srv("haproxy_server_bytes_out_total", s), 0) > 0, s
        assert _srv("haproxy_server_bytes_in_total", s) in m, s
        assert m.get(_srv("haproxy_server_connection_errors_total", s)) == 0, s

    # the live state shows at the next scrape: MAINT is down for the exporter, DRAIN is up
    cli(ready.sock, "set server be/s1 state maint")
    cli(ready.sock, "set server be/s2 state drain")
    m = exporter.scrape()
    assert m.get(_srv("haproxy_server_up", "s1")) == 0
    assert m.get(_srv("haproxy_server_up", "s2")) == 1
    assert m.get('haproxy_backend_up{backend="be"}') == 0
    assert m.get("haproxy_up") == 1


def test_exporter_bytes_in_counts_request_heads(exporter: Exporter) -> None:
    ready = exporter.setup
    before = exporter.scrape()
    for _ in range(4):
        get(ready.fe)
    m = exporter.scrape()
    for s in ("s1", "s2"):
        key = _srv("haproxy_server_bytes_in_total", s)
        assert m[key] - before[key] > 0, (key, m[key])
    key = 'haproxy_frontend_bytes_in_total{frontend="fe"}'
    assert m[key] - before[key] > 0, (key, m[key])
