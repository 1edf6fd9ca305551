"""``agent-check``: a small TCP agent on the server tells the load balancer
the server's weight and state.

The reply is one line of words separated by spaces, tabs or commas, read as
HAProxy reads it: ``N%`` (weight relative to the configured one),
``maxconn:N``, ``ready``/``drain``/``maint`` (admin state), ``up``/``down``/
``stopped``/``fail`` (operational state), and ``#`` followed by a
description. ``parse_agent_reply`` is sans-IO; ``AgentCheck`` runs it on a
schedule (``agent-inter``, default ``inter``) and applies it through the
server's own methods, with HAProxy's log lines (``Agent check for server
px/srv failed, reason: Layer7 wrong status, code: 0, info: "via agent :
down", check duration: 4ms, status: 0/1 DOWN.``). An agent that cannot be
reached changes nothing: connectivity is the regular check's business.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from lb.checks.health import Health, HealthNumbers, log_line
from lb.checks.params import CheckParams
from lb.checks.result import CheckResult
from lb.checks.runner import _CheckProtocol, _connect, _strerror

log = logging.getLogger(__name__)

AGENT_MAX = 1024


@dataclass(slots=True)
class AgentReply:
    weight_pct: int | None = None
    maxconn: int | None = None
    admin: str | None = None  # ready | drain | maint
    state: str | None = None  # up | down | stopped | fail
    desc: str = ""
    bad: str | None = None


def parse_agent_reply(text: str) -> AgentReply:
    line, _, desc = text.partition("#")
    out = AgentReply(desc=desc.strip())
    for word in re.split(r"[ \t,]+", line.strip().lower()):
        if not word:
            continue
        if word.endswith("%") and word[:-1].isdigit():
            out.weight_pct = int(word[:-1])
        elif word.startswith("maxconn:") and word[8:].isdigit():
            out.maxconn = int(word[8:])
        elif word in ("ready", "drain", "maint"):
            out.admin = word
        elif word in ("up", "down", "stopped", "fail"):
            out.state = word
        else:
            out.bad = out.bad or word
    return out


class AgentCheck(HealthNumbers):
    """One server's agent check (``server.agent``); exposes ``status``,
    ``last_result``, ``rise``, ``fall``, ``health`` as the health check does,
    for the ``agent_*`` columns of ``show stat``."""

    def __init__(self, server: Any, params: CheckParams, loop: Any = None) -> None:
        self.server = server
        opts = server.options
        self.port = int(opts.get("agent-port") or 0)
        self.host = str(opts.get("agent-addr") or server.host)
        self.send = _unescape(str(opts.get("agent-send") or ""))
        inter = opts.get("agent-inter")
        self.inter_ms = _ms(inter) if inter else params.inter
        self.params = params
        self._health = Health(1, 1)
        self.last_result: CheckResult | None = None
        self.enabled = True
        self._loop = loop
        self._task: asyncio.Task[None] | None = None

    # health, rise, fall and status for show stat come from HealthNumbers

    def start(self) -> None:
        if self.port <= 0 or (self._task is not None and not self._task.done()):
            return
        loop = self._loop or asyncio.get_running_loop()
        self._task = loop.create_task(self._run())

    def stop(self) -> asyncio.Task[None] | None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        return task

    def pause(self) -> None:
        self.enabled = False

    def resume(self) -> None:
        self.enabled = True

    async def _run(self) -> None:
        await asyncio.sleep(self.params.first_delay())
        while True:
            try:
                if self.enabled:  # also in maintenance: the agent may say "ready"
                    await self.check_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("agent check failed unexpectedly")
            await asyncio.sleep(self.params.spread_ms(self.inter_ms) / 1000)

    async def check_now(self) -> CheckResult:
        text, result = await self._query()
        self.apply(text, result)
        return result

    async def _query(self) -> tuple[str | None, CheckResult]:
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        proto: _CheckProtocol | None = None
        try:
            async with asyncio.timeout(self.params.connect_timeout_ms() / 1000):
                try:
                    proto = await _connect(loop, self.host, self.port)
                except OSError as exc:
                    return None, self._result(start, "L4CON", _strerror(exc))
                if self.send and proto.transport is not None:
                    proto.transport.write(self.send)
                while not proto.eof and b"\n" not in proto.buf and len(proto.buf) < AGENT_MAX:
                    await proto.wait()
                text = bytes(proto.buf).split(b"\n", 1)[0].decode("latin-1").strip("\r ")
                return text, self._result(start, "L7OK", "")
        except TimeoutError:
            return None, self._result(start, "L7TOUT" if proto else "L4TOUT", "")
        finally:
            if proto is not None:
                proto.close()

    @staticmethod
    def _result(start: float, status: str, info: str, code: int | None = None) -> CheckResult:
        return CheckResult.make(
            status, code=code, duration_ms=int((time.monotonic() - start) * 1000), info=info
        )

    # ------------------------------------------------------------ applying a reply

    def apply(self, text: str | None, result: CheckResult) -> None:
        srv = self.server
        if text is None:  # unreachable agent: report it, change nothing
            self._record(result, move=False)
            return
        reply = parse_agent_reply(text)
        if reply.weight_pct is not None:
            srv.set_weight(max(0, min(256, srv.iweight * reply.weight_pct // 100)))
        if reply.maxconn is not None:
            srv.set_maxconn(reply.maxconn)
        if reply.admin == "drain":
            if srv.admin & 0x08:
                srv.proxy.state.notify(
                    "warning",
                    f"Server {srv.proxy.name}/{srv.name} remains in forced drain mode.",
                    srv.proxy,
                )
            else:
                srv.set_drain()
        elif reply.admin == "maint":
            srv.set_maint()
        elif reply.admin == "ready":
            srv.set_ready()
        if reply.state is None:  # weight or admin words only: HAProxy logs no check line
            self._health.status = "L7OK"
            self.last_result = CheckResult.make("L7OK", code=0, duration_ms=result.duration_ms)
            return
        info = f"via agent : {reply.state}" + (f": {reply.desc}" if reply.desc else "")
        if reply.state == "up":
            res = CheckResult.make("L7OK", code=0, duration_ms=result.duration_ms, info=info)
        else:
            res = CheckResult.make("L7STS", code=0, duration_ms=result.duration_ms, info=info)
        self._record(res)

    def _record(self, result: CheckResult, move: bool = True) -> None:
        health = self._health
        srv = self.server
        if move:
            verdict = health.record(result)
            report, change = verdict.report, verdict.change
        else:
            report = result.status != health.status
            health.status = result.status
            change = None
        self.last_result = result
        if report and srv.proxy.options.get("log-health-checks"):
            line = log_line(srv.proxy.name, srv.name, result, health, backup=srv.backup, agent=True)
            srv.on_check_log(line)  # same channel and level as the health check lines
        if change is False:
            srv.on_health_change(False, "" if self.params.log_health_checks else result.reason())
        elif change is True:
            chk = srv.check
            if chk is None or getattr(chk, "up", True):
                srv.on_health_change(True, "" if self.params.log_health_checks else result.reason())


def _unescape(text: str) -> bytes:
    return text.encode("latin-1", "replace").decode("unicode_escape").encode("latin-1", "replace")


def _ms(text: Any) -> int:
    from lb.config.units import parse_time

    return parse_time(str(text))
