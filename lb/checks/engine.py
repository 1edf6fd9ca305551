"""HealthCheck: runs a compiled check against one server on a schedule.

The server object (owned by lb/server.py) provides ``name``, ``proxy_name``,
``check_host``, ``check_port`` and ``check_params``, and receives:

- ``on_check_result(result)`` after every check;
- ``on_check_log(message)`` for each "Health check for server ..." line
  (only with ``option log-health-checks``, when HAProxy would log one);
- ``on_health_change(up, reason)`` when the rise/fall arithmetic sets the
  server UP or DOWN. ``reason`` is ``reason: ..., check duration: Nms``, or
  "" with ``option log-health-checks`` (HAProxy then leaves it out of the
  "Server px/srv is DOWN" line because the check line already said it).

Optional server attributes read if present: ``backup`` (bool) and
``uweight`` (int; 0 prints DRAIN instead of UP in check lines).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from lb.checks.health import Health, HealthNumbers, log_line
from lb.checks.params import CheckParams
from lb.checks.result import RES_FAILED, CheckResult
from lb.checks.runner import run_check
from lb.checks.steps import CheckSpec, Step, build_tcp_check

log = logging.getLogger(__name__)


class HealthCheck(HealthNumbers):
    """One server's health check.

    ``pause()``/``resume()`` are the runtime ``disable health`` / ``enable
    health``: no checks run while paused and the counter is kept.
    ``enter_maintenance()``/``leave_maintenance()`` follow what HAProxy does
    for a server in MAINT: checks stop, and on leaving the counter restarts
    at ``rise`` (UP, one failure from DOWN) and a check runs at once.
    """

    def __init__(
        self,
        server: Any,
        params: CheckParams | None = None,
        steps: CheckSpec | Sequence[Step] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.server = server
        self.params: CheckParams = params or getattr(server, "check_params", None) or CheckParams()
        if steps is None:
            steps = build_tcp_check()
        self.steps: tuple[Step, ...] = tuple(steps.steps if isinstance(steps, CheckSpec) else steps)
        self._loop = loop
        self._health = Health(self.params.rise, self.params.fall)
        self.last_result: CheckResult | None = None
        self.failed_checks = 0
        self.enabled = True
        self.in_maintenance = False
        self.in_progress = False
        self._task: asyncio.Task[None] | None = None
        self._sleeper: asyncio.Future[None] | None = None
        self._sleep_handle: asyncio.TimerHandle | None = None
        self._sleep_until = 0.0
        self.fast = False  # HAProxy's CHK_ST_FASTINTER, set by `observe` errors

    # health, rise, fall and status for show stat come from HealthNumbers

    @property
    def up(self) -> bool:
        """The state the checks put the server in."""
        return self._health.up

    def progress(self, running: bool | None = None) -> tuple[int, int] | None:
        """``(x, y)`` for ``UP x/y`` / ``DOWN x/y``; None when settled."""
        return self._health.progress(running)

    # --- life cycle ---------------------------------------------------------
    def start(self) -> None:
        if self._task is not None and not self._task.done():
            return
        loop = self._loop or asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name=f"check {self._label()}")

    def stop(self) -> asyncio.Task[None] | None:
        """Cancel the check; returns the task, which callers may await."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        return task

    def pause(self) -> None:
        self.enabled = False

    def resume(self) -> None:
        self.enabled = True

    def enter_maintenance(self) -> None:
        self.in_maintenance = True

    def leave_maintenance(self) -> None:
        self.in_maintenance = False
        self._health.reset_up()
        self._wake()

    # short names used by lb/server.py
    enter_maint = enter_maintenance
    leave_maint = leave_maintenance

    # --- running --------------------------------------------------------------
    async def check_now(self) -> CheckResult:
        """Run one check now and account its result."""
        self.in_progress = True
        try:
            result = await run_check(
                self.steps, self.server.check_host, int(self.server.check_port), self.params
            )
        finally:
            self.in_progress = False
        self.apply_result(result)
        return result

    def apply_result(self, result: CheckResult) -> None:
        """Account ``result`` and notify the server (sans-IO)."""
        health = self._health
        had_health = health.health > 0
        verdict = health.record(result)
        if result.result_class == RES_FAILED and had_health:
            self.failed_checks += 1
        self.last_result = result
        self._notify("on_check_result", result)
        if verdict.report and self.params.log_health_checks:
            srv = self.server
            line = log_line(
                srv.proxy_name,
                srv.name,
                result,
                health,
                backup=bool(getattr(srv, "backup", False)),
                drain=getattr(srv, "uweight", 1) == 0,
            )
            self._notify("on_check_log", line)
        if self.fast and result.passed and health.health == health.top:
            self.fast = False
        if verdict.change is not None:
            reason = "" if self.params.log_health_checks else result.reason()
            self._notify("on_health_change", verdict.change, reason)

    def health_analyze(self, mode: str, info: str) -> None:
        """`observe` saw `error-limit` consecutive errors: apply `on-error` (HAProxy's
        __health_adjust). Every mode forces fastinter for the next checks."""
        self.fast = True
        health = self._health
        if mode != "fastinter":
            if mode == "sudden-death" and health.health > health.rise:
                health.health = health.rise + 1  # one more failure after this one marks DOWN
            elif mode == "mark-down":
                health.health = health.rise
            self.apply_result(CheckResult.make("HANA", duration_ms=-1, info=info))
        if self.params.fastinter:
            self._hurry(self.params.fastinter / 1000)

    async def _run(self) -> None:
        await self._sleep(self.params.first_delay())
        while True:
            delay = self.params.inter
            try:
                if self.enabled and not self.in_maintenance:
                    await self.check_now()
                    delay = self._health.interval_ms(self.params, self.fast)
            except asyncio.CancelledError:
                raise
            except Exception:  # a check never takes the loop down
                log.exception("health check for %s failed unexpectedly", self._label())
            await self._sleep(self.params.spread_ms(delay) / 1000)

    async def _sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._sleep_handle = loop.call_later(seconds, _set_done, fut)
        self._sleep_until = loop.time() + seconds
        self._sleeper = fut
        try:
            await fut
        finally:
            if self._sleep_handle is not None:
                self._sleep_handle.cancel()
            self._sleep_handle = None
            self._sleeper = None

    def _hurry(self, seconds: float) -> None:
        """Bring the next check forward to at most `seconds` from now."""
        fut = self._sleeper
        if fut is None or fut.done():
            return
        loop = asyncio.get_running_loop()
        if loop.time() + seconds >= self._sleep_until:
            return
        if self._sleep_handle is not None:
            self._sleep_handle.cancel()
        self._sleep_handle = loop.call_later(seconds, _set_done, fut)
        self._sleep_until = loop.time() + seconds

    def _wake(self) -> None:
        if self._sleeper is not None:
            _set_done(self._sleeper)

    def _notify(self, method: str, *args: Any) -> None:
        callback = getattr(self.server, method, None)
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            log.exception("%s raised in %s", method, self._label())

    def _label(self) -> str:
        return f"{getattr(self.server, 'proxy_name', '?')}/{getattr(self.server, 'name', '?')}"


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
