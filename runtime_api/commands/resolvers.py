"""``show resolvers [<id>]``: the counters of each name server of each section."""

from __future__ import annotations

from typing import Any

from runtime_api.registry import CliError, CommandContext, Level, arg, command


def _sections(state: Any) -> dict[str, Any]:
    live = getattr(state, "dns_sections", None)
    if live is not None:
        return live
    from lb.dns.client import build

    state.dns_sections = build(state)  # not started yet: every counter is zero
    return state.dns_sections


@command("show resolvers", level=Level.USER)
def cmd_show_resolvers(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    sections = _sections(ctx.state)
    name = arg(args, 2)
    if name:
        if name not in sections:
            raise CliError("Can't find that resolvers section")
        chosen = [sections[name]]
    else:
        chosen = list(sections.values())
    out: list[str] = []
    for sec in chosen:
        out.append(f"Resolvers section {sec.name}\n")
        for ns in sec.nameservers:
            out.append(f" nameserver {ns.name}:\n")
            for key, value in ns.counters.items():
                out.append(f"  {key + ':':<13}{value}\n")
    return "".join(out)
