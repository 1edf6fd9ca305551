"""Master CLI listeners (``-S``): the asyncio shell around ``MasterCliSession``.

Local replies are written at once; a forwarded command is sent to the worker by the
master (``Master.forward``, which has a timeout) and the next command of the session
waits for its reply, so replies always come back in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Awaitable, Callable
from typing import Any

from lb.mworker.master_cli import Forward, MasterCliSession, MasterView, Write
from runtime_api.registry import Level, Registry
from runtime_api.server import StatsSocketSpec, listen_cli, parse_stats_socket_line

ForwardFn = Callable[[int, bytes], Awaitable[bytes]]


def parse_master_socket(text: str) -> StatsSocketSpec:
    """``-S <addr>[,<bind option>...]``; a bare path is a UNIX socket, level is admin."""
    addr, *options = text.split(",")
    if "@" not in addr and ":" not in addr:
        addr = "unix@" + addr
    words = [addr]
    for opt in options:
        words += opt.split()
    spec = parse_stats_socket_line(words)
    if "level" not in words[1:]:
        spec = dataclasses.replace(spec, level=Level.ADMIN)
    return spec


class MasterCliProtocol(asyncio.Protocol):
    """One Master CLI connection."""

    def __init__(
        self, master: MasterView, registry: Registry, level: Level, forward: ForwardFn
    ) -> None:
        self._session = MasterCliSession(master, registry, level)
        self._forward_fn = forward
        self._transport: asyncio.Transport | None = None
        self._busy = False
        self._lost = False
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  (uvloop's are not subclasses)

    def data_received(self, data: bytes) -> None:
        self._session.feed(data)
        self._pump()

    def eof_received(self) -> bool:
        self._session.eof()
        self._pump()
        return True  # keep writing until the replies are out

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._task is not None:
            self._task.cancel()

    def _pump(self) -> None:
        transport = self._transport
        if transport is None or self._busy or self._lost:
            return
        while (step := self._session.next_step()) is not None:
            if isinstance(step, Write):
                transport.write(step.data)
            else:
                self._busy = True
                self._task = asyncio.get_running_loop().create_task(self._forward(step))
                return
        if self._session.closed:
            transport.close()

    async def _forward(self, step: Forward) -> None:
        data = await self._forward_fn(step.pid, step.command)
        self._busy = False
        self._task = None
        if self._lost or self._transport is None:
            return
        self._transport.write(data + step.suffix)
        self._pump()


async def start_master_cli(
    loop: asyncio.AbstractEventLoop,
    spec: StatsSocketSpec,
    master: MasterView,
    registry: Registry,
    forward: ForwardFn,
) -> asyncio.AbstractServer:
    def factory() -> MasterCliProtocol:
        return MasterCliProtocol(master, registry, spec.level, forward)

    return await listen_cli(loop, spec, factory)


def unlink_master_socket(spec: StatsSocketSpec, server: Any) -> None:
    """Remove a UNIX Master CLI socket file when the master exits."""
    server.close()
    if spec.family == "unix" and isinstance(spec.address, str):
        with contextlib.suppress(OSError):
            os.unlink(spec.address)
