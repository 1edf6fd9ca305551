"""Date renderers for log lines and syslog headers.

Each renderer is a closure that remembers the last second it formatted, so
the costly ``time.localtime``/``gmtime`` call happens at most once per second
per renderer; inside a second only the sub-second digits are computed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MS3 = tuple(f"{i:03d}" for i in range(1000))


def _tz_offset(tm: time.struct_time, colon: bool) -> str:
    off = tm.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off) // 60
    if colon:
        return f"{sign}{off // 60:02d}:{off % 60:02d}"
    return f"{sign}{off // 60:02d}{off % 60:02d}"


def make_clf_ms() -> Callable[[float], str]:
    """``21/Nov/2026:14:03:07.123`` in local time (%t, %tr)."""
    last = -1
    prefix = ""

    def render(ts: float) -> str:
        nonlocal last, prefix
        ms = int(ts * 1000)
        sec = ms // 1000
        if sec != last:
            tm = time.localtime(sec)
            prefix = (
                f"{tm.tm_mday:02d}/{MONTHS[tm.tm_mon - 1]}/{tm.tm_year}:"
                f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}."
            )
            last = sec
        return prefix + MS3[ms - sec * 1000]

    return render


def make_clf_zone(gmt: bool) -> Callable[[float], str]:
    """``21/Nov/2026:14:03:07 +0000`` in GMT (%T, %trg) or local time (%Tl, %trl)."""
    last = -1
    text = ""
    conv = time.gmtime if gmt else time.localtime

    def render(ts: float) -> str:
        nonlocal last, text
        sec = int(ts)
        if sec != last:
            tm = conv(sec)
            zone = "+0000" if gmt else _tz_offset(tm, False)
            text = (
                f"{tm.tm_mday:02d}/{MONTHS[tm.tm_mon - 1]}/{tm.tm_year}:"
                f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {zone}"
            )
            last = sec
        return text

    return render


def make_rfc3164() -> Callable[[float], str]:
    """``Nov  1 14:03:07`` (day padded with a space) in local time."""
    last = -1
    text = ""

    def render(ts: float) -> str:
        nonlocal last, text
        sec = int(ts)
        if sec != last:
            tm = time.localtime(sec)
            text = (
                f"{MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
                f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
            )
            last = sec
        return text

    return render


def make_iso_us() -> Callable[[float], str]:
    """``2026-11-21T14:03:07.123456+00:00`` in local time (rfc5424, iso, timed)."""
    last = -1
    prefix = ""
    zone = ""

    def render(ts: float) -> str:
        nonlocal last, prefix, zone
        us = int(ts * 1_000_000)
        sec = us // 1_000_000
        if sec != last:
            tm = time.localtime(sec)
            prefix = (
                f"{tm.tm_year}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T"
                f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}."
            )
            zone = _tz_offset(tm, True)
            last = sec
        return f"{prefix}{us - sec * 1_000_000:06d}{zone}"

    return render
