"""The `ring` section: `description`, `format`, `maxlen`, `size`, `timeout
connect|server` and `server` lines (TCP syslog servers fed from the ring).

Everything here fills the model (`RingConf`); the live buffers are
`lb.logging_.ring`'s. The messages are the ones HAProxy 2.6 prints for the same
mistakes (checked against haproxy 2.6.12).
"""

from __future__ import annotations

from typing import Any

from lb.config.addr import parse_server_addr
from lb.config.errors import LexError
from lb.config.keywords import KEYWORDS, Handler, ParseContext, ServerError, keyword
from lb.config.model import Config, RingConf, RingServerConf, ServerConf, Where
from lb.config.units import atol

#: sinks that always exist; a `ring` may not reuse their names
BUILTIN_SINKS = ("stdout", "stderr", "buf0")
#: the formats a ring stores its lines in (as the `log` keyword's)
RING_FORMATS = ("local", "rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw")
_TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}


class _RingTable(dict[str, Handler]):
    """The section's keyword table: a word it does not know is HAProxy's
    "unknown statement", not the generic "unknown keyword ... in section"."""

    def get(self, key: str, default: Any = None) -> Handler:  # type: ignore[override]
        return super().get(key) or _unknown


def _unknown(ctx: ParseContext, sec: RingConf, words: list[str], where: Where, n: bool) -> None:
    raise where.error(f"unknown statement '{words[0]}'.")


KEYWORDS["ring"] = _RingTable(KEYWORDS.get("ring", {}))
_SECTION = ("ring",)


def open_section(ctx: ParseContext, words: list[str], where: Where) -> None:
    """`ring <name>`: a new section (the parser calls this on its header)."""
    if len(words) < 2 or not words[1]:
        raise where.error("missing ring name.")
    name = words[1]
    if name in BUILTIN_SINKS or name in ctx.cfg.rings:
        raise where.error(f"sink named '{name}' already exists.")
    sec = RingConf(name=name, where=where)
    ctx.cfg.rings[name] = sec
    ctx.section = sec


@keyword("description", _SECTION)
def _description(ctx: ParseContext, sec: RingConf, words: list[str], where: Where, n: bool) -> None:
    if len(words) < 2 or not words[1]:
        raise where.error("missing ring description text.")
    sec.description = words[1]  # HAProxy keeps the first word only


@keyword("format", _SECTION)
def _format(ctx: ParseContext, sec: RingConf, words: list[str], where: Where, n: bool) -> None:
    fmt = words[1] if len(words) > 1 else ""
    if fmt not in RING_FORMATS:
        raise where.error(f"unknown format '{fmt}'.")
    sec.format = fmt


@keyword("maxlen", _SECTION)
def _maxlen(ctx: ParseContext, sec: RingConf, words: list[str], where: Where, n: bool) -> None:
    text = words[1] if len(words) > 1 else ""
    value = atol(text)
    if value <= 0:
        raise where.error(f"invalid size '{text}' for new sink buffer.")
    sec.maxlen = value


@keyword("size", _SECTION)
def _size(ctx: ParseContext, sec: RingConf, words: list[str], where: Where, n: bool) -> None:
    text = words[1] if len(words) > 1 else ""
    value = atol(text)
    if value <= 0:
        raise where.error(f"invalid size '{text}' for new sink buffer.")
    if value < sec.size:  # a ring only grows
        ctx.warn(
            where,
            f"ignoring new size '{value}' that is smaller than current size '{sec.size}' "
            f"for ring '{sec.name}'.",
        )
        return
    sec.size = value


def ring_time(text: str, kw: str, where: Where) -> int:
    """Milliseconds of a `timeout connect|server` value, refused as HAProxy words it."""
    i = len(text) - len(text.lstrip("0123456789"))
    rest = text[i:]
    unit = next((u for u in ("us", "ms", "s", "m", "h", "d") if rest.startswith(u)), "")
    if not i or rest != unit:
        bad = text[0] if not i else rest[len(unit)]
        raise LexError(
            f"unexpected character '{bad}' in argument to <{kw}>.", where.file, where.line
        )
    factor = _TIME_UNITS[unit] if unit else 1
    return int(int(text[:i]) * factor) if factor >= 1 else -(-int(text[:i]) // 1000)


@keyword("timeout", _SECTION)
def _timeout(ctx: ParseContext, sec: RingConf, words: list[str], where: Where, n: bool) -> None:
    which = words[1] if len(words) > 1 else ""
    if which not in ("connect", "server"):
        return  # HAProxy 2.6 ignores the other timeouts of a ring silently
    kw = f"timeout {which}"
    if len(words) < 3 or not words[2]:
        raise where.error(f"'{kw}' expects <time> as argument.")
    ms = ring_time(words[2], kw, where)
    if which == "connect":
        sec.timeout_connect = ms
    else:
        sec.timeout_server = ms


@keyword("backing-file", _SECTION)
def _backing_file(
    ctx: ParseContext, sec: RingConf, words: list[str], where: Where, n: bool
) -> None:
    raise where.error(f"'{words[0]}' is not supported.")


@keyword("server", _SECTION)
def _server(ctx: ParseContext, sec: RingConf, words: list[str], where: Where, n: bool) -> None:
    if len(words) < 3 or not words[1] or not words[2]:
        ctx.errors.append(f"[{where}] : 'server' expects <name> and <addr>[:<port>] as arguments.")
        return
    name = words[1]
    try:
        addr = parse_server_addr(words[2])
    except ValueError as exc:
        ctx.errors.append(f"[{where}] : 'server {sec.name}/{name}' : {exc}")
        return
    srv = RingServerConf(name=name, where=where)
    if addr.family == "sockpair":
        ctx.errors.append(
            f"[{where}] : 'server {sec.name}/{name}' : a socket pair is not usable here."
        )
        return
    if addr.family in ("unix", "abns"):
        srv.path = addr.path
        if addr.family == "abns":
            srv.path = "\0" + srv.path
    else:
        srv.host, srv.port = addr.host, addr.port
    rest: list[str] = []
    opts = words[3:]
    i = 0
    while i < len(opts):
        if opts[i] == "log-proto":
            proto = opts[i + 1] if i + 1 < len(opts) else ""
            if proto not in ("legacy", "octet-count"):
                ctx.errors.append(
                    f"[{where}] : 'server {sec.name}/{name}' : 'log-proto' expects one of "
                    f"'legacy' or 'octet-count' but got '{proto}'."
                )
                return
            srv.log_proto = proto
            i += 2
            continue
        rest.append(opts[i])
        i += 1
    # the other server keywords are accepted (and checked) as on a backend's server line;
    # most mean nothing to a ring
    from lb.config.keywords import _server_options

    try:
        _server_options(ServerConf(name, srv.host, srv.port, where), rest, where, "server")
    except ServerError as exc:
        ctx.errors.append(exc.render(sec.name))
        return
    sec.servers.append(srv)


def validate(cfg: Config, errors: list[str]) -> None:
    """Remarks that need the whole section: a ring that forwards to servers is a
    backend to HAProxy, which warns when it has no connect and server timeouts."""
    for sec in cfg.rings.values():
        if sec.servers and (sec.timeout_connect is None or sec.timeout_server is None):
            cfg.warnings.append(
                f"missing timeouts for backend '{sec.name}'.\n"
                "While not properly invalid, you will certainly encounter various problems\n"
                "with such a configuration. To fix this, please ensure that all following\n"
                "timeouts are set to a non-zero value: 'client', 'connect', 'server'."
            )
