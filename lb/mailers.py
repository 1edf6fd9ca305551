"""Email alerts: the mails HAProxy 2.6 sends to a `mailers` section when a server
changes state.

The hook is `State.notify`: every server message a proxy emits passes through
`email_alert`, which decides from the text whether HAProxy would mail it and at
which syslog level (HAProxy's own levels, which are not the stderr ones):

- "Server px/srv is DOWN…" alert (notice when the server was "stopping"),
- "Server px/srv is UP…" and "… enters drain state…" notice,
- "Health check for …" / "Agent check for …" lines (`option log-health-checks`) info;

maintenance, "stopping" and the "leaving forced …" messages are never mailed.
A message is sent when its level is at most the proxy's `email-alert level`.

Each mailer of the section has a queue per proxy, sent one mail per connection
in order, as HAProxy does, by an asyncio task: nothing here blocks or raises
into the caller. The dialogue (recorded from HAProxy 2.6.12) is HELO, MAIL FROM,
RCPT TO, DATA with From/To/Date/Subject headers, the message as body, and QUIT,
each step waiting for its reply code. The whole mail must finish within
`timeout mail`. A mail that fails is dropped (HAProxy does not retry either);
unlike HAProxy, which stays silent, lb reports a failing mailer once on stderr
and in the proxy's logs, and again only after it has worked in between.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOG_ALERT, LOG_NOTICE, LOG_INFO = 1, 5, 6
MAX_QUEUED = 64  # mails waiting per mailer and proxy; more are dropped
MAX_REPLY = 16384  # bytes of one SMTP reply lb accepts

_SERVER_MSG = re.compile(r"(?:Backup )?Server (?P<px>[^/ ]+)/(?P<srv>\S+) (?P<rest>.*)", re.S)
_CHECK_MSG = re.compile(r"(?:Health|Agent) check for (?:backup )?server ")


# ---------------------------------------------------------------- which messages


def classify(msg: str) -> tuple[str, str]:
    """(kind, server) of a notice: kind is "down", "up", "drain", "stopping",
    "maint" (other state messages of a server), "check" or "" (not a server's)."""
    if _CHECK_MSG.match(msg):
        return "check", ""
    m = _SERVER_MSG.match(msg)
    if m is None:
        return "", ""
    srv, rest = m.group("srv"), m.group("rest")
    if rest.startswith("is DOWN") and rest[7:8] in (".", ",", " ", ""):
        return "down", srv
    if rest.startswith("is UP") and rest[5:6] in (".", ",", "") or rest.startswith("is UP via "):
        return "up", srv
    if rest.startswith("enters drain state"):
        return "drain", srv
    if rest.startswith("is stopping"):
        return "stopping", srv
    return "maint", srv


def mail_body(msg: str) -> str:
    """The message as HAProxy mails it: without the period its log line ends with."""
    return msg[:-1] if msg.endswith(".") else msg


# ---------------------------------------------------------------- the SMTP dialogue


class SmtpError(Exception):
    """A mail could not be delivered; the text says at which step."""


class ReplyReader:
    """Cuts SMTP replies out of received bytes (sans-IO).

    `feed` returns the code of each complete reply: a reply may span several
    `NNN-text` lines and ends with the `NNN text` (or bare `NNN`) line."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[int]:
        self._buf += data
        codes: list[int] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_REPLY:
                    raise SmtpError("reply line too long")
                return codes
            line, self._buf = self._buf[:nl].rstrip(b"\r"), self._buf[nl + 1 :]
            code = line[:3]
            if len(code) != 3 or not code.isdigit() or line[3:4] not in (b"", b" ", b"-"):
                raise SmtpError(f"bad reply {line[:60]!r}")
            if line[3:4] != b"-":
                codes.append(int(code))


def date_header(now: float | None = None) -> str:
    """`Sun, 22 Nov 2026 08:20:01 +0000 (UTC)`, in local time (C locale names)."""
    tm = time.localtime(now)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    off = tm.tm_gmtoff or 0
    sign = "-" if off < 0 else "+"
    off = abs(off) // 60
    return (
        f"{days[tm.tm_wday]}, {tm.tm_mday:02d} {months[tm.tm_mon - 1]} {tm.tm_year} "
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {sign}{off // 60:02d}{off % 60:02d} "
        f"({tm.tm_zone})"
    )


def dialogue(
    myhostname: str, mail_from: str, mail_to: str, msg: str, now: float | None = None
) -> list[tuple[bytes, int]]:
    """The (what lb sends, reply code it then waits for) steps of one alert; the
    first step sends nothing and waits for the greeting."""
    text = mail_body(msg)
    data = (
        f"From: {mail_from}\r\n"
        f"To: {mail_to}\r\n"
        f"Date: {date_header(now)}\r\n"
        f"Subject: [HAProxy Alert] {text}\r\n"
        "\r\n"
        f"{text}\r\n"
        "\r\n"
        ".\r\n"
    )
    steps = [
        ("", 220),
        (f"HELO {myhostname}\r\n", 250),
        (f"MAIL FROM:<{mail_from}>\r\n", 250),
        (f"RCPT TO:<{mail_to}>\r\n", 250),
        ("DATA\r\n", 354),
        (data, 250),
        ("QUIT\r\n", 221),
    ]
    return [(s.encode("utf-8", "surrogateescape"), code) for s, code in steps]


_STEP_NAMES = ("greeting", "HELO", "MAIL FROM", "RCPT TO", "DATA", "message", "QUIT")


async def send_mail(host: str, port: int, steps: list[tuple[bytes, int]]) -> None:
    """Run one dialogue on a new connection; SmtpError or OSError on failure."""
    reader, writer = await asyncio.open_connection(host, port)
    ok = False
    try:
        replies = ReplyReader()
        pending: list[int] = []
        for i, (out, want) in enumerate(steps):
            if out:
                writer.write(out)
                await writer.drain()
            while not pending:
                data = await reader.read(4096)
                if not data:
                    raise SmtpError(
                        f"connection closed by the mailer before the {_STEP_NAMES[i]} reply"
                    )
                pending.extend(replies.feed(data))
            got = pending.pop(0)
            if got != want:
                raise SmtpError(f"{_STEP_NAMES[i]} answered {got}, expected {want}")
        ok = True
    finally:
        if ok:
            writer.close()
        else:
            writer.transport.abort()


# ---------------------------------------------------------------- per proxy


@dataclass
class Mailer:
    """One `mailer` line as a destination, with this proxy's queue for it."""

    section: str
    name: str
    host: str
    port: int
    queue: deque[list[tuple[bytes, int]]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    failing: bool = False


class ProxyAlerts:
    """A proxy's complete `email-alert` settings and its mail queues."""

    def __init__(self, proxy: Any, conf: dict[str, Any], section: Any, hostname: str) -> None:
        self.proxy = proxy
        self.level: int = conf.get("level", 1)
        self.mail_from: str = conf["from"]
        self.mail_to: str = conf["to"]
        self.myhostname: str = conf.get("myhostname") or hostname
        self.timeout = (section.timeout_mail or 10000) / 1000
        self.mailers = [Mailer(section.name, n, h, p) for n, h, p, _w in section.mailers]
        self.stopping: set[str] = set()  # servers last reported "stopping"

    def level_of(self, msg: str) -> int | None:
        """HAProxy's mail level for this notice, or None when it mails none."""
        kind, srv = classify(msg)
        if kind == "check":
            return LOG_INFO
        was_stopping = srv in self.stopping
        if kind == "stopping":
            self.stopping.add(srv)
            return None
        self.stopping.discard(srv)
        if kind == "down":
            return LOG_NOTICE if was_stopping else LOG_ALERT
        if kind in ("up", "drain"):
            return LOG_NOTICE
        return None

    def submit(self, msg: str, loop: asyncio.AbstractEventLoop, log: Callable[[str], None]) -> None:
        level = self.level_of(msg)
        if level is None or level > self.level:
            return
        steps = dialogue(self.myhostname, self.mail_from, self.mail_to, msg)
        for m in self.mailers:
            if len(m.queue) >= MAX_QUEUED:
                self._failed(m, "too many alerts waiting", log)
                continue
            m.queue.append(steps)
            if m.task is None:
                m.task = loop.create_task(self._drain(m, log))
                # a mail still under way when the worker exits is simply lost, as in
                # HAProxy: no "Task was destroyed but it is pending" remark for it
                m.task._log_destroy_pending = False  # type: ignore[attr-defined]

    async def _drain(self, m: Mailer, log: Callable[[str], None]) -> None:
        try:
            while m.queue:
                steps = m.queue.popleft()
                try:
                    await asyncio.wait_for(send_mail(m.host, m.port, steps), self.timeout)
                except TimeoutError:
                    self._failed(m, f"no answer within {self.timeout:g}s", log)
                except (OSError, SmtpError) as exc:
                    self._failed(m, _why(exc), log)
                else:
                    m.failing = False
        except Exception as exc:  # never a traceback from a mail
            self._failed(m, _why(exc), log)
        finally:
            m.task = None

    def _failed(self, m: Mailer, why: str, log: Callable[[str], None]) -> None:
        if m.failing:
            return
        m.failing = True
        log(
            f"Email alert of proxy '{self.proxy.name}' not sent to mailer "
            f"{m.section}/{m.name} ({m.host}:{m.port}): {why}."
        )

    def cancel(self) -> None:
        for m in self.mailers:
            m.queue.clear()
            if m.task is not None:
                m.task.cancel()


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# ---------------------------------------------------------------- the state's side


def build_email_alerts(state: Any) -> dict[int, ProxyAlerts]:
    """The proxies whose `email-alert` settings are complete, by id(proxy)."""
    out: dict[int, ProxyAlerts] = {}
    sections = state.cfg.mailers
    hostname = ""
    for p in state.proxies:
        conf = p.conf.email_alert
        if not conf.get("set") or conf.get("mailers") not in sections:
            continue
        if not hostname:
            hostname = socket.gethostname()
        out[id(p)] = ProxyAlerts(p, conf, sections[conf["mailers"]], hostname)
    return out


def email_alert(state: Any, msg: str, proxy: Any) -> None:
    """Queue the mails a notice calls for (State.notify calls this after logging it)."""
    alerts = state.email_alerts.get(id(proxy)) if proxy is not None else None
    loop = state.loop
    if alerts is None or loop is None or loop.is_closed():
        return
    from lb.logsetup import emit_notice

    def log(text: str) -> None:
        emit_notice(state, "warning", text, proxy)

    try:
        alerts.submit(msg, loop, log)
    except Exception as exc:  # a mail must never break a state change
        log(f"Email alert of proxy '{proxy.name}' not queued: {_why(exc)}.")


def stop_email_alerts(state: Any) -> None:
    for alerts in getattr(state, "email_alerts", {}).values():
        alerts.cancel()
