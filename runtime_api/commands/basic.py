"""Session commands of the stats socket: help, prompt, quit, levels, severity, timeout.

They only touch the CLI session (``ctx.session``), never the load-balancer state.
"""

from __future__ import annotations

from runtime_api.registry import (
    CliError,
    CliMessage,
    CommandContext,
    Level,
    SeverityOutput,
    arg,
    command,
)

_LEVEL_NAMES = {Level.USER: "user", Level.OPERATOR: "operator", Level.ADMIN: "admin"}
_SEVERITY_MODES = {
    "none": SeverityOutput.NONE,
    "number": SeverityOutput.NUMBER,
    "string": SeverityOutput.STRING,
}
# Time units accepted by ``set timeout cli`` (value without unit = seconds), in microseconds.
_UNITS_US = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}
_UNITS_US["d"] = 24 * _UNITS_US["h"]
_UINT_MAX = 0xFFFFFFFF


@command("help", level=Level.USER)
def cmd_help(ctx: CommandContext, args: list[str], payload: str | None) -> CliMessage:
    """``help [words]``: the whole list, or the commands starting with/closest to ``words``."""
    return CliMessage(ctx.registry.usage_message(args[1:], is_help=True))


@command("prompt", level=Level.USER)
def cmd_prompt(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    ctx.session.toggle_prompt()


@command("quit", level=Level.USER)
def cmd_quit(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    ctx.session.request_quit()


def _lower_level(ctx: CommandContext, args: list[str], level: Level) -> None:
    # ``operator -`` / ``user -`` (used by the master CLI) reply without the terminator.
    if arg(args, 1) == "-":
        ctx.session.suppress_terminator()
    ctx.require(level)
    ctx.session.level = level


@command("operator", level=Level.USER)
def cmd_operator(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    """Lower the session to operator; from user this is ``Permission denied``."""
    _lower_level(ctx, args, Level.OPERATOR)


@command("user", level=Level.USER)
def cmd_user(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    _lower_level(ctx, args, Level.USER)


@command("show cli level", level=Level.USER)
def cmd_show_cli_level(ctx: CommandContext, args: list[str], payload: str | None) -> CliMessage:
    return CliMessage(_LEVEL_NAMES.get(ctx.session.level, "unknown") + "\n")


@command("set severity-output", level=Level.USER)
def cmd_set_severity_output(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    mode = _SEVERITY_MODES.get(arg(args, 2))
    if mode is None:
        raise CliError("one of 'none', 'number', 'string' is a required argument")
    ctx.session.severity_output = mode


def parse_cli_timeout(text: str) -> int | None:
    """Seconds for ``set timeout cli`` (digits + optional unit, rounded up), or ``None``."""
    digits = len(text) - len(text.lstrip("0123456789"))
    if not digits:
        return None
    value = int(text[:digits])
    unit = text[digits:] or "s"
    if value > _UINT_MAX or unit not in _UNITS_US:
        return None
    seconds = -(-value * _UNITS_US[unit] // _UNITS_US["s"])
    if seconds < 1 or seconds > _UINT_MAX:
        return None
    return seconds


@command("set timeout", level=Level.USER)
def cmd_set_timeout(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    """``set timeout cli <delay>``: the idle timeout of this session only."""
    if arg(args, 2) != "cli":
        raise CliError("'set timeout' only supports 'cli'.")
    if not arg(args, 3):
        raise CliError("Expects an integer value.")
    seconds = parse_cli_timeout(args[3])
    if seconds is None:
        raise CliError("Invalid timeout value.")
    ctx.session.timeout_ms = seconds * 1000
