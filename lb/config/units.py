"""Time and size values of the configuration language (sans-IO).

Behaviour checked against HAProxy 2.6.12:

* times are ``<digits>[unit]`` with the case-sensitive units us, ms, s, m, h,
  d; no sign, no fraction; microseconds round *up* to the next millisecond;
  the result must not exceed 2147483647 ms (~24.8 days);
* characters after a valid unit (``10sx``, ``10mss``) are accepted with a
  warning that does not carry a ``parsing [file:line]`` prefix;
* sizes are ``<digits>[k|m|g]`` (either case, powers of 1024) held in 32 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: largest timer HAProxy accepts, in milliseconds
TIMER_MAX_MS = 2**31 - 1
#: largest size value (HAProxy parses sizes into an unsigned 32-bit integer)
SIZE_MAX = 2**32 - 1

_C_SPACE = " \t\n\v\f\r"


def atol(text: str) -> int:
    """C's atol/atoi, as HAProxy reads many numbers: blanks, an optional sign, then
    the leading digits; 0 when there are none (`abc` is 0, `16k` is 16)."""
    t = text.lstrip(_C_SPACE)
    sign = -1 if t[:1] == "-" else 1
    if t[:1] in ("+", "-"):
        t = t[1:]
    n = len(t) - len(t.lstrip("0123456789"))
    return sign * int(t[:n]) if n else 0


_UNIT_US = {"us": 1, "ms": 1000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}
_UNIT_US["d"] = 24 * _UNIT_US["h"]
_SIZE_MULT = {"k": 1024, "m": 1024**2, "g": 1024**3}

TimeErrorKind = Literal["empty", "char", "overflow"]


class TimeError(ValueError):
    """A time value HAProxy refuses.

    `kind` is ``"empty"``, ``"char"`` (`char` holds the offending character)
    or ``"overflow"``; `value` is the text that was parsed.
    """

    def __init__(self, kind: TimeErrorKind, value: str, char: str = "") -> None:
        self.kind = kind
        self.value = value
        self.char = char
        if kind == "empty":
            msg = "expects an integer value (in milliseconds)"
        elif kind == "char":
            msg = f"unexpected character '{char}'"
        else:
            msg = (
                f"timer overflow in argument '{value}' "
                "(maximum value is 2147483647 ms or ~24.8 days)"
            )
        super().__init__(msg)


class SizeError(ValueError):
    """A size value HAProxy refuses; `char` is the character it stopped at ('' at end)."""

    def __init__(self, value: str, char: str) -> None:
        self.value = value
        self.char = char
        super().__init__(f"unexpected character '{char}'")


@dataclass(frozen=True)
class TimeValue:
    """A parsed time: milliseconds plus HAProxy's tolerance warning, if any."""

    ms: int
    warning: str | None = None


def _split_unit(text: str) -> tuple[str, str, str]:
    """Return (digits, unit, trailing garbage) or raise TimeError."""
    if not text:
        raise TimeError("empty", text)
    i = 0
    while i < len(text) and text[i].isascii() and text[i].isdigit():
        i += 1
    if i == 0:
        raise TimeError("char", text, text[0])
    rest = text[i:]
    if not rest:
        return text[:i], "", ""
    if rest[:2] in ("us", "ms"):
        unit = rest[:2]
    elif rest[0] in "smhd":
        unit = rest[0]
    else:
        raise TimeError("char", text, rest[0])
    return text[:i], unit, rest[len(unit) :]


def parse_time_ex(text: str, default_unit: str = "ms") -> TimeValue:
    """Parse a timer value into milliseconds, keeping the 2.6 trailing-garbage warning."""
    if default_unit not in _UNIT_US:
        raise ValueError(f"unknown time unit '{default_unit}'")
    digits, unit, trailing = _split_unit(text)
    micros = int(digits) * _UNIT_US[unit or default_unit]
    ms = -(-micros // 1000)
    if ms > TIMER_MAX_MS:
        raise TimeError("overflow", text)
    warning = None
    if trailing:
        warning = (
            f"unexpected character '{trailing[0]}' after the timer value '{text}', only "
            "(us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are "
            "supported. This will be reported as an error in next versions."
        )
    return TimeValue(ms, warning)


def parse_time(text: str, default_unit: str = "ms") -> int:
    """Parse a timer value such as ``10s`` or ``1500us`` into milliseconds.

    Values without a unit are taken in `default_unit`. Raise `TimeError`.
    Trailing characters after a valid unit are tolerated, as in HAProxy 2.6;
    use `parse_time_ex` to get the warning HAProxy prints for them.
    """
    return parse_time_ex(text, default_unit).ms


def format_time_error(keyword: str, value: str, exc: TimeError | None = None) -> str:
    """HAProxy's alert sentence for a bad ``timeout <name>`` value.

    `keyword` is the full keyword, e.g. ``"timeout client"``.  Without `exc`
    the value is parsed again to find what is wrong with it.
    """
    if exc is None:
        try:
            parse_time(value)
        except TimeError as err:
            exc = err
        else:
            raise ValueError(f"'{value}' is a valid time")
    if exc.kind == "empty":
        return f"'{keyword}' expects an integer value (in milliseconds)"
    if exc.kind == "char":
        return f"unexpected character '{exc.char}' in '{keyword}'"
    return (
        f"timer overflow in argument '{value}' to '{keyword}' "
        "(maximum value is 2147483647 ms or ~24.8 days)"
    )


def parse_size(text: str, max_value: int = SIZE_MAX) -> int:
    """Parse ``<digits>[k|m|g]`` (case-insensitive, powers of 1024).

    Raise `SizeError` naming the character where HAProxy stops: the first
    non-digit, the digit that overflows, the suffix that overflows, or
    anything after the suffix.
    """
    value = 0
    i = 0
    n = len(text)
    if n == 0:
        raise SizeError(text, "")
    while i < n and text[i].isascii() and text[i].isdigit():
        value = value * 10 + int(text[i])
        if value > max_value:
            raise SizeError(text, text[i])
        i += 1
    if i == 0:
        raise SizeError(text, text[0])
    if i < n:
        mult = _SIZE_MULT.get(text[i].lower())
        if mult is None:
            raise SizeError(text, text[i])
        value *= mult
        if value > max_value:
            raise SizeError(text, text[i])
        i += 1
        if i < n:
            raise SizeError(text, text[i])
    return value


def format_size_error(keyword: str, exc: SizeError) -> str:
    """The ``stick-table`` wording: ``unexpected character 'x' in argument of 'size'.``"""
    return f"unexpected character '{exc.char}' in argument of '{keyword}'."
