"""Log targets (the ``log`` keyword) and the Logger that sends lines to them.

Wire formats match haproxy 2.6 as captured on a UDP socket:
``local``    ``<PRI>Nov 21 22:47:19 TAG[PID]: msg``
``rfc3164``  ``<PRI>Nov 21 22:47:19 HOST TAG[PID]: msg`` (HOST "localhost" unless
             ``log-send-hostname``)
``rfc5424``  ``<PRI>1 2026-11-21T22:47:19.619151+00:00 HOST TAG PID - - msg`` (HOST "-")
``priority`` ``<PRI>msg``; ``short`` ``<LEVEL>msg``; ``timed`` ``<LEVEL>ISO msg``;
``iso`` ``ISO msg``; ``raw`` ``msg``.
Datagrams are the header and message cut to ``len`` (default 1024) plus "\\n";
fd targets (stdout/stderr) cut the whole line, newline included, to ``len``.
Without an explicit format, ``log-send-hostname`` turns ``local`` into ``rfc3164``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from .dates import make_iso_us, make_rfc3164

__all__ = [
    "FACILITIES",
    "FORMATS",
    "LEVELS",
    "LogTarget",
    "Logger",
    "parse_log_line",
]

_FACILITY_NAMES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
_LEVEL_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
FACILITIES: dict[str, int] = {name: num for num, name in enumerate(_FACILITY_NAMES)}
LEVELS: dict[str, int] = {name: num for num, name in enumerate(_LEVEL_NAMES)}
FORMATS = ("local", "rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw")

_FLUSH_THRESHOLD = 64 * 1024


class _Proc:
    """This process's pid, read once (os.getpid() is a system call with today's glibc)
    and again in a forked child, whose cached headers are dropped then."""

    pid = os.getpid()
    loggers: weakref.WeakSet[Logger] = weakref.WeakSet()

    @classmethod
    def forked(cls) -> None:
        cls.pid = os.getpid()
        for logger in cls.loggers:
            logger._headers.clear()


_PROC = _Proc
os.register_at_fork(after_in_child=_Proc.forked)


@dataclass
class LogTarget:
    """One ``log`` line. ``kind`` is "fd", "udp", "unix" or "ring" (``path``: its name)."""

    kind: str
    fd: int = -1
    address: tuple[str, int] | None = None
    family: int = socket.AF_INET
    path: str | None = None
    maxlen: int = 1024
    format: str | None = None  # None: "local", or "rfc3164" with log-send-hostname
    sample_ranges: list[tuple[int, int]] = field(default_factory=list)
    sample_size: int = 0
    facility: int = 16
    level: int = 7
    minlevel: int = 0
    sample_counter: int = 0
    ring: Any = None  # kind "ring": the lb.logging_.ring.Ring once the loggers are built


def _parse_sample(spec: str) -> tuple[list[tuple[int, int]], int]:
    ranges_txt, colon, size_txt = spec.partition(":")
    if not colon:
        raise ValueError("Missing sample size")
    ranges: list[tuple[int, int]] = []
    for item in ranges_txt.split(","):
        lo_txt, dash, hi_txt = item.partition("-")
        try:
            lo = int(lo_txt)
            hi = int(hi_txt) if dash else lo
        except ValueError:
            raise ValueError(f"wrong sample range '{item}'") from None
        if lo <= 0 or hi < lo:
            raise ValueError(f"wrong sample range '{item}'")
        ranges.append((lo, hi))
    try:
        size = int(size_txt)
    except ValueError:
        size = 0
    if size <= 0:
        raise ValueError(f"wrong sample size '{size_txt}' for sample range '{ranges_txt}'")
    top = max(hi for _, hi in ranges)
    if size < top:
        raise ValueError(
            f"sample size {size} should be greater or equal to {top} the maximum of the "
            "high ranges limits"
        )
    return ranges, size


def _parse_address(addr: str) -> LogTarget:
    if addr in ("stdout", "stderr"):
        return LogTarget("fd", fd=1 if addr == "stdout" else 2)
    prefix, at, rest = addr.partition("@")
    if not at:
        prefix, rest = "", addr
    if prefix == "fd":
        try:
            return LogTarget("fd", fd=int(rest))
        except ValueError:
            raise ValueError(f"invalid address: '{addr}'") from None
    if prefix == "ring":  # a `ring` section, looked up when the loggers are built
        return LogTarget("ring", path=rest)
    if prefix in ("unix", "uxdg") or (not prefix and addr.startswith("/")):
        return LogTarget("unix", path=rest, family=socket.AF_UNIX)
    if prefix not in ("", "ipv4", "ipv6", "udp", "udp4", "udp6"):
        raise ValueError(f"unsupported log address '{addr}'")
    host, port = rest, 514
    if ":" in rest:
        host, _, port_txt = rest.rpartition(":")
        if port_txt:
            try:
                port = int(port_txt)
            except ValueError:
                port = -1
            if not 0 < port < 65536:
                raise ValueError(f"invalid port '{port_txt}'")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    want6 = prefix in ("ipv6", "udp6")
    if ip is None:
        try:
            family = socket.AF_INET6 if want6 else socket.AF_INET
            ip = ipaddress.ip_address(socket.getaddrinfo(host, None, family)[0][4][0])
        except (OSError, ValueError, IndexError):
            raise ValueError(f"invalid address: '{host}' in '{addr}'") from None
    if (ip.version == 6) != want6 and prefix in ("ipv4", "ipv6", "udp4", "udp6"):
        raise ValueError(f"invalid address: '{host}' in '{addr}'")
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    return LogTarget("udp", address=(str(ip), port), family=family)


def parse_log_line(words: list[str]) -> LogTarget:
    """Parse the arguments of ``log <address> [len N] [format F] [sample R:S] FAC [LVL [MIN]]``.

    ``words`` may start with the keyword ``log`` itself. ``log global`` and ``no log``
    are the config layer's business. ValueError messages are HAProxy's, meant to
    follow ``log : ``.
    """
    if words and words[0] == "log":
        words = words[1:]
    if len(words) < 2:
        raise ValueError("expects <address> and <facility>  as arguments")
    target = _parse_address(words[0])
    i = 1
    while i < len(words) and words[i] in ("len", "format", "sample"):
        key = words[i]
        val = words[i + 1] if i + 1 < len(words) else ""
        if key == "len":
            try:
                maxlen = int(val)
            except ValueError:
                maxlen = 0
            if not 80 <= maxlen <= 65535:
                raise ValueError(f"invalid log length '{val}', must be between 80 and 65535")
            target.maxlen = maxlen
        elif key == "format":
            if val not in FORMATS:
                raise ValueError(f"unknown log format '{val}'")
            target.format = val
        else:
            target.sample_ranges, target.sample_size = _parse_sample(val)
        i += 2
    if i >= len(words):
        raise ValueError("expects <address> and <facility>  as arguments")
    fac = FACILITIES.get(words[i])
    if fac is None:
        raise ValueError(f"unknown log facility '{words[i]}'")
    target.facility = fac
    i += 1
    if i < len(words):
        lvl = LEVELS.get(words[i])
        if lvl is None:
            raise ValueError(f"unknown optional log level '{words[i]}'")
        target.level = lvl
        i += 1
    if i < len(words):
        lvl = LEVELS.get(words[i])
        if lvl is None:
            raise ValueError(f"unknown optional minimum log level '{words[i]}'")
        target.minlevel = lvl
        i += 1
    if i < len(words):
        raise ValueError(f"cannot handle unexpected argument '{words[i]}'")
    return target


class Logger:
    """Sends log lines to targets; never blocks nor raises on the traffic path.

    fd targets buffer lines and write them once per event-loop iteration (a
    ``call_soon`` scheduled by the first line), or at once past 64 KiB or when
    no loop is running. UDP and unix targets cost one non-blocking ``sendto``
    per line; a full socket buffer drops the line (counted in ``dropped``).
    ``send_hostname`` is ``log-send-hostname`` (None: not set, "": this host).
    """

    def __init__(
        self,
        targets: list[LogTarget],
        *,
        tag: str = "haproxy",
        send_hostname: str | None = None,
        node: str | None = None,
    ) -> None:
        self.targets = list(targets)
        self.tag = tag
        if send_hostname == "":
            send_hostname = socket.gethostname()
        self.send_hostname = send_hostname
        self.node = node
        self.dropped = 0
        self._proxy_tags: dict[str, str] = {}
        self._buffers: dict[int, list[bytes]] = {}
        self._buffered = 0
        self._flush_scheduled = False
        self._socks: dict[int, socket.socket] = {}
        self._rfc3164 = make_rfc3164()
        self._iso = make_iso_us()
        # headers whose text changes once a second at most: (target, level, tag) -> (sec, text)
        self._headers: dict[tuple[int, int, str], tuple[int, str]] = {}
        _Proc.loggers.add(self)

    def set_proxy_tag(self, proxy_name: str, tag: str) -> None:
        """A proxy's own ``log-tag``, used for lines logged with its name."""
        self._proxy_tags[proxy_name] = tag

    # -- formatting
    def _header(self, target: LogTarget, level: int, tag: str, now: float) -> str:
        fmt = target.format
        if fmt is None:
            fmt = "rfc3164" if self.send_hostname else "local"
        if fmt == "raw":
            return ""
        pri = target.facility * 8 + level
        if fmt == "local":
            return f"<{pri}>{self._rfc3164(now)} {tag}[{_PROC.pid}]: "
        if fmt == "rfc3164":
            host = self.send_hostname or "localhost"
            return f"<{pri}>{self._rfc3164(now)} {host} {tag}[{_PROC.pid}]: "
        if fmt == "rfc5424":
            host = self.send_hostname or "-"
            return f"<{pri}>1 {self._iso(now)} {host} {tag} {_PROC.pid} - - "
        if fmt == "priority":
            return f"<{pri}>"
        if fmt == "short":
            return f"<{level}>"
        if fmt == "timed":
            return f"<{level}>{self._iso(now)} "
        return f"{self._iso(now)} "  # iso

    def _header_at(self, target: LogTarget, level: int, tag: str, now: float) -> str:
        """`_header`, made once per second for the formats whose time has no fraction."""
        if target.format in ("rfc5424", "timed", "iso"):
            return self._header(target, level, tag, now)
        sec = int(now)
        key = (id(target), level, tag)
        cached = self._headers.get(key)
        if cached is not None and cached[0] == sec:
            return cached[1]
        text = self._header(target, level, tag, now)
        if len(self._headers) > 256:  # many proxy tags and levels: start again
            self._headers.clear()
        self._headers[key] = (sec, text)
        return text

    def render(self, target: LogTarget, level: int, msg: str, tag: str, now: float) -> bytes:
        """The exact bytes sent to ``target`` (after level capping)."""
        line = (self._header_at(target, level, tag, now) + msg).encode("utf-8", "surrogateescape")
        if target.kind == "fd":
            line += b"\n"
            return line if len(line) <= target.maxlen else line[: target.maxlen]
        return (line if len(line) <= target.maxlen else line[: target.maxlen]) + b"\n"

    # -- sending
    def log(self, level: int, msg: str, proxy_name: str | None = None) -> None:
        """Send ``msg`` at ``level`` (0 emerg .. 7 debug) to every target that wants it."""
        tag = self._proxy_tags.get(proxy_name, self.tag) if proxy_name else self.tag
        now = 0.0
        for t in self.targets:
            if level > t.level:
                continue
            if t.sample_size:
                idx = t.sample_counter % t.sample_size + 1
                t.sample_counter += 1
                if not any(lo <= idx <= hi for lo, hi in t.sample_ranges):
                    continue
            if not now:
                now = time.time()
            data = self.render(t, max(level, t.minlevel), msg, tag, now)
            if t.kind == "fd":
                self._buffer(t.fd, data)
            else:
                self._send(t, data)

    def _send(self, t: LogTarget, data: bytes) -> None:
        """One datagram. UDP sockets are connected once, so each line is a plain send
        (no address to convert and route per line, which sendto costs)."""
        key = id(t)
        sock = self._socks.get(key)
        try:
            if sock is None:
                sock = socket.socket(t.family, socket.SOCK_DGRAM)
                sock.setblocking(False)
                if t.kind != "unix":
                    sock.connect(t.address)  # type: ignore[arg-type]
                self._socks[key] = sock
            if t.kind == "unix":
                sock.sendto(data, t.path)  # type: ignore[arg-type]
            else:
                sock.send(data)
        except OSError:  # EAGAIN, ECONNREFUSED (nobody listening), missing socket path...
            self.dropped += 1

    def _buffer(self, fd: int, data: bytes) -> None:
        self._buffers.setdefault(fd, []).append(data)
        self._buffered += len(data)
        if self._buffered >= _FLUSH_THRESHOLD:
            self.flush()
            return
        if not self._flush_scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_scheduled = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write buffered fd lines now (one write per fd); drops what cannot be written."""
        self._flush_scheduled = False
        buffers, self._buffers, self._buffered = self._buffers, {}, 0
        for fd, chunks in buffers.items():
            data = b"".join(chunks)
            while data:
                try:
                    written = os.write(fd, data)
                except InterruptedError:
                    continue
                except OSError:
                    self.dropped += len(chunks)
                    break
                data = data[written:]

    def close(self) -> None:
        """Flush and close the sockets."""
        self.flush()
        for sock in self._socks.values():
            with contextlib.suppress(OSError):
                sock.close()
        self._socks.clear()
