"""`-D` / `daemon`: detach from the terminal (double fork, new session, std fds on
/dev/null), for a plain worker and for the master alike."""

from __future__ import annotations

import os
import sys


def daemonize() -> None:
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
