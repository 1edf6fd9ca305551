"""The Process Manager: ``program`` sections run as children of the master.

A program is started with its ``command`` words as given (no shell), as ``user`` /
``group`` when set, with the master's stdout/stderr.  At a reload, a program with
``option start-on-reload`` (the default) is stopped and started again; one with
``no option start-on-reload`` keeps running untouched as long as its section is
unchanged (the documented intent; HAProxy 2.6.12 killed it instead).

Each program leads its own process group, so that what it started itself does not
outlive it: when a program exits, the master sends SIGTERM to what is left of its group
(``stop_leftovers``).
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import TYPE_CHECKING

from lb.mworker.procs import PROGRAM, Proc

if TYPE_CHECKING:
    from lb.config.model import ProgramConf


class ProgramError(Exception):
    """A program could not be started (bad command, unknown user...)."""


def _reset_signals() -> None:
    """Programs start with default signal dispositions, whatever the master ignores."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def start_program(conf: ProgramConf) -> tuple[Proc, subprocess.Popen[bytes]]:
    if not conf.command:
        raise ProgramError(f"program '{conf.name}' has no command")
    try:
        popen = subprocess.Popen(
            list(conf.command),
            user=conf.user or None,
            group=conf.group or None,
            stdin=subprocess.DEVNULL,
            preexec_fn=_reset_signals,  # noqa: PLW1509 - runs before exec only
            process_group=0,
            env={k: v for k, v in os.environ.items() if not k.startswith("LB_MWORKER_")},
        )
    except (OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:
        raise ProgramError(f"cannot start program '{conf.name}': {exc}") from None
    return Proc(popen.pid, PROGRAM, conf.name), popen


def stop_leftovers(pid: int) -> None:
    """SIGTERM to what remains of the process group of program ``pid`` (it has exited)."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def same_program(a: ProgramConf, b: ProgramConf) -> bool:
    """Whether a kept program may continue across a reload (its section did not change)."""
    return (a.command, a.user, a.group, a.start_on_reload) == (
        b.command,
        b.user,
        b.group,
        b.start_on_reload,
    )
