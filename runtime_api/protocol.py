"""Sans-IO stats-socket line protocol (HAProxy 2.6 CLI framing).

``CliSession`` takes the bytes a client sends and returns what to write back; it never
touches a socket.  The rules it reproduces:

* A command runs only once its line is complete: ``\\n`` ends a line (a ``\\r`` before it
  is dropped) and an unescaped ``;`` ends a command inside a line.  A final line without
  ``\\n`` never runs.  ``\\`` escapes the next character (``\\;`` is a literal ``;``,
  ``\\ `` keeps a space inside a word, ``\\\\`` is a backslash).
* Every reply is followed by the terminator ``\\n`` (``\\n> `` in prompt mode).
* Non-interactive (default): after a reply, if nothing else is buffered the session closes;
  lines received together run in order (a later line is lost).
* ``<<`` at the end of a line starts a payload: the following lines, up to an empty line,
  are handed to the command joined with ``\\n``.  In prompt mode each payload line is
  acknowledged with ``+ ``.
* ``prompt`` toggles interactive mode; ``quit`` closes without output.

Outputs are ``bytes`` or a lazy iterator of ``bytes``.  A lazy iterator is always the
last item returned: the session stops running commands (so later commands see the state
after the dump) until the I/O shell has drained it and calls :meth:`CliSession.resume`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from runtime_api.registry import (
    LOG_ERR,
    CliError,
    CliMessage,
    Level,
    Reply,
    SeverityOutput,
    render,
)

__all__ = ["CliSession", "Dispatch", "Output", "collect", "split_args"]

log = logging.getLogger(__name__)

Output = bytes | Iterator[bytes]
Dispatch = Callable[["CliSession", list[str], "str | None"], Reply]

PAYLOAD_PATTERN = "<<"
MAX_ARGS = 64  # HAProxy's MAX_CLI_ARGS: extra words are ignored
MAX_LINE = 16384  # a line longer than a buffer closes the session, as in HAProxy
DEFAULT_TIMEOUT_MS = 10_000
ENCODING = "utf-8"
ERRORS = "surrogateescape"  # bytes that are not UTF-8 round-trip unchanged


def split_args(line: str) -> tuple[list[str], bool]:
    """Split one command into words; the flag tells whether a ``<<`` word ended it.

    Words are separated by spaces/tabs; a backslash keeps the next character in the word
    and is then removed (``\\\\`` gives one backslash).
    """
    args: list[str] = []
    pos, end = 0, len(line)
    while len(args) < MAX_ARGS and pos < end:
        while pos < end and line[pos] in " \t":
            pos += 1
        if pos >= end:
            break
        if line[pos:] == PAYLOAD_PATTERN:
            return args, True
        word: list[str] = []
        while pos < end and line[pos] not in " \t":
            char = line[pos]
            if char == "\\":
                if pos + 1 >= end:
                    pos += 1
                    break
                word.append(line[pos + 1])
                pos += 2
                continue
            word.append(char)
            pos += 1
        args.append("".join(word))
        pos += 1
    return args, False


class CliSession:
    """One stats-socket connection's protocol state."""

    __slots__ = (
        "dispatch",
        "level",
        "severity_output",
        "timeout_ms",
        "interactive",
        "closed",
        "waiting",
        "_buf",
        "_eof",
        "_payload_cmd",
        "_payload_lines",
        "_nolf",
        "_quit",
        "_tail",
    )

    def __init__(
        self,
        dispatch: Dispatch,
        level: Level = Level.ADMIN,
        *,
        severity_output: SeverityOutput = SeverityOutput.NONE,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> None:
        self.dispatch = dispatch
        self.level = level
        self.severity_output = severity_output
        self.timeout_ms = timeout_ms  # idle timeout; ``set timeout cli`` changes it
        self.interactive = False
        self.closed = False
        self.waiting = False  # a lazy output is being drained by the I/O shell
        self._buf = bytearray()
        self._eof = False
        self._payload_cmd: str | None = None
        self._payload_lines: list[str] = []
        self._nolf = False
        self._quit = False
        self._tail = b""

    # -- hooks for commands -----------------------------------------------------------

    def toggle_prompt(self) -> None:
        self.interactive = not self.interactive

    def request_quit(self) -> None:
        """Close right away, without reply or terminator (``quit``)."""
        self._quit = True

    def suppress_terminator(self) -> None:
        """Do not write the terminator after the current reply (``user -``/``operator -``)."""
        self._nolf = True

    # -- I/O side ---------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Output]:
        """Buffer ``data`` and run every complete command it makes available."""
        if self.closed:
            return []
        self._buf += data
        if self.waiting:
            return []
        return self._run()

    def resume(self) -> list[Output]:
        """Call once the lazy output returned last has been fully written."""
        if not self.waiting:
            return []
        self.waiting = False
        out: list[Output] = [self._tail] if self._tail else []
        self._tail = b""
        self._after_reply()
        if not self.closed:
            out += self._run()
        return out

    def eof(self) -> list[Output]:
        """The client will send nothing more: finish what is buffered, then close."""
        self._eof = True
        if self.closed or self.waiting:
            return []
        return self._run()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed (for read back-pressure)."""
        return len(self._buf)

    # -- core -------------------------------------------------------------------------

    def _run(self) -> list[Output]:
        out: list[Output] = []
        while not self.closed and not self.waiting:
            line = self._next_line()
            if line is None:
                break
            if self._payload_cmd is not None:
                if line:
                    self._payload_lines.append(line)
                    if self.interactive:
                        out.append(b"+ ")
                    continue
                cmd, payload = self._payload_cmd, "\n".join(self._payload_lines)
                self._payload_cmd, self._payload_lines = None, []
                self._execute(cmd, payload, out)
            elif line.endswith(PAYLOAD_PATTERN):
                self._payload_cmd = line
                if self.interactive:
                    out.append(b"+ ")
            else:
                self._execute(line, None, out)
        if self._eof and not self.waiting:
            self.closed = True
        return out

    def _next_line(self) -> str | None:
        """Cut the next command off the buffer (``None`` if it is not complete yet)."""
        buf = self._buf
        end = len(buf)
        if self._payload_cmd is not None:
            pos = buf.find(b"\n")
        else:
            pos = 0
            while pos < end:
                byte = buf[pos]
                if byte == 0x5C:  # backslash: the next byte is never a separator
                    pos += 2
                    continue
                if byte in (0x0A, 0x3B):  # \n ;
                    break
                pos += 1
            if pos >= end:
                pos = -1
        if pos < 0:
            if end >= MAX_LINE:
                self.closed = True
            return None
        raw = bytes(buf[:pos])
        del buf[: pos + 1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        return raw.decode(ENCODING, ERRORS)

    def _execute(self, line: str, payload: str | None, out: list[Output]) -> None:
        args, has_payload = split_args(line)
        try:
            reply = self.dispatch(self, args, payload if has_payload else None)
        except CliError as err:
            reply = err.render(self.severity_output)
        except Exception:  # never show a traceback to a socket user
            log.exception("stats socket command failed: %r", line)
            reply = render("Internal error.\n", LOG_ERR, self.severity_output)
        if self._quit:
            self.closed = True
            return
        tail = self._terminator()
        if reply is None or isinstance(reply, str):
            if isinstance(reply, CliMessage):
                reply = render(reply, reply.severity, self.severity_output)
            data = reply.encode(ENCODING, ERRORS) if reply else b""
            if data or tail:
                out.append(data + tail)
            self._after_reply()
            return
        out.append(self._stream(reply))
        self._tail = tail
        self.waiting = True

    def _terminator(self) -> bytes:
        if self.interactive:
            tail = b"\n> "
        elif self._nolf:
            tail = b""
        else:
            tail = b"\n"
        self._nolf = False
        return tail

    def _after_reply(self) -> None:
        """Non-interactive sessions end once nothing more is buffered (HAProxy's rule)."""
        if self._quit or (not self.interactive and not self._buf and self._payload_cmd is None):
            self.closed = True

    def _stream(self, reply: Iterable[str]) -> Iterator[bytes]:
        """Encode a lazy reply; an error raised midway is written like HAProxy's errors."""
        try:
            for piece in reply:
                if isinstance(piece, CliMessage):
                    piece = render(piece, piece.severity, self.severity_output)
                if piece:
                    yield piece.encode(ENCODING, ERRORS)
        except CliError as err:
            yield err.render(self.severity_output).encode(ENCODING, ERRORS)
        except Exception:
            log.exception("stats socket output failed")
            yield render("Internal error.\n", LOG_ERR, self.severity_output).encode()


def collect(session: CliSession, data: bytes, *, eof: bool = True) -> bytes:
    """Feed ``data`` and return everything written back, draining lazy outputs (tests, tools)."""
    chunks: list[bytes] = []
    pending = session.feed(data)
    if eof:
        pending += session.eof()
    while pending:
        item = pending.pop(0)
        if isinstance(item, bytes):
            chunks.append(item)
            continue
        chunks.extend(item)
        pending += session.resume()
        if eof and not session.closed and not session.waiting:
            pending += session.eof()
    return b"".join(chunks)
