"""Server-state files: what `show servers state > FILE` wrote, applied at start.

`server-state-file` / `server-state-base` (global) name the files;
`load-server-state-from-file global|local|none` and `server-state-file-name`
(defaults/backend) choose, per backend, which file applies. A line is matched to
a server by backend name and server name; its user weight (only while the
configured weight is still the one the file saw), forced maintenance / drain,
operational state (stopped means down until checks rise), address and port come
back. The parsing is sans-IO; `apply_server_state` works through the Server
methods so that balancers and logs stay in step.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

VERSION = "1"
FIELDS = (
    "be_id",
    "be_name",
    "srv_id",
    "srv_name",
    "srv_addr",
    "srv_op_state",
    "srv_admin_state",
    "srv_uweight",
    "srv_iweight",
    "srv_time_since_last_change",
    "srv_check_status",
    "srv_check_result",
    "srv_check_health",
    "srv_check_state",
    "srv_agent_state",
    "bk_f_forced_id",
    "srv_f_forced_id",
    "srv_fqdn",
    "srv_port",
    "srvrecord",
    "srv_use_ssl",
    "srv_check_port",
    "srv_check_addr",
    "srv_agent_addr",
    "srv_agent_port",
)
_ADMIN_FMAINT = 0x01
_ADMIN_FDRAIN = 0x08
_OP_STOPPED, _OP_STOPPING = 0, 3


@dataclass(frozen=True, slots=True)
class StateLine:
    """One server line of a version-1 file (only the fields we apply are typed)."""

    be_name: str
    srv_name: str
    addr: str
    op_state: int
    admin_state: int
    uweight: int
    iweight: int
    since_change: int
    port: int
    check_port: int


def parse(text: str) -> tuple[list[StateLine], list[str]]:
    """The server lines of a state file and the problems met (as warning sentences)."""
    lines = text.splitlines()
    if not lines:
        return [], []
    if lines[0].strip() != VERSION:
        return [], [f"unsupported server state file version '{lines[0].strip()}'"]
    out: list[StateLine] = []
    problems: list[str] = []
    for raw in lines[1:]:
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) < 19:
            problems.append(f"server state line too short: '{raw}'")
            continue
        f = dict(zip(FIELDS, words, strict=False))
        try:
            out.append(
                StateLine(
                    be_name=f["be_name"],
                    srv_name=f["srv_name"],
                    addr=f["srv_addr"],
                    op_state=int(f["srv_op_state"]),
                    admin_state=int(f["srv_admin_state"]),
                    uweight=int(f["srv_uweight"]),
                    iweight=int(f["srv_iweight"]),
                    since_change=int(f["srv_time_since_last_change"]),
                    port=int(f["srv_port"]) if f["srv_port"].isdigit() else 0,
                    check_port=int(f.get("srv_check_port", "0") or 0)
                    if f.get("srv_check_port", "0").isdigit()
                    else 0,
                )
            )
        except ValueError:
            problems.append(f"invalid server state line: '{raw}'")
    return out, problems


def _last_words(pconf: Any, key: str) -> tuple[str, ...] | None:
    rules = pconf.extra.get(key)
    return tuple(rules[-1].words) if rules else None


def _path(base: str, name: str) -> str:
    if not name or os.path.isabs(name) or not base:
        return name
    return os.path.join(base, name)


def state_file_for(global_conf: Any, pconf: Any) -> str | None:
    """The file a backend loads its servers' state from, or ``None``."""
    mode = _last_words(pconf, "load-server-state-from-file")
    if not mode:
        return None
    base = global_conf.server_state_base or ""
    if mode[0] == "global":
        return _path(base, global_conf.server_state_file) or None
    if mode[0] == "local":
        name_words = _last_words(pconf, "server-state-file-name")
        name = pconf.name
        if name_words and name_words[0] != "use-backend-name":
            name = name_words[0]
        return _path(base, name)
    return None


def apply_line(srv: Any, line: StateLine) -> None:
    """Bring one server to the state a file line describes."""
    if line.iweight == srv.iweight and line.uweight != srv.uweight:
        srv.set_weight(line.uweight)
    if line.addr and line.addr != "-" and (line.addr != srv.host or line.port != srv.port):
        srv.set_addr(line.addr, line.port or None)
    if line.check_port:
        srv.check_port = line.check_port
    if line.admin_state & _ADMIN_FMAINT:
        srv.set_maint()
    elif line.admin_state & _ADMIN_FDRAIN:
        srv.set_drain()
    if line.op_state == _OP_STOPPED and srv.check_enabled:
        srv.set_health_from_cli(False)
    elif line.op_state == _OP_STOPPING:
        srv.set_health_stopping()
    srv.last_change = time.monotonic() - max(0, line.since_change)


def apply_server_state(state: Any) -> int:
    """Apply every configured state file to the live servers; returns the servers set."""
    g = state.cfg.global_
    cache: dict[str, list[StateLine]] = {}
    applied = 0
    for p in state.proxies:
        if not p.is_backend:
            continue
        path = state_file_for(g, p.conf)
        if not path:
            continue
        if path not in cache:
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    lines, problems = parse(fh.read())
            except OSError as exc:
                lines, problems = [], [f"can't load state file '{path}': {exc.strerror}"]
            for msg in problems:
                state.notify("warning", f"Proxy '{p.name}': {msg}", p)
            cache[path] = lines
        for line in cache[path]:
            if line.be_name != p.name:
                continue
            srv = p.server(line.srv_name)
            if srv is None:
                continue
            apply_line(srv, line)
            applied += 1
    return applied
