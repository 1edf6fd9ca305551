"""Check parameters: the server keywords and the proxy settings a check uses."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lb.config.units import atol

TIMER_MAX_MS = 2147483647

_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}


class CheckConfigError(ValueError):
    """A bad check keyword. The message is HAProxy's text as it follows
    ``'server px/srv' : `` in the alert, without the final period that the
    alert printer appends."""


@dataclass(slots=True, frozen=True)
class CheckParams:
    """Timings in milliseconds. ``fastinter``/``downinter`` of None mean
    "same as inter". ``timeout_check``/``timeout_connect`` come from the
    proxy (None: not set). ``log_health_checks`` is ``option log-health-checks``.
    ``first_delay_ms`` None means a random delay in [0, inter)."""

    inter: int = 2000
    fastinter: int | None = None
    downinter: int | None = None
    rise: int = 2
    fall: int = 3
    port: int | None = None
    addr: str | None = None
    timeout_check: int | None = None
    timeout_connect: int | None = None
    log_health_checks: bool = False
    first_delay_ms: int | None = None
    ssl: Any = None  # `check-ssl` (or `ssl` on the traffic port): the client SSLContext
    sni: str | None = None  # `check-sni`
    spread: int = 0  # global `spread-checks`: percent of jitter around each interval

    def spread_ms(self, delay_ms: int, rng: random.Random | None = None) -> float:
        """`delay_ms` moved by a random amount of up to `spread` percent either way,
        so that checks of many servers do not stay in step."""
        if not self.spread:
            return delay_ms
        span = delay_ms * self.spread / 100
        return delay_ms + (rng or random).uniform(-span, span)

    @property
    def fastinter_ms(self) -> int:
        return self.fastinter or self.inter

    @property
    def downinter_ms(self) -> int:
        return self.downinter or self.inter

    def connect_timeout_ms(self) -> int:
        """Bound of the connect phase.

        With ``timeout check`` set, HAProxy allows min(timeout connect, inter)
        to connect and then ``timeout check`` for the rest; without it the
        whole check (connect and read) is bounded by ``inter``.
        """
        if self.timeout_check and self.timeout_connect:
            return min(self.inter, self.timeout_connect)
        return self.inter

    def first_delay(self, rng: random.Random | None = None) -> float:
        """Delay before the first check, in seconds."""
        if self.first_delay_ms is not None:
            return self.first_delay_ms / 1000
        return (rng or random).uniform(0, self.inter) / 1000

    def with_proxy(
        self,
        *,
        timeout_check: int | None = None,
        timeout_connect: int | None = None,
        log_health_checks: bool = False,
    ) -> CheckParams:
        return replace(
            self,
            timeout_check=timeout_check,
            timeout_connect=timeout_connect,
            log_health_checks=log_health_checks,
        )


def spread_first_delays(inters_ms: Sequence[int]) -> list[int]:
    """Deterministic start spread as HAProxy does at boot for a list of checks:
    check number i of n starts at min(inter) * i / n."""
    n = len(inters_ms)
    if not n:
        return []
    mininter = min(inters_ms)
    return [mininter * i // n for i in range(n)]


def parse_time_ms(text: str, keyword: str, server_name: str = "") -> int:
    """Parse an HAProxy delay (default unit ms) for a server check keyword.

    HAProxy 2.6 names 'agent-inter' in the bad-character message whatever the
    keyword; we keep its wording.
    """
    srv = f"server {server_name}" if server_name else "server"
    i = 0
    while i < len(text) and text[i].isdigit():
        i += 1
    if i == 0:
        bad = text[0] if text else ""
        raise CheckConfigError(f"unexpected character '{bad}' in 'agent-inter' argument of {srv}.")
    value = int(text[:i])
    rest = text[i:]
    factor: float = 1
    if rest:
        for unit in ("us", "ms", "s", "m", "h", "d"):
            if rest.startswith(unit):
                factor = _UNITS_MS[unit]
                rest = rest[len(unit) :]
                break
        else:
            raise CheckConfigError(
                f"unexpected character '{rest[0]}' in 'agent-inter' argument of {srv}."
            )
    ms = int(value * factor) if factor >= 1 else (value + 999) // 1000
    if ms > TIMER_MAX_MS:
        raise CheckConfigError(
            f"timer overflow in argument <{text}> to <{keyword}> of {srv}, "
            "maximum value is 2147483647 ms (~24.8 days)."
        )
    return ms


# keyword -> number of arguments; scanned by parse_server_check_options
SERVER_CHECK_KEYWORDS = {
    "inter": 1,
    "fastinter": 1,
    "downinter": 1,
    "rise": 1,
    "fall": 1,
    "port": 1,
    "addr": 1,
}


def parse_server_check_options(
    tokens: Sequence[str], base: CheckParams | None = None, server_name: str = ""
) -> CheckParams:
    """Pick the check keywords out of a ``server`` line's options.

    ``tokens`` are the words after the server address; words this module does
    not know are skipped. Raises CheckConfigError with HAProxy's wording.
    """
    params = base or CheckParams()
    changes: dict[str, object] = {}
    i = 0
    while i < len(tokens):
        kw = tokens[i]
        if kw not in SERVER_CHECK_KEYWORDS:
            i += 1
            continue
        value = tokens[i + 1] if i + 1 < len(tokens) else None
        if value is None or value == "":
            if kw == "addr":
                raise CheckConfigError("'addr' expects <ipv4|ipv6> as argument.")
            if kw in ("rise", "fall"):
                raise CheckConfigError(f"'{kw}' has to be > 0.")
            raise CheckConfigError(f"'{kw}' expects {_expects(kw)} as argument.")
        if kw in ("inter", "fastinter", "downinter"):
            ms = parse_time_ms(value, kw, server_name)
            if ms <= 0:
                raise CheckConfigError(
                    f"invalid value {ms} for argument '{kw}' of server {server_name}."
                )
            changes[kw] = ms
        elif kw in ("rise", "fall"):
            n = atol(value)
            if n <= 0:
                raise CheckConfigError(f"'{kw}' has to be > 0.")
            changes[kw] = n
        elif kw == "port":
            changes["port"] = atol(value) or None
        else:
            changes["addr"] = value
        i += 2
    return replace(params, **changes) if changes else params


def _expects(kw: str) -> str:
    return "a delay" if kw.endswith("inter") else "an integer"
