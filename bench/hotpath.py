"""The HTTP request path without sockets: Python's own cost per request.

Drives a `FrontConn` and an idle `BackConn` of a configuration's first frontend
with fake transports: one wrk-like request head in, one nginx-like response out,
over and over. What it measures is the proxy's Python work per request (parsing,
rules, routing, counters, timers, logging), free of the kernel and of the other
processes that make req/s noisy on a shared machine.

    python bench/hotpath.py conf/quickstart.cfg            # best-of µs per request
    python bench/hotpath.py CFG --lines                    # + Python lines per request
    N=1300 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python3 bench/hotpath.py CFG --count $N            # instructions: run with two
                                                           # N and divide the difference

For instruction counts, set PYTHONHASHSEED=0 and call the real interpreter (not a
pyenv shim). The request goes where the frontend's rules send `GET /`; log lines go where
the configuration sends them (UDP targets: nothing needs to listen).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lb import counters  # noqa: E402
from lb.config.parser import parse_files  # noqa: E402
from lb.http.back import BackConn  # noqa: E402
from lb.http.front import FrontConn  # noqa: E402
from lb.state import State  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\n\r\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 21 Nov 2026 23:25:35 GMT\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\nhello\n"
)


class FakeTransport:
    """Takes writes and answers the few questions the protocols ask."""

    def __init__(self, peer: tuple[str, int]) -> None:
        self.peer = peer

    def write(self, data: bytes) -> None:
        pass

    def writelines(self, data: Any) -> None:
        pass

    def get_extra_info(self, key: str, default: Any = None) -> Any:
        return self.peer if key in ("peername", "sockname") else default

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class FakeListener:
    ssl = None

    def connection_gone(self) -> None:
        pass

    def addresses(self, proto: Any, transport: Any) -> tuple[str, int, str, int]:
        return ("127.0.0.1", 5555, "127.0.0.1", 8080)


def setup(cfg: Path) -> FrontConn:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    state = State(parse_files([str(cfg)]), loop)
    fe = next(p for p in state.proxies if p.is_frontend and p.mode == "http")
    conn = FrontConn(state, fe, FakeListener())
    conn.connection_made(FakeTransport(("127.0.0.1", 5555)))
    for srv in (s for p in state.proxies for s in p.servers):  # an idle connection each
        back = BackConn(srv, None)
        back.connection_made(FakeTransport(("127.0.0.1", 80)))
        back.idle = True
        srv.idle.append(back)
    one_request(conn)  # the first request of a session opens its own connection
    return conn


TICK_EVERY = 1000  # requests between two runs of the 100 ms ticker's counter work


def one_request(conn: FrontConn) -> None:
    conn.data_received(REQUEST)
    back = conn.back
    if back is None:  # answered locally (http-request return, deny …)
        return
    if not back.connected:  # a new server connection: complete it at once
        back.connection_made(FakeTransport(("127.0.0.1", 80)))
        conn._connected()
    back.data_received(RESPONSE)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cfg", type=Path)
    ap.add_argument("--rounds", type=int, default=40, help="timed rounds (best is kept)")
    ap.add_argument("--per-round", type=int, default=2000, help="requests per round")
    ap.add_argument("--lines", action="store_true", help="count Python lines per request")
    ap.add_argument("--count", type=int, help="run this many requests, untimed (callgrind)")
    args = ap.parse_args()
    conn = setup(args.cfg)
    for _ in range(200):  # warm up
        one_request(conn)
    if args.count is not None:
        for i in range(args.count):
            one_request(conn)
            if not i % TICK_EVERY:
                counters.tick()
        return 0
    best = float("inf")
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for i in range(args.per_round):
            one_request(conn)
            if not i % TICK_EVERY:
                counters.tick()
        best = min(best, time.perf_counter() - t0)
    print(f"{best / args.per_round * 1e6:.2f} µs per request (best of {args.rounds} rounds)")
    if args.lines:
        lines: Counter[str] = Counter()

        def trace(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                code = frame.f_code
                lines[f"{Path(code.co_filename).name}:{code.co_name}"] += 1
            return trace

        n = 100
        sys.settrace(trace)
        for _ in range(n):
            one_request(conn)
        sys.settrace(None)
        print(f"{sum(lines.values()) / n:.0f} Python lines per request; the busiest:")
        for name, count in lines.most_common(15):
            print(f"  {count / n:6.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
