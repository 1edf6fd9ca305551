"""HAProxy 2.6 configuration tokenizer (sans-IO).

Turns configuration text into `Line` records of words, applying the quoting
rules of HAProxy 2.6 as observed on the real binary:

* words are separated by unquoted whitespace; an unquoted ``#`` ends the line,
  even in the middle of a word (``a#b`` gives ``a``);
* ``'...'`` quotes everything literally, ``"..."`` allows backslash escapes and
  environment expansion (``$NAME``, ``${NAME}``, ``${NAME-default}`` and the
  word-splitting ``${NAME[*]}``);  environment variables are expanded *only*
  inside double quotes, ``$HOME`` unquoted stays ``$HOME``;
* a backslash escapes space, ``#``, backslash and both quotes, inside double
  quotes also ``$``; ``\\r``, ``\\n``, ``\\t`` and ``\\xNN`` give the control
  character / byte; any other backslash is kept as is (``\\q`` stays ``\\q``);
* adjacent quoted and unquoted pieces form one word, ``""`` is an empty word;
* an unset variable expands to nothing, without warning;
* a line whose first word is empty (``"" foo``) is ignored, like HAProxy does;
* at most 64 words per line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from lb.config.errors import ConfigError, LexError

#: HAProxy's MAX_LINE_ARGS
MAX_LINE_ARGS = 64

_SPACE = " \t\r\v\f"
_SIMPLE_ESCAPES = {" ": " ", "#": "#", "\\": "\\", "'": "'", '"': '"'}
_CONTROL_ESCAPES = {"r": "\r", "n": "\n", "t": "\t"}
_HEX = "0123456789abcdefABCDEF"


@dataclass(frozen=True)
class Line:
    """One significant configuration line: its location and its words."""

    file: str
    lineno: int
    words: tuple[str, ...]
    #: the line as written (without the newline); kept for caret diagnostics
    raw: str = field(default="", compare=False, repr=False)


class _LineError(Exception):
    """Internal: a tokenizer error at a 0-based position of the raw line."""

    def __init__(self, what: str, pos: int) -> None:
        super().__init__(what)
        self.what = what
        self.pos = pos


def caret_message(what: str, raw: str, pos: int) -> str:
    """Build HAProxy's three-line ``... at position N:`` message.

    The position is 1-based and counted on the raw line, while the echoed line
    has its indentation removed and the caret is aligned on that echo.
    """
    raw = raw.rstrip("\r")
    body = raw.lstrip(_SPACE)
    indent = len(raw) - len(body)
    pad = " " * max(pos - indent, 0)
    return f"{what} at position {pos + 1}:\n  {body}\n  {pad}^"


def _is_name_start(c: str) -> bool:
    return c.isascii() and (c.isalpha() or c == "_")


def _is_name_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


class _Splitter:
    """State machine splitting one raw line into words."""

    def __init__(self, raw: str, env: Mapping[str, str]) -> None:
        self.raw = raw
        self.env = env
        self.words: list[str] = []
        self.starts: list[int] = []
        self.cur: list[str] | None = None

    def begin(self, pos: int) -> None:
        if self.cur is None:
            self.cur = []
            self.starts.append(pos)

    def end(self) -> None:
        if self.cur is not None:
            self.words.append("".join(self.cur))
            self.cur = None

    def add(self, text: str) -> None:
        assert self.cur is not None
        self.cur.append(text)

    def run(self) -> list[str]:
        raw = self.raw
        n = len(raw)
        i = 0
        quote: str | None = None
        quote_pos = 0
        while i < n:
            c = raw[i]
            if quote == "'":
                if c == "'":
                    quote = None
                else:
                    self.add(c)
                i += 1
                continue
            if quote is None:
                if c in _SPACE:
                    self.end()
                    i += 1
                    continue
                if c == "#":
                    break
                self.begin(i)
                if c in "'\"":
                    quote, quote_pos = c, i
                    i += 1
                    continue
            elif c == '"':
                quote = None
                i += 1
                continue
            elif c == "$":
                i = self.expand(i)
                continue
            if c == "\\":
                i = self.escape(i, in_dquote=quote == '"')
                continue
            self.add(c)
            i += 1
        if quote is not None:
            raise _LineError("unmatched quote", quote_pos)
        self.end()
        return self.words

    def escape(self, i: int, in_dquote: bool) -> int:
        """Handle a backslash at `i`; return the index of the next character to read."""
        raw = self.raw
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if nxt in _SIMPLE_ESCAPES and nxt:
            self.add(_SIMPLE_ESCAPES[nxt])
            return i + 2
        if nxt == "$" and in_dquote:
            self.add("$")
            return i + 2
        if nxt in _CONTROL_ESCAPES and nxt:
            self.add(_CONTROL_ESCAPES[nxt])
            return i + 2
        if nxt == "x":
            digits = raw[i + 2 : i + 4]
            if len(digits) != 2 or any(d not in _HEX for d in digits):
                raise _LineError("truncated or invalid hexadecimal sequence", i)
            self.add(chr(int(digits, 16)))
            return i + 4
        self.add("\\")
        return i + 1

    def expand(self, i: int) -> int:
        """Expand an environment variable whose ``$`` is at `i` (inside double quotes)."""
        raw = self.raw
        n = len(raw)
        j = i + 1
        brace = j < n and raw[j] == "{"
        if brace:
            j += 1
        if j >= n or not _is_name_start(raw[j]):
            raise _LineError("forbidden first char in environment variable name", j)
        start = j
        while j < n and _is_name_char(raw[j]):
            j += 1
        name = raw[start:j]
        split = False
        default: str | None = None
        if brace:
            if j < n and raw[j] == "[":
                if raw[j : j + 3] != "[*]":
                    raise _LineError("truncated or invalid word expansion sequence", j)
                split = True
                j += 3
            if j < n and raw[j] == "-":
                close = raw.find("}", j + 1)
                if close < 0:
                    raise _LineError("unmatched brace in environment variable name", i + 1)
                default = raw[j + 1 : close]
                j = close
            if j >= n or raw[j] != "}":
                raise _LineError("unmatched brace in environment variable name", i + 1)
            j += 1
        value = self.env.get(name)
        if value is None:
            value = default if default is not None else ""
        if not split:
            self.add(value)
            return j
        parts = value.split()
        for k, part in enumerate(parts):
            if k:
                self.end()
                self.begin(i)
            self.add(part)
        return j


def split_line(raw: str, env: Mapping[str, str] | None = None) -> list[str]:
    """Split one raw line into words; raise `LexError` (no location) on bad syntax."""
    try:
        return _split(raw, os.environ if env is None else env)
    except _LineError as exc:
        raise LexError(caret_message(exc.what, raw, exc.pos)) from None


def _split(raw: str, env: Mapping[str, str]) -> list[str]:
    splitter = _Splitter(raw, env)
    words = splitter.run()
    if len(words) > MAX_LINE_ARGS:
        last = MAX_LINE_ARGS - 1
        raise LexError(
            f"too many words, truncating after word {MAX_LINE_ARGS}, "
            f"position {splitter.starts[last] + 1}: <{words[last]}>."
        )
    return words


def _lines(text: str, filename: str, env: Mapping[str, str] | None) -> Iterator[Line | ConfigError]:
    environ = os.environ if env is None else env
    for lineno, raw in enumerate(text.split("\n"), start=1):
        try:
            words = _split(raw, environ)
        except _LineError as exc:
            yield LexError(caret_message(exc.what, raw, exc.pos), filename, lineno)
            continue
        except LexError as exc:
            yield LexError(exc.message, filename, lineno)
            continue
        if not words or words[0] == "":
            continue
        yield Line(filename, lineno, tuple(words), raw)


def tokenize(text: str, filename: str, env: Mapping[str, str] | None = None) -> Iterator[Line]:
    """Yield the significant lines of `text`; raise `LexError` at the first bad one.

    `env` defaults to `os.environ`.  Blank and comment-only lines are skipped.
    """
    for item in _lines(text, filename, env):
        if isinstance(item, ConfigError):
            raise item
        yield item


def tokenize_all(
    text: str, filename: str, env: Mapping[str, str] | None = None
) -> tuple[list[Line], list[ConfigError]]:
    """Like `tokenize` but keep going: HAProxy reports every bad line, then stops."""
    lines: list[Line] = []
    errors: list[ConfigError] = []
    for item in _lines(text, filename, env):
        (errors if isinstance(item, ConfigError) else lines).append(item)  # type: ignore[arg-type]
    return lines, errors
