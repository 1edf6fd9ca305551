"""HAProxy's health arithmetic, sans-IO.

The counter runs from 0 to rise+fall-1. A server is UP while it is >= rise.
A pass adds one and, on reaching rise, jumps to the top (rise+fall-1); a
failure removes one and, on falling under rise, drops to 0. So an UP server
goes DOWN after ``fall`` consecutive failures and a DOWN one comes back
after ``rise`` consecutive passes. A server starts with health = rise: UP,
but one failure away from DOWN ("UP 1/3" in show stat).
"""

from __future__ import annotations

from dataclasses import dataclass

from lb.checks.params import CheckParams
from lb.checks.result import RES_CONDPASS, RES_FAILED, RES_NEUTRAL, RES_PASSED, CheckResult


@dataclass(slots=True, frozen=True)
class Verdict:
    """What one result did: ``report`` is HAProxy's "log it" decision (the
    status changed or the counter moved); ``change`` is True/False when the
    server must be set UP/DOWN, None otherwise."""

    report: bool
    change: bool | None


class Health:
    __slots__ = ("rise", "fall", "health", "up", "status")

    def __init__(self, rise: int = 2, fall: int = 3) -> None:
        if rise < 1 or fall < 1:
            raise ValueError("rise and fall must be > 0")
        self.rise = rise
        self.fall = fall
        self.health = rise
        self.up = True
        self.status = "INI"

    @property
    def top(self) -> int:
        return self.rise + self.fall - 1

    def record(self, result: CheckResult) -> Verdict:
        """Account one check result (HAProxy's set_server_check_status +
        check_notify_*)."""
        prev = self.status
        self.status = result.status
        res = result.result_class
        moved = False
        if res == RES_FAILED:
            if self.health > 0:
                moved = True
                self.health -= 1
                if self.health < self.rise:
                    self.health = 0
        elif res in (RES_PASSED, RES_CONDPASS) and self.health < self.top:
            moved = True
            self.health += 1
            if self.health >= self.rise:
                self.health = self.top
        report = res != RES_NEUTRAL and (moved or result.status != prev)
        change: bool | None = None
        if res == RES_FAILED and self.health == 0 and self.up:
            self.up = False
            change = False
        elif res in (RES_PASSED, RES_CONDPASS) and self.health >= self.rise and not self.up:
            self.up = True
            change = True
        return Verdict(report, change)

    def reset_up(self) -> None:
        """Leaving maintenance: start UP, one failure away from DOWN."""
        self.health = self.rise
        self.up = True

    def progress(self, running: bool | None = None) -> tuple[int, int] | None:
        """The ``x/y`` of ``UP x/y`` / ``DOWN x/y`` in show stat, or None when
        the state is settled. ``running`` is the server's state (default: the
        check's own view)."""
        running = self.up if running is None else running
        if running:
            if self.health < self.top:
                return self.health - self.rise + 1, self.fall
            return None
        if self.health:
            return self.health, self.rise
        return None

    def interval_ms(self, params: CheckParams, fast: bool = False) -> int:
        """Delay until the next check: inter when fully up, downinter when
        fully down, fastinter in between (or when forced by ``fast``)."""
        if not fast and self.health == self.top:
            return params.inter
        if not self.up and self.health == 0:
            return params.downinter_ms
        return params.fastinter_ms


def log_line(
    proxy: str,
    server: str,
    result: CheckResult,
    health: Health,
    *,
    backup: bool = False,
    drain: bool = False,
    agent: bool = False,
) -> str:
    """``Health check for server px/srv succeeded, reason: ..., status: 3/3 UP.``"""
    kind = "Agent" if agent else "Health"
    verb = "succeeded" if result.result_class in (RES_PASSED, RES_CONDPASS) else "failed"
    cond = "conditionally " if result.result_class == RES_CONDPASS else ""
    if health.health >= health.rise:
        num, den = health.health - health.rise + 1, health.fall
        state = "DRAIN" if drain else "UP"
    else:
        num, den, state = health.health, health.rise, "DOWN"
    who = "backup server" if backup else "server"
    return (
        f"{kind} check for {who} {proxy}/{server} {cond}{verb}, {result.reason()}, "
        f"status: {num}/{den} {state}."
    )


class HealthNumbers:
    """What `show stat` reads of a check or an agent, from its `_health` counter."""

    _health: Health

    @property
    def health(self) -> int:
        return self._health.health

    @property
    def rise(self) -> int:
        return self._health.rise

    @property
    def fall(self) -> int:
        return self._health.fall

    @property
    def status(self) -> str:
        """Short status code of the last result (``INI`` before the first)."""
        return self._health.status
