"""``show events [<sink>] [-w] [-n]``: the event sinks, or the lines of one ring.

Without a name: the sinks as HAProxy 2.6 lists them (``stdout``, ``stderr``, the
built-in ``buf0`` ring, then the ``ring`` sections). With a ring's name: its lines,
oldest first; ``-n`` starts at the end, ``-w`` then keeps the connection and writes
each new line as it comes, until the client sends anything (discarded) or closes.

Waiting uses only the stats-socket protocol's public flow control: with nothing to
write, the reply pauses its connection's writing (``pause_writing``) and a new line
resumes it (``resume_writing``); input and end of input are looked for a few times a
second while waiting, so an idle ``-w`` costs no work on the logging path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lb.logging_.ring import Ring, rings_of
from runtime_api import server as cli_server
from runtime_api.registry import (
    LOG_NOTICE,
    LOG_WARNING,
    CliError,
    CliMessage,
    CommandContext,
    Level,
    arg,
    command,
)

HEADER = "Supported events sinks are listed below. Add -w(wait), -n(new). Any key to stop\n"
FD_SINKS = {"stdout": 1, "stderr": 2}
POLL_INTERVAL = 0.1  # seconds between two looks at a waiting session's input
WAIT_TIMEOUT_MS = 2**31 - 1  # no idle timeout while waiting, as in HAProxy

# stats-socket sessions -> (protocol, transport), to pause and resume their replies
_CONNECTIONS: dict[int, tuple[Any, Any]] = {}


def _hook(proto: Any, transport: Any) -> None:
    session = getattr(proto, "_session", None)
    if session is None:
        return
    if transport is None:
        _CONNECTIONS.pop(id(session), None)
    else:
        _CONNECTIONS[id(session)] = (proto, transport)


if _hook not in cli_server.CONNECTION_HOOKS:
    cli_server.CONNECTION_HOOKS.append(_hook)


class _Nothing(str):
    """A reply piece that writes no byte but is not skipped: it hands control back to
    the connection's pump, which then sees the writing paused."""

    def __bool__(self) -> bool:
        return True


_NOTHING = _Nothing("")


@command("show events", level=Level.USER)
def cmd_show_events(ctx: CommandContext, args: list[str], payload: str | None) -> Any:
    name = arg(args, 2)
    rings = rings_of(ctx.state)
    if not name:
        out = [HEADER]
        for sink, fd in FD_SINKS.items():
            out.append(f"    {sink:<10} : type=fd, 0 dropped, standard output (fd#{fd})\n")
        for ring in rings.rings.values():
            out.append(
                f"    {ring.name:<10} : type=buffer, {ring.dropped} dropped, {ring.description}\n"
            )
        return CliMessage("".join(out), LOG_WARNING)
    ring = rings.get(name)
    if ring is None:
        if name in FD_SINKS:  # HAProxy ends this one without the empty line
            ctx.session.suppress_terminator()
            return CliMessage("Nothing to report for this sink\n", LOG_NOTICE)
        ctx.session.suppress_terminator()  # so do its two errors
        raise CliError("No such event sink")
    wait = new = False
    for opt in args[3:]:
        if opt == "-w":
            wait = True
        elif opt == "-n":
            new = True
        elif opt in ("-wn", "-nw"):
            wait = new = True
        else:
            ctx.session.suppress_terminator()
            raise CliError("unknown option")
    seq = ring.end if new else 0
    conn = _CONNECTIONS.get(id(ctx.session)) if wait else None
    if conn is None:
        lines, _ = ring.read(seq)
        return "".join(line + "\n" for line in lines)
    return _follow(ctx, ring, seq, *conn)


def _follow(ctx: CommandContext, ring: Ring, seq: int, proto: Any, transport: Any) -> Iterator[str]:
    """The lines from `seq` on, then each new one, until input or its end arrives."""
    session = ctx.session
    loop = ctx.loop or getattr(ctx.state, "loop", None)
    saved_timeout = session.timeout_ms
    session.timeout_ms = WAIT_TIMEOUT_MS
    pending = [False]  # a resume is scheduled
    poll: list[Any] = [None]

    def resume() -> None:
        pending[0] = False
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() >= cli_server.HIGH_WATER:
            return  # the transport resumes the reply itself once drained
        proto.resume_writing()

    def wake() -> None:
        if not pending[0] and loop is not None:
            pending[0] = True
            loop.call_soon(resume)

    def look() -> None:
        poll[0] = None
        if session.buffered or getattr(session, "_eof", False):
            wake()
        elif loop is not None and not transport.is_closing():
            poll[0] = loop.call_later(POLL_INTERVAL, look)

    ring.waiters.add(wake)
    try:
        while True:
            lines, seq = ring.read(seq)
            if lines:
                yield "".join(line + "\n" for line in lines)
                continue
            if getattr(session, "_eof", False):
                return
            if session.buffered:
                buf = getattr(session, "_buf", None)
                if isinstance(buf, bytearray):
                    buf.clear()  # "any input (which will be discarded)"
                return
            if poll[0] is None and loop is not None:
                poll[0] = loop.call_later(POLL_INTERVAL, look)
            proto.pause_writing()
            yield _NOTHING
    finally:
        ring.waiters.discard(wake)
        if poll[0] is not None:
            poll[0].cancel()
        session.timeout_ms = saved_timeout
