"""The worker side of master-worker mode.

A worker started by the master finds in its environment the listening sockets to serve
(``LB_MWORKER_FDS``: JSON mapping socket keys such as ``ipv4@127.0.0.1:8080`` to fd
numbers) and one end of a control socketpair (``LB_MWORKER_CTRL``).  On that channel it

* writes ``R`` once it serves (the master only then tells the previous worker to stop),
* receives, with SCM_RIGHTS, one connected socket per Master CLI command forwarded to
  it (``@1 show info``), each served as a stats-socket session at admin level, as
  HAProxy's ``sockpair@`` listener does,
* closes (``S``) and reopens (``O``) its stats sockets when told: a TCP stats socket
  cannot be bound twice, so the new worker of a reload takes it over,
* sees end-of-file when the master is gone, and then stops: no worker outlives its
  master.

With ``lb-keep-state-on-reload``, ``LB_MWORKER_STATE`` names an inherited file holding
the runtime state of the previous worker (``lb.mworker.carry``), applied before serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import socket
from typing import TYPE_CHECKING, Any

from lb.mworker import carry

if TYPE_CHECKING:
    from lb.cli import Options
    from lb.config.model import Config
    from lb.state import State

ENV_CHILD = "LB_MWORKER_CHILD"
ENV_FDS = "LB_MWORKER_FDS"
ENV_CTRL = "LB_MWORKER_CTRL"
READY = b"R"
CLOSE_STATS = b"S"  # free the TCP stats sockets: the next worker binds them
REOPEN_STATS = b"O"  # the next worker failed: serve them again
MAX_FDS_PER_MESSAGE = 16


def is_child() -> bool:
    return os.environ.get(ENV_CHILD) == "1"


def run_child(opts: Options, cfg: Config) -> int:
    """Run as a master's worker: the master owns the pid file, sockets and daemon mode."""
    from lb.worker import run_worker

    fds: dict[str, int] = json.loads(os.environ.pop(ENV_FDS, "{}"))
    ctrl_fd = int(os.environ.pop(ENV_CTRL, "-1"))
    os.environ.pop(ENV_CHILD, None)  # programs this worker might start are not workers
    carried = _read_carried(os.environ.pop(carry.ENV_STATE, ""))
    inherited: dict[str, Any] = {}
    for key, fd in fds.items():
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        inherited[key] = sock
    opts = dataclasses.replace(opts, pidfile="", daemon=False, master_worker=False)
    g = dataclasses.replace(cfg.global_, pidfile="", daemon=False, master_worker=False)
    cfg = dataclasses.replace(cfg, global_=g)

    def started(state: State, loop: asyncio.AbstractEventLoop) -> None:
        for sock in inherited.values():  # addresses this configuration no longer has
            sock.close()
        inherited.clear()
        if ctrl_fd >= 0:
            MasterChannel(state, loop, socket.socket(fileno=ctrl_fd)).start()

    def apply_carried(state: State) -> None:
        from lb.cli import _say

        if carried is None:
            return
        n = carry.apply(state, carried)
        _say(
            "NOTICE",
            f"Runtime state carried over: {n['servers']} servers, {n['patterns']} ACL/map "
            f"entries, {n['tables']} table entries.",
            opts.quiet,
        )

    return run_worker(opts, cfg, inherited, on_started=started, before_serving=apply_carried)


def _read_carried(fd_text: str) -> dict[str, Any] | None:
    if not fd_text.isdigit():
        return None
    try:
        with os.fdopen(int(fd_text), "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class MasterChannel:
    """The worker's end of the control socketpair."""

    def __init__(self, state: State, loop: asyncio.AbstractEventLoop, sock: socket.socket):
        self.state = state
        self.loop = loop
        self.sock = sock

    def start(self) -> None:
        from runtime_api import commands  # noqa: F401  (registers every command)

        self.sock.setblocking(False)
        self.loop.add_reader(self.sock.fileno(), self._readable)
        with contextlib.suppress(OSError):
            self.sock.send(READY)

    def _readable(self) -> None:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(self.sock, 64, MAX_FDS_PER_MESSAGE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            msg, fds = b"", []
        for fd in fds:
            self._serve(socket.socket(fileno=fd))
        if CLOSE_STATS in msg:
            self.state.close_cli()
        if REOPEN_STATS in msg and not self.state.stopping:
            from lb.clisetup import start_stats_sockets

            task = self.loop.create_task(start_stats_sockets(self.state, self.loop))
            task.add_done_callback(_ignore_result)
        if not msg:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            os.kill(os.getpid(), signal.SIGTERM)  # the master is gone: stop too

    def _serve(self, sock: socket.socket) -> None:
        from runtime_api.registry import REGISTRY, Level
        from runtime_api.server import CliProtocol, StatsSocketSpec

        spec = StatsSocketSpec(address="", family="sockpair", level=Level.ADMIN)
        make_context = REGISTRY.context_factory(self.state, self.loop)
        timeout = self.state.cfg.global_.stats_timeout

        def factory() -> CliProtocol:
            return CliProtocol(self.loop, spec, make_context, timeout)

        sock.setblocking(False)
        task = self.loop.create_task(self.loop.connect_accepted_socket(factory, sock))
        task.add_done_callback(_ignore_result)


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
