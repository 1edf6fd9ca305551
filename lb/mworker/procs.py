"""The master's process list: one record per child, and ``show proc`` built from it.

The records are plain data (no I/O) so that the Master CLI renders them in unit tests.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field

MASTER = "master"
WORKER = "worker"
PROGRAM = "program"


@dataclass(slots=True)
class Proc:
    """A process the master knows: itself, a worker or a ``program``.

    ``reloads`` counts the reloads this process has lived through (a new worker starts
    at 0, the one it replaces keeps running with 1); ``leaving`` marks an old worker
    that was told to finish, listed under ``# old workers`` until it exits.
    """

    pid: int
    kind: str
    name: str = ""
    reloads: int = 0
    started: float = field(default_factory=time.monotonic)
    leaving: bool = False
    version: str = "-"

    @property
    def type_text(self) -> str:
        return self.name if self.kind == PROGRAM else self.kind


def format_uptime(seconds: float) -> str:
    """``0d00h03m20s``: the ``show proc`` form (``show info`` uses ``0d 0h03m20s``)."""
    s = max(0, int(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    return f"{days}d{hours:02d}h{minutes:02d}m{s:02d}s"


def _row(pid: object, kind: str, reloads: str, uptime: str, version: str) -> str:
    return f"{pid!s:<15} {kind:<15} {reloads:<15} {uptime:<15} {version:<15}\n"


def format_show_proc(
    master: Proc, failed: int, children: list[Proc], now: float | None = None
) -> str:
    """The ``show proc`` reply (without the CLI terminator), in HAProxy 2.6's layout."""
    now = time.monotonic() if now is None else now

    def line(p: Proc, reloads: str) -> str:
        return _row(p.pid, p.type_text, reloads, format_uptime(now - p.started), p.version)

    out = [_row("#<PID>", "<type>", "<reloads>", "<uptime>", "<version>")]
    out.append(line(master, f"{master.reloads} [failed: {failed}]"))
    workers = [p for p in children if p.kind == WORKER]
    out.append("# workers\n")
    out += [line(p, str(p.reloads)) for p in workers if not p.leaving]
    old = [p for p in workers if p.leaving]
    if old:
        out.append("# old workers\n")
        out += [line(p, str(p.reloads)) for p in old]
    out.append("# programs\n")
    out += [line(p, str(p.reloads)) for p in children if p.kind == PROGRAM]
    return "".join(out)


def describe_status(status: int) -> tuple[int, str]:
    """HAProxy's exit code and reason for a wait status: 128+signal when killed."""
    import os

    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return 128 + sig, signal.strsignal(sig) or f"signal {sig}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    if code > 128:
        return code, signal.strsignal(code - 128) or "Exit"
    return code, "Exit"
