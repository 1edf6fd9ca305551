"""``add server`` and ``del server``: servers created and removed at run time.

As in HAProxy 2.6, a new server takes the keywords a ``server`` line takes
(those that make sense at run time), starts in maintenance and joins the
rotation with ``enable server``; its check, if any, starts with it. A server
can be deleted only when in maintenance and without connections. Replies
and log lines use HAProxy's sentences (checked against 2.6.12).
"""

from __future__ import annotations

from typing import Any

from lb.server import ADMIN_FMAINT, ADMIN_MAINT, Server
from runtime_api.registry import CliError, CliMessage, CommandContext, arg, command

# keywords a `server` line accepts that HAProxy refuses for a dynamic server
_NOT_DYNAMIC = ("cookie", "resolvers", "resolve-prefer", "init-addr", "redir", "namespace")
_HASH_ALGOS = ("source", "uri", "url_param", "hdr", "rdp-cookie")


def _backend(ctx: CommandContext, ref: str) -> tuple[Any, str]:
    be_name, slash, srv_name = ref.partition("/")
    if not ref or not slash:
        raise CliError("Require 'backend/server'.", newline=False)
    from runtime_api.commands.servers import find_backend

    p = find_backend(ctx.state, be_name)
    if p is None:
        raise CliError("No such backend.", newline=False)
    return p, srv_name


def _dynamic_lb(p: Any) -> bool:
    algo = p.conf.balance[0]
    if algo == "static-rr":
        return False
    hash_type = list(p.conf.hash_type or ["map-based"])
    return not (algo in _HASH_ALGOS and hash_type[0] == "map-based")


def _alert(ctx: CommandContext, prefix: str, msg: str) -> None:
    ctx.state.notify("alert", f"CLI : {prefix}{msg.rstrip()}", None)


@command("add server")
def cmd_add_server(ctx: CommandContext, args: list[str], payload: str | None) -> CliMessage:
    from lb.config.keywords import ServerError, _server_options
    from lb.config.model import ServerConf, Where

    p, name = _backend(ctx, arg(args, 2))
    if not _dynamic_lb(p):
        raise CliError(
            "Backend must use a dynamic load balancing to support dynamic servers.", newline=False
        )
    prefix = f"'server {p.name}/{name}' : "
    addr_text = arg(args, 3)
    if not name or not addr_text:
        msg = "'server' expects <name> and <addr>[:<port>] as arguments."
        _alert(ctx, "", msg)
        raise CliError(msg + "\n", newline=False)
    if p.server(name) is not None:
        msg = "Already exists a server with the same name in backend."
        _alert(ctx, prefix, msg)
        raise CliError(msg + "\n", newline=False)
    words = args[4:]
    for w in words:
        if w in _NOT_DYNAMIC:
            msg = f"'{w}' option is not accepted for dynamic server"
            _alert(ctx, prefix, msg)
            raise CliError(msg + "\n", newline=False)
    from lb.config.addr import parse_server_addr

    try:
        addr = parse_server_addr(addr_text)
    except ValueError as exc:
        msg = f"{exc}"
        _alert(ctx, prefix, msg)
        raise CliError(msg + "\n", newline=False) from None
    where = Where("CLI", 0)
    conf = ServerConf(name=name, host=addr.host, port=addr.port, family=addr.family, where=where)
    try:
        _server_options(conf, list(words), where, "server")
    except ServerError as exc:
        msg = exc.msg.split(" : ", 1)[-1]
        _alert(ctx, prefix, msg)
        raise CliError(msg + "\n", newline=False) from None
    except Exception as exc:  # ConfigError from the option parser
        msg = getattr(exc, "message", str(exc))
        _alert(ctx, prefix, msg)
        raise CliError(msg + "\n", newline=False) from None
    track = conf.options.get("track")
    if track:
        err = _track_error(ctx, p, str(track))
        if err:
            _alert(ctx, prefix, err)
            raise CliError(err + "\n", newline=False)
    conf.puid = conf.puid or max((s.puid for s in p.servers), default=0) + 1
    srv = Server(p, conf)
    srv.admin |= ADMIN_FMAINT  # a new server waits in maintenance for `enable server`
    srv._refresh()
    p.servers.append(srv)
    p.servers_changed()
    _start_checks(ctx.state, p, srv)
    ctx.state.notify("notice", f"CLI : {prefix}New server registered.", None)
    return CliMessage("New server registered.\n")


def _track_error(ctx: CommandContext, p: Any, ref: str) -> str | None:
    be_name, slash, srv_name = ref.rpartition("/")
    be = ctx.state.by_name.get(be_name) if slash else p
    target = be.server(srv_name) if be is not None else None
    if target is None:
        return f"unable to find required server '{ref}' for tracking."
    if target.check is None and getattr(target, "agent", None) is None:
        return f"unable to use {ref} for tracking as it does not have any check nor agent enabled."
    return None


def _start_checks(state: Any, p: Any, srv: Any) -> None:
    if state.loop is None:
        return
    if srv.check_enabled:
        from lb.checksetup import start_check

        state.checks.append(start_check(state, p, srv))
    if srv.options.get("agent-check"):
        from lb.checks.setup_extra import start_agent

        start_agent(state, p, srv)


@command("del server")
def cmd_del_server(ctx: CommandContext, args: list[str], payload: str | None) -> CliMessage:
    p, name = _backend(ctx, arg(args, 2))
    srv = p.server(name)
    if srv is None:
        raise CliError("No such server.", newline=False)
    if not srv.admin & ADMIN_MAINT:
        raise CliError("Only servers in maintenance mode can be deleted.", newline=False)
    if srv.served or srv.queue:
        raise CliError(
            "Server still has connections attached to it, cannot remove it.", newline=False
        )
    for other in p.servers:
        if other is not srv and str(other.options.get("track", "")) in (name, f"{p.name}/{name}"):
            raise CliError("Server is tracked by other servers, cannot remove it.", newline=False)
    for chk in (srv.check, getattr(srv, "agent", None)):
        if chk is not None:
            chk.stop()
            if chk in ctx.state.checks:
                ctx.state.checks.remove(chk)
    srv.drop_idle()
    p.servers.remove(srv)
    p.servers_changed()
    ctx.state.notify("notice", "CLI : Server deleted.", None)
    return CliMessage("Server deleted.")
