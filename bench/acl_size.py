"""A 100k-entry ACL file against a 10-entry one, on lb's request path (wrk, keep-alive).

Two lb processes with the same configuration except the size of the pattern files:
an `src -f` IP list (CIDRs; the client is not in it), an exact-string list over a
header (`hdr(x-user) -f`, hash index), and a `path_beg -f` prefix list. Every
request evaluates the three ACLs, then `http-request return status 200`, so the
figure is the rules' cost without a backend. Runs are interleaved (small, big,
big, small, …) and the ratio big/small of the median req/s is printed; the
issue's target is within 10 % (ratio >= 0.90). On a shared machine req/s swings by
±20 % from run to run; lb's own CPU time per request (utime+stime over the requests wrk
completed) is printed too, with its small/big ratio, as the steadier figure. Both lb
processes are restarted every round (`--no-restart` keeps one pair): with one pair
for the whole run, an A/A run (`--entries 10`, both lists equal) gave ratios from
0.95 to 1.17, and the default 3-round runs of the time gave 0.79 to 1.07.

    python bench/acl_size.py                    # 6 rounds x 5 s, wrk -t1 -c50 (~2 min)
    python bench/acl_size.py --rounds 10 --duration 4 --entries 100000
    python bench/acl_size.py --entries 10       # A/A: the noise floor of the ratio

Everything listens on 127.0.0.1; both lb processes are stopped by pid at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_lists(d: Path, n: int) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    ips = d / f"ips-{n}.lst"
    users = d / f"users-{n}.lst"
    paths = d / f"paths-{n}.lst"
    with ips.open("w") as f:
        for i in range(n):  # 10.x.y.z/32 and some /24s: never 127.0.0.1
            if i % 10 == 0:
                f.write(f"11.{(i >> 16) & 255}.{(i >> 8) & 255}.0/24\n")
            else:
                f.write(f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
    with users.open("w") as f:
        for i in range(n):
            f.write(f"user{i:07d}\n")
    with paths.open("w") as f:
        for i in range(n):
            f.write(f"/blocked/{i:07d}/\n")
    return {"ips": ips, "users": users, "paths": paths}


def config(port: int, lists: dict[str, Path]) -> str:
    return f"""global
    maxconn 10000

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend fe
    bind 127.0.0.1:{port}
    acl banned_ip src -f {lists["ips"]}
    acl banned_user hdr(x-user) -f {lists["users"]}
    acl banned_path path_beg -f {lists["paths"]}
    http-request deny deny_status 403 if banned_ip || banned_user || banned_path
    http-request return status 200 content-type text/plain string ok
"""


# longer than the listed prefixes (17 characters), so `path_beg` probes its index
PATH = "/some/path/to/a/page"


def wait_ok(port: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    req = b"GET /x HTTP/1.1\r\nHost: b\r\nX-User: nobody\r\nConnection: close\r\n\r\n"
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(req)
            if s.recv(100).startswith(b"HTTP/1.1 200"):
                return True
        time.sleep(0.2)
    return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(wrk: str, port: int, duration: int, conns: int, script: Path) -> tuple[float, int]:
    """Requests/sec and the number of requests wrk completed."""
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{conns}",
            f"-d{duration}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{PATH}",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
    ).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    return (float(m.group(1)) if m else 0.0), (int(n.group(1)) if n else 0)


def stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument(
        "--restart",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fresh lb processes every round (default; averages out per-process luck)",
    )
    a = ap.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk not found on PATH", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="acl-size-"))
    script = work / "hdr.lua"
    script.write_text('wrk.headers["X-User"] = "nobody"\n')
    sizes = {"small": a.small, "big": a.entries}
    lists = {name: write_lists(work / name, n) for name, n in sizes.items()}
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}

    def start_all() -> bool:
        for name, files in lists.items():
            port = free_port()  # picked just before lb binds it, every start
            cfg = work / f"{name}.cfg"
            cfg.write_text(config(port, files))
            log = open(work / f"{name}.log", "ab")  # noqa: SIM115
            p = subprocess.Popen(
                [sys.executable, "-m", "lb", "-f", str(cfg)],
                cwd=REPO,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            procs[name] = (p, port)
            if not wait_ok(port):
                tail = (work / f"{name}.log").read_text(errors="replace")[-2000:]
                print(f"lb ({name}) did not answer; its output:\n{tail}", file=sys.stderr)
                return False
        for _name, (_, port) in procs.items():  # warm-up
            run_wrk(wrk, port, 1, a.connections, script)
        return True

    try:
        if not start_all():
            return 1
        rss = {}
        for name, (p, _) in procs.items():
            with open(f"/proc/{p.pid}/status") as f:
                rss[name] = next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
        res: dict[str, list[float]] = {"small": [], "big": []}
        cpu: dict[str, list[float]] = {"small": [], "big": []}  # lb CPU µs per request
        pair_rps: list[float] = []  # big/small within each round
        pair_cpu: list[float] = []  # small/big CPU per request within each round
        for rnd in range(a.rounds):
            if a.restart and rnd:
                for p, _ in procs.values():
                    stop(p)
                if not start_all():
                    return 1
            # small, big / big, small / …: a drift in the machine's load favours neither
            names = ["small", "big"] if rnd % 2 == 0 else ["big", "small"]
            for name in names:
                p, port = procs[name]
                c0 = cpu_seconds(p.pid)
                rps, nreq = run_wrk(wrk, port, a.duration, a.connections, script)
                us = (cpu_seconds(p.pid) - c0) * 1e6 / nreq if nreq else 0.0
                res[name].append(rps)
                cpu[name].append(us)
                print(
                    f"round {rnd + 1} {name:5s} {rps:10.0f} req/s {us:7.2f} µs CPU/req",
                    flush=True,
                )
            if res["small"][-1] and cpu["big"][-1]:
                pair_rps.append(res["big"][-1] / res["small"][-1])
                pair_cpu.append(cpu["small"][-1] / cpu["big"][-1])
        small, big = statistics.median(res["small"]), statistics.median(res["big"])
        print(f"\n{a.small}-entry lists : {small:10.0f} req/s (RSS {rss['small'] / 1024:.0f} MB)")
        print(f"{a.entries}-entry lists: {big:10.0f} req/s (RSS {rss['big'] / 1024:.0f} MB)")
        ratio = big / small if small else 0.0
        print(f"ratio big/small: {ratio:.3f} (target >= 0.90)")
        cs, cb = statistics.median(cpu["small"]), statistics.median(cpu["big"])
        # lb's own CPU per request: far less sensitive to other load on the machine
        # than req/s; the ratio small/big is comparable with the req/s one.
        cratio = cs / cb if cb else 0.0
        print(f"lb CPU per request: {cs:.2f} µs small, {cb:.2f} µs big, ratio {cratio:.3f}")
        if pair_rps:
            print(
                f"median of per-round ratios: req/s {statistics.median(pair_rps):.3f}, "
                f"CPU {statistics.median(pair_cpu):.3f}"
            )
        return 0
    finally:
        for p, _ in procs.values():
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
