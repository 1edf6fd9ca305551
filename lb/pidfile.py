"""Pid files written whole (write then rename) and removed only by their owner."""

from __future__ import annotations

import contextlib
import os


def write_pidfile(path: str, pid: int) -> None:
    tmp = f"{path}.{pid}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{pid}\n")
    os.replace(tmp, path)


def remove_pidfile(path: str, pid: int, dir_fd: int | None = None) -> None:
    """Remove `path` if it still names `pid`. `dir_fd`, the file's directory opened
    beforehand, reaches it from inside a `chroot` (then `path`'s name is enough)."""
    name = os.path.basename(path) if dir_fd is not None else path
    with contextlib.suppress(OSError):
        fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
        with open(fd) as f:
            if f.read().strip() != str(pid):
                return
        os.unlink(name, dir_fd=dir_fd)


def open_pidfile_dir(path: str) -> int | None:
    """The pid file's directory, held open so the file can be removed from a jail."""
    try:
        return os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
