"""HAProxy 2.6's small-object HTTP cache: `cache` sections, `http-request
cache-use`, `http-response cache-store` and the store behind them.

A store is an LRU of whole responses bounded by `total-max-size` (counted in
HAProxy's 1 kB blocks, with the object sizes `show cache` reports). The key is
the SHA-1 of `https://` + Host + URI (the URI alone when it is absolute), as
HAProxy computes it, so `show cache` prints the same `hash:` values.

- `cache-use` (request rule): marks the stream with its key; a fresh entry
  answers at once, as a local response (no server contacted), with an `age`
  header; the log names server `<CACHE>`.
- `cache-store` (response rule): decides with HAProxy's rules whether the
  response may be kept, records its head as it stands at this rule, and puts a
  `Writer` on the client connection (`FrontConn.cache_w`). The client side hands
  it the body bytes it sends (`send_from_server`) and commits it when the
  response is complete (`response_done`). Bodies are kept as forwarded (chunked
  framing included), so a hit is byte-for-byte the response once sent, plus `age`.

Nothing here runs for a proxy without these rules: the client side pays one
slot test on its body path.
"""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from collections import OrderedDict
from email.utils import parsedate_to_datetime
from typing import Any

from lb.config.errors import ConfigError, LexError
from lb.config.keywords import KEYWORDS, ParseContext, keyword
from lb.config.model import CacheConf, Config, Where
from lb.http.h1 import Head, request_keeps_alive

BLOCK = 1024  # HAProxy's shared-memory block size
#: bytes an object takes in HAProxy's store besides its head and body (its entry
#: header and the status line's fixed part), so that `size:` reads as HAProxy's
ENTRY_OVERHEAD = 133
MAX_AGE_CAP = 0x7FFFFFFF
_DIGITS = re.compile(r"\d+$")
_SECTION = ("cache",)

KEYWORDS.setdefault("cache", {})


# ---------------------------------------------------------------- the section


def open_section(ctx: ParseContext, words: list[str], where: Where) -> None:
    """`cache <name>`: a new section (the parser calls this on its header)."""
    if len(words) < 2 or not words[1]:
        raise where.error("'cache' expects a <name> argument")
    if len(words) > 2:
        raise where.error(f"'cache' cannot handle unexpected argument '{words[2]}'.")
    name = words[1][:32]
    if len(words[1]) > 32:
        ctx.warnings.append(
            f"parsing [{where}]: cache name is limited to 32 characters, truncate to '{name}'."
        )
    if name in ctx.cfg.caches:
        ctx.errors.append(str(LexError(f"Duplicate cache name '{name}'.", where.file, where.line)))
        return
    sec = CacheConf(name=name, where=where)
    ctx.cfg.caches[name] = sec
    ctx.section = sec


def _one_arg(words: list[str], where: Where) -> str:
    if len(words) > 2:
        raise where.error(f"'{words[0]}' cannot handle unexpected argument '{words[2]}'.")
    return words[1] if len(words) > 1 else ""


def _bad(where: Where, msg: str) -> ConfigError:
    return LexError(msg, where.file, where.line)


def _warn(ctx: ParseContext, where: Where, msg: str) -> None:
    ctx.warnings.append(f"parsing [{where}]: {msg}")


@keyword("total-max-size", _SECTION)
def _total_max_size(
    ctx: ParseContext, sec: CacheConf, words: list[str], where: Where, negate: bool
) -> None:
    v = _one_arg(words, where)
    if not _DIGITS.match(v):
        raise _bad(where, f"total-max-size wrong value '{v}'")
    if int(v) > 4095:
        raise _bad(where, f'"total-max-size" ({v}) must not be greater than 4095')
    sec.max_blocks = int(v) * (1024 * 1024 // BLOCK)


@keyword("max-age", _SECTION)
def _max_age(
    ctx: ParseContext, sec: CacheConf, words: list[str], where: Where, negate: bool
) -> None:
    v = _one_arg(words, where)
    if not v:
        _warn(ctx, where, "'max-age' expects an age parameter in seconds.")
    m = re.match(r"\s*([+-]?\d+)", v)  # atoi: the leading number, 0 without one
    sec.max_age = int(m.group(1)) if m else 0


@keyword("max-object-size", _SECTION)
def _max_object_size(
    ctx: ParseContext, sec: CacheConf, words: list[str], where: Where, negate: bool
) -> None:
    v = _one_arg(words, where)
    if not v:
        _warn(ctx, where, "'max-object-size' expects a maximum file size parameter in bytes.")
    if not _DIGITS.match(v):
        raise _bad(where, f"max-object-size wrong value '{v}'")
    sec.max_object_size = int(v) & 0xFFFFFFFF


@keyword("process-vary", _SECTION)
def _process_vary(
    ctx: ParseContext, sec: CacheConf, words: list[str], where: Where, negate: bool
) -> None:
    v = _one_arg(words, where)
    msg = '\'process-vary\' expects "on" or "off" (enable or disable vary processing).'
    if not v:
        _warn(ctx, where, msg)
    if v in ("on", "off"):
        sec.process_vary = v == "on"
    else:
        _warn(ctx, where, msg)


@keyword("max-secondary-entries", _SECTION)
def _max_secondary(
    ctx: ParseContext, sec: CacheConf, words: list[str], where: Where, negate: bool
) -> None:
    v = _one_arg(words, where)
    if not v:
        _warn(ctx, where, "'max-secondary-entries' expects a strictly positive number.")
    if not _DIGITS.match(v) or int(v) == 0:
        raise _bad(where, f"max-secondary-entries wrong value '{v}'")
    sec.max_secondary_entries = int(v)


def validate(cfg: Config, errors: list[str]) -> None:
    """What HAProxy checks once a `cache` section is read."""
    for sec in cfg.caches.values():
        if sec.max_blocks <= 0:
            errors.append(f"Size not specified for cache '{sec.name}'")
        elif sec.max_object_size > sec.max_blocks * BLOCK // 2:
            errors.append(
                '"max-object-size" is limited to an half of "total-max-size" => '
                f"{sec.max_blocks * BLOCK // 2}"
            )


# ---------------------------------------------------------------- the store


class Entry:
    """One stored response. `head` ends with the blank line's first CRLF missing:
    the `age` line is appended to it on a hit."""

    __slots__ = (
        "key",
        "hash32",
        "sec",
        "sig",
        "enc",
        "head",
        "body",
        "closing",
        "size",
        "blocks",
        "expire",
        "stored",
        "age",
        "addr",
    )

    def size_line(self, now: int) -> str:
        return (
            f"{self.addr:#x} hash:{self.hash32} vary:0x{self.sec.hex()} size:{self.size} "
            f"({self.blocks} blocks), refcount:0, expire:{self.expire - now}\n"
        )


class Cache:
    """A `cache` section's live store: an LRU bounded by `total-max-size`."""

    def __init__(self, conf: CacheConf) -> None:
        self.name = conf.name
        self.max_blocks = conf.max_blocks
        self.max_obj = conf.max_object_size or (conf.max_blocks * BLOCK) >> 8
        self.max_age = conf.max_age
        self.vary = conf.process_vary
        self.max_secondary = conf.max_secondary_entries
        self.lru: OrderedDict[tuple[bytes, bytes], Entry] = OrderedDict()
        self.by_key: dict[bytes, list[Entry]] = {}
        self.used = 0  # blocks
        self.addr = 0x7F0000000000 | (id(self) & 0xFFFFFFF) << 4  # what `show cache` prints
        self.next_addr = self.addr + 0xC8

    def lookup(self, key: bytes, head: Head, now: int) -> Entry | None:
        """The fresh entry answering a request (its Vary-selected variant), or None."""
        cands = self.by_key.get(key)
        if not cands:
            return None
        for e in cands:
            if e.expire <= now:
                continue
            if e.sig and not _vary_matches(e, head):
                continue
            self.lru.move_to_end((e.key, e.sec))
            return e
        return None

    def remove(self, e: Entry) -> None:
        if self.lru.pop((e.key, e.sec), None) is None:
            return
        self.used -= e.blocks
        lst = self.by_key.get(e.key)
        if lst is not None:
            lst.remove(e)
            if not lst:
                del self.by_key[e.key]

    def invalidate(self, key: bytes) -> None:
        for e in list(self.by_key.get(key, ())):
            self.remove(e)

    def insert(self, e: Entry, now: int) -> bool:
        """Keep `e`, replacing the same variant and evicting the least recently used
        objects to make room. False when it cannot be kept."""
        old = self.lru.get((e.key, e.sec))
        if old is not None:
            self.remove(old)
        same = self.by_key.get(e.key, [])
        if e.sig and len(same) >= self.max_secondary:
            for x in [x for x in same if x.expire <= now]:
                self.remove(x)
            if len(self.by_key.get(e.key, ())) >= self.max_secondary:
                return False
        if e.blocks > self.max_blocks:
            return False
        while self.used + e.blocks > self.max_blocks and self.lru:
            self.remove(next(iter(self.lru.values())))
        e.addr = self.next_addr
        self.next_addr += ((e.blocks * (BLOCK + 48)) + 0xF) & ~0xF
        self.lru[(e.key, e.sec)] = e
        self.by_key.setdefault(e.key, []).append(e)
        self.used += e.blocks
        return True

    def show(self, now: int) -> str:
        """This cache's part of `show cache`: objects in hash order, expired ones left out."""
        out = [f"{self.addr:#x}: {self.name} (shctx:{self.addr - 0x3A:#x}, available blocks:"]
        out.append(f"{self.max_blocks})\n")
        for e in sorted(self.lru.values(), key=lambda x: x.hash32):
            if e.expire > now:
                out.append(e.size_line(now))
        return "".join(out)


def caches_of(state: Any) -> dict[str, Cache]:
    """The live stores of a state, made on first use from its configuration."""
    caches = state.__dict__.get("caches")
    if caches is None:
        caches = state.caches = {n: Cache(c) for n, c in state.cfg.caches.items()}
    return caches


# ---------------------------------------------------------------- request side


def request_key(head: Head) -> bytes | None:
    """SHA-1 of `https://` + Host + URI, or of the URI when it is absolute."""
    uri = head.uri
    if not uri:
        return None
    if uri[:1] != b"/" and b"://" in uri[:12]:
        data = uri
    else:
        host = head.get(b"host")
        if host is None:
            return None
        data = b"https://" + host + uri
    return hashlib.sha1(data).digest()  # noqa: S324 - HAProxy's cache key, not security


def _values(head: Head, lname: bytes) -> list[bytes]:
    """Every comma-separated value of every `lname` header, trimmed."""
    out: list[bytes] = []
    for v in head.get_all(lname):
        out.extend(x.strip() for x in v.split(b","))
    return out


def _request_flags(head: Head) -> tuple[bool, bool]:
    """(may be stored, may be answered from the cache) for a GET/HEAD request."""
    store = use = True
    cc = _values(head, b"cache-control")
    for v in cc:
        lv = v.lower()
        if lv == b"no-cache":
            use = False
        elif lv == b"no-store":
            use = store = False
    if not cc and any(v.strip().lower() == b"no-cache" for v in head.get_all(b"pragma")):
        use = False
    if head.get(b"authorization") is not None:
        use = store = False
    return store, use


class ReqInfo:
    """What `cache-use` learnt of a request, for `cache-store`."""

    __slots__ = ("key", "store", "method", "head")

    def __init__(self, key: bytes, store: bool, method: bytes, head: Head) -> None:
        self.key, self.store, self.method, self.head = key, store, method, head


def _count(proxy: Any, st: Any, hit: bool) -> None:
    c = proxy.fe_counters if st.frontend is proxy else proxy.be_counters
    if hit:
        c.cache_hits += 1
    else:
        c.cache_lookups += 1


def hit_response(e: Entry, head: Head, now: int) -> bytes:
    age = max(0, now - e.stored) + e.age
    if age > MAX_AGE_CAP:
        age = MAX_AGE_CAP
    out = e.head + b"age: " + str(age).encode() + b"\r\n\r\n"
    return out if head.method == b"HEAD" else out + e.body


def _cache_use(args: list[str], rule: Any, proxy: Any) -> tuple[Any, list[str]]:
    name = args[0] if args else ""
    if not name or name in ("if", "unless"):
        raise ValueError("expects a cache name.")
    cache = _find(proxy, name)

    def run(st: Any, head: Head) -> Any:
        if head.version != b"HTTP/1.1":
            return None
        key = request_key(head)
        if key is None:
            return None
        method = head.method
        if method not in (b"GET", b"HEAD"):
            st.cache_req = ReqInfo(key, False, method, head)
            return None
        store, use = _request_flags(head)
        st.cache_req = ReqInfo(key, store, method, head)
        if not use:
            return None
        _count(proxy, st, False)
        now = int(time.time())
        e = cache.lookup(key, head, now)
        if e is None:
            return None
        _count(proxy, st, True)
        m = time.monotonic()
        st.server_name = "<CACHE>"
        st.m_queue = st.m_connect = st.m_response = m
        data = hit_response(e, head, now)
        keep = not e.closing and request_keeps_alive(head) and proxy.http_keepalive
        return (200, data, not keep, "LR")

    return run, args[1:]


def _find(proxy: Any, name: str) -> Cache:
    cache = caches_of(proxy.state).get(name)
    if cache is None:
        kind = proxy.conf.kind if proxy.conf.kind != "listen" else "proxy"
        raise ConfigError(
            f"config: {kind} '{proxy.name}': unable to find the cache '{name}' "
            "referenced by the filter 'cache'."
        )
    return cache


# ---------------------------------------------------------------- response side


def _directive(value: bytes, word: bytes) -> bytes | None:
    """The value of `word=value` (case-insensitive word), None when absent."""
    n = len(word)
    if value[:n].lower() != word or value[n : n + 1] != b"=":
        return None
    return value[n + 1 :]


def _number(raw: bytes) -> int | None:
    """strtol over a maybe-quoted value: None when no digit starts it or it is negative."""
    if raw[:1] == b'"':
        raw = raw[1:]
    m = re.match(rb"\s*([+-]?\d+)", raw)
    if m is None:
        return None
    n = int(m.group(1))
    return None if n < 0 else n


def _http_date(raw: bytes) -> int | None:
    try:
        return int(parsedate_to_datetime(raw.decode("latin-1")).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def max_age(cc: list[bytes], head: Head, cache_max: int, now: int) -> tuple[int, int]:
    """(effective seconds the object is kept, the response's own max age), as
    HAProxy computes them: s-maxage, max-age, then Expires; -1 for a bad value."""
    smaxage = maxage = -1
    for v in cc:
        d = _directive(v, b"s-maxage")
        if d is not None:
            n = _number(d)
            if n is None:
                return -1, 0
            smaxage = n
        d = _directive(v, b"max-age")
        if d is not None:
            n = _number(d)
            if n is None:
                return -1, 0
            maxage = n
    expires = -1
    if maxage == -1 and smaxage == -1:
        exp = head.get(b"expires")
        if exp is not None:
            t = _http_date(exp)
            expires = max(0, t - now) if t is not None else 0
    for own in (smaxage, maxage):
        if own > 0:
            return min(own, cache_max), own
    if expires >= 0:
        return min(expires, cache_max), expires
    return cache_max, 0


def response_cacheable(cc: list[bytes], head: Head) -> bool:
    """HAProxy's response rules: Pragma/Cache-Control, then freshness or a validator."""
    prag = head.get(b"pragma")
    if prag is not None and prag.strip().lower() == b"no-cache":
        return False
    cacheable = cook = True
    fresh = False
    for v in cc:
        lv = v.lower()
        if lv == b"public":
            cacheable = cook = True
        elif lv in (b"private", b"no-cache", b"no-store", b"max-age=0", b"s-maxage=0"):
            cacheable = cook = False
        elif lv.startswith(b'no-cache="set-cookie'):
            cook = False
        elif lv.startswith((b"s-maxage", b"max-age")):
            fresh = True
    if not fresh:
        fresh = head.get(b"expires") is not None
    if not fresh and head.get(b"etag") is None and head.get(b"last-modified") is None:
        return False
    return cacheable and cook


_DROPPED = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"age"))


class Writer:
    """A response on its way into a cache: the body bytes as the client gets them."""

    __slots__ = ("cache", "entry", "conn", "parts", "room", "now")

    def __init__(self, cache: Cache, entry: Entry, conn: Any, room: int, now: int) -> None:
        self.cache = cache
        self.entry = entry
        self.conn = conn
        self.parts: list[bytes] = []
        self.room = room  # body bytes still allowed by max-object-size
        self.now = now

    def feed(self, data: bytes) -> None:
        self.room -= len(data)
        if self.room < 0:
            self.conn.cache_w = None  # too big: given up
            return
        self.parts.append(data)

    def commit(self) -> None:
        e = self.entry
        body = e.body = b"".join(self.parts)
        if e.closing is None:  # chunked: HAProxy counts the data, its end and 5 bytes more
            e.size += 4 + _chunked_payload(body) + 5
            e.closing = False
        else:
            e.size += 4 + len(body)
        if e.size > self.cache.max_obj:
            return
        e.blocks = max(1, -(-e.size // BLOCK))
        self.cache.insert(e, self.now)


def _chunked_payload(body: bytes) -> int:
    """The data length of a chunked body (its framing left out)."""
    n = pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return n
        try:
            size = int(body[pos:eol].split(b";", 1)[0].strip(), 16)
        except ValueError:
            return n
        if size == 0:
            return n
        n += size
        pos = eol + 2 + size + 2


def _stored_head(st: Any, head: Head) -> tuple[bytes, int, int]:
    """(the head to keep, without connection headers or Age and without its final CRLF;
    its size as HAProxy counts it; the Age the server gave, -1 when absent)."""
    ed = st.res_edit
    status = ed.status if ed is not None else head.status
    reason = ed.reason if ed is not None else head.reason
    code = str(status).encode()
    first = head.version + b" " + code + (b" " + reason if reason else b"")
    lines = [first]
    size = 4 + len(head.version) + len(code) + len(reason or b"") + 4  # status line, EOH
    age = -1
    for n, v in head.headers():
        ln = n.lower()
        if ln in _DROPPED:
            if ln == b"age" and age < 0:
                age = _age(v)
                size += 4  # HAProxy leaves the removed header's slot behind
            continue
        lines.append(n + b": " + v)
        size += 4 + len(n) + len(v)
    return b"\r\n".join(lines) + b"\r\n", size, age


def _age(v: bytes) -> int:
    v = v.strip()
    return int(v) if v.isdigit() else 0


def _cache_store(args: list[str], rule: Any, proxy: Any) -> tuple[Any, list[str]]:
    name = args[0] if args else ""
    if not name or name in ("if", "unless"):
        raise ValueError("expects a cache name.")
    cache = _find(proxy, name)

    def run(st: Any, head: Head) -> None:
        req = st.__dict__.get("cache_req")
        if req is None:
            return
        status = st.res_edit.status if st.res_edit is not None else head.status
        if req.method != b"GET":
            if 200 <= status < 400 and req.method not in (b"OPTIONS", b"HEAD", b"TRACE"):
                cache.invalidate(req.key)  # a successful unsafe method (RFC 7234 4.4)
            return
        if status != 200 or not req.store or st.comp_algo is not None:
            return
        sig, sec, enc = 0, bytes(8), _IDENTITY
        if cache.vary:
            sig = _vary_signature(head)
            if sig < 0:
                return
            if sig:
                if sig & VARY_AE:
                    got = _encoding_bits(head)
                    if got is None or _accepted(req.head) is None:
                        return  # an encoding HAProxy does not know, or too many accepted
                    enc = got
                sec = _secondary_key(req.head, sig, enc)
        elif head.get(b"vary") is not None:
            return
        cc = _values(head, b"cache-control")
        if not response_cacheable(cc, head):
            return
        now = int(time.time())
        keep, own = max_age(cc, head, cache.max_age, now)
        raw_head, size, age = _stored_head(st, head)
        if age == 0 or age > own and age > 0:
            return  # a bad Age, or older than the response allows
        e = Entry()
        e.key = req.key
        e.hash32 = int.from_bytes(req.key[:4], "little")
        e.sig = sig
        e.sec = sec
        e.enc = enc
        e.head = raw_head
        e.body = b""
        e.size = ENTRY_OVERHEAD + size
        e.stored = now
        e.expire = now + keep
        e.age = max(age, 0)
        if head.chunked:
            e.closing = None  # (chunked: settled at commit)
        elif head.content_length is not None:
            e.closing = False
            if e.size + 4 + head.content_length > cache.max_obj:
                return
        else:
            e.closing = True
        room = cache.max_obj - e.size
        st.conn.cache_w = Writer(cache, e, st.conn, room, now)

    return run, args[1:]


# ---------------------------------------------------------------- Vary


VARY_AE, VARY_REFERER = 1, 2
_VARY = {b"accept-encoding": VARY_AE, b"referer": VARY_REFERER}
_ENCODINGS = {
    b"aes128gcm": 1 << 0,
    b"br": 1 << 1,
    b"compress": 1 << 2,
    b"x-compress": 1 << 2,
    b"deflate": 1 << 3,
    b"exi": 1 << 4,
    b"gzip": 1 << 5,
    b"x-gzip": 1 << 5,
    b"identity": 1 << 6,
    b"pack200-gzip": 1 << 7,
    b"zstd": 1 << 8,
}
_IDENTITY = 1 << 6
_STAR = 1 << 29
_OTHER = 1 << 30


def _vary_signature(head: Head) -> int:
    """The headers a response varies on, as bits; -1 when one is not handled."""
    sig = 0
    for v in _values(head, b"vary"):
        bit = _VARY.get(v.lower())
        if bit is None:
            return -1
        sig |= bit
    return sig


def _accepted(head: Head) -> int | None:
    """The bitmap of the encodings a request accepts (None: too many to trust)."""
    vals = _values(head, b"accept-encoding")
    if not head.get_all(b"accept-encoding"):
        return 0xFFFFFFFF
    if len(vals) >= 16:
        return None
    bits, refused = _IDENTITY, 0
    for v in vals:
        if not v:
            continue
        name, _, weight = v.lower().partition(b";")
        name = name.strip()
        bit = _STAR if name == b"*" else _ENCODINGS.get(name)
        if bit is None:
            bits |= _OTHER
        elif weight.strip().replace(b" ", b"") == b"q=0":
            refused |= bit
        else:
            bits |= bit
    if bits & _STAR:
        bits = 0xFFFFFFFF
    return bits & ~refused & 0xFFFFFFFF


def _encoding_bits(head: Head) -> int | None:
    bits = 0
    for v in _values(head, b"content-encoding"):
        bit = _ENCODINGS.get(v.lower())
        if bit is None:
            return None
        bits |= bit
    return bits or _IDENTITY


def _secondary_key(req: Head, sig: int, enc: int) -> bytes:
    """The 8 bytes `show cache` prints after `vary:`: the response's encoding (as a
    little-endian bitmap) and a hash of the Referer, each zero when not varied on."""
    ae = enc if sig & VARY_AE else 0
    ref = 0
    if sig & VARY_REFERER:
        r = req.get(b"referer")
        ref = zlib.crc32(r) if r is not None else 0
    return ae.to_bytes(4, "little") + ref.to_bytes(4, "little")


def _vary_matches(e: Entry, head: Head) -> bool:
    if e.sig & VARY_REFERER:
        r = head.get(b"referer")
        ref = zlib.crc32(r) if r is not None else 0
        if ref.to_bytes(4, "little") != e.sec[4:]:
            return False
    if e.sig & VARY_AE:
        a = _accepted(head)
        if a is None or e.enc & _OTHER or (e.enc & a) != e.enc:
            return False
    return True


def register() -> None:
    """Put the two actions in the rule registries (imported by `lb.rules_response`)."""
    from lb.rules import HTTP_REQUEST_ACTIONS
    from lb.rules_response import HTTP_RESPONSE_ACTIONS

    HTTP_REQUEST_ACTIONS["cache-use"] = _cache_use
    HTTP_RESPONSE_ACTIONS["cache-store"] = _cache_store
