"""Time and size parsing; expected sentences are haproxy 2.6.12's."""

from __future__ import annotations

import pytest

from lb.config.units import (
    SizeError,
    TimeError,
    format_size_error,
    format_time_error,
    parse_size,
    parse_time,
    parse_time_ex,
)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("10", 10),
        ("0", 0),
        ("10ms", 10),
        ("10s", 10_000),
        ("10m", 600_000),
        ("10h", 36_000_000),
        ("10d", 864_000_000),
        ("24d", 2_073_600_000),
        ("2147483647", 2_147_483_647),
        ("1us", 1),
        ("0us", 0),
        ("1500us", 2),
        ("1000us", 1),
        ("10000000000us", 10_000_000),
        ("2147483647000us", 2_147_483_647),
        ("007", 7),
    ],
)
def test_parse_time(text: str, ms: int) -> None:
    assert parse_time(text) == ms


def test_default_unit() -> None:
    assert parse_time("10", "s") == 10_000
    assert parse_time("10ms", "s") == 10
    with pytest.raises(ValueError):
        parse_time("1", "weeks")


@pytest.mark.parametrize(
    ("text", "char"),
    [
        ("10x", "x"),
        ("10S", "S"),
        ("10MS", "M"),
        ("abc", "a"),
        ("1.5s", "."),
        ("-1", "-"),
        ("10u", "u"),
        ("10ux", "u"),
    ],
)
def test_bad_time_character(text: str, char: str) -> None:
    with pytest.raises(TimeError) as exc:
        parse_time(text)
    assert exc.value.kind == "char"
    assert exc.value.char == char
    assert format_time_error("timeout client", text, exc.value) == (
        f"unexpected character '{char}' in 'timeout client'"
    )


@pytest.mark.parametrize(
    "text",
    [
        "2147483648",
        "4294967295",
        "4294967296",
        "99999999999999999999",
        "25d",
        "35791395m",
        "2147483648000us",
    ],
)
def test_time_overflow(text: str) -> None:
    with pytest.raises(TimeError) as exc:
        parse_time(text)
    assert exc.value.kind == "overflow"
    assert format_time_error("timeout client", text) == (
        f"timer overflow in argument '{text}' to 'timeout client' "
        "(maximum value is 2147483647 ms or ~24.8 days)"
    )


def test_empty_time() -> None:
    with pytest.raises(TimeError):
        parse_time("")
    assert format_time_error("timeout client", "") == (
        "'timeout client' expects an integer value (in milliseconds)"
    )
    assert (
        format_time_error("timeout queue", "10x") == "unexpected character 'x' in 'timeout queue'"
    )
    with pytest.raises(ValueError):
        format_time_error("timeout client", "10s")


@pytest.mark.parametrize(
    ("text", "ms", "char"), [("10sx", 10_000, "x"), ("10mss", 10, "s"), ("10m5", 600_000, "5")]
)
def test_trailing_garbage_warns(text: str, ms: int, char: str) -> None:
    value = parse_time_ex(text)
    assert value.ms == ms
    assert value.warning == (
        f"unexpected character '{char}' after the timer value '{text}', only "
        "(us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. "
        "This will be reported as an error in next versions."
    )
    assert parse_time(text) == ms
    assert parse_time_ex("10s").warning is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("100", 100),
        ("1k", 1024),
        ("1K", 1024),
        ("1m", 1024**2),
        ("1M", 1024**2),
        ("1g", 1024**3),
        ("1G", 1024**3),
        ("3g", 3 * 1024**3),
        ("4294967295", 4294967295),
        ("4194303k", 4194303 * 1024),
    ],
)
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize(
    ("text", "char"),
    [
        ("1kb", "b"),
        ("1.5k", "."),
        ("4294967296", "6"),
        ("4194304k", "k"),
        ("10g", "g"),
        ("k", "k"),
        ("1t", "t"),
        ("-1", "-"),
        ("", ""),
    ],
)
def test_bad_size(text: str, char: str) -> None:
    with pytest.raises(SizeError) as exc:
        parse_size(text)
    assert exc.value.char == char
    assert format_size_error("size", exc.value) == (
        f"unexpected character '{char}' in argument of 'size'."
    )
