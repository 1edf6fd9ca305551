"""Runtime API command registry: HAProxy's ``cli_register_kw`` idea in Python.

One table drives both dispatch and ``help``:

* ``HAPROXY_26_HELP`` is the complete help list of HAProxy 2.6.12 (``help`` on an admin
  socket), in HAProxy's order.  It is the single source of the help lines: modules that
  implement a listed command register a handler *by words* and never restate the text.
* A command that is listed but has no handler yet answers exactly like HAProxy answers a
  keyword that is not available in the current mode: the "Unknown command, but maybe one
  of the following ones is a better match:" reply, which for a complete keyword shows
  that keyword's own help line.  This keeps ``help`` byte-identical while making clear,
  in HAProxy's own words, that the command cannot run here.
* Commands that HAProxy does not list (extras) are hidden from ``help`` unless they are
  registered with a usage text, in which case they are listed in sorted position.

Handlers have the signature ``handler(ctx, args, payload)`` where ``args`` is the whole
command line split into words (keywords included, as HAProxy's ``args[]``), ``payload`` the
text gathered by the ``<<`` form (``None`` without it).  They return a ``str`` (written
raw), a ``CliMessage`` (written with the severity-output prefix, like ``cli_msg()``), an
iterable of ``str`` (streamed lazily with back-pressure) or ``None`` (silent success), and
raise ``CliError`` for failures (written with the error severity prefix, like
``cli_err()``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime_api.protocol import CliSession

__all__ = [
    "HAPROXY_26_HELP",
    "LOG_ERR",
    "LOG_INFO",
    "LOG_NOTICE",
    "LOG_WARNING",
    "CliError",
    "CliMessage",
    "Command",
    "CommandContext",
    "HelpEntry",
    "Level",
    "REGISTRY",
    "Registry",
    "Reply",
    "SeverityOutput",
    "arg",
    "fingerprint_distance",
    "word_fingerprint",
    "command",
    "render",
]


class Level(IntEnum):
    """Access level of a stats socket session (``level`` on the ``stats socket`` line)."""

    USER = 0
    OPERATOR = 1
    ADMIN = 2


class SeverityOutput(IntEnum):
    """``set severity-output`` modes."""

    NONE = 0
    NUMBER = 1
    STRING = 2


LOG_ERR = 3
LOG_WARNING = 4
LOG_NOTICE = 5
LOG_INFO = 6
SEVERITY_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

PERMISSION_DENIED = "Permission denied\n"
MAX_PREFIX_WORDS = 5  # HAProxy compares at most this many keywords (CLI_PREFIX_KW_NB)
MAX_MATCHES = 5  # at most this many fuzzy suggestions (CLI_MAX_MATCHES)

HELP_HEADER = "The following commands are valid at this level:\n"
UNKNOWN_HEADER = "Unknown command. Please enter one of the following commands only:\n"
MAYBE_HEADER = "Unknown command, but maybe one of the following ones is a better match:\n"
HELP_TRAILER = (
    "  help [<command>]                        : list matching or all commands\n"
    "  prompt                                  : toggle interactive mode with prompt\n"
    "  quit                                    : disconnect\n"
)


def render(text: str, severity: int, mode: SeverityOutput | int) -> str:
    """Prefix ``text`` with ``[N]: `` or ``[name]: `` according to the severity-output mode."""
    if mode == SeverityOutput.NUMBER:
        return f"[{severity}]: {text}"
    if mode == SeverityOutput.STRING:
        return f"[{SEVERITY_NAMES[severity]}]: {text}"
    return text


class CliError(Exception):
    """A failed command; its sentence is what the user sees.

    A trailing ``\\n`` is added unless the text already ends with one or ``newline=False``
    is given: a handful of HAProxy messages lack it (``maxconn string empty or preceded by
    garbage``, ``provided port is not an integer``...), so their reply ends with only the
    terminator and no blank line.
    """

    def __init__(self, message: str, *, newline: bool = True, severity: int = LOG_ERR) -> None:
        super().__init__(message)
        if newline and not message.endswith("\n"):
            message += "\n"
        self.text = message
        self.severity = severity

    def render(self, mode: SeverityOutput | int) -> str:
        return render(self.text, self.severity, mode)


class CliMessage(str):
    """A reply that HAProxy sends through ``cli_msg()``: prefixed when severity-output is set.

    Plain ``str`` replies are written raw, as HAProxy's I/O handlers do (``get weight``,
    ``show stat``...); informational sentences (``show cli level``, ``show version``,
    ``TLS ticket key updated!``) are ``CliMessage`` so that ``set severity-output`` prefixes
    them with ``[6]: `` exactly as HAProxy does.
    """

    severity: int

    def __new__(cls, text: str, severity: int = LOG_INFO) -> CliMessage:
        obj = super().__new__(cls, text)
        obj.severity = severity
        return obj


Reply = str | Iterable[str] | None
Handler = Callable[["CommandContext", list[str], "str | None"], Reply]


def arg(args: list[str], index: int) -> str:
    """``args[index]`` or ``""`` past the end, like HAProxy's zero-filled ``args[]``."""
    return args[index] if index < len(args) else ""


@dataclass(slots=True)
class CommandContext:
    """What a handler works with: the live state (opaque here) and its CLI session."""

    state: Any
    session: CliSession
    registry: Registry
    loop: asyncio.AbstractEventLoop | None = None

    def require(self, level: Level) -> None:
        """Raise ``Permission denied`` unless the session is at least at ``level``."""
        if self.session.level < level:
            raise CliError(PERMISSION_DENIED)


@dataclass(frozen=True, slots=True)
class HelpEntry:
    """One help line: ``words`` is the keyword sequence, ``usage``/``help`` the two columns."""

    words: tuple[str, ...]
    usage: str
    help: str

    @property
    def line(self) -> str:
        return f"  {self.usage:<40}: {self.help}\n"


@dataclass(slots=True)
class Command:
    """A keyword sequence with its access level and handler (``None`` = listed, not built)."""

    words: tuple[str, ...]
    level: Level = Level.ADMIN
    handler: Handler | None = None
    entry: HelpEntry | None = None
    fingerprint: Counter[tuple[int, int]] = field(default_factory=Counter)


def word_fingerprint(words: Iterable[str]) -> Counter[tuple[int, int]]:
    """Character-transition signature of a word sequence, as HAProxy's fuzzy CLI matcher.

    Each byte is classed as a letter (1..26, case-folded), a digit (27) or anything else
    (28, also used for word begin/end); every transition ``from -> to`` is counted and the
    presence of each class is flagged under ``(0, class)``.
    """
    fp: Counter[tuple[int, int]] = Counter()
    for word in words:
        prev = 28
        for byte in word.encode("utf-8", "surrogateescape"):
            if 97 <= byte <= 122:
                cls = byte - 96
            elif 65 <= byte <= 90:
                cls = byte - 64
            elif 48 <= byte <= 57:
                cls = 27
            else:
                cls = 28
            fp[(0, cls)] = 1
            fp[(prev, cls)] += 1
            prev = cls
        fp[(prev, 28)] += 1
    return fp


def fingerprint_distance(a: Counter[tuple[int, int]], b: Counter[tuple[int, int]]) -> int:
    return sum(abs(a[k] - b[k]) for k in a.keys() | b.keys())


class Registry:
    """A table of commands with HAProxy's lookup, permission and usage-message rules."""

    def __init__(
        self,
        table: Iterable[tuple[str, str, str]] = (),
        hidden: Iterable[str] = (),
        match_order: Iterable[str] = (),
    ) -> None:
        self._commands: dict[tuple[str, ...], Command] = {}
        self._rank = {tuple(w.split()): i for i, w in enumerate(match_order)}
        self._walk: list[Command] | None = None
        for words, usage, help_text in table:
            self._add(tuple(words.split()), HelpEntry(tuple(words.split()), usage, help_text))
        for words in hidden:
            self._add(tuple(words.split()), None)

    def _add(self, words: tuple[str, ...], entry: HelpEntry | None) -> Command:
        cmd = Command(words, entry=entry, fingerprint=word_fingerprint(words))
        self._commands[words] = cmd
        self._walk = None
        return cmd

    def _walk_order(self) -> list[Command]:
        """Commands in matching order: ``match_order`` first, then registration order."""
        if self._walk is None:
            n = len(self._rank)
            cmds = list(self._commands.values())
            self._walk = sorted(cmds, key=lambda c: self._rank.get(c.words, n))
        return self._walk

    # -- registration -----------------------------------------------------------------

    def command(
        self,
        words: str,
        usage: str | None = None,
        help: str | None = None,  # noqa: A002 - mirrors HAProxy's vocabulary
        level: Level = Level.ADMIN,
    ) -> Callable[[Handler], Handler]:
        """Decorator registering ``handler`` for ``words`` (e.g. ``"show stat"``).

        For a command of the HAProxy table, ``usage``/``help`` may be omitted; when given
        they must equal the table's text.  For an extra command they make it visible in
        ``help``; without them it is hidden.
        """

        def decorate(handler: Handler) -> Handler:
            self.register(words, handler, usage=usage, help=help, level=level)
            return handler

        return decorate

    def register(
        self,
        words: str,
        handler: Handler,
        *,
        usage: str | None = None,
        help: str | None = None,  # noqa: A002
        level: Level = Level.ADMIN,
    ) -> Command:
        key = tuple(words.split())
        if not key:
            raise ValueError("empty command words")
        cmd = self._commands.get(key)
        if cmd is None:
            entry = None
            if usage is not None:
                entry = HelpEntry(key, usage, help or "")
            cmd = self._add(key, entry)
        elif cmd.handler is not None:
            raise ValueError(f"command {words!r} is already registered")
        elif cmd.entry is not None and (
            (usage is not None and usage != cmd.entry.usage)
            or (help is not None and help != cmd.entry.help)
        ):
            raise ValueError(f"usage/help of {words!r} differ from the HAProxy help table")
        cmd.handler = handler
        cmd.level = level
        return cmd

    def clone(self, handlers_from: tuple[str, ...] | None = None) -> Registry:
        """An independent copy (same table, order and handlers), e.g. for tests.

        With `handlers_from`, only handlers defined in those modules are kept:
        the other listed commands go back to unimplemented, so a test can
        stand in for them.
        """
        other = Registry()
        other._rank = dict(self._rank)
        for words, cmd in self._commands.items():
            handler = cmd.handler
            if (
                handlers_from is not None
                and handler is not None
                and getattr(handler, "__module__", "") not in handlers_from
            ):
                if cmd.entry is None:
                    continue
                handler = None
            other._commands[words] = Command(
                cmd.words, cmd.level, handler, cmd.entry, cmd.fingerprint
            )
        return other

    # -- lookup -----------------------------------------------------------------------

    def lookup(self, args: list[str]) -> Command | None:
        """The command whose words are the longest prefix of ``args`` (``None`` if none)."""
        for n in range(min(len(args), MAX_PREFIX_WORDS), 0, -1):
            cmd = self._commands.get(tuple(args[:n]))
            if cmd is not None:
                return cmd
        return None

    def entries(self) -> list[HelpEntry]:
        """All visible help entries in help order."""
        return sorted(
            (c.entry for c in self._commands.values() if c.entry is not None),
            key=lambda e: e.line,
        )

    def help_text(self) -> str:
        """The full reply of ``help`` (without the terminator)."""
        return self.usage_message([], is_help=True)

    def usage_message(self, args: list[str], *, is_help: bool = False) -> str:
        """HAProxy's usage reply for ``args`` (``help`` arguments when ``is_help``).

        ``length`` is the largest number of leading words of ``args`` that exactly match some
        keyword.  Words after that are fuzzy-matched against the remaining keywords of the
        commands sharing that prefix (transition-fingerprint distance); the five closest
        within 5/2 of the total length are kept, then any beyond 5/2 of the best are
        dropped.  Without candidates, every command sharing the prefix is listed.
        """
        words: list[str] = []
        for word in args[:MAX_PREFIX_WORDS]:
            if not word:
                break
            words.append(word)
        cmds = self._walk_order()

        length = 0
        for cmd in cmds:
            n = 0
            while n < len(cmd.words) and n < len(words) and cmd.words[n] == words[n]:
                n += 1
            length = max(length, n)

        if is_help:
            out = [HELP_HEADER]
        elif length == 0 and not words:
            out = [UNKNOWN_HEADER]
        else:
            out = [MAYBE_HEADER]

        prefix = tuple(words[:length])
        sharing = [c for c in cmds if c.entry is not None and c.words[:length] == prefix]
        best: list[tuple[int, HelpEntry]] = []
        if len(words) > length:
            rest = words[length:]
            rest_fp = word_fingerprint(rest)
            rest_len = sum(len(w.encode("utf-8", "surrogateescape")) for w in rest)
            for cmd in sharing:
                tail = cmd.words[length:MAX_PREFIX_WORDS]
                total = rest_len + sum(len(w) for w in tail)
                dist = fingerprint_distance(
                    rest_fp, word_fingerprint(tail) if length else cmd.fingerprint
                )
                if dist >= 5 * total // 2:
                    continue
                if len(best) == MAX_MATCHES and dist >= best[-1][0]:
                    continue
                # stable insertion: among equal distances the earlier command stays first
                pos = len(best)
                while pos > 0 and best[pos - 1][0] > dist:
                    pos -= 1
                best.insert(pos, (dist, cmd.entry))  # type: ignore[arg-type]
                del best[MAX_MATCHES:]
        if best:
            limit = 5 * best[0][0] // 2
            selected = [entry for dist, entry in best if dist <= limit]
        else:
            selected = [c.entry for c in sharing if c.entry is not None]
        out.extend(entry.line for entry in sorted(selected, key=lambda e: e.line))
        out.append(HELP_TRAILER)
        return "".join(out)

    # -- dispatch ---------------------------------------------------------------------

    def dispatch(self, ctx: CommandContext, args: list[str], payload: str | None) -> Reply:
        """Run the command for ``args``; unknown or unbuilt commands get the usage reply."""
        cmd = self.lookup(args)
        if cmd is None or cmd.handler is None:
            return CliMessage(self.usage_message(args))
        if ctx.session.level < cmd.level:
            raise CliError(PERMISSION_DENIED)
        return cmd.handler(ctx, args, payload)

    def context_factory(
        self, state: Any, loop: asyncio.AbstractEventLoop | None = None
    ) -> Callable[[CliSession], CommandContext]:
        """A ``make_context`` for ``start_cli_listener``: binds ``state`` and this registry."""

        def make(session: CliSession) -> CommandContext:
            return CommandContext(state=state, session=session, registry=self, loop=loop)

        return make


# The complete ``help`` list of HAProxy 2.6.12 in its order: (keyword words, usage, help).
# ``help``, ``prompt`` and ``quit`` are not in it: HAProxy always appends them (HELP_TRAILER).
HAPROXY_26_HELP: tuple[tuple[str, str, str], ...] = (
    ("abort ssl ca-file", "abort ssl ca-file <cafile>", "abort a transaction for a CA file"),
    ("abort ssl cert", "abort ssl cert <certfile>", "abort a transaction for a certificate file"),
    ("abort ssl crl-file", "abort ssl crl-file <crlfile>", "abort a transaction for a CRL file"),
    ("add acl", "add acl [@<ver>] <acl> <pattern>", "add an acl entry"),
    (
        "add map",
        "add map [@<ver>] <map> <key> <val>",
        "add a map entry (payload supported instead of key/val)",
    ),
    ("add server", "add server <bk>/<srv>", "create a new server"),
    (
        "add ssl crt-list",
        "add ssl crt-list <list> <cert> [opts]*",
        "add to crt-list file <list> a line <cert> or a payload",
    ),
    ("clear acl", "clear acl [@<ver>] <acl>", "clear the contents of this acl"),
    ("clear counters", "clear counters [all]", "clear max statistics counters (or all counters)"),
    ("clear map", "clear map [@<ver>] <map>", "clear the contents of this map"),
    (
        "clear table",
        "clear table <table> [<filter>]*",
        "remove an entry from a table (filter: data/key)",
    ),
    ("commit acl", "commit acl @<ver> <acl>", "commit the ACL at this version"),
    ("commit map", "commit map @<ver> <map>", "commit the map at this version"),
    ("commit ssl ca-file", "commit ssl ca-file <cafile>", "commit a CA file"),
    ("commit ssl cert", "commit ssl cert <certfile>", "commit a certificate file"),
    ("commit ssl crl-file", "commit ssl crl-file <crlfile>", "commit a CRL file"),
    ("del acl", "del acl <acl> [<key>|#<ref>]", "delete acl entries matching <key>"),
    ("del map", "del map <map> [<key>|#<ref>]", "delete map entries matching <key>"),
    ("del server", "del server <bk>/<srv>", "remove a dynamically added server"),
    ("del ssl ca-file", "del ssl ca-file <cafile>", "delete an unused CA file"),
    ("del ssl cert", "del ssl cert <certfile>", "delete an unused certificate file"),
    ("del ssl crl-file", "del ssl crl-file <crlfile>", "delete an unused CRL file"),
    (
        "del ssl crt-list",
        "del ssl crt-list <list> <cert[:line]>",
        "delete a line <cert> from crt-list file <list>",
    ),
    ("disable agent", "disable agent", "disable agent checks"),
    (
        "disable dynamic-cookie backend",
        "disable dynamic-cookie backend <bk>",
        "disable dynamic cookies on a specific backend",
    ),
    ("disable frontend", "disable frontend <frontend>", "temporarily disable specific frontend"),
    ("disable health", "disable health", "disable health checks"),
    (
        "disable server",
        "disable server (DEPRECATED)",
        "disable a server for maintenance (use 'set server' instead)",
    ),
    ("enable agent", "enable agent", "enable agent checks"),
    (
        "enable dynamic-cookie backend",
        "enable dynamic-cookie backend <bk>",
        "enable dynamic cookies on a specific backend",
    ),
    ("enable frontend", "enable frontend <frontend>", "re-enable specific frontend"),
    ("enable health", "enable health", "enable health checks"),
    (
        "enable server",
        "enable server  (DEPRECATED)",
        "enable a disabled server (use 'set server' instead)",
    ),
    ("get acl", "get acl <acl> <value>", "report the patterns matching a sample for an ACL"),
    ("get map", "get map <acl> <value>", "report the keys and values matching a sample for a map"),
    ("get var", "get var <name>", "retrieve contents of a process-wide variable"),
    ("get weight", "get weight <bk>/<srv>", "report a server's current weight"),
    (
        "new ssl ca-file",
        "new ssl ca-file <cafile>",
        "create a new CA file to be used in a crt-list",
    ),
    (
        "new ssl cert",
        "new ssl cert <certfile>",
        "create a new certificate file to be used in a crt-list or a directory",
    ),
    (
        "new ssl crl-file",
        "new ssl crlfile <crlfile>",
        "create a new CRL file to be used in a crt-list",
    ),
    ("operator", "operator", "lower the level of the current CLI session to operator"),
    ("prepare acl", "prepare acl <acl>", "prepare a new version for atomic ACL replacement"),
    ("prepare map", "prepare map <acl>", "prepare a new version for atomic map replacement"),
    (
        "set dynamic-cookie-key backend",
        "set dynamic-cookie-key backend <bk> <k>",
        "change a backend secret key for dynamic cookies",
    ),
    ("set map", "set map <map> [<key>|#<ref>] <value>", "modify a map entry"),
    (
        "set maxconn frontend",
        "set maxconn frontend <frontend> <value>",
        "change a frontend's maxconn setting",
    ),
    ("set maxconn global", "set maxconn global <value>", "change the per-process maxconn setting"),
    ("set maxconn server", "set maxconn server <bk>/<srv>", "change a server's maxconn setting"),
    (
        "set profiling",
        "set profiling <what> {auto|on|off}",
        "enable/disable resource profiling (tasks,memory)",
    ),
    ("set rate-limit", "set rate-limit <setting> <value>", "change a rate limiting value"),
    (
        "set server",
        "set server <bk>/<srv> [opts]",
        "change a server's state, weight, address or ssl",
    ),
    (
        "set severity-output",
        "set severity-output [none|number|string]",
        "set presence of severity level in feedback information",
    ),
    ("set ssl ca-file", "set ssl ca-file <cafile> <payload>", "replace a CA file"),
    ("set ssl cert", "set ssl cert <certfile> <payload>", "replace a certificate file"),
    ("set ssl crl-file", "set ssl crl-file <crlfile> <payload>", "replace a CRL file"),
    (
        "set ssl ocsp-response",
        "set ssl ocsp-response <resp|payload>",
        "update a certificate's OCSP Response from a base64-encode DER",
    ),
    (
        "set ssl tls-key",
        "set ssl tls-key [id|file] <key>",
        "set the next TLS key for the <id> or <file> listener to <key>",
    ),
    (
        "set table",
        "set table <table> key <k> [data.* <v>]*",
        "update or create a table entry's data",
    ),
    ("set timeout", "set timeout [cli] <delay>", "change a timeout setting"),
    (
        "set weight",
        "set weight <bk>/<srv>  (DEPRECATED)",
        "change a server's weight (use 'set server' instead)",
    ),
    ("show acl", "show acl [@<ver>] <acl>]", "report available acls or dump an acl's contents"),
    ("show activity", "show activity", "show per-thread activity stats (for support/developers)"),
    ("show backend", "show backend", "list backends in the current running config"),
    ("show cache", "show cache", "show cache status"),
    ("show cli level", "show cli level", "display the level of the current CLI session"),
    ("show cli sockets", "show cli sockets", "dump list of cli sockets"),
    ("show env", "show env [var]", "dump environment variables known to the process"),
    (
        "show errors",
        "show errors [<px>] [request|response]",
        "report last request and/or response errors for each proxy",
    ),
    ("show events", "show events [<sink>] [-w] [-n]", "show event sink state"),
    ("show fd", "show fd [num]", "dump list of file descriptors in use or a specific one"),
    (
        "show info",
        "show info [desc|json|typed|float]*",
        "report information about the running process",
    ),
    ("show libs", "show libs", "show loaded object files and libraries"),
    ("show map", "show map [@ver] [map]", "report available maps or dump a map's contents"),
    (
        "show peers",
        "show peers [dict|-] [section]",
        "dump some information about all the peers or this peers section",
    ),
    ("show pools", "show pools", "report information about the memory pools usage"),
    (
        "show profiling",
        "show profiling [<what>|<#lines>|byaddr]*",
        "show profiling state (all,status,tasks,memory)",
    ),
    (
        "show resolvers",
        "show resolvers [id]",
        "dumps counters from all resolvers section and associated name servers",
    ),
    ("show schema json", "show schema json", "report schema used for stats"),
    (
        "show servers conn",
        "show servers conn [<backend>]",
        "dump server connections status (all or for a single backend)",
    ),
    (
        "show servers state",
        "show servers state [<backend>]",
        "dump volatile server information (all or for a single backend)",
    ),
    (
        "show sess",
        "show sess [id]",
        "report the list of current sessions or dump this exact session",
    ),
    (
        "show ssl ca-file",
        "show ssl ca-file [<cafile>[:<index>]]",
        (
            "display the SSL CA files used in memory, or the details of a <cafile>, or a single "
            "certificate of index <index> of a CA file <cafile>"
        ),
    ),
    (
        "show ssl cert",
        "show ssl cert [<certfile>]",
        "display the SSL certificates used in memory, or the details of a file",
    ),
    (
        "show ssl crl-file",
        "show ssl crl-file [<crlfile[:<index>>]]",
        (
            "display the SSL CRL files used in memory, or the details of a <crlfile>, or a single "
            "CRL of index <index> of CRL file <crlfile>"
        ),
    ),
    (
        "show ssl crt-list",
        "show ssl crt-list [-n] [<list>]",
        "show the list of crt-lists or the content of a crt-list file <list>",
    ),
    (
        "show ssl ocsp-response",
        "show ssl ocsp-response [id]",
        (
            "display the IDs of the OCSP responses used in memory, or the details of a single "
            "OCSP response"
        ),
    ),
    ("show ssl providers", "show ssl providers", "show loaded SSL providers"),
    ("show startup-logs", "show startup-logs", "report logs emitted during HAProxy startup"),
    (
        "show stat",
        "show stat [desc|json|no-maint|typed|up]*",
        "report counters for each proxy and server",
    ),
    (
        "show table",
        "show table <table> [<filter>]*",
        "report table usage stats or dump this table's contents (filter: data/key)",
    ),
    ("show tasks", "show tasks", "show running tasks"),
    ("show threads", "show threads", "show some threads debugging information"),
    (
        "show tls-keys",
        "show tls-keys [id|*]",
        "show tls keys references or dump tls ticket keys when id specified",
    ),
    ("show trace", "show trace [<module>]", "show live tracing state"),
    ("show version", "show version", "show version of the current process"),
    ("shutdown frontend", "shutdown frontend <frontend>", "stop a specific frontend"),
    ("shutdown session", "shutdown session [id]", "kill a specific session"),
    (
        "shutdown sessions server",
        "shutdown sessions server <bk>/<srv>",
        "kill sessions on a server",
    ),
    (
        "trace",
        "trace [<module>|0] [cmd [args...]]",
        "manage live tracing (empty to list, 0 to stop all)",
    ),
    ("user", "user", "lower the level of the current CLI session to user"),
)

# Keywords HAProxy 2.6 registers without a help line (they still count for matching).
HAPROXY_26_HIDDEN: tuple[str, ...] = (
    "help",
    "prompt",
    "quit",
    "expert-mode",
    "experimental-mode",
    "_getsocks",
)


# Order in which HAProxy 2.6.12 walks its keywords when ranking suggestions: among equally
# distant candidates the first one walked wins.  Inferred by observing which of several
# equally distant commands the real 2.6.12 proposes for a few thousand probe words.
HAPROXY_26_MATCH_ORDER: tuple[str, ...] = (
    "abort ssl ca-file",
    "abort ssl cert",
    "abort ssl crl-file",
    "add server",
    "add ssl crt-list",
    "clear counters",
    "commit ssl ca-file",
    "commit ssl cert",
    "commit ssl crl-file",
    "del ssl cert",
    "del ssl crl-file",
    "del ssl crt-list",
    "del ssl ca-file",
    "disable agent",
    "disable dynamic-cookie backend",
    "disable frontend",
    "disable health",
    "disable server",
    "enable agent",
    "enable dynamic-cookie backend",
    "enable frontend",
    "enable server",
    "new ssl ca-file",
    "new ssl cert",
    "new ssl crl-file",
    "set dynamic-cookie-key backend",
    "set maxconn frontend",
    "set ssl ca-file",
    "set maxconn global",
    "set ssl ocsp-response",
    "set ssl tls-key",
    "set ssl cert",
    "set maxconn server",
    "set ssl crl-file",
    "show cli sockets",
    "show profiling",
    "show schema json",
    "show servers conn",
    "show servers state",
    "show ssl ca-file",
    "show ssl cert",
    "show sess",
    "del server",
    "enable health",
    "clear table",
    "show info",
    "get weight",
    "operator",
    "set timeout",
    "set profiling",
    "show ssl ocsp-response",
    "show ssl providers",
    "show ssl crt-list",
    "show ssl crl-file",
    "show startup-logs",
    "show tls-keys",
    "show stat",
    "set server",
    "set weight",
    "set severity-output",
    "set table",
    "set rate-limit",
    "show peers",
    "show cache",
    "show resolvers",
    "show table",
    "show env",
    "show activity",
    "show cli level",
    "show fd",
    "show backend",
    "show events",
    "show version",
    "show errors",
    "get var",
    "add acl",
    "commit acl",
    "get acl",
    "prepare acl",
    "show libs",
    "show threads",
    "show acl",
    "add map",
    "commit map",
    "del map",
    "get map",
    "set map",
    "show map",
    "show trace",
    "shutdown frontend",
    "shutdown session",
    "shutdown sessions server",
    "user",
    "clear acl",
    "del acl",
    "clear map",
    "prepare map",
    "show pools",
    "show tasks",
    "trace",
)

REGISTRY = Registry(HAPROXY_26_HELP, HAPROXY_26_HIDDEN, HAPROXY_26_MATCH_ORDER)


def command(
    words: str,
    usage: str | None = None,
    help: str | None = None,  # noqa: A002
    level: Level = Level.ADMIN,
) -> Callable[[Handler], Handler]:
    """Register a handler in the worker stats-socket registry (see ``Registry.command``)."""
    return REGISTRY.command(words, usage, help, level)
