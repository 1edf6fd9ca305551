"""``show errors [<px>] [request|response]``: the captured invalid messages.

Each proxy keeps its last invalid request (as a frontend) and response (as a backend);
the dump shows the event header, the parser context HAProxy's H1 multiplexer reports,
then the bytes as HAProxy's escaped text dump with the offset of each line.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from lb.errors_capture import Capture
from runtime_api.registry import CliError, CommandContext, Level, arg, command

LINE_WIDTH = 79  # longest dump line, prefix included
_ESCAPES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x1B: "\\e", 0x5C: "\\\\"}
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
HTX_OVERHEAD = 48  # HAProxy's buffers "wrap" this much before their end


def _token(byte: int) -> str:
    if byte in _ESCAPES:
        return _ESCAPES[byte]
    if 0x20 <= byte < 0x7F:
        return chr(byte)
    return f"\\x{byte:02X}"


def dump_text(data: bytes) -> Iterator[str]:
    """Lines of ``  OOOOO  text``: cut after each LF, or ``+`` continued past the width."""
    pos, n = 0, len(data)
    line_start = 0
    while pos < n:
        line = f"  {pos:05d}{' ' if pos == line_start else '+'} "
        while pos < n:
            tok = _token(data[pos])
            if len(line) + len(tok) > LINE_WIDTH:
                break
            line += tok
            pos += 1
            if data[pos - 1] == 0x0A:
                line_start = pos
                break
        yield line + "\n"


def _date(ts: float) -> str:
    lt = time.localtime(ts)
    ms = int((ts - int(ts)) * 1000)
    return (
        f"{lt.tm_mday:02d}/{_MONTHS[lt.tm_mon - 1]}/{lt.tm_year:04d}:"
        f"{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}.{ms:03d}"
    )


def _h1_context(cap: Capture) -> tuple[str, str, str]:
    """(connection/stream flags, message state/flags) as HAProxy's H1 mux reports them."""
    if cap.direction == "request":
        conn = "H1 connection flags 0x00000100, H1 stream flags 0x00000810"
        if cap.in_request_line:
            return conn, "MSG_DATA(27)", "0x00001400"
        return conn, "MSG_HDR_NAME(17)", "0x00001410"
    conn = "H1 connection flags 0x80002200, H1 stream flags 0x00004810"
    if cap.in_request_line:
        return conn, "MSG_DATA(27)", "0x00001404"
    return conn, "MSG_HDR_NAME(17)", "0x00001414"


def render_capture(cap: Capture, bufsize: int) -> Iterator[str]:
    if cap.direction == "request":
        head = f"frontend {cap.proxy_name} (#{cap.proxy_id}): invalid request"
        other = f"backend {cap.other_name} (#{cap.other_id})"
    else:
        head = f"backend {cap.proxy_name} (#{cap.proxy_id}): invalid response"
        other = f"frontend {cap.other_name} (#{cap.other_id})"
    length = len(cap.data)
    conn_flags, msg_state, msg_flags = _h1_context(cap)
    yield (
        f" \n[{_date(cap.when)}] {head}\n"
        f"  {other}, server {cap.server_name} (#{cap.server_id}), event #{cap.event}, "
        f"src {cap.client_ip}:{cap.client_port}\n"
        f"  buffer starts at 0 (including 0 out), {bufsize - length} free,\n"
        f"  len {length}, wraps at {bufsize - HTX_OVERHEAD}, error at position {cap.pos}\n"
        f"  {conn_flags}\n"
        f"  H1 msg state {msg_state}, H1 msg flags {msg_flags}\n"
        "  H1 chunk len 0 bytes, H1 body len 0 bytes :\n"
        "  \n"
    )
    yield from dump_text(cap.data)


def dump_errors(state: Any, proxy: Any = None, directions: tuple[str, ...] = ()) -> Iterator[str]:
    errors = state.errors
    yield f"Total events captured on [{_date(time.time())}] : {errors.events}\n"
    proxies = [proxy] if proxy is not None else list(state.proxies)
    bufsize = getattr(state, "bufsize", 0) or 16384
    for p in proxies:
        for direction in directions or ("request", "response"):
            cap = errors.get(p.name, direction)
            if cap is not None:
                yield from render_capture(cap, bufsize)


def _find_proxy(state: Any, name: str) -> Any:
    if name.startswith("#"):
        try:
            puid = int(name[1:])
        except ValueError:
            return None
        return next((p for p in state.proxies if p.puid == puid), None)
    return state.by_name.get(name)


@command("show errors", level=Level.OPERATOR)
def cmd_show_errors(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    """``show errors [<px>|-1] [request|response]``."""
    state = ctx.state
    name = arg(args, 2)
    proxy = None
    if name and name != "-1":
        proxy = _find_proxy(state, name)
        if proxy is None:
            raise CliError("No such proxy.")
    which = arg(args, 3)
    directions: tuple[str, ...] = ()
    if which == "request":
        directions = ("request",)
    elif which == "response":
        directions = ("response",)
    return "".join(dump_errors(state, proxy, directions))
