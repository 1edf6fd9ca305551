"""Configuration diagnostics carrying HAProxy's `parsing [file:line]` prefix.

HAProxy uses two spellings of that prefix: keyword errors read
``parsing [x.cfg:12] : unknown keyword ...`` while errors raised by the line
tokenizer (and the `.if` evaluator) read ``parsing [x.cfg:12]: unmatched ...``
with no space before the colon.  `ConfigError` produces the first form and
`LexError` the second, so callers never have to remember which is which.
"""

from __future__ import annotations

from dataclasses import dataclass


def _location(file: str | None, line: int | None, sep: str) -> str:
    if file is None and line is None:
        return ""
    return f"parsing [{file or ''}:{line if line is not None else 0}]{sep}"


class ConfigError(Exception):
    """A fatal configuration problem; `str()` is the body of HAProxy's [ALERT] line."""

    #: text between the closing bracket and the message
    separator = " : "

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        return _location(self.file, self.line, self.separator) + self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, file={self.file!r}, line={self.line!r})"


class LexError(ConfigError):
    """A tokenizer error: HAProxy prints these as ``parsing [f:l]: ...`` (no space)."""

    separator = ": "


@dataclass(frozen=True)
class ConfigWarning:
    """A non-fatal configuration remark; `str()` is the body of a [WARNING] line."""

    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        return _location(self.file, self.line, " : ") + self.message
