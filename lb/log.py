"""Logging: log-format compilation, syslog targets and process notices.

Public API (implementation in :mod:`lb.logging_`):
- :func:`compile_log_format` turns a log-format string into ``render(ctx) -> str``;
  :class:`LogContext` documents what ``ctx`` must provide;
- the default formats (``HTTP_LOG_FORMAT`` ...);
- :func:`parse_log_line` / :class:`LogTarget` for the ``log`` keyword and
  :class:`Logger` which sends lines in HAProxy's wire formats;
- :func:`format_notice` for ``[WARNING]  (pid) : ...`` stderr lines.
"""

from lb.logging_.context import LogContext
from lb.logging_.logformat import (
    CLF_LOG_FORMAT,
    HTTP_LOG_FORMAT,
    HTTPS_LOG_FORMAT,
    LEGACY_HTTP_LOG_FORMAT,
    LEGACY_TCP_LOG_FORMAT,
    TCP_LOG_FORMAT,
    compile_log_format,
    legacy_log_format,
)
from lb.logging_.notice import format_notice
from lb.logging_.syslog import FACILITIES, FORMATS, LEVELS, Logger, LogTarget, parse_log_line

__all__ = [
    "CLF_LOG_FORMAT",
    "FACILITIES",
    "FORMATS",
    "HTTPS_LOG_FORMAT",
    "HTTP_LOG_FORMAT",
    "LEGACY_HTTP_LOG_FORMAT",
    "LEGACY_TCP_LOG_FORMAT",
    "LEVELS",
    "TCP_LOG_FORMAT",
    "LogContext",
    "LogTarget",
    "Logger",
    "compile_log_format",
    "format_notice",
    "legacy_log_format",
    "parse_log_line",
]
