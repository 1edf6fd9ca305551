"""Passive health (`observe`, `error-limit`, `on-error`) and the session kills of
`on-marked-down shutdown-sessions` / `on-marked-up shutdown-backup-sessions`.

HAProxy's analyze table (check.c): in `layer4` mode a connection that succeeds
clears the error count and one that fails adds to it; in `layer7` mode a failed
connection still counts as an error, a valid HTTP answer (100-499, 501, 505)
clears the count, and a wrong status or a broken answer adds to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

OBS_LAYER4 = 4
OBS_LAYER7 = 7

L4_ERR = "L4 unsuccessful connection"
HTTP_STS = "Wrong http response"
# front-side termination code of a failed response -> HAProxy's analyze status
HTTP_WHY = {
    "PH": "Invalid http response (headers)",
    "SH": "Close from server (http)",
    "sH": "Read timeout (http)",
}


def http_ok(status: int) -> bool:
    """A status that does not count as a server error for `observe layer7`."""
    return 100 <= status < 500 or status in (501, 505)


def error_text(count: int, layer: int, why: str) -> str:
    last = L4_ERR if layer == OBS_LAYER4 else HTTP_WHY.get(why, why or HTTP_STS)
    return f"Detected {count} consecutive errors, last one was: {last}"


def shutdown_streams(state: Any, servers: Iterable[Any], letter: str) -> int:
    """Kill every stream on `servers`, logged with termination code `letter` (D or U)."""
    targets = {id(s) for s in servers}
    if not targets:
        return 0
    n = 0
    for conn in list(getattr(state, "conns", ())):
        srv = getattr(conn, "server", None)
        if srv is not None and id(srv) in targets and getattr(conn, "stream", None) is not None:
            _kill(conn, letter)
            n += 1
    return n


def _kill(conn: Any, letter: str) -> None:
    """As `shutdown session` does (runtime_api.commands.sessions.kill_conn), but with
    HAProxy's `D` (server marked down) or `U` (a primary came up) as first flag."""
    from runtime_api.commands import sessions as rs

    st = conn.stream
    term = letter + rs._kill_term(conn)[1:]
    bt = rs._back_transport(conn)
    for transport in (bt, getattr(conn, "transport", None)):
        rs._reset_on_close(transport)
    if bt is not None:
        bt.abort()
    st.term_state = term
    if rs._is_http(conn) and hasattr(conn, "_abort_both"):
        conn._abort_both(term)
    elif hasattr(conn, "_fail"):
        conn._fail(term)
    elif getattr(conn, "transport", None) is not None:
        conn.transport.abort()
