"""C number parsing, so configuration words are read as HAProxy reads them."""

from __future__ import annotations

from lb.config.units import atol as atoi  # noqa: F401  (C's atoi, read here)

_SPACE = " \t\n\r\f\v"


def strtol0(text: str) -> tuple[int, str]:
    """C's strtol(text, &end, 0): the value and the unparsed rest.

    Base 0 means "0x" introduces hex and a leading "0" octal.
    """
    i = 0
    n = len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    base = 10
    if text[i : i + 2].lower() == "0x" and i + 2 < n and text[i + 2] in "0123456789abcdefABCDEF":
        base, i = 16, i + 2
    elif text[i : i + 1] == "0":
        base = 8
    digits = "0123456789abcdef"[:base]
    start = i
    while i < n and text[i].lower() in digits:
        i += 1
    if i == start:
        return 0, text  # no conversion: end stays at the start
    return sign * int(text[start:i], base), text[i:]
