"""Cookie persistence: ``cookie NAME rewrite|insert|prefix …`` with server
``cookie VALUE``, ``option persist``, ``force-persist`` and ``ignore-persist``.

Three calls plug it into the HTTP path (lb/http/front.py, lb/http/back.py):

- ``on_request(st, head, raw)`` reads the client's cookie, decides the
  server it points to and returns the head to forward (``indirect`` insert
  mode removes the cookie, ``prefix`` mode strips ``SRV~``);
- ``server_for(st)`` gives that server to the assignment step, or None to
  let the balancer choose;
- ``on_response(st, raw)`` inserts, rewrites or prefixes ``Set-Cookie``.

What HAProxy 2.6 does and this follows (checked against it): a cookie keeps
a client on its server while the server is UP, also while it is drained
(weight 0); a server that is DOWN or in maintenance is skipped and the
balancer chooses again, unless ``option persist`` or a ``force-persist``
condition says otherwise; ``option redispatch`` then moves the request when
the connection fails. In insert mode no cookie is sent to a client that
already has a valid one (except to refresh ``maxidle``/``maxlife`` dates);
``nocache`` adds ``cache-control: private`` to a cacheable response that
gets a cookie; ``postonly`` inserts only on POST responses; ``preserve``
leaves a cookie the server sets itself alone.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lb.config.units import TimeError, parse_time

_KEY = "\x00persist"  # per-stream state, kept in Stream.vars under a name no rule can write
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_INDEX = {c: i for i, c in enumerate(_B64)}

_COOKIE_LINE = re.compile(rb"\n([Cc][Oo][Oo][Kk][Ii][Ee])[ \t]*:([^\r\n]*)(\r?)(?=\n)")
_SETCOOKIE_LINE = re.compile(rb"(?i)\n(set-cookie)[ \t]*:[ \t]*([^\r\n]*)(\r?)(?=\n)")
_CACHE_STATUSES = frozenset({200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501})

_FLAGS = frozenset(
    {"insert", "rewrite", "prefix", "indirect", "nocache", "postonly", "preserve"}
    | {"httponly", "secure", "dynamic"}
)
OPTIONS_MSG = (
    "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', "
    "'domain', 'maxidle', 'dynamic', 'maxlife' and 'attr' options."
)


class PersistConfigError(ValueError):
    """Message as HAProxy words it; ``no_space`` for its ``parsing [f:l]:`` form."""

    def __init__(self, message: str, no_space: bool = False) -> None:
        super().__init__(message)
        self.no_space = no_space


@dataclass(slots=True)
class CookieConf:
    name: str
    insert: bool = False
    rewrite: bool = False
    prefix: bool = False
    indirect: bool = False
    nocache: bool = False
    postonly: bool = False
    preserve: bool = False
    httponly: bool = False
    secure: bool = False
    dynamic: bool = False
    domains: list[str] = field(default_factory=list)
    attrs: list[str] = field(default_factory=list)
    maxidle: int = 0  # seconds
    maxlife: int = 0  # seconds


def parse_cookie(words: list[str] | tuple[str, ...]) -> CookieConf:
    """The words after ``cookie``."""
    if not words or not words[0]:
        raise PersistConfigError("'cookie' expects <cookie_name> as argument.")
    conf = CookieConf(words[0])
    i = 1
    while i < len(words):
        w = words[i]
        if w in _FLAGS:
            setattr(conf, w, True)
        elif w == "domain":
            if i + 1 >= len(words) or not words[i + 1]:
                raise PersistConfigError("'domain' expects <domain> as argument.", True)
            i += 1
            conf.domains.append(words[i])
        elif w == "attr":
            if i + 1 >= len(words) or not words[i + 1]:
                raise PersistConfigError("'attr' expects <value> as argument.", True)
            i += 1
            conf.attrs.append(words[i])
        elif w in ("maxidle", "maxlife"):
            what = "idletime" if w == "maxidle" else "lifetime"
            if i + 1 >= len(words) or not words[i + 1]:
                raise PersistConfigError(f"'{w}' expects <{what}> in seconds as argument.", True)
            i += 1
            try:
                ms = parse_time(words[i], "s")
            except (TimeError, ValueError):
                bad = next((c for c in words[i] if not c.isdigit()), words[i][:1])
                raise PersistConfigError(
                    f"unexpected character '{bad}' in argument to <{w}>.", True
                ) from None
            setattr(conf, w, (ms + 999) // 1000)
        else:
            raise PersistConfigError(OPTIONS_MSG)
        i += 1
    if conf.insert + conf.rewrite + conf.prefix > 1:
        raise PersistConfigError("cookie 'rewrite', 'insert' and 'prefix' modes are incompatible.")
    if conf.preserve and not (conf.insert or conf.indirect):
        raise PersistConfigError("cookie 'preserve' requires at least 'insert' or 'indirect'.")
    return conf


# ---------------------------------------------------------------- dates in cookie values


def s30tob64(value: int) -> str:
    """A 30-bit number as 5 base64 characters, most significant first."""
    out = []
    for _ in range(5):
        out.append(_B64[value & 63])
        value >>= 6
    return "".join(reversed(out))


def b64tos30(text: str) -> int | None:
    if len(text) != 5:
        return None
    v = 0
    for c in text:
        d = _B64_INDEX.get(c)
        if d is None:
            return None
        v = (v << 6) | d
    return v


@dataclass(slots=True)
class _Decision:
    """What the request side found, for the response side."""

    flag: str = "N"  # N none, I invalid, D down, V valid, E expired, O old
    target: Any = None  # server the cookie steers to
    direct: bool = False
    last_date: int = 0
    first_date: int = 0
    server_set: bool = False


# ---------------------------------------------------------------- the live object


class CookiePersist:
    def __init__(
        self,
        proxy: Any,
        conf: CookieConf,
        force: list[Callable[[Any], bool]] | None = None,
        ignore: list[Callable[[Any], bool]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.proxy = proxy
        self.conf = conf
        self.bname = conf.name.encode("latin-1")
        self.force = force or []
        self.ignore = ignore or []
        self.clock = clock
        self.dated = bool(conf.maxidle or conf.maxlife)
        tail = "; path=/"
        for d in conf.domains:
            tail += f"; domain={d}"
        if conf.httponly:
            tail += "; HttpOnly"
        if conf.secure:
            tail += "; Secure"
        for a in conf.attrs:
            tail += f"; {a}"
        self.tail = tail.encode("latin-1")

    # ------------------------------------------------------------ request

    def on_request(self, st: Any, head: Any, raw: bytes) -> bytes:
        d = _Decision()
        _set_state(st, d)
        if any(cond(st) for cond in self.ignore):
            return raw
        forced = any(cond(st) for cond in self.force)
        persist_down = forced or bool(self.proxy.options.get("persist"))
        if b"ookie" not in raw and b"OOKIE" not in raw:
            return raw
        conf = self.conf
        now = int(self.clock())
        edits: list[tuple[int, int, bytes]] = []
        for m in _COOKIE_LINE.finditer(raw):
            pairs = m.group(2).split(b";")
            kept: list[bytes] = []
            changed = False
            for pair in pairs:
                name, eq, value = pair.strip().partition(b"=")
                if not eq or name != self.bname:
                    kept.append(pair)
                    continue
                value = value.strip()
                if d.flag == "N":
                    self._match(d, value, now, persist_down)
                if conf.insert and conf.indirect:
                    changed = True
                    continue
                if conf.prefix and b"~" in value:
                    changed = True
                    lead = pair[: len(pair) - len(pair.lstrip())]
                    kept.append(lead + name + b"=" + value.split(b"~", 1)[1])
                    continue
                kept.append(pair)
            if changed:
                start, end = m.start(), m.end()
                if any(p.strip() for p in kept):
                    body = b";".join(kept)
                    if not body.startswith(b" "):
                        body = b" " + body.lstrip()
                    edits.append((start, end, b"\n" + m.group(1) + b":" + body + m.group(3)))
                else:
                    edits.append((start, end, b""))
        for start, end, new in reversed(edits):
            raw = raw[:start] + new + raw[end:]
        return raw

    def _match(self, d: _Decision, value: bytes, now: int, persist_down: bool) -> None:
        conf = self.conf
        if conf.prefix:
            if b"~" not in value:
                return
            value = value.split(b"~", 1)[0]
        elif self.dated or b"|" in value:
            parts = value.split(b"|")
            value = parts[0]
            if self.dated:
                last = b64tos30(parts[1].decode("latin-1")) if len(parts) > 1 else None
                first = b64tos30(parts[2].decode("latin-1")) if len(parts) > 2 else None
                d.last_date = (last or 0) << 2
                d.first_date = (first or 0) << 2
                if conf.maxidle and d.last_date and d.last_date + conf.maxidle < now:
                    d.flag = "E"
                    return
                if conf.maxlife and d.first_date and d.first_date + conf.maxlife < now:
                    d.flag = "E"
                    return
                if d.last_date and d.last_date > now + 86400:
                    d.flag = "O"
                    return
        text = value.decode("latin-1")
        d.flag = "I"
        for srv in self.proxy.servers:
            if not srv.cookie or srv.cookie != text:
                continue
            up = srv.usable
            if up or persist_down:
                d.flag = "V" if up else "D"
                d.target = srv
                d.direct = True
                return
            d.flag = "D"

    def server_for(self, st: Any) -> Any:
        d = _get_state(st)
        return d.target if d is not None else None

    # ------------------------------------------------------------ response

    def on_response(self, st: Any, method: bytes, status: int, raw: bytes) -> bytes:
        d = _get_state(st)
        srv = getattr(st, "server", None)
        if d is None or srv is None:
            return raw
        conf = self.conf
        if b"ookie" in raw or b"OOKIE" in raw:
            raw = self._server_cookies(d, srv, raw)
        if not conf.insert or not srv.cookie or d.server_set:
            return raw
        if conf.postonly and method != b"POST":
            return raw
        now = int(self.clock())
        refresh = (conf.maxidle or d.last_date) and (not d.last_date or d.last_date < now)
        if d.direct and d.target is srv and not refresh:
            return raw
        value = srv.cookie
        if self.dated:
            stamp = s30tob64(((now + 3) >> 2) & 0x3FFFFFFF)
            value += "|" + stamp
            if conf.maxlife:
                first = d.first_date if (d.direct and d.first_date) else now + 3
                value += "|" + s30tob64((first >> 2) & 0x3FFFFFFF)
        add = b"set-cookie: " + self.bname + b"=" + value.encode("latin-1") + self.tail + b"\r\n"
        if conf.nocache and _cacheable(raw, status):
            add += b"cache-control: private\r\n"
        cut = len(raw) - (2 if raw.endswith(b"\r\n\r\n") else 1)
        return raw[:cut] + add + raw[cut:]

    def _server_cookies(self, d: _Decision, srv: Any, raw: bytes) -> bytes:
        conf = self.conf
        edits: list[tuple[int, int, bytes]] = []
        for m in _SETCOOKIE_LINE.finditer(raw):
            text = m.group(2)
            name, eq, rest = text.partition(b"=")
            if not eq or name.strip() != self.bname:
                continue
            d.server_set = True
            if conf.insert:
                if conf.preserve:
                    continue
                edits.append((m.start(), m.end(), b""))  # insert mode owns the cookie
            elif srv.cookie and (conf.rewrite or conf.prefix):
                value, sep, attrs = rest.partition(b";")
                cv = srv.cookie.encode("latin-1")
                new = cv if conf.rewrite else cv + b"~" + value.strip()
                line = b"\n" + m.group(1) + b": " + self.bname + b"=" + new + sep + attrs
                edits.append((m.start(), m.end(), line + m.group(3)))
        if conf.insert and not conf.preserve:
            d.server_set = False
        for start, end, new in reversed(edits):
            raw = raw[:start] + new + raw[end:]
        return raw


def _cacheable(raw: bytes, status: int) -> bool:
    """A response a shared cache could keep: a cacheable status, freshness
    information, and nothing that forbids caching."""
    if status not in _CACHE_STATUSES:
        return False
    low = raw.lower()
    if b"\npragma:" in low and b"no-cache" in low:
        return False
    cc = re.findall(rb"\ncache-control[ \t]*:([^\r\n]*)", low)
    for v in cc:
        if any(k in v for k in (b"private", b"no-cache", b"no-store", b"max-age=0", b"s-maxage=0")):
            return False
    if b"\nvary:" in low:
        return False
    fresh = any(b"max-age" in v or b"public" in v or b"s-maxage" in v for v in cc)
    return fresh or b"\nexpires:" in low or b"\nlast-modified:" in low or b"\netag:" in low


def _set_state(st: Any, d: _Decision) -> None:
    if st.vars is None:
        st.vars = {}
    st.vars[_KEY] = d


def _get_state(st: Any) -> _Decision | None:
    v = st.vars
    return v.get(_KEY) if v else None


# ---------------------------------------------------------------- building


def build_persist(proxy: Any, acls: Any = None) -> CookiePersist | None:
    """The proxy's persistence object from its ``cookie``, ``force-persist``
    and ``ignore-persist`` lines (None without a ``cookie`` line)."""
    pc = proxy.conf
    lines = pc.extra.get("cookie") or []
    if not lines or not proxy.is_backend:
        return None
    rule = lines[-1]
    try:
        conf = parse_cookie(list(rule.words))
    except PersistConfigError as exc:
        err = rule.where.error(str(exc))
        if exc.no_space:
            err.separator = ": "  # type: ignore[misc]
        raise err from None
    force = _conditions(proxy, "force-persist", acls)
    ignore = _conditions(proxy, "ignore-persist", acls)
    return CookiePersist(proxy, conf, force, ignore)


def _conditions(proxy: Any, keyword: str, acls: Any) -> list[Callable[[Any], bool]]:
    rules = proxy.conf.extra.get(keyword) or []
    if not rules:
        return []
    from lb.acl import AclError, AclSet, compile_condition

    if acls is None:
        acls = AclSet(proxy.conf.acls, None)
    out = []
    for r in rules:
        words = list(r.words)
        if not words or words[0] not in ("if", "unless"):
            raise r.where.error(
                f"'{keyword}' requires either 'if' or 'unless' followed by a condition."
            )
        try:
            out.append(compile_condition(words, acls))
        except AclError as exc:
            raise r.where.error(
                f"error detected while parsing a '{keyword}' condition : {exc}."
            ) from None
    return out
