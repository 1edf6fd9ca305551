#!/usr/bin/env python3
"""wrk-driven benchmark: lb vs HAProxy (nbthread 1) vs nginx, interleaved per round.

Run from anywhere: ``python bench/run.py [--rounds 3] [--duration 10] [--connections 50]
[--scenario http|realistic|tcp|tls|all] [--extra-poll-stats] [--profile]``. See bench/README.md.

Everything talks to 127.0.0.1 only. Every process started here (nginx, haproxy, lb, wrk,
py-spy) is stopped by pid when the run ends, also on Ctrl-C, SIGTERM or an error.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
SCENARIOS = ("http", "realistic", "rules", "tcp", "tls")
LOGGING_SCENARIOS = ("realistic", "rules")
BASE_TARGETS = ("lb", "haproxy", "nginx")
DEFAULT_LB_CMD = "{python} -m lb -f {cfg}"
NGINX_BODY = "hello from backend {n}\n"  # same length for both backends


# --------------------------------------------------------------------------- processes


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat from field 3 (state) on; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data.rsplit(b")", 1)[1].decode().split()


def cpu_ticks(pid: int) -> tuple[int, int] | None:
    """(utime + stime, stime) of a process (all its threads, live and exited), in
    clock ticks: the second tells the kernel's share."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return int(fields[11]) + int(fields[12]), int(fields[12])


def start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def descendants(root: int) -> list[int]:
    """All live descendants of ``root`` (not root itself), found by scanning /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    out: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def snapshot_cpu(pids: list[int]) -> dict[int, tuple[int, int]]:
    snap = {}
    for pid in pids:
        ticks = cpu_ticks(pid)
        if ticks is not None:
            snap[pid] = ticks
    return snap


def cpu_delta_seconds(
    before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]], kernel: bool = False
) -> float:
    """CPU seconds spent between two snapshots (processes born in between count in full);
    `kernel`: only the time spent in the kernel (stime)."""
    i = 1 if kernel else 0
    ticks = sum(t[i] - before.get(pid, (0, 0))[i] for pid, t in after.items())
    return ticks / CLK_TCK


class Processes:
    """Every child started by the benchmark; ``stop_all`` ends them by pid."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        stdout: Path | None = None,
        stderr: Path | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
        err = open(stderr, "wb") if stderr else subprocess.DEVNULL  # noqa: SIM115
        try:
            # A session of its own: Ctrl-C reaches only us, and we stop the children by pid.
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,
                start_new_session=True,
            )
        finally:
            for f in (out, err):
                if not isinstance(f, int):
                    f.close()
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
        if proc.poll() is None:
            # Remember the descendants (nginx workers, lb workers) with their start times so
            # that a leftover is killed by pid without risk of hitting a recycled pid.
            kids = [(pid, start_time(pid)) for pid in descendants(proc.pid)]
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(grace)
            deadline = time.monotonic() + grace
            for pid, started in kids:
                while start_time(pid) == started and time.monotonic() < deadline:
                    time.sleep(0.05)
                if start_time(pid) == started:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        self.procs = [(n, p) for n, p in self.procs if p is not proc]

    def stop_all(self) -> None:
        for _, proc in reversed(list(self.procs)):
            try:
                self.stop(proc)
            except Exception as exc:  # keep stopping the others
                print(f"warning: could not stop pid {proc.pid}: {exc}", file=sys.stderr)


def _raise_system_exit(signum: int, _frame: object) -> None:
    print(f"\nstopped by signal {signum}: stopping everything", file=sys.stderr)
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------- tools


@dataclasses.dataclass
class Tools:
    haproxy: str
    nginx: str
    wrk: str


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in SBIN_DIRS:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    return None


def find_tools() -> Tools:
    wanted = {"haproxy": "haproxy", "nginx": "nginx-light", "wrk": "wrk"}
    missing = [b for b in wanted if find_binary(b) is None]
    if missing:
        pkgs = [wanted[b] for b in missing]
        if os.geteuid() == 0 and shutil.which("apt-get"):
            print(f"installing {' '.join(pkgs)} with apt-get ...", flush=True)
            cmd = ["apt-get", "install", "-y", *pkgs]
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            if subprocess.run(cmd, env=env).returncode != 0:
                subprocess.run(["apt-get", "update"], env=env, check=False)
                subprocess.run(cmd, env=env, check=False)
        still = [b for b in wanted if find_binary(b) is None]
        if still:
            sys.exit(
                f"error: missing {', '.join(still)}; install with "
                f"`apt-get install -y {' '.join(wanted[b] for b in still)}`"
            )
    return Tools(*(find_binary(b) or "" for b in ("haproxy", "nginx", "wrk")))


def first_line(argv: list[str], cwd: Path | None = None) -> str:
    try:
        res = subprocess.run(
            argv, capture_output=True, timeout=15, cwd=cwd, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(unavailable: {exc})"
    text = (res.stdout + res.stderr).decode(errors="replace").strip()
    if not text:
        return f"(exit {res.returncode}, no output)"
    return text.splitlines()[0]  # wrk -v exits 1 after printing its version


# --------------------------------------------------------------------------- configs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_conf(workdir: Path, ports: list[int], status_port: int) -> str:
    user = ""
    if os.geteuid() == 0:  # workers would otherwise run as 'nobody' and may lack a group
        user = "user root root;\n"
    servers = "".join(
        f"""
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type text/plain;
            return 200 "{NGINX_BODY.format(n=n).strip()}\\n";
        }}
    }}
"""
        for n, port in enumerate(ports, 1)
    )
    return f"""# generated by bench/run.py
{user}worker_processes 1;
daemon off;
master_process on;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path {workdir}/nginx-tmp/body;
    proxy_temp_path {workdir}/nginx-tmp/proxy;
    fastcgi_temp_path {workdir}/nginx-tmp/fastcgi;
    uwsgi_temp_path {workdir}/nginx-tmp/uwsgi;
    scgi_temp_path {workdir}/nginx-tmp/scgi;
{servers}
    server {{
        listen 127.0.0.1:{status_port};
        location / {{
            stub_status;
        }}
    }}
}}
"""


def proxy_conf(
    scenario: str,
    *,
    bind_port: int,
    backend_ports: list[int],
    log_port: int,
    stats_socket: Path | None,
    crt: Path | None = None,
    rule_files: tuple[Path, Path] | None = None,
) -> str:
    """One HAProxy configuration; lb and haproxy get this same text, bind/socket aside.

    `rules` is the issue's reference frontend (../shared/reference/haproxy-2.6):
    track-sc0 src in a 1m table, a whitelist ACL file, a 429 deny, a map_ip country
    and the rate in the log-format; `rule_files` are (whitelist, map). The load
    comes from 127.0.0.1, which the whitelist holds, so every request is served
    after all the rules ran."""
    lines = [
        f"# generated by bench/run.py, scenario {scenario}",
        "global",
        "    nbthread 1",
        "    maxconn 4096",
    ]
    if stats_socket is not None:
        lines.append(f"    stats socket {stats_socket} mode 600 level admin")
    mode = "tcp" if scenario == "tcp" else "http"
    lines += [
        "",
        "defaults",
        f"    mode {mode}",
        "    timeout connect 5s",
        "    timeout client 30s",
        "    timeout server 30s",
    ]
    if scenario in LOGGING_SCENARIOS:
        lines += [f"    log 127.0.0.1:{log_port} local0", "    option httplog"]
    if scenario == "realistic":
        lines.append("    option forwardfor")
    lines += [
        "",
        "frontend fe_main",
        f"    bind 127.0.0.1:{bind_port}" + (f" ssl crt {crt}" if scenario == "tls" else ""),
    ]
    if scenario == "rules" and rule_files is not None:
        whitelist, country_map = rule_files
        lines += [
            "    stick-table type ip size 1m expire 15m store http_req_rate(10s),gpt0",
            "    http-request track-sc0 src",
            f"    acl whitelist src -f {whitelist}",
            "    acl too_fast sc_http_req_rate(0) gt 50",
            "    acl is_static path_beg /static",
            "    http-request deny deny_status 429 if too_fast !whitelist",
            '    log-format "%ci:%cp [%tr] %ft %b/%s %ST %B '
            f'country=%[src,map_ip({country_map})] rate=%[sc_http_req_rate(0)]"',
            "    use_backend be_static if is_static",
        ]
    lines += ["    default_backend be_nginx"]
    backends = ["be_nginx", "be_static"] if scenario == "rules" else ["be_nginx"]
    for be in backends:
        lines += ["", f"backend {be}", "    balance roundrobin"]
        if mode == "http":
            lines.append("    http-reuse safe")
        lines += [f"    server s{n} 127.0.0.1:{port}" for n, port in enumerate(backend_ports, 1)]
    return "\n".join(lines) + "\n"


def write_rule_files(workdir: Path) -> tuple[Path, Path]:
    """The `rules` scenario's whitelist (1000 networks and the loopback the load comes
    from) and country map (the reference one when it is there, else a made-up one)."""
    rnd = random.Random(4)
    whitelist = workdir / "whitelist.lst"
    nets = [f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.0/24" for _ in range(1000)]
    whitelist.write_text("\n".join([*nets, "127.0.0.0/8"]) + "\n")
    country_map = workdir / "ip-country.lst"
    ref = REPO_ROOT.parent / "shared" / "reference" / "haproxy-2.6" / "ip-country.lst"
    if ref.is_file():
        country_map.write_text(ref.read_text())
    else:
        country_map.write_text("127.0.0.0/8 LO\n10.0.0.0/8 XA\n192.168.0.0/16 XB\n")
    return whitelist, country_map


# --------------------------------------------------------------------------- readiness


def http_get_ok(port: int, timeout: float = 2.0, tls: bool = False) -> tuple[bool, str]:
    """One GET / on a fresh connection (HTTPS if `tls`); True if the answer is a 200."""
    try:
        with contextlib.ExitStack() as stack:
            s = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=timeout))
            if tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                s = stack.enter_context(ctx.wrap_socket(s))
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        return False, str(exc)
    status = data.split(b"\r\n", 1)[0].decode(errors="replace")
    return status.startswith("HTTP/1.") and status[9:12] == "200", status or "empty reply"


def wait_ready(
    proc: subprocess.Popen[bytes], port: int, timeout: float, tls: bool = False
) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False, f"exited with code {proc.returncode}"
        ok, last = http_get_ok(port, timeout=1.0, tls=tls)
        if ok:
            return True, last
        time.sleep(0.1)
    return False, f"not serving 200 on 127.0.0.1:{port} after {timeout:.0f}s (last: {last})"


def tail(path: Path, n: int = 25) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no output file)"
    if not lines:
        return "(empty)"
    return "\n".join("    | " + line for line in lines[-n:])


# --------------------------------------------------------------------------- helpers


class UdpSink:
    """Counts syslog datagrams sent to 127.0.0.1:port (the 'realistic' scenario)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="udp-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        buf = bytearray(65536)
        recv_into = self.sock.recv_into
        while not self._stop.is_set():
            try:
                recv_into(buf)
            except TimeoutError:
                continue
            except OSError:
                return
            self.count += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class StatsPoller:
    """Sends 'show stat' on a stats socket every ``interval`` seconds in a thread."""

    def __init__(self, path: Path, interval: float = 0.1) -> None:
        self.path = path
        self.interval = interval
        self.ok = 0
        self.failed = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stats-poller", daemon=True)

    def __enter__(self) -> StatsPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def poll_once(self) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(self.path))
            s.sendall(b"show stat\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        if not data.startswith(b"# pxname"):
            raise ValueError(f"unexpected answer {data[:60]!r}")

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.poll_once()
                self.ok += 1
            except (OSError, ValueError) as exc:
                self.failed += 1
                self.last_error = str(exc)
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))


# --------------------------------------------------------------------------- wrk


@dataclasses.dataclass
class RunResult:
    target: str
    round: int
    requests: int = 0
    rps: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_s: float = 0.0
    sys_s: float = 0.0
    cpu_us_per_req: float | None = None
    backend_cpu_us_per_req: float | None = None
    backend_conns: int | None = None  # connections nginx accepted during the run
    socket_errors: int = 0
    non_2xx: int = 0
    log_lines: int | None = None
    stats_polls_ok: int | None = None
    stats_polls_failed: int | None = None
    error: str = ""


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(text: str) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {"requests": 0, "rps": 0.0, "p50_ms": None, "p99_ms": None}
    if m := re.search(r"^\s*(\d+) requests in ", text, re.M):
        out["requests"] = int(m.group(1))
    if m := re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M):
        out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        if m := re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
            out[key] = float(m.group(1)) * _UNITS_MS[m.group(2)]
    errors = 0
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    ):
        errors = sum(int(g) for g in m.groups())
    out["socket_errors"] = errors
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    return out


def run_wrk(
    procs: Processes,
    wrk: str,
    port: int,
    duration: int,
    connections: int,
    outfile: Path,
    scheme: str = "http",
    close: bool = False,
) -> str:
    """wrk keep-alive; `close` sends `Connection: close`: a new connection per request."""
    argv = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "2s",
        *(["-H", "Connection: close"] if close else []),
        f"{scheme}://127.0.0.1:{port}/",
    ]
    proc = procs.start("wrk", argv, stdout=outfile, stderr=outfile)
    try:
        proc.wait(duration + 20)
    except subprocess.TimeoutExpired:
        pass
    finally:
        procs.stop(proc)
    return outfile.read_text(errors="replace")


def run_s_time(
    procs: Processes, port: int, duration: int, clients: int, outfile: Path
) -> tuple[int, float]:
    """`clients` parallel `openssl s_time -new`: a full TLS handshake (no resumption, unlike
    wrk, whose OpenSSL reuses its session on reconnect) and one HTTP/1.0 GET per connection.
    Returns (connections, wall seconds)."""
    argv = ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new",
            "-time", str(duration), "-www", "/"]  # fmt: skip
    outs = [outfile.with_suffix(f".{i}.txt") for i in range(clients)]
    t0 = time.monotonic()
    running = [procs.start("s_time", argv, stdout=o, stderr=o) for o in outs]
    for proc in running:
        try:
            proc.wait(duration + 20)
        except subprocess.TimeoutExpired:
            pass
        finally:
            procs.stop(proc)
    wall = time.monotonic() - t0
    total = 0
    for o in outs:
        text = o.read_text(errors="replace")
        if m := re.search(r"^(\d+) connections in [\d.]+s;", text, re.M):
            total += int(m.group(1))
    outfile.write_text("".join(o.read_text(errors="replace") for o in outs))
    return total, wall


# --------------------------------------------------------------------------- bench


@dataclasses.dataclass
class Target:
    name: str  # lb, haproxy, nginx, lb+stats, haproxy+stats
    port: int
    proc: subprocess.Popen[bytes] | None  # process whose CPU is measured (nginx: master)
    stderr: Path | None = None
    poll_socket: Path | None = None  # set for the +stats variants
    failed: str = ""
    scheme: str = "http"
    load: str = "wrk"  # wrk (keep-alive), close (wrk, Connection: close), full (s_time -new)

    def cpu_pids(self) -> list[int]:
        if self.proc is None:
            return []
        kids = descendants(self.proc.pid)
        if self.name == "nginx":
            return kids  # the worker processes
        return [self.proc.pid, *kids]


class Bench:
    def __init__(self, args: argparse.Namespace, tools: Tools, workdir: Path) -> None:
        self.args = args
        self.tools = tools
        self.workdir = workdir
        self.procs = Processes()
        self.sink: UdpSink | None = None
        self.nginx: subprocess.Popen[bytes] | None = None
        self.backend_ports: list[int] = []
        self.scenario = ""
        self.crt: Path | None = None  # the `tls` scenario's certificate, made once

    def make_cert(self) -> Path:
        """One RSA-2048 leaf (+ key) from lb's dev PKI: lb and haproxy load the same file."""
        if self.crt is None:
            sys.path.insert(0, str(REPO_ROOT))
            from lb.tls import devpki

            ca = devpki.CA("bench CA")
            self.crt = Path(devpki.write_site(self.workdir, "site.pem", ca, ca.issue("127.0.0.1")))
        return self.crt

    # -- backends
    def start_nginx(self) -> None:
        self.backend_ports = [free_port(), free_port()]
        self.status_port = free_port()
        (self.workdir / "nginx-tmp").mkdir()
        conf = self.workdir / "nginx.conf"
        conf.write_text(nginx_conf(self.workdir, self.backend_ports, self.status_port))
        argv = [self.tools.nginx, "-p", str(self.workdir), "-c", str(conf), "-e", "stderr"]
        err = self.workdir / "nginx.stderr"
        self.nginx = self.procs.start("nginx", argv, stderr=err)
        for port in self.backend_ports:
            ok, why = wait_ready(self.nginx, port, 10)
            if not ok:
                sys.exit(f"error: nginx did not start: {why}\n{tail(err)}")

    # -- proxies
    def start_proxy(
        self, name: str, scenario: str, lb_cmd: str, start_timeout: float
    ) -> tuple[Target, Path]:
        port = free_port()
        sock = self.workdir / f"{name}-{scenario}.sock" if self.args.extra_poll_stats else None
        text = proxy_conf(
            scenario,
            bind_port=port,
            backend_ports=self.backend_ports,
            log_port=self.sink.port if self.sink else 514,
            stats_socket=sock,
            crt=self.make_cert() if scenario == "tls" else None,
            rule_files=write_rule_files(self.workdir) if scenario == "rules" else None,
        )
        cfg = self.workdir / f"{name}-{scenario}.cfg"
        cfg.write_text(text)
        if name == "haproxy":
            argv = [self.tools.haproxy, "-db", "-f", str(cfg)]
            cwd = None
        else:
            argv = [a.format(python=sys.executable, cfg=str(cfg)) for a in shlex.split(lb_cmd)]
            cwd = REPO_ROOT
        err = self.workdir / f"{name}-{scenario}.stderr"
        proc = self.procs.start(name, argv, stdout=err, stderr=err, cwd=cwd)
        tls = scenario == "tls"
        target = Target(name, port, proc, stderr=err, scheme="https" if tls else "http")
        ok, why = wait_ready(proc, port, start_timeout, tls=tls)
        if not ok:
            target.failed = why
            print(f"!! {name} failed to start: {why}")
            print(f"   command: {shlex.join(argv)}  (cwd {cwd or os.getcwd()})")
            print(f"   its output:\n{tail(err)}")
            self.procs.stop(proc)
        return target, cfg

    def nginx_accepts(self) -> int | None:
        """nginx's 'accepts' counter from stub_status (counts this request too)."""
        try:
            with socket.create_connection(("127.0.0.1", self.status_port), timeout=2) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: status\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
        except OSError:
            return None
        m = re.search(rb"\n\s*(\d+) (\d+) (\d+)", data)
        return int(m.group(1)) if m else None

    # -- one measured run
    def measure(self, target: Target, rnd: int, duration: int) -> RunResult:
        res = RunResult(target.name, rnd)
        if target.failed:
            res.error = target.failed
            return res
        if target.proc is not None and target.proc.poll() is not None:
            target.failed = f"exited with code {target.proc.returncode}"
            print(f"!! {target.name} died: {target.failed}\n{tail(target.stderr or Path())}")
            res.error = target.failed
            return res
        pids = target.cpu_pids()
        backend_pids = descendants(self.nginx.pid) if self.nginx and target.name != "nginx" else []
        poller = (
            StatsPoller(target.poll_socket, self.args.poll_interval) if target.poll_socket else None
        )
        logs0 = self.sink.count if self.sink else 0
        outfile = self.workdir / f"wrk-{target.name}-{rnd}.txt"
        with poller if poller else contextlib.nullcontext():
            cpu0 = snapshot_cpu(pids)
            bcpu0 = snapshot_cpu(backend_pids)
            accepts0 = self.nginx_accepts()
            if target.load == "full":
                text = ""
                n, wall = run_s_time(self.procs, target.port, duration, 4, outfile)
                parsed_full = {**parse_wrk(""), "requests": n, "rps": n / wall if wall else 0.0}
            else:
                text = run_wrk(
                    self.procs, self.tools.wrk, target.port, duration, self.args.connections,
                    outfile, scheme=target.scheme, close=target.load == "close",
                )  # fmt: skip
            cpu1 = snapshot_cpu(target.cpu_pids())
            bcpu1 = snapshot_cpu(backend_pids)
            accepts1 = self.nginx_accepts()
        time.sleep(0.3)  # let late log datagrams arrive before counting
        parsed = parsed_full if target.load == "full" else parse_wrk(text)
        res.requests = int(parsed["requests"] or 0)
        res.rps = float(parsed["rps"] or 0.0)
        res.p50_ms = parsed["p50_ms"]  # type: ignore[assignment]
        res.p99_ms = parsed["p99_ms"]  # type: ignore[assignment]
        res.socket_errors = int(parsed["socket_errors"] or 0)
        res.non_2xx = int(parsed["non_2xx"] or 0)
        res.cpu_s = cpu_delta_seconds(cpu0, cpu1)
        res.sys_s = cpu_delta_seconds(cpu0, cpu1, kernel=True)
        if accepts0 is not None and accepts1 is not None:
            res.backend_conns = accepts1 - accepts0 - 1  # minus the status request itself
        if res.requests:
            res.cpu_us_per_req = res.cpu_s / res.requests * 1e6
            if backend_pids:
                res.backend_cpu_us_per_req = cpu_delta_seconds(bcpu0, bcpu1) / res.requests * 1e6
        else:
            hint = next((ln for ln in text.splitlines() if "unable" in ln or "rror" in ln), "")
            res.error = f"no requests completed ({hint.strip() or 'see ' + str(outfile)})"
        if 0 < res.requests < self.args.connections * duration and target.load == "wrk":
            res.error = (
                f"only {res.requests} requests: under 1 per connection per second, "
                "the target stalls (keep-alive broken?)"
            )
        if self.sink and self.scenario in LOGGING_SCENARIOS and target.name != "nginx":
            res.log_lines = self.sink.count - logs0
            if res.requests and res.log_lines < 0.9 * res.requests and not res.error:
                res.error = f"only {res.log_lines} log lines for {res.requests} requests"
        if poller:
            res.stats_polls_ok, res.stats_polls_failed = poller.ok, poller.failed
            if poller.failed and not poller.ok:
                res.error = res.error or f"stats socket: {poller.last_error}"
        return res

    # -- one scenario
    def run_scenario(self, scenario: str) -> dict[str, list[RunResult]]:
        args = self.args
        self.scenario = scenario
        print(
            f"\n=== scenario {scenario}: {args.rounds} rounds x {args.duration}s, "
            f"wrk -t1 -c{args.connections} ==="
        )
        targets: list[Target] = []
        cfgs: dict[str, Path] = {}
        for name in ("lb", "haproxy"):
            if name not in args.targets:
                continue
            timeout = args.start_timeout if name == "lb" else 10.0
            target, cfg = self.start_proxy(name, scenario, args.lb_cmd, timeout)
            targets.append(target)
            cfgs[name] = cfg
        if "nginx" in args.targets and scenario != "tls":  # nginx serves plain HTTP only
            targets.append(Target("nginx", self.backend_ports[0], self.nginx))
        if scenario == "tls":  # new connection per request: resumed (wrk), full (s_time)
            for t in list(targets):
                targets.append(dataclasses.replace(t, name=f"{t.name}+resume", load="close"))
                targets.append(dataclasses.replace(t, name=f"{t.name}+full", load="full"))
        if args.extra_poll_stats:
            for t in list(targets):
                if t.name in ("lb", "haproxy"):
                    sock = self.workdir / f"{t.name}-{scenario}.sock"
                    targets.append(dataclasses.replace(t, name=f"{t.name}+stats", poll_socket=sock))
        for name, cfg in cfgs.items():
            print(f"config for {name}: {cfg}")
        if len(cfgs) == 2:
            diff = [
                (a, b)
                for a, b in zip(
                    cfgs["lb"].read_text().splitlines(),
                    cfgs["haproxy"].read_text().splitlines(),
                    strict=True,
                )
                if a != b
            ]
            what = ", ".join(" ".join(b.split()[:2]) for _, b in diff)
            print(f"  lb and haproxy get the same text except: {what}")
        if args.verbose and cfgs:
            print(next(iter(cfgs.values())).read_text())

        # Warm-up once per target (not measured), then interleaved rounds.
        if args.warmup > 0:
            for t in targets:
                if not t.failed and "+stats" not in t.name:
                    self.measure(t, 0, args.warmup)
        results: dict[str, list[RunResult]] = {t.name: [] for t in targets}
        for rnd in range(1, args.rounds + 1):
            for t in targets:
                res = self.measure(t, rnd, args.duration)
                results[t.name].append(res)
                print(f"  round {rnd}/{args.rounds} {fmt_run(res)}", flush=True)
                time.sleep(args.pause)

        if args.profile:
            lb = next((t for t in targets if t.name == "lb"), None)
            self.profile(lb, scenario)

        for t in targets:
            if t.proc is not None and t.name in ("lb", "haproxy") and t.proc.poll() is None:
                self.procs.stop(t.proc)
        return results

    # -- py-spy
    def profile(self, target: Target | None, scenario: str) -> None:
        if target is None or target.failed or target.proc is None or target.proc.poll() is not None:
            print("profile: skipped, lb is not running")
            return
        pyspy = shutil.which("py-spy")
        if pyspy is None:
            print("profile: installing py-spy with pip ...", flush=True)
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=False)
            pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            if not os.access(pyspy, os.X_OK):
                print("profile: py-spy is not available, skipped")
                return
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        fmt = self.args.profile_format
        ext = "svg" if fmt == "flamegraph" else "speedscope.json"
        out = RESULTS_DIR / f"lb-{scenario}-{stamp}.{ext}"
        argv = [
            pyspy, "record", "--pid", str(target.proc.pid), "--subprocesses",
            "--rate", str(self.args.profile_rate), "--duration", str(self.args.duration),
            "--format", fmt, "--output", str(out),
        ]  # fmt: skip
        log = self.workdir / f"py-spy-{scenario}.log"
        spy = self.procs.start("py-spy", argv, stdout=log, stderr=log)
        time.sleep(0.5)  # let py-spy attach
        wrk_out = self.workdir / f"wrk-profile-{scenario}.txt"
        text = run_wrk(
            self.procs, self.tools.wrk, target.port, self.args.duration,
            self.args.connections, wrk_out, scheme=target.scheme,
        )  # fmt: skip
        try:
            spy.wait(15)
        except subprocess.TimeoutExpired:
            self.procs.stop(spy)
        rps = parse_wrk(text)["rps"]
        if out.exists():
            print(f"profile: {out} (wrk under py-spy: {rps:.0f} req/s, not comparable)")
        else:
            print(f"profile: py-spy wrote nothing; its output:\n{tail(log)}")


# --------------------------------------------------------------------------- report


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}ms"


def fmt_run(r: RunResult) -> str:
    if r.error and not r.requests:
        return f"{r.target:<14} FAILED: {r.error}"
    s = (
        f"{r.target:<14} {r.rps:>9.0f} req/s  p50 {_ms(r.p50_ms):>8}  p99 {_ms(r.p99_ms):>8}  "
        f"cpu {r.cpu_us_per_req or 0:5.2f} us/req"
    )
    if r.cpu_s:
        s += f" ({r.sys_s / r.cpu_s:.0%} kernel)"
    if r.backend_cpu_us_per_req is not None:
        s += f"  (nginx {r.backend_cpu_us_per_req:.2f}"
        if r.backend_conns is not None:
            s += f", {r.backend_conns} backend conns"
        s += ")"
    if r.log_lines is not None and r.requests:
        s += f"  logs/req {r.log_lines / r.requests:.2f}"
    if r.stats_polls_ok is not None:
        s += f"  polls {r.stats_polls_ok} ok/{r.stats_polls_failed} failed"
    if r.socket_errors or r.non_2xx:
        s += f"  ERRORS sock={r.socket_errors} non2xx={r.non_2xx}"
    if r.error:
        s += f"  !! {r.error}"
    return s


def _median(vals: list[float | None]) -> float | None:
    clean = [v for v in vals if v is not None]
    return statistics.median(clean) if clean else None


def summarize(results: dict[str, list[RunResult]]) -> dict[str, dict[str, float | None]]:
    summary: dict[str, dict[str, float | None]] = {}
    for name, runs in results.items():
        ok = [r for r in runs if r.requests]
        summary[name] = {
            "rounds_ok": len(ok),
            "rps": _median([r.rps for r in ok]),
            "rps_min": min((r.rps for r in ok), default=None),
            "rps_max": max((r.rps for r in ok), default=None),
            "p50_ms": _median([r.p50_ms for r in ok]),
            "p99_ms": _median([r.p99_ms for r in ok]),
            "cpu_us_per_req": _median([r.cpu_us_per_req for r in ok]),
            "backend_cpu_us_per_req": _median([r.backend_cpu_us_per_req for r in ok]),
            "errors": sum(r.socket_errors + r.non_2xx for r in runs),
            "stats_polls_ok": sum(r.stats_polls_ok or 0 for r in runs),
            "stats_polls_failed": sum(r.stats_polls_failed or 0 for r in runs),
        }
    return summary


def paired(results: dict[str, list[RunResult]], a: str, b: str, key: str) -> list[float]:
    out = []
    for ra, rb in zip(results.get(a, []), results.get(b, []), strict=False):
        va, vb = getattr(ra, key), getattr(rb, key)
        if ra.requests and rb.requests and va and vb:
            out.append(va / vb)
    return out


def print_summary(scenario: str, results: dict[str, list[RunResult]]) -> dict[str, object]:
    summary = summarize(results)
    print(f"\n--- {scenario}: medians over rounds ---")
    print(
        f"{'target':<14} {'req/s':>9} {'(min-max)':>17} {'p50':>8} {'p99':>8} "
        f"{'CPU us/req':>10} {'nginx us/req':>12} {'errors':>6}"
    )
    for name, s in summary.items():
        if not s["rounds_ok"]:
            print(f"{name:<14} {'failed':>9}")
            continue
        spread = f"({s['rps_min']:.0f}-{s['rps_max']:.0f})"
        back = s["backend_cpu_us_per_req"]
        print(
            f"{name:<14} {s['rps']:>9.0f} {spread:>17} {_ms(s['p50_ms']):>8} "
            f"{_ms(s['p99_ms']):>8} {s['cpu_us_per_req']:>10.2f} "
            f"{'-' if back is None else f'{back:.2f}':>12} {s['errors']:>6.0f}"
        )
    ratios: dict[str, object] = {}
    pairs = [("lb", "haproxy"), ("lb+stats", "haproxy+stats"), ("lb+resume", "haproxy+resume"),
             ("lb+full", "haproxy+full"), ("haproxy", "nginx"),
             ("lb", "nginx"), ("lb+stats", "lb"), ("haproxy+stats", "haproxy")]  # fmt: skip
    lines = []
    for a, b in pairs:
        sa, sb = summary.get(a), summary.get(b)
        if not sa or not sb or not sa["rounds_ok"] or not sb["rounds_ok"]:
            if a == "lb" and b == "haproxy" and sb and sb["rounds_ok"]:
                lines.append("lb / haproxy: n/a (lb did not run)")
            continue
        rps = sa["rps"] / sb["rps"]  # type: ignore[operator]
        cpu = sa["cpu_us_per_req"] / sb["cpu_us_per_req"]  # type: ignore[operator]
        pr = paired(results, a, b, "rps")
        pc = paired(results, a, b, "cpu_us_per_req")
        ratios[f"{a}/{b}"] = {"rps": rps, "cpu_per_req": cpu, "rps_per_round": pr,
                              "cpu_per_req_per_round": pc}  # fmt: skip
        rng = ""
        if pr and pc:
            rng = (f"   [per round: req/s {min(pr):.2f}-{max(pr):.2f}, "
                   f"CPU {min(pc):.2f}-{max(pc):.2f}]")  # fmt: skip
        for name in (a, b):
            s = summary[name]
            if s["stats_polls_failed"] and not s["stats_polls_ok"]:
                rng += f"   !! {name}: every 'show stat' poll failed"
        lines.append(f"{a + ' / ' + b + ':':<28} req/s {rps:5.2f}x   CPU/request {cpu:5.2f}x{rng}")
    if lines:
        print("ratios (req/s: higher is better for the left side; CPU/request: lower is better)")
        for line in lines:
            print("  " + line)
    return {"summary": summary, "ratios": ratios}


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="wrk benchmark of lb vs haproxy (nbthread 1) vs nginx, interleaved rounds."
    )
    p.add_argument("--rounds", type=int, default=3, help="rounds per target (default 3)")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    p.add_argument("--connections", type=int, default=50, help="wrk -c (default 50)")
    p.add_argument(
        "--scenario", choices=[*SCENARIOS, "all"], default="http",
        help="http: bare mode http; realistic: + httplog to UDP, forwardfor; rules: the "
        "reference configuration's stick table, whitelist, deny and log-format; tcp: mode tcp; "
        "tls: http over 'bind ... ssl crt': keep-alive, resumed and full handshakes",
    )  # fmt: skip
    p.add_argument(
        "--extra-poll-stats", action="store_true",
        help="add a stats socket and also run lb+stats / haproxy+stats targets, during which "
        "a client sends 'show stat' every 100 ms",
    )  # fmt: skip
    p.add_argument("--poll-interval", type=float, default=0.1, help=argparse.SUPPRESS)
    p.add_argument(
        "--targets", default=",".join(BASE_TARGETS),
        help="comma-separated subset of lb,haproxy,nginx (default all)",
    )  # fmt: skip
    p.add_argument(
        "--lb-cmd", default=DEFAULT_LB_CMD,
        help="how lb is started, run from the repo root; {python} and {cfg} are replaced "
        f"(default: '{DEFAULT_LB_CMD}')",
    )  # fmt: skip
    p.add_argument("--start-timeout", type=float, default=20.0, help="seconds to wait for lb")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured seconds per target first")
    p.add_argument("--pause", type=float, default=0.5, help="seconds between runs")
    p.add_argument(
        "--profile", action="store_true",
        help="after the rounds, run py-spy on lb during one more wrk run; output in bench/results/",
    )  # fmt: skip
    p.add_argument("--profile-format", choices=["speedscope", "flamegraph"], default="speedscope")
    p.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    p.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    p.add_argument("-v", "--verbose", action="store_true", help="print the generated config")
    args = p.parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    bad = set(args.targets) - set(BASE_TARGETS)
    if bad:
        p.error(f"unknown target(s): {', '.join(sorted(bad))}")
    if args.rounds < 1 or args.duration < 1:
        p.error("--rounds and --duration must be >= 1")
    return args


@contextlib.contextmanager
def signals_as_exit() -> Iterator[None]:
    # SIGINT explicitly too: a shell starting us in the background may have ignored it.
    handlers = {
        signal.SIGINT: signal.default_int_handler,
        signal.SIGTERM: _raise_system_exit,
        signal.SIGHUP: _raise_system_exit,
    }
    old = {sig: signal.signal(sig, h) for sig, h in handlers.items()}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tools = find_tools()
    lb_argv = [a.format(python=sys.executable, cfg="CFG") for a in shlex.split(args.lb_cmd)]
    print("binaries:")
    print(f"  haproxy  {tools.haproxy}: {first_line([tools.haproxy, '-v'])}")
    print(f"  nginx    {tools.nginx}: {first_line([tools.nginx, '-v'])}")
    print(f"  wrk      {tools.wrk}: {first_line([tools.wrk, '-v'])}")
    if "lb" in args.targets:
        ver = (
            first_line([*lb_argv[: lb_argv.index("-f")], "-v"], cwd=REPO_ROOT)
            if ("-f" in lb_argv)
            else "?"
        )
        print(f"  lb       {shlex.join(lb_argv)} (cwd {REPO_ROOT}): {ver}")
    print(f"  python   {sys.executable} {sys.version.split()[0]}; "
          f"{os.cpu_count()} CPUs; clock tick {1000 / CLK_TCK:.0f} ms")  # fmt: skip

    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    report: dict[str, object] = {
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "args": {k: v for k, v in vars(args).items()},
        "versions": {
            "haproxy": first_line([tools.haproxy, "-v"]),
            "nginx": first_line([tools.nginx, "-v"]),
            "wrk": first_line([tools.wrk, "-v"]),
        },
        "scenarios": {},
    }
    t0 = time.monotonic()
    with (
        signals_as_exit(),
        tempfile.TemporaryDirectory(prefix="lb-bench-") as tmp,
    ):
        bench = Bench(args, tools, Path(tmp))
        try:
            bench.start_nginx()
            if any(s in LOGGING_SCENARIOS for s in scenarios):
                bench.sink = UdpSink()
            for scenario in scenarios:
                results = bench.run_scenario(scenario)
                out = print_summary(scenario, results)
                report["scenarios"][scenario] = {  # type: ignore[index]
                    **out,
                    "runs": {k: [dataclasses.asdict(r) for r in v] for k, v in results.items()},
                }
        except KeyboardInterrupt:
            print("\ninterrupted: stopping everything", file=sys.stderr)
            return 130
        finally:
            bench.procs.stop_all()
            if bench.sink:
                bench.sink.close()
    print(f"\ntotal time {time.monotonic() - t0:.0f}s")
    if not args.no_json:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = RESULTS_DIR / f"run-{stamp}.json"
        path.write_text(json.dumps(report, indent=1, default=str) + "\n")
        print(f"raw results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
