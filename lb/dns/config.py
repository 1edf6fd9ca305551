"""Configuration of run-time resolution: the `resolvers` section, the server
options `resolvers`, `resolve-prefer`, `resolve-net`, `resolve-opts`,
`init-addr`, and the proxy keyword `server-template`.

Everything here fills the model; nothing opens a socket. The messages are the
ones HAProxy 2.6 prints for the same mistakes.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from lb.config.keywords import (
    KEYWORDS,
    ParseContext,
    ServerError,
    keyword,
    time_arg,
)
from lb.config.model import Config, ProxyConf, ResolversConf, ServerConf, Where
from lb.config.units import atol

RESOLV_CONF = "/etc/resolv.conf"
DEFAULT_SECTION = "default"

#: server options handled here, all taking one argument
SERVER_RESOLVE_OPTIONS = ("resolvers", "resolve-prefer", "resolve-net", "resolve-opts", "init-addr")
_INIT_METHODS = ("libc", "last", "none")
_RESOLVE_OPTS = ("allow-dup-ip", "ignore-weight", "prevent-dup-ip")

KEYWORDS.setdefault("resolvers", {})
_SECTION = ("resolvers",)


# ---------------------------------------------------------------- the section


def open_section(ctx: ParseContext, words: list[str], where: Where) -> None:
    """`resolvers <name>`: a new section (the parser calls this on its header)."""
    if len(words) < 2 or not words[1]:
        raise where.error("missing name for resolvers section.")
    name = words[1]
    old = ctx.cfg.resolvers.get(name)
    if old is not None:
        ctx.errors.append(
            f"Parsing [{where}]: resolvers '{name}' has same name as another resolvers "
            f"(declared at {old.where})."
        )
        return
    sec = ResolversConf(name=name, where=where)
    ctx.cfg.resolvers[name] = sec
    ctx.section = sec


def _add_nameserver(
    ctx: ParseContext, sec: ResolversConf, name: str, host: str, port: int, where: Where
) -> None:
    for other, _h, _p, w in sec.nameservers:
        if other == name:
            ctx.errors.append(
                f"Parsing [{where}]: nameserver '{name}' has same name as another nameserver "
                f"(declared at {w})."
            )
            return
    sec.nameservers.append((name, host, port, where))


def _split_ns_addr(text: str) -> tuple[str, str, str]:
    """(prefix, host, port text) of `[prefix@]host[:port]` / `[v6]:port`."""
    prefix, at, rest = text.partition("@")
    if not at:
        prefix, rest = "", text
    if rest.startswith("["):
        host, _b, tail = rest[1:].partition("]")
        return prefix, host, tail[1:] if tail.startswith(":") else ""
    if rest.count(":") > 1:  # a bare IPv6 address: the port follows the last colon
        host, _c, port = rest.rpartition(":")
        try:
            ipaddress.IPv6Address(rest)
            return prefix, rest, ""
        except ValueError:
            return prefix, host, port
    host, _c, port = rest.partition(":")
    return prefix, host, port


@keyword("nameserver", _SECTION)
def _nameserver(
    ctx: ParseContext, sec: ResolversConf, words: list[str], where: Where, n: bool
) -> None:
    if len(words) < 3 or not words[1] or not words[2]:
        raise where.error("'nameserver' expects <name> and <addr>[:<port>] as arguments.")
    name, text = words[1], words[2]
    prefix, host, port_s = _split_ns_addr(text)
    if prefix in ("tcp", "tcp4", "tcp6", "ipv4", "ipv6", "unix", "abns") and prefix:
        raise where.error(
            f"'nameserver {name}' : stream nameservers ('{prefix}@') are not supported."
        )
    if prefix not in ("", "udp", "udp4", "udp6"):
        raise where.error(f"'nameserver {name}' : unknown address prefix '{prefix}@'.")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise where.error(f"'nameserver {name}' : invalid address: '{host}' in '{text}'") from None
    port = 53
    if port_s:
        if not port_s.isdigit() or not 0 < int(port_s) < 65536:
            raise where.error(f"'nameserver {name}' : invalid port '{port_s}' in '{text}'")
        port = int(port_s)
    _add_nameserver(ctx, sec, name, str(ip), port, where)


def resolv_conf_nameservers(path: str = RESOLV_CONF) -> list[str]:
    """The `nameserver` addresses of a resolv.conf, in order (unreadable: none)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out: list[str] = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                out.append(str(ipaddress.ip_address(fields[1].split("%", 1)[0])))
            except ValueError:
                continue
    return out


@keyword("parse-resolv-conf", _SECTION)
def _parse_resolv_conf(
    ctx: ParseContext, sec: ResolversConf, words: list[str], where: Where, n: bool
) -> None:
    for ip in resolv_conf_nameservers():
        _add_nameserver(ctx, sec, ip, ip, 53, where)


_HOLD_EVENTS = ("nx", "other", "refused", "timeout", "valid", "obsolete")


@keyword("hold", _SECTION)
def _hold(ctx: ParseContext, sec: ResolversConf, words: list[str], where: Where, n: bool) -> None:
    if len(words) < 3:
        ctx.errors.append(str(where.error("'hold' expects an <event> and a <time> as arguments.")))
        ctx.errors.append("<event> can be either 'valid', 'nx', 'refused', 'timeout', or 'other'")
        return
    event = words[1]
    if event not in _HOLD_EVENTS:
        raise where.error(
            f"'hold' unknown <event>: '{event}', expects either 'nx', 'timeout', 'valid', "
            "'obsolete' or 'other'."
        )
    sec.hold[event] = time_arg(words[2], where, f"hold {event}")


@keyword("timeout", _SECTION)
def _timeout(
    ctx: ParseContext, sec: ResolversConf, words: list[str], where: Where, n: bool
) -> None:
    what = words[1] if len(words) > 1 else ""
    if what not in ("resolve", "retry"):
        raise where.error(
            f"'timeout' expects 'retry' or 'resolve' and <time> as arguments got '{what}'."
        )
    if len(words) < 3:
        raise where.error(f"'timeout {what}' expects <time> as argument.")
    ms = time_arg(words[2], where, f"timeout {what}")
    if what == "resolve":
        sec.timeout_resolve = ms
    else:
        sec.timeout_retry = ms


@keyword("resolve_retries", _SECTION)
def _resolve_retries(
    ctx: ParseContext, sec: ResolversConf, words: list[str], where: Where, n: bool
) -> None:
    if len(words) < 2 or not words[1]:
        raise where.error("'resolve_retries' expects <nb> as argument.")
    sec.resolve_retries = atol(words[1])


@keyword("accepted_payload_size", _SECTION)
def _payload_size(
    ctx: ParseContext, sec: ResolversConf, words: list[str], where: Where, n: bool
) -> None:
    if len(words) < 2 or not words[1]:
        raise where.error("'accepted_payload_size' expects <nb> as argument.")
    size = atol(words[1])
    if not 12 <= size <= 65535:
        raise where.error(
            f"'accepted_payload_size' must be between 12 and 65535 inclusive (was {size})."
        )
    sec.accepted_payload_size = size


# ---------------------------------------------------------------- server options


def server_option(srv: ServerConf, o: str, val: str, where: Where, kw: str) -> None:
    """One of SERVER_RESOLVE_OPTIONS on a `server` / `default-server` line."""

    def bad(msg: str) -> ServerError:
        return ServerError(where, f"'{kw} {{px}}/{srv.name}' : {msg}.")

    if o == "resolvers":
        srv.options["resolvers"] = val
    elif o == "resolve-prefer":
        if val not in ("ipv4", "ipv6"):
            raise bad("'resolve-prefer' expects either ipv4 or ipv6 as argument.")
        srv.options["resolve-prefer"] = val
    elif o == "resolve-net":
        if not val:
            raise bad("'resolve-net' expects a list of networks.")
        nets = []
        for part in val.split(","):
            try:
                nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise bad(f"'resolve-net' invalid network '{part}'.") from None
        srv.options["resolve-net"] = tuple(nets)
    elif o == "resolve-opts":
        opts = dict(srv.options.get("resolve-opts", {}))
        for part in val.split(","):
            if part not in _RESOLVE_OPTS:
                raise bad(
                    f"'resolve-opts' : unknown resolve-opts option '{part}', supported methods "
                    "are 'allow-dup-ip', 'ignore-weight', and 'prevent-dup-ip'."
                )
            if part == "allow-dup-ip":
                opts["allow-dup-ip"] = True
            elif part == "prevent-dup-ip":
                opts["allow-dup-ip"] = False
            else:
                opts[part] = True
        srv.options["resolve-opts"] = opts
    else:  # init-addr
        methods: list[str] = []
        have_ip = False
        for part in val.split(",") if val else []:
            if not part:
                continue
            if part in _INIT_METHODS:
                methods.append(part)
                continue
            try:
                ip = ipaddress.ip_address(part)
            except ValueError:
                raise bad(
                    f"'init-addr' : unknown init-addr method '{part}', supported methods are "
                    "'libc', 'last', 'none'."
                ) from None
            if have_ip:
                raise bad(f"'init-addr' : initial address already specified, cannot add '{part}'.")
            have_ip = True
            methods.append(str(ip))
        srv.options["init-addr"] = tuple(methods)


def initial_address(
    ctx: ParseContext,
    p: ProxyConf,
    srv: ServerConf,
    resolve: Any,
    where: Where,
) -> bool:
    """Give a server written with a host name its start-up address, trying the
    `init-addr` methods in turn (default `last,libc`). False: a fatal error was
    recorded. With `none` (or a failure when `resolvers` is set) the server starts
    without address, in maintenance until a resolution gives it one."""
    name = srv.host
    srv.options["fqdn"] = name
    methods = srv.options.get("init-addr") or ("last", "libc")
    prefer = srv.options.get("resolve-prefer", "")
    for m in methods:
        if m == "last":
            continue  # the state file, read when the worker starts, may still give one
        if m == "libc":
            found = resolve(name, prefer)
            if found is not None:
                srv.host, srv.family = found
                return True
            continue
        if m == "none":
            _no_address(srv)
            return True
        ip = ipaddress.ip_address(m)
        srv.host, srv.family = str(ip), "ipv6" if ip.version == 6 else "ipv4"
        return True
    if srv.options.get("resolvers"):
        ctx.warnings.append(
            f"[{where}] : 'server {p.name}/{srv.name}' : could not resolve address '{name}', "
            "disabling server."
        )
        _no_address(srv)
        return True
    if "libc" in methods:
        ctx.errors.append(
            f"[{where}] : 'server {p.name}/{srv.name}' : could not resolve address '{name}'."
        )
    else:
        ctx.errors.append(
            f"[{where}] : 'server {p.name}/{srv.name}' : no method found to resolve "
            f"address '{name}'."
        )
    ctx.errors.append("Failed to initialize server(s) addr.")
    return False


def _no_address(srv: ServerConf) -> None:
    srv.host, srv.family = "", "unspec"
    srv.options["no-addr"] = True  # starts in maintenance (resolution)


# ---------------------------------------------------------------- server-template


_TEMPLATE_USAGE = "'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments."


@keyword("server-template", ("frontend", "backend", "listen"))
def _server_template(
    ctx: ParseContext, p: ProxyConf, words: list[str], where: Where, n: bool
) -> None:
    from lb.config.keywords import KEYWORDS as table

    if not p.is_backend:
        ctx.errors.append(
            f"[{where}] : parsing [{where}] : 'server-template' not allowed because "
            f"{p.kind} '{p.name}' has no backend capability."
        )
        return
    if len(words) < 4:
        ctx.errors.append(f"[{where}] : {_TEMPLATE_USAGE}")
        return
    prefix, rng = words[1], words[2]
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", rng)
    low, high = (int(m.group(1)), int(m.group(2) or 0)) if m else (0, 0)
    if m and m.group(2) is None:
        low, high = 1, low
    if not m or low < 1 or high < low:
        ctx.errors.append(f"[{where}] : Wrong server-template number or range arg '{rng}'.")
        return
    server = table[p.kind]["server"]
    for i in range(low, high + 1):
        server(ctx, p, ["server", f"{prefix}{i}", *words[3:]], where, False)


# ---------------------------------------------------------------- whole-file checks


def validate(cfg: Config, errors: list[str]) -> None:
    """`resolvers <id>` must name a section; a section without name server is
    remarked. HAProxy also makes a `default` section from /etc/resolv.conf."""
    if DEFAULT_SECTION not in cfg.resolvers:
        sec = ResolversConf(name=DEFAULT_SECTION, where=Where(RESOLV_CONF, 0), implicit=True)
        for ip in resolv_conf_nameservers():
            sec.nameservers.append((ip, ip, 53, sec.where))
        cfg.resolvers[DEFAULT_SECTION] = sec
    for sec in cfg.resolvers.values():
        if not sec.nameservers and not sec.implicit:
            cfg.warnings.append(
                f"resolvers '{sec.name}' [{sec.where}] has no nameservers configured!"
            )
    for p in cfg.proxies:
        if not p.is_backend:
            continue
        for s in p.servers:
            ref = s.options.get("resolvers")
            if ref is None:
                continue
            if ref not in cfg.resolvers or (
                cfg.resolvers[ref].implicit and not cfg.resolvers[ref].nameservers
            ):
                errors.append(
                    f"{p.kind} '{p.name}', server '{s.name}': unable to find required "
                    f"resolvers '{ref}'"
                )
