"""The ``[LEVEL]   (pid) : message`` lines HAProxy prints on stderr."""

from __future__ import annotations

__all__ = ["format_notice"]


def format_notice(level: str, pid: int | None, msg: str) -> str:
    """Format a process notice as HAProxy 2.6 does, without the trailing newline.

    The bracketed level is padded to 10 columns (``[NOTICE]   (5085) : ...``,
    ``[WARNING]  (5090) : ...``, ``[ALERT]    (5085) : ...``). Continuation lines
    of a multi-line message are prefixed with ``   | ``, as in config warnings, unless
    they start with a blank or a quote (a message with its own layout).
    haproxy 2.6 always printed the pid in every case we checked (run, -c, -d,
    -W, -q); ``pid=None`` is offered for callers that have none and prints
    ``[LEVEL]    : message``.
    """
    head = f"[{level.upper()}]"
    first, *rest = msg.split("\n")
    if pid is None:
        line = f"{head:<10} : {first}"
    else:
        line = f"{head:<10} ({pid}) : {first}"
    for r in rest:  # (a line that brings its own indent or quote is kept as it is)
        line += f"\n   | {r}" if r[:1].isalnum() else f"\n{r}"
    return line
