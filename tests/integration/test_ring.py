"""`ring` sections, `log ring@NAME`, `show events` and forwarding to TCP syslog
servers, compared with a real haproxy 2.6 on the same configuration."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.itest import HOST, REPO, free_port, run_lb, wait_until

pytestmark = pytest.mark.timeout(60)


def cfg_text(sock: Path, port: int, extra_global: str = "", rings: str = "") -> str:
    return f"""\
global
    nbthread 1
    stats socket {sock} level admin
    log ring@a local0
    log ring@b len 90 format iso local1
    log ring@c local2
    log ring@d format rfc5424 local3 notice
    log ring@buf0 local5
{extra_global}
ring a
ring b
    format raw
ring c
    description "My local buffer"
    format rfc5424
    maxlen 100
ring d
    format short
{rings}
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind {HOST}:{port}
    http-request return status 200 content-type text/plain string ok
"""


def cli(sock: Path, cmd: str, hold: float = 0.0) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(cmd.encode() + b"\n")
        if hold:
            time.sleep(hold)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


def http_get(port: int, path: str) -> None:
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        while s.recv(65536):
            pass


def mask(text: str) -> str:
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", "ISO", text)
    text = re.sub(r"\[\d\d/\w{3}/\d{4}:[\d:.]*\]?", "[DATE]", text)  # cut ones too
    text = re.sub(r"\w{3} [ \d]\d \d\d:\d\d:\d\d", "DATE", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "ADDR", text)
    text = re.sub(r"haproxy\[\d+\]|haproxy \d+", "haproxy PID", text)
    # what the access log itself says (times, sizes, counts) is other tests' business,
    text = re.sub(r" \S+ 200 \d+ ", " T 200 N ", text)
    text = re.sub(r" LR-- [\d/]+( [\d/]+)?", " LR-- C", text)
    text = re.sub(r"y+", "Y", text)  # how many fit before a cut depends on the above
    return text


@contextlib.contextmanager
def serving(
    tmp: Path, cfg: str, sock: Path, real: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """lb (or the real haproxy) on `cfg`, once its stats socket answers: no probe
    connection to the traffic port, so the rings hold only the test's requests."""
    name = "h" if real else "lb"
    path = tmp / f"{name}.cfg"
    path.write_text(cfg)
    cmd = ["haproxy", "-db"] if real else [sys.executable, "-m", "lb"]
    with open(tmp / f"{name}.err", "wb") as err:
        proc = subprocess.Popen(
            [*cmd, "-f", str(path)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    try:
        assert wait_until(lambda: _answers(sock), 8), (tmp / f"{name}.err").read_text()
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _answers(sock: Path) -> bool:
    try:
        return cli(sock, "show info").startswith("Name:")
    except OSError:
        return False


def exercise(port: int, sock: Path) -> dict[str, str]:
    http_get(port, "/first")
    http_get(port, "/" + "y" * 200)
    out = {"list": cli(sock, "show events")}
    for name in ("a", "b", "c", "d", "buf0", "stdout", "nope", "a -n", "a -x", "stdout -x"):
        out[name] = cli(sock, f"show events {name}")
    out["sev"] = cli(sock, "set severity-output string; show events stdout; show events nope")
    return out


def test_show_events_like_haproxy(tmp_path: Path) -> None:
    port, sock = free_port(), tmp_path / "lb.sock"
    with serving(tmp_path, cfg_text(sock, port), sock):
        mine = exercise(port, sock)
    assert mine["list"] == (
        "Supported events sinks are listed below. Add -w(wait), -n(new). Any key to stop\n"
        "    stdout     : type=fd, 0 dropped, standard output (fd#1)\n"
        "    stderr     : type=fd, 0 dropped, standard output (fd#2)\n"
        "    buf0       : type=buffer, 0 dropped, in-memory ring buffer\n"
        "    a          : type=buffer, 0 dropped, a\n"
        "    b          : type=buffer, 0 dropped, b\n"
        "    c          : type=buffer, 0 dropped, My local buffer\n"
        "    d          : type=buffer, 0 dropped, d\n"
        "\n"
    )
    assert mine["nope"] == "No such event sink\n"
    assert mine["stdout"] == "Nothing to report for this sink\n"
    assert mine["a -x"] == "unknown option\n"
    assert mine["a -n"] == "\n"
    assert mine["d"] == "\n"  # `notice` and above only: the access logs are `info`
    lines = mine["a"].splitlines()
    assert len(lines) == 3 and lines[0].endswith('"GET /first HTTP/1.1"'), lines
    assert len(mine["b"].splitlines()[1]) == 90  # `len 90`; the ring's raw format wins
    assert all(len(ln) <= 100 for ln in mine["c"].splitlines())  # maxlen 100
    assert mine["c"].startswith("<150>1 ")
    assert mine["buf0"].startswith("<6>")
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed")
    hport, hsock = free_port(), tmp_path / "h.sock"
    with serving(tmp_path, cfg_text(hsock, hport), hsock, real=True):
        theirs = exercise(hport, hsock)
    for key, value in theirs.items():
        assert mask(mine[key]) == mask(value), key


def test_wait_streams_new_lines_until_input(tmp_path: Path) -> None:
    port, sock = free_port(), tmp_path / "lb.sock"
    with serving(tmp_path, cfg_text(sock, port), sock):
        http_get(port, "/old")
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(str(sock))
        try:
            s.sendall(b"show events a -wn\n")
            time.sleep(0.3)  # longer than nothing to say: the connection stays
            http_get(port, "/new1")
            got = b""
            while b"/new1" not in got:
                got += s.recv(4096)
            http_get(port, "/new2")
            while b"/new2" not in got:
                got += s.recv(4096)
            assert b"/old" not in got
            s.sendall(b"x\n")  # any input ends the wait; the input is discarded
            while chunk := s.recv(4096):
                got += chunk
            assert got.endswith(b'"GET /new2 HTTP/1.1"\n\n'), got
        finally:
            s.close()


def test_wait_ends_at_end_of_input(tmp_path: Path) -> None:
    port, sock = free_port(), tmp_path / "lb.sock"
    with serving(tmp_path, cfg_text(sock, port), sock):
        http_get(port, "/old")
        t0 = time.monotonic()
        out = cli(sock, "show events a -w", hold=0.5)
        assert time.monotonic() - t0 < 3
        assert out.endswith('"GET /old HTTP/1.1"\n\n'), out


class SyslogServer:
    """A TCP listener keeping every byte received."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.data = b""
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(0.2)
            with conn:
                while not self.stop:
                    try:
                        chunk = conn.recv(65536)
                    except TimeoutError:
                        continue
                    if not chunk:
                        break
                    self.data += chunk

    def close(self) -> None:
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def forward_cfg(sock: Path, port: int, legacy: int, octet: int) -> str:
    rings = f"""
ring f1
    format rfc3164
    timeout connect 1s
    timeout server 5s
    server s1 {HOST}:{legacy}
ring f2
    format rfc5424
    timeout connect 1s
    timeout server 5s
    server s2 {HOST}:{octet} log-proto octet-count
"""
    extra = "    log ring@f1 local0\n    log ring@f2 local1\n"
    return cfg_text(sock, port, extra, rings)


def _forwarded(tmp: Path, serve: str) -> tuple[bytes, bytes]:
    legacy, octet = SyslogServer(), SyslogServer()
    port, sock = free_port(), tmp / f"{serve}.sock"
    text = forward_cfg(sock, port, legacy.port, octet.port)
    try:
        with serving(tmp, text, sock, real=serve == "haproxy"):
            time.sleep(0.3)
            http_get(port, "/x")
            http_get(port, "/" + "y" * 1500)
            assert wait_until(lambda: legacy.data.count(b"\n") >= 2 and b"yyy" in octet.data, 5)
    finally:
        legacy.close()
        octet.close()
    return legacy.data, octet.data


def test_forward_to_tcp_syslog(tmp_path: Path) -> None:
    legacy, octet = _forwarded(tmp_path, "lb")
    lines = legacy.split(b"\n")
    assert lines[0].startswith(b"<134>") and lines[0].endswith(b'"GET /x HTTP/1.1"')
    assert len(lines[1]) - (lines[1].index(b"]: ") + 3) == 1024  # the `log` line's len
    assert lines[2] == b""
    frames = []
    rest = octet
    while rest:
        n, _, rest = rest.partition(b" ")
        frames.append(rest[: int(n)])
        rest = rest[int(n) :]
    assert len(frames) == 2
    assert frames[0].startswith(b"<142>1 ") and frames[0].endswith(b'"GET /x HTTP/1.1"')
    if shutil.which("haproxy") is None:
        return
    hlegacy, hoctet = _forwarded(tmp_path, "haproxy")
    assert mask(hlegacy.decode()) == mask(legacy.decode())

    def frames_masked(data: bytes) -> str:  # a frame's length follows what mask() hides
        return re.sub(r"\d+ <142>", "N <142>", mask(data.decode()))

    assert frames_masked(hoctet) == frames_masked(octet)


def test_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cfg"
    bad.write_text(
        "ring r1\n    size\n    format bogus\n    description\n    timeout connect\n"
        "    timeout connect abc\n    foo bar\n    server s1\n"
        "    server s1 127.0.0.1:1514 log-proto bogus\nring r1\nring\n"
    )
    res = run_lb("-c", "-f", str(bad))
    assert res.returncode == 1
    got = [ln.split(" : ", 1)[1] for ln in res.stderr.splitlines()]
    f = str(bad)
    assert got[:10] == [
        f"config : parsing [{f}:2] : invalid size '' for new sink buffer.",
        f"config : parsing [{f}:3] : unknown format 'bogus'.",
        f"config : parsing [{f}:4] : missing ring description text.",
        f"config : parsing [{f}:5] : 'timeout connect' expects <time> as argument.",
        f"config : parsing [{f}:6]: unexpected character 'a' in argument to <timeout connect>.",
        f"config : parsing [{f}:7] : unknown statement 'foo'.",
        f"config : [{f}:8] : 'server' expects <name> and <addr>[:<port>] as arguments.",
        f"config : [{f}:9] : 'server r1/s1' : 'log-proto' expects one of 'legacy' or "
        "'octet-count' but got 'bogus'.",
        f"config : parsing [{f}:10] : sink named 'r1' already exists.",
        f"config : parsing [{f}:11] : missing ring name.",
    ]
    hres = (
        subprocess.run(
            ["haproxy", "-c", "-f", str(bad)], capture_output=True, text=True, timeout=20
        )
        if shutil.which("haproxy")
        else None
    )
    if hres is not None:
        theirs = [ln.split(" : ", 1)[1] for ln in hres.stderr.splitlines() if "NOTICE" not in ln]
        assert theirs[:10] == got[:10]


def test_unknown_ring_stops_startup(tmp_path: Path) -> None:
    cfg = tmp_path / "u.cfg"
    cfg.write_text(
        "global\n    log ring@nope local0\n\nfrontend fe\n    log ring@other local0\n"
        f"    bind {HOST}:{free_port()}\n    timeout client 1s\n"
    )
    assert run_lb("-c", "-f", str(cfg)).returncode == 0  # as `haproxy -c`
    res = run_lb("-f", str(cfg), timeout=10)
    assert res.returncode == 1
    assert (
        f"config : global log server declared in file '{cfg}' at line 2 uses unknown "
        "ring named 'nope'." in res.stderr
    )
