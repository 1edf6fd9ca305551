"""The keyword registry: one row per configuration keyword and section.

A handler takes `(ctx, section, words, where, negate)` and fills the model;
`negate` is True for the `no option …` / `no log` forms. A keyword absent
from a section's table is an "unknown keyword" alert naming file and line.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from lb.config.addr import parse_bind, parse_server_addr
from lb.config.errors import ConfigError, LexError
from lb.config.model import (
    BindConf,
    Config,
    GlobalConf,
    HttpErrorsConf,
    LogConf,
    PeersConf,
    ProgramConf,
    ProxyConf,
    Rule,
    ServerConf,
    UserlistConf,
    Where,
)
from lb.config.units import TimeError, atol, format_time_error, parse_size, parse_time

Handler = Callable[["ParseContext", Any, list[str], Where, bool], None]

SECTION_STARTERS = frozenset(
    {
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "program",
        "peers",
        "userlist",
        "resolvers",
        "mailers",
        "cache",
        "ring",
        "http-errors",
    }
)

PROXY_KINDS = ("defaults", "frontend", "backend", "listen")
FE = frozenset({"defaults", "frontend", "listen"})
BE = frozenset({"defaults", "backend", "listen"})
ALL = frozenset(PROXY_KINDS)

KEYWORDS: dict[str, dict[str, Handler]] = {
    k: {} for k in ("global", *PROXY_KINDS, "program", "peers", "userlist", "http-errors")
}


@dataclass
class ParseContext:
    cfg: Config
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    section: Any = None
    section_kind: str = ""
    last_defaults: ProxyConf | None = None

    #: the environment `${NAME}` reads from; `setenv` and friends change it
    env: MutableMapping[str, str] = field(default_factory=lambda: os.environ)

    def warn(self, where: Where, msg: str) -> None:
        self.warnings.append(f"parsing [{where}] : {msg}")

    def alert(self, where: Where, msg: str) -> None:
        """A remark HAProxy prints as an [ALERT] though the file stays valid."""
        self.warnings.append(Alert(f"parsing [{where}] : {msg}"))

    def alert_raw(self, where: Where, msg: str) -> None:
        """The same, in the spelling some keywords use (no space before the colon)."""
        self.warnings.append(Alert(f"parsing [{where}]: {msg}"))


class Alert(str):
    """A non-fatal configuration remark printed at [ALERT] level, not [WARNING]."""


def remark_level(remark: str) -> str:
    """The level a configuration remark is printed at."""
    return "ALERT" if isinstance(remark, Alert) else "WARNING"


def keyword(name: str, sections: frozenset[str] | tuple[str, ...]) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for s in sections:
            KEYWORDS[s][name] = fn
        return fn

    return deco


def fail(where: Where, msg: str) -> ConfigError:
    return where.error(msg)


def fail_bare(where: Where, msg: str) -> ConfigError:
    """An alert in the spelling some keywords use: `parsing [f:l]: msg`."""
    return LexError(msg, where.file, where.line)


class ServerError(ValueError):
    """A server-line problem: HAProxy words these `[file:line] : 'server be/srv' : …`."""

    def __init__(self, where: Where, msg: str) -> None:
        super().__init__(msg)
        self.where = where
        self.msg = msg

    def render(self, proxy: str) -> str:
        return f"[{self.where}] : " + self.msg.replace("{px}", proxy)


def need_args(words: list[str], n: int, where: Where, what: str) -> None:
    if len(words) < n + 1:
        raise fail(where, f"'{words[0]}' expects {what}.")


def to_int(text: str, where: Where, kw: str) -> int:
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text)
    except ValueError:
        raise fail(where, f"'{kw}' expects an integer argument, not '{text}'.") from None


def time_arg(text: str, where: Where, kw: str, unit: str = "ms") -> int:
    try:
        return parse_time(text, unit)
    except ValueError:
        bad = next((c for c in text.lstrip("0123456789") if c), "")
        if bad and text[:1].isdigit():
            raise fail(where, f"unexpected character '{bad}' in '{kw}'") from None
        raise fail(where, f"'{kw}' expects a time value, got '{text}'.") from None


# ---------------------------------------------------------------- global


def _g_simple(attr: str, conv: Callable[[str], Any]) -> Handler:
    def h(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, neg: bool) -> None:
        need_args(words, 1, where, "an argument")
        try:
            setattr(g, attr, conv(words[1]))
        except ValueError as exc:
            raise fail(where, f"'{words[0]}' : {exc}") from None

    return h


for _name, _attr, _conv in (
    ("maxconn", "maxconn", int),
    ("pidfile", "pidfile", str),
    ("nbthread", "nbthread", int),
    ("log-tag", "log_tag", str),
    ("node", "node", str),
    ("description", "description", str),
    ("server-state-file", "server_state_file", str),
    ("server-state-base", "server_state_base", str),
    ("maxconnrate", "rate_limit_connections", int),
    ("maxsessrate", "rate_limit_sessions", int),
):
    KEYWORDS["global"][_name] = _g_simple(_attr, _conv)


@keyword("hard-stop-after", ("global",))
def _hard_stop(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "<time> as argument")
    g.hard_stop_after = time_arg(words[1], where, words[0])


@keyword("daemon", ("global",))
def _daemon(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    g.daemon = True


@keyword("quiet", ("global",))
def _quiet(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    g.quiet = True


@keyword("master-worker", ("global",))
def _mworker(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    g.master_worker = True
    if len(words) > 1:
        if words[1] != "no-exit-on-failure":
            raise fail(where, "'master-worker' only supports 'no-exit-on-failure' option")
        g.master_worker_no_exit_on_failure = True


@keyword("lb-keep-state-on-reload", ("global",))
def _keep_state(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    """Not in HAProxy 2.6: a master-worker reload carries the runtime state over."""
    if len(words) > 1:
        raise fail(where, f"'{words[0]}' takes no argument")
    g.keep_state_on_reload = not n


@keyword("stats", ("global",))
def _g_stats(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "'socket', 'maxconn', 'timeout', 'bind-process'")
    sub = words[1]
    if sub == "socket":
        need_args(words, 2, where, "<path> as argument")
        g.stats_sockets.append(Rule("stats socket", tuple(words[2:]), where))
    elif sub == "timeout":
        need_args(words, 2, where, "<time> as argument")
        g.stats_timeout = time_arg(words[2], where, "stats timeout")
    elif sub == "maxconn":
        value = atol(words[2]) if len(words) > 2 else 0
        if value <= 0:
            raise fail(where, "'stats maxconn' expects a positive value")
        g.stats_maxconn = value
    else:
        raise fail(
            where,
            "'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' (got "
            f"'{sub}').",
        )


@keyword("log", ("global",))
def _g_log(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, neg: bool) -> None:
    if neg:
        g.logs.clear()
        return
    need_args(words, 2, where, "<address> and <facility> as arguments")
    g.logs.append(LogConf(tuple(words[1:]), where))


@keyword("log-send-hostname", ("global",))
def _g_lsh(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    import socket

    g.log_send_hostname = words[1] if len(words) > 1 else socket.gethostname()


@keyword("tune.rcvbuf.client", ("global",))
@keyword("tune.rcvbuf.server", ("global",))
@keyword("tune.sndbuf.client", ("global",))
@keyword("tune.sndbuf.server", ("global",))
def _g_sockbuf(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    """Kernel socket buffer sizes for client / server connections (0: the system's)."""
    if len(words) < 2 or not words[1]:
        raise fail(where, f"'{words[0]}' expects an integer argument.")
    g.tune[words[0][len("tune.") :]] = max(atol(words[1]), 0)


def _g_tune(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an argument")
    key = words[0][len("tune.") :]
    val = words[1]
    if key in ("bufsize", "maxaccept", "recv_enough"):
        try:
            g.tune[key] = parse_size(val)
        except ValueError:
            raise fail(where, f"'{words[0]}' expects a positive integer argument.") from None
    else:
        g.tune[key] = val


for _k in (
    "tune.bufsize",
    "tune.maxaccept",
    "tune.recv_enough",
    "tune.ssl.default-dh-param",
    "tune.ssl.cachesize",
    "tune.ssl.lifetime",
    "tune.ssl.maxrecord",
    "tune.idletimer",
    "tune.maxpollevents",
    "tune.pattern.cache-size",
):
    KEYWORDS["global"][_k] = _g_tune


@keyword("tune.maxrewrite", ("global",))
def _g_maxrewrite(
    ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool
) -> None:
    """Buffer space kept free for rewrites: a head must fit in bufsize - maxrewrite."""
    if len(words) < 2 or not words[1]:
        raise fail(where, "'tune.maxrewrite' expects an integer argument.")
    value = atol(words[1])
    if value < 0:
        raise fail(where, "'tune.maxrewrite' expects a positive integer argument.")
    g.tune["maxrewrite"] = value


@keyword("tune.http.maxhdr", ("global",))
def _g_maxhdr(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    """The most header lines a request or response head may have (else 400 / 502)."""
    if len(words) < 2 or not words[1]:
        raise fail(where, "'tune.http.maxhdr' expects an integer argument.")
    value = atol(words[1])
    if not 1 <= value <= 32767:
        raise fail(where, "'tune.http.maxhdr' expects a numeric value between 1 and 32767")
    g.tune["http.maxhdr"] = value


@keyword("tune.comp.maxlevel", ("global",))
def _g_comp_level(
    ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool
) -> None:
    """The zlib level of HTTP compression (lb.http.compression)."""
    m = re.match(r"\d+", words[1] if len(words) > 1 else "")
    level = int(m.group()) if m else 0
    if not 1 <= level <= 9:
        raise fail(where, "'tune.comp.maxlevel' expects a numeric value between 1 and 9")
    g.tune["comp.maxlevel"] = level


def _g_ssl(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    g.ssl[words[0]] = tuple(words[1:])


@keyword("ssl-dh-param-file", ("global",))
def _g_dh_params(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    """Diffie-Hellman parameters for the DHE ciphers of every `bind … ssl`."""
    if len(words) < 2 or not words[1]:
        raise fail(where, "'ssl-dh-param-file' expects a file path as an argument.")
    import ssl

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_dh_params(words[1])
    except (ssl.SSLError, OSError, ValueError):
        raise fail(
            where, f"'ssl-dh-param-file': unable to load DH parameters from file <{words[1]}>."
        ) from None
    g.ssl[words[0]] = (words[1],)


for _k in (
    "ssl-default-bind-options",
    "ssl-default-bind-ciphers",
    "ssl-default-bind-ciphersuites",
    "ssl-default-bind-curves",
    "ssl-default-server-options",
    "ssl-default-server-ciphers",
    "ssl-default-server-ciphersuites",
    "ssl-server-verify",
    "ca-base",
    "crt-base",
):
    KEYWORDS["global"][_k] = _g_ssl


def _g_accepted(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    """Keywords that only matter to HAProxy's own process model (threads, CPU maps)."""
    g.tune[words[0]] = tuple(words[1:])


# Kept though nothing reads them: each only tunes how HAProxy itself runs (CPU
# affinity, polling, splicing, accept batching, SSL session cache, pattern cache),
# never what goes through it. Global keywords that change behaviour and that lb
# does not act on (`tune.stick-counters`) are unknown keywords.
for _k in ("cpu-map", "busy-polling", "noepoll", "nosplice"):
    KEYWORDS["global"][_k] = _g_accepted
# `external-check` allows `option external-check`; the insecure-* pair only lifts
# limits HAProxy puts on itself (lb forks through asyncio's subprocess support).
for _k in ("external-check", "insecure-fork-wanted", "insecure-setuid-wanted"):
    KEYWORDS["global"][_k] = _g_accepted


@keyword("chroot", ("global",))
def _chroot(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    """The directory the worker confines itself to once its sockets are bound."""
    if len(words) < 2 or not words[1]:
        raise fail(where, "'chroot' expects a directory as an argument.")
    if len(words) > 2:
        raise fail(where, f"'chroot' cannot handle unexpected argument '{words[2]}'.")
    if g.chroot:
        ctx.alert(where, "'chroot' already specified. Continuing.")
        return
    g.chroot = words[1]


# The variables the master hands its worker (sockets, control channel, carried
# state): `resetenv` in the configuration the worker parses must leave them.
HANDOFF_PREFIX = "LB_MWORKER_"


@keyword("setenv", ("global",))
@keyword("presetenv", ("global",))
@keyword("unsetenv", ("global",))
@keyword("resetenv", ("global",))
def _setenv(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    """Change the environment as the file is read: later lines' `${NAME}` see it, and
    so do the programs and workers started afterwards (as HAProxy's setenv(3))."""
    kw, env = words[0], ctx.env
    if kw in ("setenv", "presetenv"):
        if len(words) < 3:
            raise fail_bare(where, f"'{kw}' expects a name and a value.")
        if kw == "setenv" or words[1] not in env:
            env[words[1]] = words[2]
    elif kw == "unsetenv":
        if len(words) < 2:
            raise fail_bare(where, f"'{kw}' expects at least one variable name.")
        for name in words[1:]:
            env.pop(name, None)
    else:
        keep = set(words[1:])
        for name in [k for k in env if k not in keep and not k.startswith(HANDOFF_PREFIX)]:
            del env[name]


@keyword("ulimit-n", ("global",))
def _ulimit_n(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    """The open-file limit set at start-up (0, or no number: left as it is)."""
    if g.ulimit_n:
        ctx.alert(where, "'ulimit-n' already specified. Continuing.")
        return
    if len(words) < 2 or not words[1]:
        raise fail(where, "'ulimit-n' expects an integer argument.")
    g.ulimit_n = max(atol(words[1]), 0)


@keyword("spread-checks", ("global",))
def _spread_checks(
    ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool
) -> None:
    """A random shift of up to this percent either way on every check interval."""
    if g.spread_checks >= 0:
        ctx.alert_raw(where, "spread-checks already specified. Continuing.")
        return
    if len(words) < 2:
        raise fail_bare(where, "'spread-checks' expects an integer argument (0..50).")
    if len(words) > 2:
        raise fail(where, f"'spread-checks' cannot handle unexpected argument '{words[2]}'.")
    value = atol(words[1])
    if not 0 <= value <= 50:
        raise fail_bare(where, "'spread-checks' needs a positive value in range 0..50.")
    g.spread_checks = value


@keyword("user", ("global",))
@keyword("uid", ("global",))
def _user(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    """The user the worker runs as once its sockets are bound (as haproxy's)."""
    need_args(words, 1, where, "an argument")
    if words[0] == "uid":
        g.uid = to_int(words[1], where, "uid")
        return
    try:
        g.uid = pwd.getpwnam(words[1]).pw_uid
    except KeyError:
        raise fail(where, f"cannot find user id for '{words[1]}' (0:Success)") from None


@keyword("group", ("global",))
@keyword("gid", ("global",))
def _group(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an argument")
    if words[0] == "gid":
        g.gid = to_int(words[1], where, "gid")
        return
    try:
        g.gid = grp.getgrnam(words[1]).gr_gid
    except KeyError:
        raise fail(where, f"cannot find group id for '{words[1]}' (0:Success)") from None


@keyword("nbproc", ("global",))
def _nbproc(ctx: ParseContext, g: GlobalConf, words: list[str], where: Where, n: bool) -> None:
    raise fail(
        where,
        "nbproc is not supported any more since HAProxy 2.5. Threads will automatically be "
        "used on multi-processor machines if available.",
    )


# ---------------------------------------------------------------- proxies


@keyword("mode", ALL)
def _mode(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "one of 'tcp', 'http', 'health'")
    if words[1] not in ("tcp", "http"):
        raise fail(where, f"unknown proxy mode '{words[1]}'.")
    p.mode = words[1]


@keyword("bind", ("frontend", "listen"))
def _bind(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    if len(words) < 2:
        raise fail(where, f"'bind' : missing address in '{p.kind} {p.name}'.")
    try:
        addrs = parse_bind(words[1])
    except ValueError as exc:
        raise fail(where, f"'bind {words[1]}' : {exc}") from None
    bind = BindConf(addrs=addrs, where=where, text=words[1])
    _bind_options(ctx, p, bind, words[1], words[2:], where)
    p.binds.append(bind)


# bind options: name -> number of arguments. Only options something acts on are listed:
# any other (`nice`, `level`, `severity-output`, `expose-fd`, `proto`, `npn`, `crl-file`,
# `accept-netscaler-cip`, `namespace`, ...) is refused as HAProxy refuses an unknown one.
# The socket options (`backlog`, `mss`, `tcp-ut`, `defer-accept`, `tfo`, `transparent`,
# `interface`, `v4v6`, `v6only`, and `mode`/`user`/`group`/`uid`/`gid` on UNIX sockets)
# are applied where the listening socket is opened (`lb.listener.open_listen_socket`).
BIND_OPTIONS: dict[str, int] = {
    "name": 1,
    "id": 1,
    "maxconn": 1,
    "ssl": 0,
    "crt": 1,
    "crt-list": 1,
    "alpn": 1,
    "ca-file": 1,
    "verify": 1,
    "ciphers": 1,
    "ciphersuites": 1,
    "curves": 1,
    "ecdhe": 1,
    "ssl-min-ver": 1,
    "ssl-max-ver": 1,
    "no-tls-tickets": 0,
    "tls-ticket-keys": 1,
    "strict-sni": 0,
    "no-sslv3": 0,
    "no-tlsv10": 0,
    "no-tlsv11": 0,
    "no-tlsv12": 0,
    "no-tlsv13": 0,
    "force-tlsv12": 0,
    "force-tlsv13": 0,
    "prefer-client-ciphers": 0,
    "accept-proxy": 0,
    "v4v6": 0,
    "v6only": 0,
    "transparent": 0,
    "defer-accept": 0,
    "tfo": 0,
    "backlog": 1,
    "mss": 1,
    "tcp-ut": 1,
    "interface": 1,
    "process": 1,
    "thread": 1,
    "mode": 1,
    "user": 1,
    "group": 1,
    "uid": 1,
    "gid": 1,
}

# what HAProxy says when an option's value is missing (the default is "missing value")
_BIND_MISSING = {
    "name": "missing name",
    "id": "expects an integer argument",
    "crt": "missing certificate location",
    "crt-list": "missing certificate location",
    "alpn": "missing the comma-delimited ALPN protocol suite",
    "ca-file": "missing CAfile path",
    "verify": "missing verify method",
    "ciphers": "missing cipher suite",
    "ciphersuites": "missing cipher suite",
    "curves": "missing curve suite",
    "ecdhe": "missing named curve",
    "ssl-min-ver": "missing the ssl/tls version",
    "ssl-max-ver": "missing the ssl/tls version",
    "tls-ticket-keys": "missing TLS ticket keys file path",
    "mss": "missing MSS value",
    "tcp-ut": "missing TCP User Timeout value",
    "interface": "missing interface name",
    "mode": "missing or invalid mode '' (octal integer expected)",
    "user": "missing user name",
    "group": "missing group name",
}
_MAX_THREADS = 64  # the numbers a `thread` set may name (LONGBITS)


def _num_set(text: str, top: int) -> set[int] | str:
    """A `process` / `thread` set (`all`, `odd`, `even`, `N`, `N-M`, `N-`) as numbers
    1..`top`; on error the sentence HAProxy prints after the value."""
    if text in ("all", "odd", "even"):
        first = 2 if text == "even" else 1
        return set(range(first, top + 1, 1 if text == "all" else 2))
    m = re.fullmatch(r"(\d*)(?:-(\d*))?", text)
    if m is None:
        return f"'{text}' is not a valid number/range."
    low = int(m.group(1) or 0)
    high = low if m.group(2) is None else int(m.group(2) or top)
    low, high = min(low, high), max(low, high)
    if low < 1 or high > top:
        return f"'{text}' is not a valid number/range. It supports numbers from 1 to {top}."
    return set(range(low, high + 1))


def _bind_threads(text: str, fail_opt: Callable[[str], ConfigError]) -> tuple[bool, set[int]]:
    """`thread [<group>/]<set>`: (whether a group was named, the thread numbers). This
    process runs one thread in one group, so only group 1 exists."""
    group, slash, threads = text.rpartition("/")
    if slash:
        if not group.isdigit():
            raise fail_opt(f"'{text}' : '{text}' is not a valid number/range.")
        if int(group) != 1:
            raise fail_opt(f"'{text}' thread-group number must be between 1 and 1 (was {group})")
    got = _num_set(threads, _MAX_THREADS)
    if isinstance(got, str):
        raise fail_opt(f"'{threads}' : {got}")
    return bool(slash), got


def _check_bind_threads(p: ProxyConf, bind: BindConf, text: str, threads: str) -> None:
    """No thread of the set exists here (there is one, thread 1): HAProxy's post-parsing
    alert, without a `parsing [file:line]` prefix."""
    grouped, nums = _bind_threads(threads, lambda msg: ConfigError(msg))
    if 1 in nums:
        return
    what = (
        "only references threads not belonging to the group"
        if grouped
        else "contains threads that belong to no group"
    )
    raise ConfigError(
        f"Proxy '{p.name}': 'thread' directive {what} in 'bind {text}' at [{bind.where}]."
    )


def _unknown_bind_keyword(prefix: str, word: str) -> str:
    from runtime_api.registry import fingerprint_distance, word_fingerprint

    target = word_fingerprint([word])
    dist, best = min(
        (fingerprint_distance(target, word_fingerprint([kw])), kw) for kw in BIND_OPTIONS
    )
    hint = f"; did you mean '{best}' maybe ?" if dist < 2 * len(word) else "."
    return f"{prefix}: unknown keyword '{word}'{hint}"


def _bind_options(
    ctx: ParseContext, p: ProxyConf, bind: BindConf, text: str, opts: list[str], where: Where
) -> None:
    prefix = f"'bind {text}' in section '{p.kind}'"

    def fail_opt(msg: str) -> ConfigError:
        return fail(where, f"{prefix} : {msg}")

    threads = None
    i = 0
    while i < len(opts):
        o = opts[i]
        if o not in BIND_OPTIONS:
            raise fail(where, _unknown_bind_keyword(prefix, o))
        nargs = BIND_OPTIONS[o]
        if not nargs:
            bind.options[o] = True
            if o in ("v4v6", "v6only"):  # the last one written wins
                bind.options.pop("v6only" if o == "v4v6" else "v4v6", None)
            i += 1
            continue
        if i + 1 >= len(opts) or (opts[i + 1] == "" and o not in ("process", "thread")):
            if o in ("process", "thread"):
                val = ""
            else:
                raise fail_opt(f"'{o}' : {_BIND_MISSING.get(o, 'missing value')}")
        else:
            val = opts[i + 1]
        i += 2
        if o == "name":
            bind.name = val
        elif o in ("maxconn", "backlog"):
            n = atol(val)
            if n < 0:
                must = ">= 0" if o == "maxconn" else "> 0"
                raise fail_opt(f"'{o}' : invalid value {n}, must be {must}")
            if o == "maxconn":
                bind.maxconn = n
            else:
                bind.options[o] = n
        elif o == "crt":
            bind.options.setdefault("crt", []).append(val)
        elif o == "id":
            _bind_id(p, bind, val, fail_opt)
        elif o == "mss":
            n = atol(val)
            if not 1 <= abs(n) <= 65535:
                raise fail_opt("'mss' : expects an MSS with and absolute value between 1 and 65535")
            bind.options[o] = n
        elif o == "tcp-ut":
            from lb.config.units import parse_time_ex

            try:
                tv = parse_time_ex(val)
            except ValueError:
                tv = None
            if tv is None or tv.warning:
                raise fail_opt("'tcp-ut' : expects a positive delay in milliseconds")
            bind.options[o] = tv.ms
        elif o == "process":
            threads = _bind_process(ctx, prefix, val, where, fail_opt) or threads
        elif o == "thread":
            _bind_threads(val, fail_opt)
            threads = val
        elif o == "mode":
            if not val or val.strip("01234567"):
                raise fail_opt(f"'mode' : missing or invalid mode '{val}' (octal integer expected)")
            bind.options[o] = int(val, 8)
        elif o in ("uid", "gid"):
            bind.options[o] = atol(val)
        elif o == "user":
            try:
                bind.options["uid"] = pwd.getpwnam(val).pw_uid
            except KeyError:
                raise fail_opt(f"'user' : unknown user name '{val}'") from None
        elif o == "group":
            try:
                bind.options["gid"] = grp.getgrnam(val).gr_gid
            except KeyError:
                raise fail_opt(f"'group' : unknown group name '{val}'") from None
        else:
            bind.options[o] = val
    if threads is not None:
        _check_bind_threads(p, bind, text, threads)
    ecdhe = bind.options.pop("ecdhe", None)
    if (
        ecdhe
        and "curves" not in bind.options
        and not ctx.cfg.global_.ssl.get("ssl-default-bind-curves")
    ):
        # `ecdhe` names the one curve for ECDHE key exchange; a `curves` list (on the
        # line or the global default) takes precedence over it, as in HAProxy
        bind.options["curves"] = ecdhe


def _bind_id(
    p: ProxyConf, bind: BindConf, val: str, fail_opt: Callable[[str], ConfigError]
) -> None:
    """`id N`: the listener's numeric id, unique among the proxy's listeners."""
    if len(bind.addrs) != 1:
        raise fail_opt("'id' can only be used with a single socket")
    try:
        n = int(val)
    except ValueError:
        raise fail_opt(f"'id' : expects an integer argument, found '{val}'") from None
    if n <= 0:
        raise fail_opt("'id' : custom id has to be > 0")
    for other in p.binds:
        if other.options.get("id") == n:
            raise fail_opt(
                f"'id' : custom id {n} already used at {other.where} ('bind {other.text}')"
            )
    bind.options["id"] = n


def _bind_process(
    ctx: ParseContext, prefix: str, val: str, where: Where, fail_opt: Callable[[str], ConfigError]
) -> str | None:
    """`process <set>[/<thread set>]` (deprecated in 2.6): there is one process here, so
    the set must be able to name process 1 (`all`, `odd` and `even` always may). Returns
    the thread set, if any."""
    procs, slash, threads = val.partition("/")
    got = _num_set(procs, 1)
    if isinstance(got, str):
        raise fail_opt(f"'process' : {got}")
    if slash:
        _bind_threads(threads, fail_opt)
    hint = f" Please use 'thread {threads}' instead." if slash else ""
    ctx.warn(
        where,
        f"{prefix} : 'process {val}' on 'bind' lines is deprecated and will be removed "
        f"in 2.7.{hint}",
    )
    return threads if slash else None


# Server options and their argument counts. Only options something acts on are listed:
# any other (e.g. `proto`, `namespace`) is refused as an unknown keyword. The
# resolution options live in lb/dns/config.py.
SERVER_OPTIONS: dict[str, int] = {
    "weight": 1,
    "backup": 0,
    "disabled": 0,
    "enabled": 0,
    "maxconn": 1,
    "maxqueue": 1,
    "id": 1,
    "check": 0,
    "no-check": 0,
    "inter": 1,
    "fastinter": 1,
    "downinter": 1,
    "rise": 1,
    "fall": 1,
    "port": 1,
    "addr": 1,
    "slowstart": 1,
    "cookie": 1,
    "ssl": 0,
    "no-ssl": 0,
    "verify": 1,
    "ca-file": 1,
    "crt": 1,
    "sni": 1,
    "alpn": 1,
    "check-ssl": 0,
    "check-sni": 1,
    "send-proxy": 0,
    "send-proxy-v2": 0,
    "proxy-v2-options": 1,
    "check-send-proxy": 0,
    "agent-check": 0,
    "agent-port": 1,
    "agent-addr": 1,
    "agent-inter": 1,
    "agent-send": 1,
    "track": 1,
    "observe": 1,
    "error-limit": 1,
    "on-error": 1,
    "on-marked-down": 1,
    "on-marked-up": 1,
    "pool-max-conn": 1,
    "pool-purge-delay": 1,
    "max-reuse": 1,
    "no-tls-tickets": 0,
    "ciphers": 1,
    "ssl-min-ver": 1,
    "ssl-max-ver": 1,
    "non-stick": 0,
    "source": 1,
    "resolvers": 1,
    "resolve-prefer": 1,
    "resolve-net": 1,
    "resolve-opts": 1,
    "init-addr": 1,
    "minconn": 1,  # dynamic maxconn (lb/server_minconn.py)
    "redir": 1,  # GET/HEAD answered with a 302 (lb/server_redir.py)
    "tfo": 0,  # TCP fast open towards the server, where the kernel has it
    "no-tfo": 0,
    "check-alpn": 1,  # ALPN of SSL checks (lb/checksetup.py)
}


def _server_options(srv: ServerConf, opts: list[str], where: Where, kw: str) -> None:
    i = 0
    while i < len(opts):
        o = opts[i]
        if o not in SERVER_OPTIONS:
            raise ServerError(where, f"'{kw} {{px}}/{srv.name}' : unknown keyword '{o}'.")
        nargs = SERVER_OPTIONS[o]
        if o in _RESOLVE_OPTIONS:  # lb/dns/config.py
            from lb.dns.config import server_option

            server_option(srv, o, opts[i + 1] if i + 1 < len(opts) else "", where, kw)
            i += 2
            continue
        if o in _HEALTH_OPTIONS:  # HAProxy words a missing value its own way for each
            _health_option(srv, o, opts[i + 1] if i + 1 < len(opts) else "", where)
            i += 2
            continue
        if o in _MISSING_ARG and i + 1 >= len(opts):
            raise ServerError(where, f"'{kw} {{px}}/{srv.name}' : {_MISSING_ARG[o]}")
        if nargs and i + 1 >= len(opts):
            raise fail(where, f"'{o}' expects an argument.")
        val = opts[i + 1] if nargs else ""
        if o == "weight":
            w = to_int(val, where, o)
            if not 0 <= w <= 256:
                raise ServerError(
                    where,
                    f"'server {{px}}/{srv.name}' : weight of server {srv.name} is not within "
                    f"0 and 256 ({w})..",
                )
            srv.weight = w
        elif o == "backup":
            srv.backup = True
        elif o == "disabled":
            srv.disabled = True
        elif o == "enabled":
            srv.disabled = False
        elif o == "maxconn":
            srv.maxconn = to_int(val, where, o)
        elif o == "maxqueue":
            srv.maxqueue = to_int(val, where, o)
        elif o == "minconn":  # (read as atol: HAProxy takes "x" as 0)
            srv.options[o] = max(0, atol(val))
        elif o == "no-tfo":
            srv.options.pop("tfo", None)
        elif o == "id":
            srv.puid = to_int(val, where, o)
        elif o == "check":
            srv.check = True
        elif o == "no-check":
            srv.check = False
        elif o == "no-ssl":  # undoes a `default-server ssl`
            srv.options.pop("ssl", None)
        elif o in ("inter", "fastinter", "downinter"):
            setattr(srv, o, time_arg(val, where, o))
        elif o in ("rise", "fall"):
            v = to_int(val, where, o)
            if v <= 0:
                raise fail(where, f"'{o}' has to be > 0.")
            setattr(srv, o, v)
        elif o == "port":
            srv.check_port = to_int(val, where, o)
        elif o == "addr":
            srv.check_addr = val
        elif o == "cookie":
            srv.cookie = val
        elif o == "source":
            nxt = opts[i + 2] if i + 2 < len(opts) else ""
            if nxt in ("usesrc", "interface"):
                raise ServerError(
                    where, f"'{kw} {{px}}/{srv.name}' : 'source' : '{nxt}' is not supported."
                )
            srv.options[o] = source_address(val, where)
        elif o == "pool-purge-delay":  # idle server connections closed after this (ms)
            srv.options[o] = time_arg(val, where, o)
        elif o in ("pool-max-conn", "max-reuse"):  # -1: no limit
            n = to_int(val, where, o)
            if n < -1:
                raise ServerError(
                    where, f"'{kw} {{px}}/{srv.name}' : '{o}' must be >= -1, not {n}."
                )
            srv.options[o] = n
        else:
            srv.options[o] = val if nargs else True
        i += 1 + nargs


_MISSING_ARG = {
    "redir": "'redir' expects <prefix> as argument..",
    "check-alpn": "'check-alpn' : missing the comma-delimited ALPN protocol suite.",
}
_RESOLVE_OPTIONS = frozenset(
    ("resolvers", "resolve-prefer", "resolve-net", "resolve-opts", "init-addr")
)
_HEALTH_OPTIONS = frozenset(
    ("slowstart", "track", "observe", "error-limit", "on-error", "on-marked-down", "on-marked-up")
)
_OBSERVE = {"none": 0, "layer4": 4, "layer7": 7}
_ON_ERROR = ("fastinter", "fail-check", "sudden-death", "mark-down")


def _health_option(srv: ServerConf, o: str, val: str, where: Where) -> None:
    """slowstart, track, observe, error-limit, on-error, on-marked-down/up (server.c)."""

    def bad(msg: str) -> ServerError:  # HAProxy's alert ends with the message's own "." + "."
        return ServerError(where, f"'server {{px}}/{srv.name}' : {msg}")

    if o == "slowstart":
        srv.slowstart = _slowstart_ms(val, srv.name, bad)
    elif o == "track":
        if not val:
            raise bad("'track' expects [<proxy>/]<server> as argument..")
        srv.track = val
        srv.options["track"] = val
    elif o == "observe":
        if not val:
            raise bad("'observe' expects <mode> as argument..")
        if val not in _OBSERVE:
            raise bad(f"'observe' expects one of 'none', 'layer4', 'layer7' but got '{val}'.")
        srv.observe = _OBSERVE[val]
    elif o == "error-limit":
        if not val:
            raise bad("'error-limit' expects an integer argument..")
        n = atol(val)
        if n <= 0:
            raise bad("error-limit has to be > 0..")
        srv.error_limit = n
    elif o == "on-error":
        if val not in _ON_ERROR:
            raise bad(
                "'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or "
                f"'mark-down' but got '{val}'."
            )
        srv.on_error = val
    elif o == "on-marked-down":
        if val != "shutdown-sessions":
            raise bad(f"'on-marked-down' expects 'shutdown-sessions' but got '{val}'.")
        srv.on_marked_down = val
    elif val != "shutdown-backup-sessions":  # on-marked-up
        raise bad(f"'on-marked-up' expects 'shutdown-backup-sessions' but got '{val}'.")
    else:
        srv.on_marked_up = val


_TIME_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}


def _slowstart_ms(val: str, name: str, bad: Callable[[str], ServerError]) -> int:
    """HAProxy's parse_time_err for `slowstart`; an empty value stops at the NUL byte."""
    digits = val[: len(val) - len(val.lstrip("0123456789"))]
    rest = val[len(digits) :]
    if not digits:
        if not val:
            raise bad("unexpected character '.")
        raise bad(f"unexpected character '{val[0]}' in 'slowstart' argument of server {name}..")
    unit = next((u for u in ("us", "ms", "s", "m", "h", "d") if rest.startswith(u)), "")
    if rest != unit:
        ch = rest[len(unit)]
        raise bad(f"unexpected character '{ch}' in 'slowstart' argument of server {name}..")
    factor = _TIME_UNITS_MS[unit] if unit else 1
    ms = int(int(digits) * factor) if factor >= 1 else (int(digits) + 999) // 1000
    if ms > 2147483647:
        raise bad(
            f"timer overflow in argument <{val}> to <slowstart> of server {name}, "
            "maximum value is 2147483647 ms (~24.8 days).."
        )
    return ms


@keyword("server", ("frontend", "backend", "listen"))
def _server(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    if not p.is_backend:
        raise fail(
            where, f"'server' not allowed because {p.kind} '{p.name}' has no backend capability."
        )
    if len(words) < 3:
        raise fail(where, "'server' expects <name> and <addr>[:<port>] as arguments.")
    name = words[1]
    try:
        addr = parse_server_addr(words[2])
    except ValueError as exc:
        raise fail(where, f"'server {name}' : {exc}") from None
    host, family = addr.host, addr.family
    srv = ServerConf(name=name, host=host, port=addr.port, family=family, where=where)
    try:
        _server_options(srv, _default_server_words(p), where, "default-server")
        _server_options(srv, words[3:], where, "server")
    except ServerError as exc:
        ctx.errors.append(exc.render(p.name))
        return
    if family == "unspec":  # a host name: `init-addr` says how it gets its first address
        from lb.dns.config import initial_address

        if not initial_address(ctx, p, srv, _resolve, where):
            return
    if srv.check and srv.track:
        ctx.errors.append(
            f"[{where}] : 'server {p.name}/{name}' : "
            "unable to enable checks and tracking at the same time!"
        )
        return
    if srv.observe == 7 and p.mode != "http":  # HAProxy alerts, keeps the server, observes none
        ctx.warnings.append(
            f"[{where}] : 'server {p.name}/{name}' : 'layer7' can only be used in http proxies."
        )
        srv.observe = 0
    if srv.options.get("minconn", 0) > srv.maxconn:  # as HAProxy: a fixed limit of minconn
        srv.maxconn = srv.options["minconn"]
    p.servers.append(srv)


def _resolve(host: str, prefer: str = "") -> tuple[str, str] | None:
    """Resolve a server host name once, at parse time, as HAProxy does by default."""
    import socket

    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    want = socket.AF_INET6 if prefer == "ipv6" else socket.AF_INET
    for fam, *_rest, sockaddr in infos:
        if fam == want:
            return str(sockaddr[0]), "ipv6" if fam == socket.AF_INET6 else "ipv4"
    fam, *_rest, sockaddr = infos[0]
    return str(sockaddr[0]), "ipv6" if fam == socket.AF_INET6 else "ipv4"


def _default_server_words(p: ProxyConf) -> list[str]:
    return list(p.default_server.get("words", ()))


@keyword("default-server", BE)
def _default_server(
    ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool
) -> None:
    probe = ServerConf(name="default-server", host="", port=0, where=where)
    try:
        _server_options(probe, words[1:], where, "default-server")
    except ServerError as exc:  # HAProxy names no server here: `[file:line] : unknown keyword`
        ctx.errors.append(
            exc.render(p.name).replace(f"'default-server {p.name}/default-server' : ", "")
        )
        return
    p.default_server["words"] = tuple(_default_server_words(p)) + tuple(words[1:])


@keyword("balance", BE)
def _balance(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    from lb.balance import parse_balance

    need_args(words, 1, where, "an algorithm")
    try:
        p.balance = parse_balance(words[1:])
    except ValueError as exc:
        raise fail(where, str(exc)) from None
    p.balance_set = True  # (a `dispatch` address is then ignored)


@keyword("hash-type", BE)
def _hash_type(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "'map-based' or 'consistent'")
    if words[1] not in ("map-based", "consistent"):
        raise fail(where, f"'hash-type' expects 'map-based' or 'consistent', not '{words[1]}'.")
    p.hash_type = words[1:]


TIMEOUTS = {
    "client": FE,
    "client-fin": FE,
    "http-request": FE | BE,
    "http-keep-alive": FE | BE,
    "tarpit": FE | BE,
    "server": BE,
    "server-fin": BE,
    "connect": BE,
    "queue": BE,
    "tunnel": BE,
    "check": BE,
}


@keyword("timeout", ALL)
def _timeout(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    if len(words) < 2 or words[1] not in TIMEOUTS:
        raise fail(
            where,
            "'timeout' supports 'client', 'server', 'connect', 'check', 'queue', "
            "'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and "
            "'server-fin' (got '" + (words[1] if len(words) > 1 else "") + "')",
        )
    if len(words) < 3:
        raise fail(where, f"'timeout {words[1]}' expects an integer value (in milliseconds)")
    p.timeouts[words[1]] = time_arg(words[2], where, f"timeout {words[1]}")


@keyword("maxconn", FE)
def _maxconn(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an integer argument")
    p.maxconn = to_int(words[1], where, "maxconn")


def source_address(text: str, where: Where) -> tuple[str, int]:
    """`source <addr>[:<port>]`: the local address server connections are made from,
    read as a server address is (names resolved once, here)."""
    try:
        addr = parse_server_addr(text)
    except ValueError as exc:
        raise fail(where, f"'source {text}' : {exc}") from None
    if addr.family not in ("ipv4", "ipv6", "unspec") or addr.port_offset:
        raise fail(where, f"'source {text}' : an IP address and an optional port expected.")
    host = addr.host
    if addr.resolve:
        found = _resolve(host)
        if found is None:
            raise fail(where, f"'source {text}' : could not resolve address '{host}'.")
        host = found[0]
    return host, addr.port


@keyword("source", BE)
def _source(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """The local address of this backend's server connections (a server's own wins)."""
    if len(words) < 2 or not words[1]:
        raise fail(
            where,
            "'source' expects <addr>[:<port>], and optionally 'usesrc' <addr>, and "
            "'interface' <name>.",
        )
    if len(words) > 2 and words[2] in ("usesrc", "interface"):
        raise fail(where, f"'source' : '{words[2]}' is not supported.")
    p.options["source"] = source_address(words[1], where)


def lacks_side(p: ProxyConf, side: str) -> str:
    """Why a `side` ("frontend" / "backend") setting does nothing in `p`, in the words
    HAProxy's "ignored because …" warnings end with; "" when `p` has that side."""
    if p.kind == "defaults" or (p.is_frontend if side == "frontend" else p.is_backend):
        return ""
    return f"{p.kind} '{p.name}' has no {side} capability"


def strict_uint(kw: str, text: str, where: Where) -> int:
    """A count HAProxy reads digit by digit: anything else is named in the alert."""
    if not text.isdigit():
        bad = text.lstrip("0123456789")[0]
        raise fail(where, f"'{kw}' : unexpected character '{bad}' in integer value '{text}'")
    return int(text)


@keyword("http-send-name-header", ALL)
def _send_name_header(
    ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool
) -> None:
    """The request header that names the server it is sent to, set at send time."""
    if why := lacks_side(p, "backend"):
        ctx.warn(where, f"'http-send-name-header' ignored because {why}.")
        return
    if len(words) < 2:
        raise fail(where, "'http-send-name-header' requires a header string.")
    p.options["send-name-header"] = words[1]


@keyword("max-keep-alive-queue", ALL)
def _max_ka_queue(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """How long a server's queue may be for a client to wait there for the server of
    its private connection (prefer-last-server) rather than be balanced: -1, no limit."""
    if why := lacks_side(p, "backend"):
        ctx.warn(where, f"max-keep-alive-queue will be ignored because {why}")
        return
    if len(words) < 2:
        # (HAProxy's own wording, doubled word included)
        raise fail(
            where, "'max-keep-alive-queue' expects expects an integer value (or -1 to disable)"
        )
    text = words[1]
    sign = -1 if text.startswith("-") else 1
    p.max_ka_queue = sign * strict_uint(
        "max-keep-alive-queue", text[1:] if sign < 0 else text, where
    )


# what HAProxy 2.6 registers after `filter`, in its own listing order
FILTER_KINDS = (
    ("CACHE", "cache"),
    ("COMP", "compression"),
    ("FCGI", "fcgi-app"),
    ("  OT", "opentracing"),
    ("SPOE", "spoe"),
    ("TRACE", "trace"),
)


@keyword("filter", ALL)
def _filter(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """`filter compression` and `filter cache NAME` declare, in order, the filters the
    `compression` keywords and the cache rules use anyway; the other kinds are refused."""
    if p.kind == "defaults":
        raise fail(where, f"parsing [{where}] : filter is not allowed in a 'default' section.")
    if len(words) < 2:
        raise fail(
            where, f"parsing [{where}] : missing argument for 'filter' in {p.kind} '{p.name}'."
        )
    kind = words[1]
    if kind not in [k for _, k in FILTER_KINDS]:
        listing = "".join(f"\n    [{tag}] {k}" for tag, k in FILTER_KINDS)
        raise fail(where, f"'filter' : unknown keyword '{kind}'. Registered keywords :{listing}")
    if kind == "compression":
        if len(words) > 2:
            raise fail(where, f"'filter compression' : unknown keyword '{words[2]}'.")
        if any(f[0] == "compression" for f in p.filters):
            raise fail(
                where, f"'filter' : '{p.name}: Proxy supports only one compression filter\n'"
            )
        p.filters.append(("compression", "", where))
    elif kind == "cache":
        if len(words) < 3:
            raise fail(where, "'filter' : 'cache : expects a <name> argument'")
        if len(words) > 3:
            raise fail(where, f"'filter cache' : unknown keyword '{words[3]}'.")
        if ("cache", words[2]) in [f[:2] for f in p.filters]:
            raise fail(
                where,
                f"'filter' : '{p.name}: multiple explicit declarations of the cache filter "
                f"'{words[2]}''",
            )
        p.filters.append(("cache", words[2], where))
    else:
        raise fail(where, f"'filter {kind}' is not supported.")


@keyword("grace", ALL)
def _grace(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    raise fail_bare(
        where, "the 'grace' keyword is not supported any more since HAProxy version 2.5."
    )


@keyword("backlog", ALL)
def _backlog(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """The listen queue length of this frontend's binds (a bind's own `backlog` wins)."""
    if why := lacks_side(p, "frontend"):
        ctx.warn(where, f"'backlog' ignored because {why}.")
        return
    need_args(words, 1, where, "an integer argument")
    p.backlog = max(atol(words[1]), 0)


@keyword("rate-limit", ALL)
def _rate_limit(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """`rate-limit sessions N`: the frontend stops accepting once N new sessions were
    opened in the last second, and resumes as the rate falls."""
    sub = words[1] if len(words) > 1 else ""
    if sub != "sessions":
        raise fail(where, f"'rate-limit' only supports 'sessions' (got '{sub}')")
    if len(words) < 3 or not words[2]:
        raise fail(
            where, "'rate-limit sessions' expects expects an integer value (in sessions/second)"
        )
    value = strict_uint("rate-limit sessions", words[2], where)
    if why := lacks_side(p, "frontend"):
        ctx.warn(where, f"rate-limit sessions will be ignored because {why}")
        return
    p.rate_limit_sessions = value


@keyword("fullconn", BE)
def _fullconn(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an integer argument")
    p.fullconn = to_int(words[1], where, "fullconn")


@keyword("retries", BE)
def _retries(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an integer argument")
    p.retries = to_int(words[1], where, "retries")


@keyword("id", ("frontend", "backend", "listen"))
def _id(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an integer argument")
    p.puid = to_int(words[1], where, "id")


@keyword("description", ALL)
def _desc(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    p.description = " ".join(words[1:])


@keyword("disabled", ALL)
def _disabled(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    p.disabled = True


@keyword("enabled", ALL)
def _enabled(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    p.disabled = False


@keyword("default_backend", FE)
def _def_be(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "a backend name")
    p.default_backend = (words[1], where)


@keyword("use_backend", ("frontend", "listen"))
def _use_be(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "a backend name")
    if len(words) > 2 and words[2] not in ("if", "unless"):
        raise fail(where, "'use_backend' : expects 'if' or 'unless' followed by a condition.")
    p.use_backends.append(Rule("use_backend", tuple(words[1:]), where))


@keyword("http-reuse", BE)
def _http_reuse(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    if len(words) < 2 or words[1] not in ("never", "safe", "aggressive", "always"):
        raise fail(where, "'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'")
    p.http_reuse = words[1]


@keyword("log", ALL)
def _log(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, neg: bool) -> None:
    if neg:
        p.logs.clear()
        return
    if len(words) == 2 and words[1] == "global":
        p.logs.append(LogConf(("global",), where, is_global=True))
        return
    need_args(words, 2, where, "<address> and <facility> as arguments")
    from lb.log import parse_log_line

    try:
        parse_log_line(words[1:])
    except ValueError as exc:
        raise fail(where, str(exc)) from None
    p.logs.append(LogConf(tuple(words[1:]), where))


@keyword("log-format", ALL)
def _log_format(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an argument")
    p.log_format = " ".join(words[1:])
    p.log_format_where = where


def errorfile_entry(words: list[str], where: Where, sep: str) -> tuple[int, str]:
    """`errorfile CODE FILE`, checked as HAProxy checks it when it reads the line
    (`sep` is how the keyword is followed in its alerts: " :" in proxies, ":" in an
    `http-errors` section)."""
    from lb.http.errors import handled_status, load_errorfile

    if len(words) < 3:
        raise fail(where, f"errorfile{sep} expects <status_code> and <file> as arguments.")
    code = atol(words[1])
    if not handled_status(code):
        raise fail(where, f"errorfile : status code '{code}' not handled.")
    try:
        load_errorfile(words[2])
    except ValueError as exc:
        raise fail(where, f"errorfile : {exc}") from None
    return code, words[2]


@keyword("errorfile", ALL)
def _errorfile(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    code, path = errorfile_entry(words, where, " :")
    p.errorfiles.pop(code, None)  # written again: it now comes after earlier `errorfiles`
    p.errorfiles[code] = path


@keyword("errorfiles", ALL)
def _errorfiles(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """`errorfiles NAME [CODE…]`: the pages of an `http-errors` section (all, or those
    codes), resolved once every section is read (lb.config.validate)."""
    from lb.http.errors import handled_status

    if len(words) < 2:
        raise fail(where, "errorfiles : expects <name> as argument.")
    codes = []
    for text in words[2:]:
        code = atol(text)
        if not handled_status(code):
            raise fail(where, f"errorfiles : status code '{code}' not handled.")
        codes.append(code)
    p.errorfiles[("errorfiles", len(p.errorfiles))] = (words[1], tuple(codes), where)


def _http_errors_errorfile(
    ctx: ParseContext, sec: HttpErrorsConf, words: list[str], where: Where, n: bool
) -> None:
    code, path = errorfile_entry(words, where, ":")
    sec.errorfiles[code] = path


KEYWORDS["http-errors"]["errorfile"] = _http_errors_errorfile


def _rule_list(attr: str) -> Handler:
    def h(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
        need_args(words, 1, where, "an action")
        getattr(p, attr).append(Rule(words[0], tuple(words[1:]), where))

    return h


def _capture_rule_slot(p: ProxyConf, words: list[str], where: Where) -> None:
    """`… capture SAMPLE len N` in a frontend takes the next request capture slot
    now, in the order written, as HAProxy allocates it while parsing."""
    if len(words) < 4 or words[2] != "len" or p.kind not in ("frontend", "listen"):
        return
    length = atol(words[3])
    if length > 0:  # (otherwise the rule's builder rejects it)
        p.capture_rule_slots[str(where)] = len(p.capture_request)
        p.capture_request.append(("", length))


def _http_request(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an action")
    if words[1] == "capture":
        _capture_rule_slot(p, words[1:], where)
    if any(r.keyword == "redirect" for r in p.http_request):
        ctx.warn(
            where,
            "a 'http-request' rule placed after a 'redirect' rule will still be processed before.",
        )
    p.http_request.append(Rule(words[0], tuple(words[1:]), where))


def _redirect(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """`redirect …`: an `http-request redirect` whose target is taken as written,
    run after all the `http-request` rules (lb.rules.compile_http_request)."""
    if p.kind == "defaults":
        raise fail(where, "'redirect' not allowed in 'defaults' section.")
    p.http_request.append(Rule("redirect", tuple(words), where))


for _s in ("frontend", "listen", "backend", "defaults"):
    KEYWORDS[_s]["http-request"] = _http_request
for _s in PROXY_KINDS:
    KEYWORDS[_s]["redirect"] = _redirect


def _tcp_request(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an action")
    if len(words) > 2 and words[1] == "content" and words[2] == "capture":
        _capture_rule_slot(p, words[2:], where)
    p.tcp_request.append(Rule(words[0], tuple(words[1:]), where))


for _s in PROXY_KINDS:
    KEYWORDS[_s]["http-response"] = _rule_list("http_response")
    KEYWORDS[_s]["http-after-response"] = _rule_list("http_after_response")
    KEYWORDS[_s]["tcp-request"] = _tcp_request
    KEYWORDS[_s]["tcp-response"] = _rule_list("tcp_response")
for _s in ("frontend", "backend", "listen"):
    KEYWORDS[_s]["acl"] = _rule_list("acl" + "s")
    KEYWORDS[_s]["stick"] = _rule_list("stick_rules")
for _s in PROXY_KINDS:
    KEYWORDS[_s]["http-check"] = _rule_list("http_check")
    KEYWORDS[_s]["stats"] = _rule_list("stats")


@keyword("stick-table", ("frontend", "backend", "listen"))
def _stick_table(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 2, where, "'type' and 'size'")
    p.stick_table = Rule("stick-table", tuple(words[1:]), where)


@keyword("monitor-uri", FE)
def _monitor_uri(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "a URI")
    p.monitor_uri = words[1]


@keyword("unique-id-format", FE)
def _uid_fmt(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an argument")
    p.unique_id_format = " ".join(words[1:])


@keyword("capture", PROXY_KINDS)
def _capture(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """`capture request|response header NAME len N` (the last occurrence, cut to N) and
    `capture cookie NAME len N` (lb.captures); checked but ignored in a backend."""
    ignored = p.kind == "backend"
    if ignored:
        ctx.warn(where, f"'capture' ignored because backend '{p.name}' has no frontend capability.")
    kind = words[1] if len(words) > 1 else ""
    if kind == "cookie":
        if p.kind == "defaults":
            raise fail(where, "'capture cookie' not allowed in 'defaults' section.")
        if len(words) < 5 or not words[4]:  # (as haproxy: the word before N is not read)
            raise fail(where, "'capture' expects 'cookie' <cookie_name> 'len' <len>.")
        length = max(atol(words[4]), 0)
        if length > 63:  # HAProxy's tune.http.cookielen
            ctx.warnings.append(f"truncating capture length to 63 bytes for {p.kind} '{p.name}'.")
        if not ignored:
            p.capture_cookie = (words[2], length)  # the last one wins
        return
    if kind not in ("request", "response"):
        raise fail(where, "'capture' expects 'cookie' or 'request header' or 'response header'.")
    if p.kind == "defaults":
        raise fail(where, f"'capture {kind}' not allowed in 'defaults' section.")
    if len(words) < 4 or words[2] != "header":
        raise fail(where, f"'capture {kind}' expects 'header' <header_name> 'len' <len>.")
    length = 0
    if len(words) >= 6 and words[4] == "len":  # (as haproxy: a bad length counts as 0)
        digits = words[5][: len(words[5]) - len(words[5].lstrip("0123456789"))]
        length = int(digits) if digits else 0
    if not ignored:
        target = p.capture_request if kind == "request" else p.capture_response
        target.append((words[3].lower(), length))


@keyword("declare", PROXY_KINDS)
def _declare(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """`declare capture request|response len N`: a capture slot for `… capture … id`."""
    if p.kind not in ("frontend", "listen"):
        raise fail(where, "'declare' only available in frontend or listen section")
    if len(words) < 2 or words[1] != "capture":
        what = words[1] if len(words) > 1 else ""
        raise fail(where, f"unknown declaration type '{what}' (supports 'capture')")
    if len(words) < 3 or words[2] not in ("request", "response"):
        raise fail(where, "'declare capture' requires a direction ('request' or 'response')")
    if len(words) < 4 or words[3] != "len":
        raise fail(where, "'declare capture' requires a capture length ('len')")
    if len(words) < 5 or not words[4]:
        raise fail(
            where,
            "'declare capture': 'len' requires a numeric value that represents the capture length",
        )
    text = words[4]
    if not re.fullmatch(r"\s*[-+]?\d+", text):
        raise fail(where, "'declare capture': cannot parse the length 'len'.")
    length = int(text)
    if length <= 0:
        raise fail(where, "length must be > 0")
    target = p.capture_request if words[2] == "request" else p.capture_response
    target.append(("", length))


@keyword("unique-id-header", FE)
def _uid_hdr(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an argument")
    p.unique_id_header = words[1]


@keyword("compression", ALL)
def _compression(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """`compression algo|type|offload …`: checked here, built by lb.http.compression."""
    from lb.http.compression import check_keyword

    error, warning = check_keyword(p.kind, words, str(where))
    if error is not None:
        raise fail(where, error)
    if warning is not None:
        ctx.warn(where, warning)
        return  # (`offload` in a defaults section has no effect)
    p.extra.setdefault("compression", []).append(Rule(words[0], tuple(words[1:]), where))


def _extra(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """Keywords parsed into the model for features built in later steps."""
    p.extra.setdefault(words[0], []).append(Rule(words[0], tuple(words[1:]), where))


@keyword("dispatch", ALL)
def _dispatch_kw(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """`dispatch ADDR:PORT`: the one destination of a backend without `balance`
    (lb/server_dispatch.py)."""
    if p.kind == "defaults":
        raise fail(where, "'dispatch' not allowed in 'defaults' section.")
    if not p.is_backend:
        ctx.warn(
            where, f"'dispatch' ignored because {p.kind} '{p.name}' has no backend capability."
        )
        return
    text = words[1] if len(words) > 1 else ""
    if not text:
        raise fail(
            where, "'dispatch' : '' resolves to an empty address (environment variable missing?)"
        )
    if len(words) > 2:
        raise fail(where, f"'dispatch' cannot handle unexpected argument '{words[2]}'.")
    try:
        addr = parse_server_addr(text)
    except ValueError as exc:
        raise fail(where, f"'dispatch' : {exc}") from None
    host = addr.host
    if not addr.port:
        raise fail(where, f"'dispatch' : missing port specification in '{text}'")
    if addr.family == "unspec":  # a name, resolved once at start-up
        found = _resolve(host)
        if found is None:
            raise fail(where, f"'dispatch' : could not resolve address '{host}'.")
        host = found[0]
    p.dispatch = (host, addr.port, where)


@keyword("external-check", ALL)
def _ext_check(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool) -> None:
    """`external-check command CMD` / `external-check path PATH` (lb/checks/external.py)."""
    if len(words) < 2:
        raise fail(where, "missing argument after 'external-check'.")
    what = words[1]
    if what not in ("command", "path"):
        raise fail(where, f"'external-check' only supports 'command' and 'path'. but got '{what}'.")
    if len(words) < 3:
        raise fail(where, f"missing argument after '{what}'.")
    if len(words) > 3:
        raise fail(
            where, f"'external-check {what}' cannot handle unexpected argument '{words[3]}'."
        )
    if what == "command":
        p.ext_check_command = words[2]
    else:
        p.ext_check_path = words[2]


# Only keywords a reader acts on (lb/persist.py, lb/rules_setup.py, lb/checks/,
# lb/server_state.py). Others HAProxy knows (`redirect`,
# `max-keep-alive-queue`, `persist`, `grace`) are refused as
# unknown keywords until something implements them.
for _k, _secs in (
    ("cookie", BE),
    ("monitor", ("frontend", "listen")),
    ("force-persist", ("frontend", "backend", "listen")),
    ("ignore-persist", ("frontend", "backend", "listen")),
    ("tcp-check", BE),
    ("load-server-state-from-file", BE),
    ("server-state-file-name", BE),
):
    for _s in _secs:
        KEYWORDS[_s][_k] = _extra


# `option` names. Only options something acts on are listed; any other (e.g.
# `accept-invalid-http-request`) is an unknown option.
OPTIONS: dict[str, frozenset[str]] = {
    # TCP keep-alive probes on client / server connections (SO_KEEPALIVE)
    "tcpka": ALL,
    "clitcpka": FE,
    "srvtcpka": BE,
    "nolinger": ALL,  # close with a reset, not a graceful FIN (SO_LINGER 0)
    "abortonclose": BE,  # a client that closes drops its request while queued/connecting
    "httplog": ALL,
    "logasap": FE,  # log once the response head / server connection is there (lb.captures)
    "httpslog": FE,
    "tcplog": ALL,
    "dontlognull": FE,
    "log-separate-errors": FE,
    "log-health-checks": BE,
    "forwardfor": ALL,
    "originalto": ALL,
    "httpclose": ALL,
    "http-server-close": ALL,
    "http-keep-alive": ALL,
    "redispatch": BE,
    "allbackups": BE,
    "httpchk": BE,
    "ssl-hello-chk": BE,
    "tcp-check": BE,
    "redis-check": BE,
    "mysql-check": BE,
    "pgsql-check": BE,
    "ldap-check": BE,
    "smtpchk": BE,
    "external-check": BE,  # lb/checks/external.py (needs global `external-check`)
    "persist": BE,
    # splice-*: kernel zero-copy, an optimisation only (as `nosplice` shows, HAProxy
    # relays the same bytes without it); http-no-delay: lb never delays a send.
    "splice-auto": ALL,
    "splice-request": ALL,
    "splice-response": ALL,
    "http-no-delay": ALL,
    # let invalid characters in header names (and in the request line) through
    # (lb.http.h1 `relaxed`)
    "accept-invalid-http-request": FE,
    "accept-invalid-http-response": BE,
    "http-buffer-request": ALL,  # hold the request until its body is in (lb/http/front.py)
    "prefer-last-server": BE,  # a client's next request to its last server (lb/http/front.py)
}


_CHECK_OPTIONS = (
    "httpchk",
    "ssl-hello-chk",
    "tcp-check",
    "redis-check",
    "mysql-check",
    "pgsql-check",
    "ldap-check",
    "smtpchk",
)


@keyword("option", ALL)
def _option(ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, neg: bool) -> None:
    need_args(words, 1, where, "an option name")
    name = words[1]
    if name == "forceclose":  # HAProxy 2.6's own refusal
        raise fail(
            where,
            "option 'forceclose' is not supported any more since HAProxy 2.0, please just "
            "remove it, or use 'option httpclose' if absolutely needed.",
        )
    if name not in OPTIONS:
        raise fail(where, f"unknown option '{name}'.")
    if len(words) > 2 and name in ("tcpka", "clitcpka", "srvtcpka", "nolinger", "abortonclose"):
        raise fail(where, f"'option {name}' cannot handle unexpected argument '{words[2]}'.")
    if p.kind not in OPTIONS[name]:
        ctx.warn(
            where,
            f"'{name}' ignored because {p.kind} '{p.name}' has no "
            f"{'frontend' if OPTIONS[name] == FE else 'backend'} capability.",
        )
        return
    if neg:
        p.options[name] = False
        return
    args = words[2:]
    if name in ("forwardfor", "originalto"):
        p.options[name] = _forwardfor_args(name, args, where)
    elif name == "httplog":
        if args and args[0] != "clf":
            raise fail(where, "'option httplog' only supports the 'clf' argument.")
        p.options["httplog"] = "clf" if args else True
        p.options.pop("tcplog", None)
    elif name == "tcplog":
        p.options["tcplog"] = True
        p.options.pop("httplog", None)
    elif name == "httpchk":
        p.options["httpchk"] = tuple(args)
        p.options.pop("external-check", None)
    elif name == "external-check":  # the last check option wins, as in HAProxy
        for other in _CHECK_OPTIONS:
            p.options.pop(other, None)
        p.options[name] = True
    elif name in ("httpclose", "forceclose", "http-server-close", "http-keep-alive"):
        for other in ("httpclose", "http-server-close", "http-keep-alive"):
            p.options.pop(other, None)
        p.options["httpclose" if name == "forceclose" else name] = True
    else:
        p.options[name] = tuple(args) if args else True
        if name in _CHECK_OPTIONS:
            p.options.pop("external-check", None)


def _tcpka_setting(
    ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool
) -> None:
    """`clitcpka-cnt|idle|intvl`, `srvtcpka-…`: the kernel's keep-alive probe count,
    idle time and interval (times in seconds unless a unit is given)."""
    kw = words[0]
    if len(words) < 2 or not words[1]:
        raise fail(where, f"'{kw}' expects an integer value")
    text = words[1]
    if kw.endswith("-cnt"):
        value = strict_uint(kw, text, where)
    else:
        try:
            value = parse_time(text, "s") // 1000
        except TimeError as exc:
            if exc.kind == "overflow":
                raise fail(where, format_time_error(kw, text, exc)) from None
            bad = text.lstrip("0123456789")[:1] or text[:1]
            raise fail(where, f"unexpected character '{bad}' in argument to <{kw}>.") from None
    if why := lacks_side(p, "frontend" if kw.startswith("cli") else "backend"):
        ctx.warn(where, f"{kw} will be ignored because {why}")
        return
    p.options[kw] = value


for _s in PROXY_KINDS:  # (a section without that side gets a warning)
    for _side in ("cli", "srv"):
        for _what in ("cnt", "idle", "intvl"):
            KEYWORDS[_s][f"{_side}tcpka-{_what}"] = _tcpka_setting


def _forwardfor_args(name: str, args: list[str], where: Where) -> dict[str, str]:
    out = {"header": "X-Forwarded-For" if name == "forwardfor" else "X-Original-To"}
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("except", "header") and i + 1 < len(args):
            out[a] = args[i + 1]
            i += 2
        elif a == "if-none" and name == "forwardfor":
            out["if-none"] = "1"
            i += 1
        else:
            raise fail(
                where,
                f"'option {name}' only supports optional values: 'except', 'header'"
                + (" and 'if-none'." if name == "forwardfor" else "."),
            )
    return out


# ---------------------------------------------------------------- program / peers / userlist


@keyword("command", ("program",))
def _p_command(ctx: ParseContext, p: ProgramConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "an argument")
    p.command = tuple(words[1:])


@keyword("user", ("program",))
def _p_user(ctx: ParseContext, p: ProgramConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "a user name")
    p.user = words[1]


@keyword("group", ("program",))
def _p_group(ctx: ParseContext, p: ProgramConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "a group name")
    p.group = words[1]


@keyword("option", ("program",))
def _p_option(ctx: ParseContext, p: ProgramConf, words: list[str], where: Where, neg: bool) -> None:
    if len(words) < 2 or words[1] != "start-on-reload":
        raise fail(where, f"'{words[0]}' : unknown option '{' '.join(words[1:])}'.")
    p.start_on_reload = not neg


@keyword("peer", ("peers",))
def _peer(ctx: ParseContext, p: PeersConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 2, where, "<name> and <addr>:<port>")
    p.peers.append((words[1], words[2], where))


def _peers_line(ctx: ParseContext, p: PeersConf, words: list[str], where: Where, n: bool) -> None:
    p.lines.append(Rule(words[0], tuple(words[1:]), where))


for _k in ("bind", "server", "table", "disabled", "enabled", "default-server", "log"):
    KEYWORDS["peers"][_k] = _peers_line


@keyword("user", ("userlist",))
def _ul_user(ctx: ParseContext, u: UserlistConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "a user name")
    u.users[words[1]] = tuple(words[2:])


@keyword("group", ("userlist",))
def _ul_group(ctx: ParseContext, u: UserlistConf, words: list[str], where: Where, n: bool) -> None:
    need_args(words, 1, where, "a group name")
    u.groups[words[1]] = tuple(words[2:])


# `mailers` sections and the proxy keyword `email-alert`
from lb.config import mailers as _mailers_config  # noqa: E402, F401

# `resolvers` sections, the resolution server options and `server-template`
from lb.dns import config as _dns_config  # noqa: E402, F401
