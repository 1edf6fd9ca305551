"""A 100k-entry ACL file against a 10-entry one, on lb's request path (wrk, keep-alive).

Two lb processes with the same configuration except the size of the pattern files:
an `src -f` IP list (CIDRs; the client is not in it), an exact-string list over a
header (`hdr(x-user) -f`, hash index), and a `path_beg -f` prefix list. Every
request evaluates the three ACLs, then `http-request return status 200`, so the
figure is the rules' cost without a backend. Runs are interleaved (small, big,
small, big, …) and the ratio big/small of the median req/s is printed; the
issue's target is within 10 % (ratio >= 0.90).

    python bench/acl_size.py                    # 3 rounds x 5 s, wrk -t1 -c50
    python bench/acl_size.py --rounds 5 --duration 10 --entries 100000

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


def run_wrk(wrk: str, port: int, duration: int, conns: int, script: Path) -> float:
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{conns}",
            f"-d{duration}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/some/path",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
    ).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    a = ap.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk not found on PATH", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="acl-size-"))
    script = work / "hdr.lua"
    script.write_text('wrk.headers["X-User"] = "nobody"\n')
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for name, n in (("small", a.small), ("big", a.entries)):
            port = free_port()
            cfg = work / f"{name}.cfg"
            cfg.write_text(config(port, write_lists(work, n)))
            log = open(work / f"{name}.log", "wb")  # noqa: SIM115
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
                print(f"lb ({name}) did not answer; see {work / (name + '.log')}", file=sys.stderr)
                return 1
        rss = {}
        for name, (p, _) in procs.items():
            with open(f"/proc/{p.pid}/status") as f:
                rss[name] = next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
        res: dict[str, list[float]] = {"small": [], "big": []}
        for _name, (_, port) in procs.items():  # warm-up
            run_wrk(wrk, port, 1, a.connections, script)
        for rnd in range(a.rounds):
            for name, (_, port) in procs.items():
                rps = run_wrk(wrk, port, a.duration, a.connections, script)
                res[name].append(rps)
                print(f"round {rnd + 1} {name:5s} {rps:10.0f} req/s", flush=True)
        small, big = statistics.median(res["small"]), statistics.median(res["big"])
        print(f"\n{a.small}-entry lists : {small:10.0f} req/s (RSS {rss['small'] / 1024:.0f} MB)")
        print(f"{a.entries}-entry lists: {big:10.0f} req/s (RSS {rss['big'] / 1024:.0f} MB)")
        ratio = big / small if small else 0.0
        print(f"ratio big/small: {ratio:.3f} (target >= 0.90)")
        return 0
    finally:
        for p, _ in procs.values():
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait(5)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
