"""Starts the `stats socket` listeners of the global section on the live state."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lb.state import State


async def start_stats_sockets(state: State, loop: asyncio.AbstractEventLoop) -> None:
    from runtime_api import commands  # noqa: F401  (registers every command)
    from runtime_api.registry import REGISTRY, CommandContext
    from runtime_api.server import CliSlots, parse_stats_socket_line, start_cli_listener

    g = state.cfg.global_
    slots = CliSlots(g.stats_maxconn)
    for rule in g.stats_sockets:
        try:
            spec = parse_stats_socket_line(list(rule.words))
        except ValueError as exc:
            raise rule.where.error(str(exc)) from None

        def make_context(session: Any) -> CommandContext:
            return CommandContext(state=state, session=session, registry=REGISTRY, loop=loop)

        try:
            server = await start_cli_listener(loop, spec, make_context, g.stats_timeout, slots)
        except OSError as exc:
            raise rule.where.error(
                f"cannot bind stats socket [{rule.words[0]}] ({exc.strerror})",
            ) from None
        state.cli_servers.append(server)
