"""Configuration of email alerts: the `mailers` section (`mailer`, `timeout mail`)
and the proxy keyword `email-alert mailers|from|to|level|myhostname`.

Everything here fills the model; sending is lb.mailers' job. The messages are
the ones HAProxy 2.6 prints for the same mistakes (checked with `haproxy -c`),
including its quirks: a missing value after `email-alert from` is taken as an
empty address, and a bad level names the words the other way round.
"""

from __future__ import annotations

from lb.config.addr import default_resolver, parse_server_addr
from lb.config.keywords import ALL, KEYWORDS, ParseContext, keyword
from lb.config.model import Config, MailersConf, ProxyConf, Where
from lb.config.units import TimeError, parse_time

KEYWORDS.setdefault("mailers", {})
_SECTION = ("mailers",)

#: syslog levels, most severe first: a message is mailed when its level is at
#: most the proxy's (`email-alert level`, default alert)
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
DEFAULT_LEVEL = 1  # alert

_IGNORED = (
    "'email-alert' will be ignored for {kind} '{name}' (the presence any of "
    "'email-alert from', 'email-alert level' 'email-alert mailers', "
    "'email-alert myhostname', or 'email-alert to' requires each of "
    "'email-alert from', 'email-alert mailers' and 'email-alert to' to be present)."
)

# what may appear in a name besides letters and digits (HAProxy's invalid_char)
_NAME_CHARS = frozenset(".-_:")


# ---------------------------------------------------------------- the section


def open_section(ctx: ParseContext, words: list[str], where: Where) -> None:
    """`mailers <name>`: a new section (the parser calls this on its header)."""
    if len(words) < 2 or not words[1]:
        raise where.error("missing name for mailers section.")
    name = words[1]
    sec = MailersConf(name=name, where=where)
    old = ctx.cfg.mailers.get(name)
    if old is not None:
        ctx.errors.append(
            f"Parsing [{where}]: mailers section '{name}' has the same name as another "
            f"mailers section declared at {old.where}."
        )
    else:
        ctx.cfg.mailers[name] = sec
    ctx.section = sec  # (a duplicate's lines are still checked, then dropped)


def _bad_char(name: str) -> str | None:
    for c in name:
        if not (c.isascii() and c.isalnum()) and c not in _NAME_CHARS:
            return c
    return None


def parse_mailer_addr(text: str) -> tuple[str, int]:
    """(ip, port) of a mailer's `<addr>:<port>`; a host name is resolved now, as
    HAProxy does. ValueError carries HAProxy's wording (HAProxy follows some of
    these alerts with an empty line, lb does not)."""
    if text.lower().startswith(("unix@", "abns@")) or text.startswith("/"):
        raise ValueError("TCP not supported for this address family.")
    addr = parse_server_addr(text)
    if addr.family in ("unix", "abns", "sockpair"):
        raise ValueError("TCP not supported for this address family.")
    if addr.port_offset:
        raise ValueError(f"port offset not permitted here in '{text}'")
    rest = text.partition("@")[2] if "@" in text else text
    if ":" not in rest.rpartition("]")[2]:
        raise ValueError(f"missing port specification in '{text}'")
    if addr.port <= 0:
        raise ValueError(f"invalid port '{rest.rpartition(':')[2]}'")
    host = addr.host
    if addr.resolve:
        import socket

        fam = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}.get(addr.family, 0)
        found = default_resolver(host, fam)
        if found is None:
            raise ValueError(f"invalid address: '{host}' in '{text}'")
        host = found
    return host, addr.port


@keyword("mailer", _SECTION)
def _mailer(ctx: ParseContext, sec: MailersConf, words: list[str], where: Where, n: bool) -> None:
    if len(words) < 3 or not words[2]:
        raise where.error("'mailer' expects <name> and <addr>[:<port>] as arguments.")
    name, text = words[1], words[2]
    bad = _bad_char(name)
    if bad is not None:
        raise where.error(f"character '{bad}' is not permitted in server name '{name}'.")
    try:
        host, port = parse_mailer_addr(text)
    except ValueError as exc:
        raise where.error(f"'mailer {name}' : {exc}") from None
    sec.mailers.append((name, host, port, where))


@keyword("timeout", _SECTION)
def _timeout(ctx: ParseContext, sec: MailersConf, words: list[str], where: Where, n: bool) -> None:
    what = words[1] if len(words) > 1 else ""
    if what != "mail":
        raise where.error(f"'timeout' expects 'mail' and <time> as arguments got '{what}'.")
    if len(words) < 3 or not words[2]:
        raise where.error("'timeout mail' expects <time> as argument.")
    text = words[2]
    try:
        sec.timeout_mail = parse_time(text)
    except TimeError as exc:
        if exc.kind == "overflow":
            msg = (
                f"timer overflow in argument <{text}> to <timeout mail>, maximum value is "
                "2147483647 ms (~24.8 days)."
            )
        else:
            msg = f"unexpected character '{exc.char}' in argument to <timeout mail>."
        ctx.errors.append(f"parsing [{where}]: {msg}")


# ---------------------------------------------------------------- proxies


@keyword("email-alert", ALL)
def _email_alert(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    if len(words) < 2 or not words[1]:
        raise where.error("missing argument after 'email-alert'.")
    what = words[1]
    value = words[2] if len(words) > 2 else ""
    if what in ("mailers", "from", "to", "myhostname"):
        p.email_alert[what] = value  # (HAProxy takes a missing value as "")
    elif what == "level":
        if value not in LOG_LEVELS:
            raise where.error(f"unknown log level '{what}' after '{value}'")
        p.email_alert["level"] = LOG_LEVELS.index(value)
    else:
        raise where.error(f"email-alert: unknown argument '{what}'.")
    p.email_alert["set"] = True


def _kind(p: ProxyConf) -> str:
    return "proxy" if p.kind == "listen" else p.kind


def check_proxy(cfg: Config, p: ProxyConf, errors: list[str]) -> None:
    """An incomplete `email-alert` set is dropped with a warning; a complete one
    must name an existing `mailers` section."""
    ea = p.email_alert
    if not ea.get("set"):
        return
    if not all(k in ea for k in ("mailers", "from", "to")):
        cfg.warnings.append(_IGNORED.format(kind=_kind(p), name=p.name))
        p.email_alert = {}
        return
    if ea["mailers"] not in cfg.mailers:
        errors.append(f"Proxy '{p.name}': unable to find mailers '{ea['mailers']}'.")


def check_sections(cfg: Config) -> None:
    """A `mailers` section that no proxy's complete `email-alert` uses is dropped with
    a warning (HAProxy names them last declared first)."""
    used = {p.email_alert.get("mailers") for p in cfg.proxies if p.email_alert.get("set")}
    for name in reversed(list(cfg.mailers)):
        if name not in used:
            cfg.warnings.append(f"Removing incomplete section 'mailers {name}'.")
            del cfg.mailers[name]
