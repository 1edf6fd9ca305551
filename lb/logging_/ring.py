"""Ring buffers (`ring` sections and the built-in `buf0`): log lines kept in memory
for `show events`, and forwarded to TCP syslog servers named by `server` lines.

A ring holds whole lines, oldest first, within `size` bytes counted as HAProxy
2.6 does (one byte of reader count, the length as a varint, then the line), so
the same configuration keeps the same number of lines. Readers hold a sequence
number: a line's number never changes, and a reader that fell behind the oldest
line just goes on from there.

Only configurations with a `log ring@…` line use `RingLogger`; the others keep the
plain `Logger`, so rings cost nothing on their request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any

from lb.config.errors import ConfigError
from lb.config.model import RingConf, RingServerConf, Where

from .syslog import Logger, LogTarget

__all__ = ["Ring", "RingLogger", "RingSet", "bind_ring_targets", "rings_of"]

BUF0_SIZE = 1024 * 1024  # the built-in ring's size
RETRY_DELAY = 1.0  # seconds between two connection attempts to a ring's server


def entry_cost(n: int) -> int:
    """Bytes a line of `n` bytes takes in a HAProxy ring: reader count, varint, text."""
    if n < 240:
        return n + 2
    if n < 2288:
        return n + 3
    if n < 264432:
        return n + 4
    return n + 5


class Ring:
    """One ring buffer; `waiters` are called (no argument) after each new line."""

    __slots__ = ("name", "description", "format", "maxlen", "size", "used", "dropped")
    __slots__ += ("_lines", "_first", "waiters")

    def __init__(
        self, name: str, description: str, fmt: str = "raw", maxlen: int = 16384, size: int = 16384
    ) -> None:
        self.name = name
        self.description = description
        self.format = fmt
        self.maxlen = maxlen
        self.size = size
        self.used = 0
        self.dropped = 0
        self._lines: deque[str] = deque()
        self._first = 0  # sequence number of _lines[0]
        self.waiters: set[Callable[[], None]] = set()

    @property
    def end(self) -> int:
        """The sequence number the next line will get."""
        return self._first + len(self._lines)

    def write(self, line: str) -> None:
        """Add a line (already cut to `maxlen`), dropping the oldest ones to make room."""
        cost = entry_cost(len(line))
        if cost > self.size:
            self.dropped += 1
            return
        lines = self._lines
        while self.used + cost > self.size:
            self.used -= entry_cost(len(lines.popleft()))
            self._first += 1
        lines.append(line)
        self.used += cost
        if self.waiters:
            for wake in list(self.waiters):
                wake()

    def read(self, seq: int) -> tuple[list[str], int]:
        """The lines from `seq` on (from the oldest kept if those are gone), and the
        sequence number to read from next time."""
        skip = max(0, seq - self._first)
        return list(islice(self._lines, skip, None)), self.end


class RingSet:
    """The rings of a running configuration: `buf0` first, then the `ring` sections
    in the order written (the order `show events` lists them in)."""

    def __init__(self, confs: dict[str, RingConf]) -> None:
        self.rings: dict[str, Ring] = {
            "buf0": Ring("buf0", "in-memory ring buffer", "timed", 16384, BUF0_SIZE)
        }
        self.confs = confs
        for rc in confs.values():
            self.rings[rc.name] = Ring(
                rc.name, rc.description or rc.name, rc.format, rc.maxlen, rc.size
            )
        self.forwarders: list[Forwarder] = []

    def get(self, name: str) -> Ring | None:
        return self.rings.get(name)

    def start_forwarding(self, loop: asyncio.AbstractEventLoop) -> None:
        """Connect to the rings' servers once `loop` runs (a reload's new worker too)."""
        for rc in self.confs.values():
            for srv in rc.servers:
                fwd = Forwarder(self.rings[rc.name], srv, rc.timeout_connect, rc.timeout_server)
                self.forwarders.append(fwd)
                loop.call_soon(fwd.start)


def rings_of(state: Any) -> RingSet:
    """The state's rings, made on first use; forwarding starts with a live loop only
    (`lb -c` and the master build states without one)."""
    rings = getattr(state, "rings", None)
    if rings is None:
        rings = RingSet(getattr(state.cfg, "rings", {}))
        state.rings = rings
        if getattr(state, "loop", None) is not None:
            rings.start_forwarding(state.loop)
    return rings  # type: ignore[no-any-return]


def bind_ring_targets(
    state: Any, targets: list[LogTarget], wheres: list[Where], proxy: str | None
) -> bool:
    """Point each `ring@NAME` target at its ring; True when there is one.

    An unknown ring stops a starting process with HAProxy's alert (`lb -c`, like
    `haproxy -c`, lets it pass: the target then logs nothing)."""
    found = False
    for t, where in zip(targets, wheres, strict=True):
        if t.kind != "ring" or t.ring is not None:
            found = found or t.kind == "ring"
            continue
        found = True
        ring = rings_of(state).get(t.path or "")
        if ring is None:
            if getattr(state, "loop", None) is None:
                continue
            place = (
                "global log server"
                if proxy is None
                else (f"log server declared in proxy section '{proxy}'")
            )
            if proxy is None:
                place += " declared"
            raise ConfigError(
                f"config : {place} in file '{where.file}' at line {where.line} uses unknown "
                f"ring named '{t.path}'."
            )
        t.ring = ring
        t.format = ring.format  # the ring's format wins over the `log` line's
    return found


class RingLogger(Logger):
    """A `Logger` some of whose targets are rings: a ring line is the header in the
    ring's format and the message cut to the `log` line's `len`, the whole cut to
    the ring's `maxlen` (as HAProxy 2.6 stores it)."""

    def log(self, level: int, msg: str, proxy_name: str | None = None) -> None:
        tag = self._proxy_tags.get(proxy_name, self.tag) if proxy_name else self.tag
        now = 0.0
        for t in self.targets:
            if level > t.level:
                continue
            if t.sample_size:
                idx = t.sample_counter % t.sample_size + 1
                t.sample_counter += 1
                if not any(lo <= idx <= hi for lo, hi in t.sample_ranges):
                    continue
            if not now:
                now = time.time()
            lvl = max(level, t.minlevel)
            if t.kind == "ring":
                ring = t.ring
                if ring is not None:
                    line = self._header_at(t, lvl, tag, now) + msg[: t.maxlen]
                    ring.write(line if len(line) <= ring.maxlen else line[: ring.maxlen])
                continue
            data = self.render(t, lvl, msg, tag, now)
            if t.kind == "fd":
                self._buffer(t.fd, data)
            else:
                self._send(t, data)


class Forwarder:
    """Sends a ring's lines to one TCP syslog server, reconnecting when the link
    drops. `legacy` frames end each line with a newline; `octet-count` frames put
    the length and a space before it (RFC 6587). A reconnection goes on after the
    last line sent (HAProxy 2.6 starts again from the oldest line kept)."""

    def __init__(
        self, ring: Ring, srv: RingServerConf, t_connect: int | None, t_server: int | None
    ) -> None:
        self.ring = ring
        self.srv = srv
        self.t_connect = t_connect / 1000 if t_connect else None
        self.t_server = t_server / 1000 if t_server else None
        self.seq = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    def frame(self, line: str) -> bytes:
        data = line.encode("utf-8", "surrogateescape")
        if self.srv.log_proto == "octet-count":
            return b"%d %s" % (len(data), data)
        return data + b"\n"

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        srv = self.srv
        if srv.path:
            return await asyncio.wait_for(asyncio.open_unix_connection(srv.path), self.t_connect)
        return await asyncio.wait_for(asyncio.open_connection(srv.host, srv.port), self.t_connect)

    async def _run(self) -> None:
        while True:
            try:
                reader, writer = await self._connect()
            except (OSError, TimeoutError):
                await asyncio.sleep(RETRY_DELAY)
                continue
            try:
                await self._feed(reader, writer)
            except (OSError, TimeoutError):
                pass
            finally:
                writer.close()
            await asyncio.sleep(RETRY_DELAY)

    async def _feed(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Write new lines as they come, until the server closes the connection."""
        event = asyncio.Event()
        wake = event.set
        self.ring.waiters.add(wake)
        closed = asyncio.ensure_future(_until_eof(reader))
        try:
            while True:
                lines, self.seq = self.ring.read(self.seq)
                if lines:
                    writer.write(b"".join(self.frame(ln) for ln in lines))
                    await asyncio.wait_for(writer.drain(), self.t_server)
                    continue
                event.clear()
                waiting = asyncio.ensure_future(event.wait())
                done, _ = await asyncio.wait({waiting, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed in done:
                    waiting.cancel()
                    return
        finally:
            self.ring.waiters.discard(wake)
            closed.cancel()


async def _until_eof(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(OSError):
        while await reader.read(65536):
            pass
