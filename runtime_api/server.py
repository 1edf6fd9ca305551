"""Stats-socket listeners: the asyncio shell around the sans-IO ``CliSession``.

One ``CliProtocol`` per connection.  Replies are written as they come; a lazy reply (an
iterator) is written piece by piece while the transport accepts data, pausing when its
buffer passes the high-water mark and resuming on drain, and yielding to the loop every
few pieces so that one huge dump never starves other clients.  The idle timeout
(``stats timeout``, changed per session by ``set timeout cli``) closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import stat
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from runtime_api.protocol import CliSession, Output
from runtime_api.registry import (
    CommandContext,
    Level,
    Reply,
    SeverityOutput,
    fingerprint_distance,
    word_fingerprint,
)

__all__ = [
    "CliProtocol",
    "StatsSocketSpec",
    "parse_stats_socket_line",
    "start_cli_listener",
]

HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024
PIECES_PER_TURN = 64  # lazy pieces written before yielding to the event loop
BYTES_PER_TURN = 256 * 1024
MAX_PENDING_INPUT = 64 * 1024  # stop reading while this much input waits behind a dump

MakeContext = Callable[[CliSession], CommandContext]
# Observers of stats-socket connections: called with (protocol, transport) when one opens
# and (protocol, None) when it closes (``show sess`` lists them as ``fe=GLOBAL`` streams).
CONNECTION_HOOKS: list[Callable[[CliProtocol, object], None]] = []


class CliSlots:
    """`stats maxconn`: how many stats-socket connections are served at once, over all
    the sockets. One more waits, not read from, until a served one closes (as with
    HAProxy, where it waits in the listen queue)."""

    __slots__ = ("limit", "busy", "waiting")

    def __init__(self, limit: int = 10) -> None:
        self.limit = limit
        self.busy = 0
        self.waiting: deque[CliProtocol] = deque()

    def take(self, proto: CliProtocol) -> bool:
        """A slot for `proto` now, or False: it is queued and admitted later."""
        if self.busy < self.limit and not self.waiting:
            self.busy += 1
            return True
        self.waiting.append(proto)
        return False

    def give_back(self) -> None:
        self.busy -= 1
        while self.waiting and self.busy < self.limit:
            proto = self.waiting.popleft()
            if not proto._lost:
                self.busy += 1
                proto._admit()


@dataclass(frozen=True, slots=True)
class StatsSocketSpec:
    """A parsed ``stats socket`` line.

    ``address`` is a filesystem path (``unix``; a leading NUL for ``abns@``) or a
    ``(host, port)`` tuple (``ipv4``/``ipv6``).
    """

    address: str | tuple[str, int]
    family: str = "unix"  # unix | abns | ipv4 | ipv6
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    level: Level = Level.OPERATOR  # HAProxy's default for stats sockets
    severity_output: SeverityOutput = SeverityOutput.NONE
    expose_fd: bool = False


_LEVELS = {"user": Level.USER, "operator": Level.OPERATOR, "admin": Level.ADMIN}
_SEVERITIES = {
    "none": SeverityOutput.NONE,
    "number": SeverityOutput.NUMBER,
    "string": SeverityOutput.STRING,
}
# Bind keywords we know about, for HAProxy's "Did you mean" hint on unknown ones.
_BIND_KEYWORD_TEXT = (
    "accept-netscaler-cip accept-proxy allow-0rtt alpn backlog ca-file ca-ignore-err "
    "ca-sign-file ca-sign-pass ca-verify-file ciphers ciphersuites client-sigalgs "
    "crl-file crt crt-ignore-err crt-list curves defer-accept ecdhe expose-fd force-sslv3 "
    "force-tlsv10 force-tlsv11 force-tlsv12 force-tlsv13 generate-certificates gid group "
    "id interface level maxconn mode mss name namespace nice no-ca-names no-sslv3 "
    "no-tls-tickets no-tlsv10 no-tlsv11 no-tlsv12 no-tlsv13 npn prefer-client-ciphers "
    "process proto severity-output sigalgs ssl ssl-max-ver ssl-min-ver strict-sni tcp-ut "
    "tfo thread tls-ticket-keys transparent uid user v4v6 v6only verify"
)
_BIND_KEYWORDS = frozenset(_BIND_KEYWORD_TEXT.split())
# Known bind keywords without a value; the other known ones take one value.  Both are
# accepted and have no effect on a stats socket here.
_BIND_FLAGS = {
    "accept-proxy", "allow-0rtt", "defer-accept", "generate-certificates", "no-ca-names",
    "no-sslv3", "no-tls-tickets", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13",
    "force-sslv3", "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13",
    "prefer-client-ciphers", "ssl", "strict-sni", "tfo", "transparent", "v4v6", "v6only",
}  # fmt: skip


def _parse_address(text: str) -> tuple[str, str | tuple[str, int]]:
    prefix, sep, rest = text.partition("@")
    if not sep:
        prefix, rest = "", text
    if prefix in ("unix", "") and (prefix == "unix" or rest.startswith(("/", "."))):
        return "unix", rest
    if prefix == "abns":
        return "abns", "\0" + rest
    if prefix in ("", "ipv4", "ipv6", "tcp", "tcp4", "tcp6"):
        host, colon, port = rest.rpartition(":")
        if not colon or not port:
            raise ValueError(f"missing port specification in '{text}'")
        host = host.strip("[]") or ("::" if prefix in ("ipv6", "tcp6") else "0.0.0.0")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"invalid port '{port}'")
        family = "ipv6" if prefix in ("ipv6", "tcp6") or ":" in host else "ipv4"
        return family, (host, int(port))
    raise ValueError(f"unsupported address family '{prefix}' in '{text}'")


def _best_keyword(word: str) -> str | None:
    target = word_fingerprint([word])
    scored = [(fingerprint_distance(target, word_fingerprint([kw])), kw) for kw in _BIND_KEYWORDS]
    dist, best = min(scored)
    return best if dist < 2 * len(word) else None


def parse_stats_socket_line(words: list[str]) -> StatsSocketSpec:
    """Parse ``stats socket ADDR [options]`` (``words`` with or without ``stats socket``).

    Raises ``ValueError`` with HAProxy's sentence (without the ``parsing [file:line]``
    prefix, which the config layer adds).
    """
    if words[:2] == ["stats", "socket"]:
        words = words[2:]
    if not words or not words[0]:
        raise ValueError(
            "'stats socket' in global section expects an address or a path to a UNIX socket"
        )
    try:
        family, address = _parse_address(words[0])
    except ValueError as exc:
        raise ValueError(f"'stats socket' : {exc}") from None
    opts: dict[str, object] = {}
    i = 1
    while i < len(words):
        kw = words[i]
        value = words[i + 1] if i + 1 < len(words) else ""

        def fail(msg: str, kw: str = kw) -> ValueError:
            return ValueError(f"'stats socket' : ''{kw}' {msg}'")

        if kw == "mode":
            if not value or any(c not in "01234567" for c in value):
                raise fail(f": missing or invalid mode '{value}' (octal integer expected)")
            opts["mode"] = int(value, 8)
        elif kw == "level":
            if not value:
                raise fail(": missing level")
            if value not in _LEVELS:
                raise fail(f"only supports 'user', 'operator', and 'admin' (got '{value}')")
            opts["level"] = _LEVELS[value]
        elif kw == "severity-output":
            if not value:
                raise fail(": missing severity format")
            if value not in _SEVERITIES:
                raise fail(f"only supports 'none', 'number', and 'string' (got '{value}')")
            opts["severity_output"] = _SEVERITIES[value]
        elif kw == "expose-fd":
            if not value:
                raise fail(": missing fd type")
            if value != "listeners":
                raise fail(f"only supports 'listeners' (got '{value}')")
            opts["expose_fd"] = True
        elif kw in ("uid", "gid"):
            if not value:
                raise fail(": missing value")
            opts[kw] = int(value) if value.isdigit() else 0  # HAProxy uses atol()
        elif kw == "user":
            if not value:
                raise fail(": missing user name")
            try:
                opts["uid"] = pwd.getpwnam(value).pw_uid
            except KeyError:
                raise fail(f": unknown user name '{value}'") from None
        elif kw == "group":
            if not value:
                raise fail(": missing group name")
            try:
                opts["gid"] = grp.getgrnam(value).gr_gid
            except KeyError:
                raise fail(f": unknown group name '{value}'") from None
        elif kw in _BIND_FLAGS:
            i += 1
            continue
        elif kw in _BIND_KEYWORDS:
            pass
        else:
            best = _best_keyword(kw)
            hint = f" Did you mean '{best}' maybe ?" if best else ""
            raise ValueError(f"'stats socket' : unknown keyword '{kw}'.{hint}")
        i += 2
    return StatsSocketSpec(address=address, family=family, **opts)  # type: ignore[arg-type]


class CliProtocol(asyncio.Protocol):
    """One stats-socket connection running a ``CliSession``."""

    __slots__ = (
        "_loop",
        "_make_context",
        "_spec",
        "_timeout_ms",
        "_transport",
        "_session",
        "_ctx",
        "_pending",
        "_lazy",
        "_paused",
        "_timer",
        "_scheduled",
        "_lost",
        "_slots",
        "_admitted",
        "_early",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        spec: StatsSocketSpec,
        make_context: MakeContext,
        timeout_ms: int,
        slots: CliSlots | None = None,
    ) -> None:
        self._loop = loop
        self._make_context = make_context
        self._spec = spec
        self._timeout_ms = timeout_ms
        self._transport: asyncio.Transport | None = None
        self._session: CliSession | None = None
        self._ctx: CommandContext | None = None
        self._pending: list[Output] = []
        self._lazy: Iterator[bytes] | None = None
        self._paused = False
        self._timer: asyncio.TimerHandle | None = None
        self._scheduled = False
        self._lost = False
        self._slots = slots
        self._admitted = False
        self._early: list[bytes | None] | None = None  # read while queued (None: EOF)

    # -- asyncio callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop transports are not asyncio.Transport subclasses: no isinstance check
        self._transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)
        if self._slots is not None and not self._slots.take(self):
            # queued: reading stops at the first bytes, kept for when a slot frees
            self._early = []
            transport.pause_reading()
            return
        self._admit()

    def _admit(self) -> None:
        transport = self._transport
        assert transport is not None
        self._admitted = True
        early, self._early = self._early, None
        self._session = CliSession(
            self._dispatch,
            self._spec.level,
            severity_output=self._spec.severity_output,
            timeout_ms=self._timeout_ms,
        )
        self._ctx = self._make_context(self._session)
        for hook in CONNECTION_HOOKS:
            hook(self, transport)
        self._arm_timer()
        if early is not None:
            for data in early:
                if data is None:
                    self.eof_received()
                else:
                    self.data_received(data)
            session = self._session
            backlog = session.waiting and session.buffered > MAX_PENDING_INPUT
            if not self._lost and early[-1:] != [None] and not backlog:
                transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._early is not None:
            self._early.append(data)
            self._transport.pause_reading()  # type: ignore[union-attr]
            return
        assert self._session is not None and self._transport is not None
        self._arm_timer()
        self._pending += self._session.feed(data)
        if self._session.waiting and self._session.buffered > MAX_PENDING_INPUT:
            self._transport.pause_reading()
        self._pump()

    def eof_received(self) -> bool:
        if self._early is not None:
            self._early.append(None)
            return True
        assert self._session is not None
        self._pending += self._session.eof()
        self._pump()
        return True  # keep the write side open until the replies are out

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._arm_timer()
        self._pump()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if not self._admitted:
            return  # still queued: dropped from the queue when its turn comes
        if self._slots is not None:
            self._slots.give_back()
        for hook in CONNECTION_HOOKS:
            hook(self, None)
        if self._timer is not None:
            self._timer.cancel()
        for item in [self._lazy, *self._pending]:
            if item is not None and not isinstance(item, bytes):
                with contextlib.suppress(Exception):
                    item.close()  # type: ignore[attr-defined]
        self._lazy = None
        self._pending.clear()

    # -- internals --------------------------------------------------------------------

    def _dispatch(self, session: CliSession, args: list[str], payload: str | None) -> Reply:
        assert self._ctx is not None
        return self._ctx.registry.dispatch(self._ctx, args, payload)

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._lost or self._session is None:
            return
        self._timer = self._loop.call_later(self._session.timeout_ms / 1000, self._expire)

    def _expire(self) -> None:
        if self._transport is not None and not self._lost:
            self._transport.close()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._resume_pump)

    def _resume_pump(self) -> None:
        self._scheduled = False
        self._pump()

    def _pump(self) -> None:
        """Write what can be written now; continue later on drain or on the next turn."""
        transport, session = self._transport, self._session
        if transport is None or session is None or self._lost:
            return
        pieces = written = 0
        while not self._paused:
            if self._lazy is not None:
                if pieces >= PIECES_PER_TURN or written >= BYTES_PER_TURN:
                    self._schedule()
                    return
                try:
                    chunk = next(self._lazy)
                except StopIteration:
                    self._lazy = None
                    self._pending += session.resume()
                    if session.buffered <= MAX_PENDING_INPUT:
                        transport.resume_reading()
                    continue
                pieces += 1
                written += len(chunk)
                transport.write(chunk)
                continue
            if not self._pending:
                break
            item = self._pending.pop(0)
            if isinstance(item, bytes):
                transport.write(item)
            else:
                self._lazy = item
        if session.closed and self._lazy is None and not self._pending:
            transport.close()  # flushes what is buffered first
        elif session.timeout_ms != self._timeout_ms:
            self._timeout_ms = session.timeout_ms
            self._arm_timer()


async def start_cli_listener(
    loop: asyncio.AbstractEventLoop,
    spec: StatsSocketSpec,
    make_context: MakeContext,
    timeout_ms: int = 10_000,
    slots: CliSlots | None = None,
) -> asyncio.AbstractServer:
    """Listen on a ``stats socket``; each connection gets a session at ``spec.level``
    once `slots` (shared by the sockets of one process) has room for it."""

    def factory() -> CliProtocol:
        return CliProtocol(loop, spec, make_context, timeout_ms, slots)

    return await listen_cli(loop, spec, factory)


async def listen_cli(
    loop: asyncio.AbstractEventLoop, spec: StatsSocketSpec, factory: Callable[[], asyncio.Protocol]
) -> asyncio.AbstractServer:
    """Listen on a CLI address (stats socket or Master CLI): a unix socket replaces a
    stale one left by a previous process and gets its mode and owner; TCP reuses the
    address."""
    if spec.family in ("unix", "abns"):
        path = spec.address
        assert isinstance(path, str)
        if spec.family == "unix":
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISSOCK(os.stat(path).st_mode):
                    os.unlink(path)  # a stale socket left by a previous process
        server = await loop.create_unix_server(factory, path=path)
        if spec.family == "unix":
            if spec.mode is not None:
                os.chmod(path, spec.mode)
            if spec.uid is not None or spec.gid is not None:
                uid = -1 if spec.uid is None else spec.uid
                gid = -1 if spec.gid is None else spec.gid
                os.chown(path, uid, gid)
        return server
    host, port = spec.address  # type: ignore[misc]
    return await loop.create_server(factory, host=host, port=port, reuse_address=True)
