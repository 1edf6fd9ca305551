"""Pid files written whole (write then rename) and removed only by their owner."""

from __future__ import annotations

import contextlib
import os


def write_pidfile(path: str, pid: int) -> None:
    tmp = f"{path}.{pid}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{pid}\n")
    os.replace(tmp, path)


def remove_pidfile(path: str, pid: int) -> None:
    with contextlib.suppress(OSError):
        with open(path) as f:
            if f.read().strip() != str(pid):
                return
        os.unlink(path)
