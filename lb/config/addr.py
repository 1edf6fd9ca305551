"""Address parsing for ``bind``, ``stats socket`` and ``server`` (sans-IO).

Error messages are the text HAProxy 2.6 prints after ``'bind' : `` (or
``'server b/s' : ``), checked against the real binary.  Rules observed there:

* the port is split at the *last* colon unless the host is bracketed
  (``[::1]:80``), so ``::1:80`` is host ``::1`` port 80 and ``::1`` is host
  ``:`` port 1;
* ports are read like C's ``atoi`` (``80x`` is 80) but must start with a digit;
* a bind element may be a port range ``a-b``; several elements are separated
  by commas; an empty element other than a trailing one is refused;
* a path starting with ``/`` is a UNIX socket, so is ``unix@<path>``; their
  length is limited to 97 characters (room for HAProxy's temporary suffix),
  ``abns@`` names to 107;
* the port is checked before the address.

Host names are resolved for ``bind`` only (HAProxy resolves them while
parsing); for ``server`` they are kept and flagged, resolution happens later.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from lb.config.units import atol

BindFamily = Literal["ipv4", "ipv6", "unix", "abns", "fd", "sockpair"]
ServerFamily = Literal["ipv4", "ipv6", "unspec", "unix", "abns", "sockpair"]

#: HAProxy's usage sentence for ``bind`` without address (follows ``'bind' ``)
BIND_USAGE = "expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments."
#: HAProxy's usage sentence for ``server`` without address (follows ``'server' ``)
SERVER_USAGE = "expects <name> and <addr>[:<port>] as arguments."

UNIX_PATH_MAX = 97
ABNS_NAME_MAX = 107

#: resolver(host, family) -> address text or None; family is AF_INET, AF_INET6 or AF_UNSPEC
Resolver = Callable[[str, int], "str | None"]

_STREAM_PREFIXES: dict[str, str] = {
    "ipv4@": "ipv4",
    "ipv6@": "ipv6",
    "tcp@": "",
    "tcp4@": "ipv4",
    "tcp6@": "ipv6",
    "unix@": "unix",
    "uxst@": "unix",
    "abns@": "abns",
    "fd@": "fd",
    "sockpair@": "sockpair",
}
_DGRAM_PREFIXES = ("udp@", "udp4@", "udp6@", "uxdg@")
_QUIC_PREFIXES = {"quic4@": 2, "quic6@": 10}


@dataclass(frozen=True)
class BindAddr:
    """One listening address. Unused fields keep their defaults."""

    family: BindFamily
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1


@dataclass(frozen=True)
class ServerAddr:
    """A server address.

    `port` 0 means "the port the client connected to"; with `port_offset` the
    port is added to the client's port (it may be negative).  `resolve` is
    True when `host` is a name still to be resolved (family ``unspec`` unless
    an ``ipv4@``/``ipv6@`` prefix forced one).
    """

    family: ServerFamily
    host: str = ""
    port: int = 0
    port_offset: bool = False
    path: str = ""
    fd: int = -1
    resolve: bool = False


def default_resolver(host: str, family: int) -> str | None:
    """Resolve `host` with getaddrinfo; first answer wins, like HAProxy."""
    try:
        infos = socket.getaddrinfo(host, None, family, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    for fam, _type, _proto, _canon, sockaddr in infos:
        if fam in (socket.AF_INET, socket.AF_INET6):
            return str(sockaddr[0])
    return None


def _ipv4_literal(host: str) -> str | None:
    if not host or any(c.isspace() for c in host):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def _ipv6_literal(host: str) -> str | None:
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host))
    except (OSError, ValueError):
        return None


def _strip_prefix(elem: str) -> tuple[str, str]:
    """Return (kind, rest): kind is '' (none), a family name, or 'dgram'/'quic<N>'."""
    low = elem.lower()
    for prefix, kind in _STREAM_PREFIXES.items():
        if low.startswith(prefix):
            return kind or "any", elem[len(prefix) :]
    for prefix in _DGRAM_PREFIXES:
        if low.startswith(prefix):
            return "dgram", elem[len(prefix) :]
    for prefix, fam in _QUIC_PREFIXES.items():
        if low.startswith(prefix):
            return f"quic{fam}", elem[len(prefix) :]
    return "", elem


def _split_host_port(rest: str) -> tuple[str, str | None]:
    """Split at the last colon, honouring ``[v6]``; port None when there is no colon."""
    if rest.startswith("["):
        close = rest.find("]")
        if close >= 0:
            after = rest[close + 1 :]
            host = rest[1:close]
            if after.startswith(":"):
                return host, after[1:]
            return host, None if not after else ""
    host, colon, port = rest.rpartition(":")
    if not colon:
        return rest, None
    return host, port


def _common_prefix_checks(elem: str, kind: str) -> None:
    if kind == "dgram":
        raise ValueError(f"dgram-type address not acceptable in '{elem}'")
    if kind.startswith("quic"):
        raise ValueError(
            f"unsupported stream protocol for datagram family {kind[4:]} address '{elem}'; "
            "QUIC is not compiled in if this is what you were looking for."
        )


def _check_path(elem: str, kind: str, path: str) -> None:
    limit = ABNS_NAME_MAX if kind == "abns" else UNIX_PATH_MAX
    if len(path) > limit:
        raise ValueError(f"socket path '{elem}' too long (max {limit})")


def _parse_fd(elem: str, text: str) -> int:
    if not text or not text.isascii() or not text.isdigit():
        raise ValueError(f"file descriptor '{text}' is not a valid integer in '{elem}'")
    return int(text)


def _resolve_host(
    elem: str, host: str, family: str, resolver: Resolver
) -> tuple[Literal["ipv4", "ipv6"], str]:
    if host in ("", "*"):
        return ("ipv6", "::") if family == "ipv6" else ("ipv4", "0.0.0.0")
    if family != "ipv6":
        v4 = _ipv4_literal(host)
        if v4 is not None:
            return "ipv4", v4
    if family != "ipv4":
        v6 = _ipv6_literal(host)
        if v6 is not None:
            return "ipv6", v6
    if _ipv4_literal(host) is None and _ipv6_literal(host) is None:
        af = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}.get(family, socket.AF_UNSPEC)
        found = resolver(host, af)
        if found is not None:
            v4 = _ipv4_literal(found)
            if v4 is not None and family != "ipv6":
                return "ipv4", v4
            v6 = _ipv6_literal(found)
            if v6 is not None and family != "ipv4":
                return "ipv6", v6
    raise ValueError(f"invalid address: '{host}' in '{elem}'")


def _bind_ports(elem: str, port: str | None) -> range:
    if not port:
        raise ValueError(f"missing port specification in '{elem}'")
    if port[0] in "+-":
        raise ValueError(f"port offset not permitted here in '{elem}'")
    if not (port[0].isascii() and port[0].isdigit()):
        raise ValueError(f"invalid character '{port[0]}' in port number '{port}' in '{elem}'")
    low_s, dash, high_s = port.partition("-")
    low = atol(low_s)
    if not 1 <= low <= 65535:
        raise ValueError(f"invalid port '{low_s}'")
    high = low
    if dash:
        high = atol(high_s)
        if not 1 <= high <= 65535:
            raise ValueError(f"invalid port '{high_s}'")
        if low > high:
            raise ValueError(f"invalid port range '{low}-{high}'")
    return range(low, high + 1)


def _parse_bind_elem(elem: str, resolver: Resolver) -> list[BindAddr]:
    kind, rest = _strip_prefix(elem)
    _common_prefix_checks(elem, kind)
    if kind in ("unix", "abns") or (not kind and elem.startswith("/")):
        kind = kind or "unix"
        _check_path(elem, kind, rest)
        return [BindAddr(kind, path=rest)]  # type: ignore[arg-type]
    if kind in ("fd", "sockpair"):
        return [BindAddr(kind, fd=_parse_fd(elem, rest))]  # type: ignore[arg-type]
    host, port = _split_host_port(rest)
    ports = _bind_ports(elem, port)
    family, addr = _resolve_host(elem, host, kind if kind != "any" else "", resolver)
    return [BindAddr(family, host=addr, port=p) for p in ports]


def parse_bind(text: str, resolver: Resolver | None = None) -> list[BindAddr]:
    """Parse a ``bind`` / ``stats socket`` address list into its addresses.

    Port ranges and comma lists are expanded in order. Raise ValueError with
    HAProxy's wording (the part after ``'bind' : ``).
    """
    resolver = resolver or default_resolver
    elems = text.split(",")
    if len(elems) > 1 and elems[-1] == "":
        elems.pop()
    result: list[BindAddr] = []
    for elem in elems:
        if elem == "":
            raise ValueError("'' resolves to an empty address (environment variable missing?)")
        result.extend(_parse_bind_elem(elem, resolver))
    return result


def parse_server_addr(text: str) -> ServerAddr:
    """Parse a ``server`` address: ``[prefix@]host[:port|:+N|:-N]``, a path, ``sockpair@N``.

    Raise ValueError with HAProxy's wording (the part after ``'server b/s' : ``).
    Names are not resolved here.
    """
    elem = text
    kind, rest = _strip_prefix(elem)
    _common_prefix_checks(elem, kind)
    if kind == "fd":
        raise ValueError(f"a file descriptor is not acceptable here in '{elem}'")
    if kind in ("unix", "abns") or (not kind and elem.startswith("/")):
        kind = kind or "unix"
        _check_path(elem, kind, rest)
        return ServerAddr(kind, path=rest)  # type: ignore[arg-type]
    if kind == "sockpair":
        return ServerAddr("sockpair", fd=_parse_fd(elem, rest))
    host, port_s = _split_host_port(rest)
    port, offset = 0, False
    if port_s:
        if "-" in port_s[1:]:
            raise ValueError(f"port range not permitted here in '{elem}'")
        if port_s[0] in "+-":
            offset = True
            port = atol(port_s[1:]) * (-1 if port_s[0] == "-" else 1)
        elif not (port_s[0].isascii() and port_s[0].isdigit()):
            raise ValueError(
                f"invalid character '{port_s[0]}' in port number '{port_s}' in '{elem}'"
            )
        else:
            port = atol(port_s)
            if port > 65535:
                raise ValueError(f"invalid port '{port_s}'")
    family = kind if kind in ("ipv4", "ipv6") else ""
    if host in ("", "*"):
        literal: tuple[str, str] | None = (
            ("ipv6", "::") if family == "ipv6" else ("ipv4", "0.0.0.0")
        )
    else:
        v4 = _ipv4_literal(host) if family != "ipv6" else None
        v6 = _ipv6_literal(host) if family != "ipv4" else None
        literal = ("ipv4", v4) if v4 else ("ipv6", v6) if v6 else None
    if literal is not None:
        return ServerAddr(literal[0], host=literal[1], port=port, port_offset=offset)  # type: ignore[arg-type]
    return ServerAddr(family or "unspec", host=host, port=port, port_offset=offset, resolve=True)  # type: ignore[arg-type]
