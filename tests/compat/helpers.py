"""Helpers for replaying the HAProxy 2.6 reference transcripts against `lb`.

* `rewrite_config` turns the reference `haproxy.cfg` into one that runs here: free ports,
  temp paths, and without the lines `lb` does not support yet (listed in `DROPPED`).
* `Masker` maps our free ports back to the reference ports and blanks what varies between
  two runs (pids, times, traffic counters), keeping empty cells empty: what is compared is
  the shape of every reply plus every value that does not depend on time or traffic.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REF = Path(
    os.environ.get("LB_REFERENCE_DIR")
    or Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "haproxy-2.6"
)
TRANSCRIPTS = REF / "transcripts"
HOST = "127.0.0.1"
# Ports of the reference setup: listeners, stats TCP socket and live backends.
REF_PORTS = (18080, 18090, 18999, 18001, 18002, 18003, 18011, 18012, 18013, 18019)
LIVE_BACKENDS = (18001, 18002, 18003, 18011, 18012)

# Lines of the reference configuration that lb does not run yet, by reason.  They are
# removed by `rewrite_config`; the comparisons mask what their absence changes.
DROPPED = {
    "ssl bind": re.compile(r"^\s*bind .* ssl crt "),  # TLS listener with ticket keys
    "pidfile": re.compile(r"^\s*pidfile "),
    "tune.ssl": re.compile(r"^\s*tune\.ssl\."),
}


# Ports handed out in this test process: bind(0) then close may give the same number
# twice, and two listeners on one port (SO_REUSEPORT) would split the traffic.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port, never one handed out before in this process."""
    while True:
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def rewrite_config(text: str, tmp: Path, ports: dict[int, int]) -> str:
    """The reference config on free ports and temp paths, minus `DROPPED` and programs.

    `program` sections are dropped too (the master is another component).  The proxies
    keep their order so that iids and sids stay as in the reference.
    """
    out: list[str] = []
    in_program = False
    for line in text.splitlines():
        if re.match(r"^\S", line):
            in_program = line.startswith("program ")
        if in_program:
            continue
        if any(rx.search(line) for rx in DROPPED.values()):
            continue
        line = line.replace("/etc/lb/", f"{tmp}/")
        for ref, ours in ports.items():
            line = re.sub(rf"(?<=:){ref}\b", str(ours), line)
        out.append(line)
        if line.strip() == "global":
            out.append("    nbthread 2")  # the reference ran with Nbthread: 2
    return "\n".join(out) + "\n"


def cli(sock_path: Path, command: str, timeout: float = 5.0) -> bytes:
    """Send one line with socat, as the reference capture did; return the raw reply."""
    socat = shutil.which("socat")
    assert socat, "socat is required"
    done = subprocess.run(
        [socat, "-t", "5", "-", f"UNIX-CONNECT:{sock_path}"],
        input=(command + "\n").encode(),
        capture_output=True,
        timeout=timeout,
    )
    return done.stdout


def transcript(name: str) -> str:
    """A reference reply by file-name prefix (``"010"`` -> ``010_show_stat.txt``)."""
    (path,) = TRANSCRIPTS.glob(f"{name}_*.txt")
    return path.read_text()


# ---------------------------------------------------------------- backends


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        body = f"hello from {self.server.name}\n".encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


class HttpBackend:
    """A tiny threaded HTTP server that answers ``hello from NAME``."""

    def __init__(self, name: str, port: int) -> None:
        self.server = ThreadingHTTPServer((HOST, port), _Handler)
        self.server.daemon_threads = True
        self.server.name = name  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(2)


# ---------------------------------------------------------------- masking

# `show stat` columns whose value depends on time or traffic.
VOLATILE_STAT = frozenset(
    [
        "qcur",
        "qmax",
        "scur",
        "smax",
        "stot",
        "bin",
        "bout",
        "dreq",
        "dresp",
        "ereq",
        "econ",
        "eresp",
        "wretr",
        "wredis",
        "chkfail",
        "lastchg",
        "downtime",
        "lbtot",
        "rate",
        "rate_max",
        "check_duration",
        "hrsp_1xx",
        "hrsp_2xx",
        "hrsp_3xx",
        "hrsp_4xx",
        "hrsp_5xx",
        "hrsp_other",
        "req_rate",
        "req_rate_max",
        "req_tot",
        "cli_abrt",
        "srv_abrt",
        "lastsess",
        "qtime",
        "ctime",
        "rtime",
        "ttime",
        "conn_rate",
        "conn_rate_max",
        "conn_tot",
        "intercepted",
        "connect",
        "reuse",
        "srv_icur",
        "qtime_max",
        "ctime_max",
        "rtime_max",
        "ttime_max",
        "idle_conn_cur",
        "safe_conn_cur",
        "used_conn_cur",
        "need_conn_est",
        "ssl_sess",
        "ssl_reused_sess",
        "ssl_failed_handshake",
        "h1_open_connections",
        "h1_open_streams",
        "h1_total_connections",
        "h1_total_streams",
        "h1_bytes_in",
        "h1_bytes_out",
    ]
)
# `show info` fields that depend on the process, the host, time or traffic.  `Version`,
# `Release_date` and `Build info` differ on purpose: we do not claim Debian's build string.
VOLATILE_INFO = frozenset(
    [
        "Version",
        "Release_date",
        "Pid",
        "Uptime",
        "Uptime_sec",
        "Ulimit-n",
        "Maxsock",
        "CurrConns",
        "CumConns",
        "CumReq",
        "CumSslConns",
        "ConnRate",
        "MaxConnRate",
        "SessRate",
        "MaxSessRate",
        "SslRate",
        "MaxSslRate",
        "SslFrontendKeyRate",
        "SslFrontendMaxKeyRate",
        "Tasks",
        "Run_queue",
        "Idle_pct",
        "node",
        "Jobs",
        "Listeners",
        "TotalBytesOut",
        "BytesOutRate",
        "PoolAlloc_bytes",
        "PoolUsed_bytes",
        "Start_time_sec",
    ]
) | {"Build info"}
MASK = "#"


class Masker:
    """Normalises a reply so that it can be compared with a transcript."""

    def __init__(self, ports: dict[int, int], extra_stat: Iterable[tuple[str, str, str]] = ()):
        self.back = {ours: ref for ref, ours in ports.items()}
        self._port_rx = re.compile(r"\b(" + "|".join(str(p) for p in self.back) + r")\b")
        # (pxname, svname, column) cells masked on purpose by a test, with its reason
        self.extra_stat = set(extra_stat)

    def ports(self, text: str) -> str:
        return self._port_rx.sub(lambda m: str(self.back[int(m.group(1))]), text)

    # -- show stat -----------------------------------------------------------------

    def stat_csv(self, text: str, extra: Iterable[tuple[str, str, str]] = ()) -> str:
        masked = self.extra_stat | set(extra)
        lines = text.split("\n")
        header = lines[0][2:].split(",")
        out = [lines[0]]
        for line in lines[1:]:
            if not line or line.startswith("#"):
                out.append(line)
                continue
            cells = line.split(",")
            px, sv = cells[0], cells[1]
            for i, name in enumerate(header):
                if i >= len(cells) or not cells[i]:
                    continue
                if name in VOLATILE_STAT or (px, sv, name) in masked or (px, "*", name) in masked:
                    cells[i] = MASK
            out.append(",".join(cells))
        return "\n".join(out)

    def stat_typed(self, text: str, extra: Iterable[tuple[str, str, str]] = ()) -> str:
        masked = self.extra_stat | set(extra)
        out = []
        names: dict[tuple[str, str], str] = {}
        for line in text.split("\n"):
            m = re.match(r"^([FBSL])\.(\d+)\.(\d+)\.(\d+)\.([^.]+)\.1:(\w+):(\w+):(.*)$", line)
            if not m:
                out.append(line)
                continue
            kind, iid, sid, _pos, name, _tags, _typ, value = m.groups()
            rest = value.split(":", 1)
            key = (iid, sid)
            if name == "pxname":
                names[key] = rest[0]
            if name == "svname":
                names[key + ("sv",)] = rest[0]  # type: ignore[operator]
            px = names.get(key, "")
            sv = names.get(key + ("sv",), "")  # type: ignore[operator]
            if name in VOLATILE_STAT or (px, sv, name) in masked or (px, "*", name) in masked:
                rest[0] = MASK
            out.append(line[: m.start(8)] + ":".join(rest))
        return "\n".join(out)

    def stat_json(self, text: str, extra: Iterable[tuple[str, str, str]] = ()) -> list[object]:
        masked = self.extra_stat | set(extra)
        objs = json.loads(text)
        for obj in objs:
            px = next(f["value"]["value"] for f in obj if f["field"]["name"] == "pxname")
            sv = next(f["value"]["value"] for f in obj if f["field"]["name"] == "svname")
            for f in obj:
                name = f["field"]["name"]
                if name in VOLATILE_STAT or (px, sv, name) in masked or (px, "*", name) in masked:
                    f["value"]["value"] = MASK
        return objs

    # -- show info -----------------------------------------------------------------

    def info_plain(self, text: str) -> str:
        out = []
        for line in text.split("\n"):
            name, sep, value = line.partition(": ")
            if sep and name in VOLATILE_INFO:
                desc = ""
                if value.endswith('"') and ':"' in value:
                    desc = value[value.index(':"') :]
                line = f"{name}: {MASK}{desc}"
            out.append(line)
        return "\n".join(out)

    def info_typed(self, text: str) -> str:
        out = []
        for line in text.split("\n"):
            m = re.match(r"^(\d+)\.([^.]+)\.1:(\w+):(\w+):(.*)$", line)
            if m and m.group(2) in VOLATILE_INFO:
                line = f"{m.group(1)}.{m.group(2)}.1:{m.group(3)}:{m.group(4)}:{MASK}"
            out.append(line)
        return "\n".join(out)

    def info_json(self, text: str) -> list[object]:
        items = json.loads(text)
        for item in items:
            if item["field"]["name"] in VOLATILE_INFO:
                item["value"]["value"] = MASK
        return items
