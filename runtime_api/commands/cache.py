"""``show cache``: the configured caches and the objects each holds, in HAProxy
2.6's format (addresses are made up, as any pointer would be)."""

from __future__ import annotations

import time

from runtime_api.registry import CommandContext, Level, command


@command("show cache", level=Level.ADMIN)
def cmd_show_cache(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    from lb.http.cache import caches_of

    state = ctx.state
    if state is None or getattr(state, "cfg", None) is None:
        return ""
    now = int(time.time())
    return "".join(c.show(now) for c in caches_of(state).values())
