"""Command-line flags and signals: -v, -vv, -cc, -p, SIGUSR1 soft stop, SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from itest import HOST, free_port, get, http_cfg, run_lb, wait_until

pytestmark = pytest.mark.timeout(30)


def test_version():
    r = run_lb("-v")
    assert r.returncode == 0
    assert r.stdout.splitlines()[0].startswith("LB version ")
    assert "HAProxy" in r.stdout


def test_version_verbose():
    r = run_lb("-vv")
    assert r.returncode == 0
    assert "Feature list :" in r.stdout
    assert "roundrobin" in r.stdout


@pytest.mark.parametrize(
    ("expr", "code"),
    [
        ("version_atleast(2.4)", 0),
        ("version_atleast(9.0)", 1),
        ("version_before(2.4)", 1),
    ],
)
def test_check_condition(expr, code):
    assert run_lb("-cc", expr).returncode == code


def test_check_condition_error():
    r = run_lb("-cc", "no_such_predicate(1)")
    assert r.returncode == 2
    assert r.stderr.startswith("[ALERT]")


def test_unknown_option():
    r = run_lb("--frobnicate")
    assert r.returncode == 1
    assert "unknown option" in r.stderr


def test_pidfile_written_and_removed(lb, backend, tmp_path):
    b = backend()
    port = free_port()
    pidfile = tmp_path / "lb.pid"
    inst = lb(http_cfg(port, f"    server s1 {HOST}:{b.port}\n"), args=["-p", str(pidfile)])
    assert wait_until(pidfile.exists, 3)
    assert pidfile.read_text().strip() == str(inst.pid)
    # (lb/worker.py installs its signal handlers only after listening: give it a moment)
    time.sleep(0.3)
    inst.signal(signal.SIGTERM)
    assert inst.wait(5) == 0
    assert not pidfile.exists()


def test_sigusr1_soft_stop_finishes_inflight(lb, backend):
    b = backend()
    port = free_port()
    inst = lb(http_cfg(port, f"    server s1 {HOST}:{b.port}\n"))
    res: dict[str, object] = {}

    def slow() -> None:
        try:
            res["r"] = get(port, "/delay?ms=700")
        except OSError as exc:
            res["r"] = exc

    th = threading.Thread(target=slow)
    th.start()
    assert wait_until(lambda: b.active == 1, 3)
    inst.signal(signal.SIGUSR1)
    # the listener closes at once ...
    assert wait_until(lambda: _refused(port), 2)
    assert inst.proc.poll() is None
    th.join(5)
    # ... while the request in flight completes, then the process exits
    r = res["r"]
    assert not isinstance(r, Exception), r
    assert r.status == 200 and r.body == b"delayed"
    assert inst.wait(5) == 0


def test_sigterm_stops_now(lb, backend):
    b = backend()
    port = free_port()
    inst = lb(http_cfg(port, f"    server s1 {HOST}:{b.port}\n"))
    th = threading.Thread(target=lambda: _quiet_get(port, "/delay?ms=3000"))
    th.start()
    assert wait_until(lambda: b.active == 1, 3)
    t0 = time.monotonic()
    inst.signal(signal.SIGTERM)
    assert inst.wait(3) is not None
    assert time.monotonic() - t0 < 1.5
    th.join(5)


def _refused(port: int) -> bool:
    import socket

    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return False
    except OSError:
        return True


def _quiet_get(port: int, path: str) -> None:
    try:
        get(port, path)
    except (OSError, EOFError):
        pass


def test_no_traceback_on_bad_file():
    r = run_lb("-c", "-f", os.devnull + ".nope")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "[ALERT]" in r.stderr


def test_daemon_mode_detaches_and_serves(backend, tmp_path):
    """`-D`: the command returns at once; the daemon (its pid in `-p`) serves with
    its standard streams on /dev/null, and SIGTERM stops it and removes the pid file."""
    b = backend("s1")
    port = free_port()
    cfg = tmp_path / "d.cfg"
    cfg.write_text(http_cfg(port, f"    server s1 {HOST}:{b.port}\n"))
    pidfile = tmp_path / "lb.pid"
    r = run_lb("-D", "-f", str(cfg), "-p", str(pidfile))
    assert r.returncode == 0, r.stderr
    assert wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 10)
    pid = int(pidfile.read_text())
    try:
        assert wait_until(lambda: get(port, "/").status == 200, 10)
        assert os.readlink(f"/proc/{pid}/fd/1") == "/dev/null"
        assert os.getsid(pid) != os.getsid(0)  # a session of its own, no terminal
    finally:
        os.kill(pid, signal.SIGTERM)
    assert wait_until(lambda: not pidfile.exists(), 10)
