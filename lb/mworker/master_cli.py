"""The Master CLI, sans-IO: its command table and the per-connection session.

The master has its own small command set (HAProxy 2.6's master-mode keywords) built on
the Runtime API's ``Registry``, so ``help`` and the "Unknown command" suggestions use
the same matcher as the worker's stats socket.  A command may carry a routing prefix:
``@<relative pid>`` / ``@!<pid>`` send it to a worker, ``@master`` (or ``@0``, ``@``)
keeps it here; a bare prefix changes the session's default target.  The prefix applies
to its own ``;``-separated command only.

``MasterCliSession`` never touches a socket: ``feed()`` buffers bytes and ``next_step()``
returns what the I/O shell must do next: write bytes (``Write``), or send a command to
a worker and write its reply unchanged followed by ``suffix`` (``Forward``).  The shell
performs the forward (with a timeout) and asks for the next step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from runtime_api.protocol import split_args
from runtime_api.registry import (
    CliError,
    CommandContext,
    Level,
    Registry,
)

__all__ = [
    "Forward",
    "MasterCliSession",
    "MasterView",
    "Write",
    "make_registry",
]

# The master's help table, in HAProxy 2.6.12's order: (keyword words, usage, help).
MASTER_HELP: tuple[tuple[str, str, str], ...] = (
    ("@!<pid>", "@!<pid>", "send a command to the <pid> process"),
    ("@<relative pid>", "@<relative pid>", "send a command to the <relative pid> process"),
    ("@master", "@master", "send a command to the master process"),
    ("operator", "operator", "lower the level of the current CLI session to operator"),
    ("reload", "reload", "reload haproxy"),
    ("show cli level", "show cli level", "display the level of the current CLI session"),
    ("show cli sockets", "show cli sockets", "dump list of cli sockets"),
    ("show proc", "show proc", "show processes status"),
    ("show version", "show version", "show version of the current process"),
    ("user", "user", "lower the level of the current CLI session to user"),
)
MASTER_HIDDEN = ("help", "prompt", "quit", "expert-mode", "experimental-mode", "_loadstatus")

UNKNOWN_TARGET = "Can't find the target PID matching the prefix '{}'\n"
LEVEL_DENIED = "Permission denied!\n"
MASTER_PROMPT = "master> "
PAYLOAD_PATTERN = "<<"
MAX_LINE = 16384
_LEVEL_NAMES = {Level.USER: "user", Level.OPERATOR: "operator", Level.ADMIN: "admin"}
# What a forwarded command is prefixed with so the worker runs it at the session's level;
# ``-`` makes the worker's level command reply without even a terminator.
_LEVEL_PREFIX = {Level.ADMIN: "", Level.OPERATOR: "operator -;", Level.USER: "user -;"}


class MasterView(Protocol):
    """What the Master CLI needs from the master process."""

    version: str

    def resolve_target(self, prefix: str) -> int | None:
        """Pid for ``@1``/``@!pid`` (0 for the master itself), ``None`` if unknown."""

    def show_proc(self) -> str: ...

    def request_reload(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Write:
    data: bytes


@dataclass(frozen=True, slots=True)
class Forward:
    """Send ``command`` to worker ``pid``, write its reply unchanged, then ``suffix``."""

    pid: int
    command: bytes
    suffix: bytes


class _Wait:
    """Marker: the current command needs more input before it can run."""


_WAIT = _Wait()
Step = Write | Forward
Handler = Callable[[CommandContext, list[str], "str | None"], str | None]


def make_registry() -> Registry:
    """A fresh master command table with its handlers."""
    reg = Registry(MASTER_HELP, MASTER_HIDDEN)
    reg.register("help", _help, level=Level.USER)
    reg.register("show cli level", _show_cli_level, level=Level.USER)
    reg.register("show cli sockets", _show_cli_sockets, level=Level.USER)
    reg.register("show version", _show_version, level=Level.USER)
    reg.register("show proc", _show_proc, level=Level.USER)
    reg.register("reload", _reload, level=Level.OPERATOR)
    return reg


def _help(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    return ctx.registry.usage_message(args[1:], is_help=True)


def _show_cli_level(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    return _LEVEL_NAMES[ctx.session.level] + "\n"


def _show_cli_sockets(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    # HAProxy 2.6's master lists nothing here: its reply is the bare terminator.
    return ""


def _show_version(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    return ctx.state.version + "\n"


def _show_proc(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    return ctx.state.show_proc()


def _reload(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    session: MasterCliSession = ctx.session  # type: ignore[assignment]
    session.closed = True  # HAProxy closes the connection at once, without a reply
    ctx.state.request_reload()


class MasterCliSession:
    """One Master CLI connection's protocol state."""

    def __init__(self, master: MasterView, registry: Registry, level: Level = Level.ADMIN):
        self.master = master
        self.registry = registry
        self.level = level
        self.interactive = False
        self.closed = False
        self.target = 0  # default target: 0 = master, else a worker pid
        self._buf = bytearray()
        self._eof = False
        self._keep_open = False  # leaving prompt mode does not end the session by itself
        self._ctx = CommandContext(state=master, session=self, registry=registry)  # type: ignore[arg-type]

    # -- I/O side ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if not self.closed:
            self._buf += data

    def eof(self) -> None:
        self._eof = True

    def next_step(self) -> Step | None:
        """The next thing to do, or ``None`` when waiting for more input (or closed)."""
        while not self.closed:
            cmd = self._next_command()
            if cmd is None:
                if self._eof:
                    self.closed = True
                return None
            step = self._execute(cmd)
            if isinstance(step, _Wait):
                return None
            if not self.interactive and not self._buf and not self._keep_open:
                self.closed = True  # non-interactive: done once nothing more is buffered
            self._keep_open = False
            if step is not None:
                return step
        return None

    @property
    def prompt(self) -> str:
        return MASTER_PROMPT if self.target == 0 else f"{self.target}> "

    # -- core -------------------------------------------------------------------------

    def _next_command(self) -> str | None:
        """Cut one command at an unescaped ``;`` or at ``\\n`` (``None`` if incomplete)."""
        buf, pos, end = self._buf, 0, len(self._buf)
        while pos < end:
            byte = buf[pos]
            if byte == 0x5C:  # a backslash protects the next byte
                pos += 2
                continue
            if byte in (0x0A, 0x3B):
                break
            pos += 1
        if pos >= end:
            if end >= MAX_LINE:
                self.closed = True
            return None
        raw = bytes(buf[:pos])
        del buf[: pos + 1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        return raw.decode("utf-8", "surrogateescape")

    def _take_payload(self) -> str | None:
        """Lines up to an empty one, for a forwarded ``<<`` command (``None``: incomplete)."""
        end = self._buf.find(b"\n\n")
        if end < 0:
            return None
        text = bytes(self._buf[:end]).decode("utf-8", "surrogateescape")
        del self._buf[: end + 2]
        return text

    def _terminated(self, text: str) -> Write:
        tail = "\n" + self.prompt if self.interactive else "\n"
        return Write((text + tail).encode("utf-8", "surrogateescape"))

    def _execute(self, cmd: str) -> Step | _Wait | None:
        body = cmd.lstrip(" \t")
        target = self.target
        if body.startswith("@"):
            prefix, rest = _split_prefix(body)
            pid = self.master.resolve_target(prefix)
            if pid is None:
                self.closed = True
                return Write(UNKNOWN_TARGET.format(prefix).encode())
            body = rest.lstrip(" \t")
            if not body:
                self.target = pid  # a bare prefix changes where the next commands go
                return Write(self.prompt.encode()) if self.interactive else None
            target = pid
        if target != 0:
            return self._forward(target, body, cmd)
        return self._run_local(body)

    def _forward(self, pid: int, body: str, cmd: str) -> Step | _Wait | None:
        text = _LEVEL_PREFIX[self.level] + body + "\n"
        if body.rstrip().endswith(PAYLOAD_PATTERN):
            payload = self._take_payload()
            if payload is None:
                if self._eof:
                    self.closed = True
                    return None
                # not complete yet: put the command back and wait for the rest
                self._buf[:0] = (cmd + "\n").encode("utf-8", "surrogateescape")
                return _WAIT
            text += payload + "\n\n"
        suffix = self.prompt.encode() if self.interactive else b""
        return Forward(pid, text.encode("utf-8", "surrogateescape"), suffix)

    def _run_local(self, body: str) -> Step | None:
        args, _payload = split_args(body)
        head = args[0] if args else ""
        if head == "prompt":
            self.interactive = not self.interactive
            self._keep_open = not self.interactive
            return Write(self.prompt.encode()) if self.interactive else None
        if head == "quit":
            self.closed = True
            return None
        if head in ("operator", "user"):
            return self._lower_level(Level.OPERATOR if head == "operator" else Level.USER)
        try:
            reply = self.registry.dispatch(self._ctx, args, None)
        except CliError as err:
            reply = err.text
        if self.closed:  # reload
            return None
        return self._terminated(str(reply) if reply is not None else "")

    def _lower_level(self, level: Level) -> Step | None:
        """Levels only go down; the master's level commands never write a terminator."""
        if self.level < level:
            self.closed = True  # HAProxy's master drops the connection after this one
            return Write(LEVEL_DENIED.encode())
        self.level = level
        return Write(self.prompt.encode()) if self.interactive else None


def _split_prefix(body: str) -> tuple[str, str]:
    """``@1 show info`` -> (``@1``, ``show info``)."""
    for i, char in enumerate(body):
        if char in " \t":
            return body[:i], body[i + 1 :]
    return body, ""
