"""Commands that read or change servers and frontends at run time.

Every change goes through the live objects' methods (``Server.set_maint``,
``Server.set_weight``, ``Proxy.pause`` ...), which rebuild the balancer, wake the
queues and log HAProxy's notices, so a change takes effect on the next request.
Error sentences are HAProxy 2.6.12's, including the few that lack a final newline.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from lb.server import ADMIN_FDRAIN, ADMIN_FMAINT
from runtime_api.registry import CliError, CliMessage, CommandContext, Level, arg, command
from runtime_api.stats_rows import server_op_state

__all__ = ["find_server", "parse_weight", "update_addr_port"]

UPDATER = "stats socket command"
SET_SERVER_USAGE = (
    "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send "
    "| check-addr | check-port | fqdn | health | ssl | state | weight"
)
RATE_LIMIT_USAGE = (
    "'set rate-limit' only supports :\n"
    "   - 'connections global' to set the per-process maximum connection rate\n"
    "   - 'sessions global' to set the per-process maximum session rate\n"
    "   - 'ssl-sessions global' to set the per-process maximum SSL session rate\n"
    "   - 'http-compression global' to set the per-process maximum compression speed in kB/s\n"
)
# Check status codes as `show servers state` numbers them (HAProxy's enum order).
CHECK_STATUS_CODES = {
    "UNK": 0, "INI": 1, "START": 2, "CHECKED": 3, "HANA": 4, "SOCKERR": 5, "L4OK": 6,
    "L4TOUT": 7, "L4CON": 8, "L6OK": 9, "L6TOUT": 10, "L6RSP": 11, "L7TOUT": 12, "L7RSP": 13,
    "L57DATA": 14, "L7OK": 15, "L7OKC": 16, "L7STS": 17, "PROCERR": 18, "PROCTOUT": 19,
    "PROCOK": 20,
}  # fmt: skip
CHK_ST_CONFIGURED, CHK_ST_ENABLED, CHK_ST_PAUSED = 0x02, 0x04, 0x08
# Algorithms whose weights can change at run time (HAProxy's BE_LB_PROP_DYN).
_DYNAMIC_ALGOS = frozenset({"roundrobin", "leastconn", "first", "random"})
SERVERS_STATE_HEADER = (
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
    "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
    "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
    "srv_agent_port\n"
)


# ---------------------------------------------------------------- lookups


def find_backend(state: Any, name: str) -> Any | None:
    p = state.by_name.get(name)
    if p is None:
        for q in state.proxies:
            if q.is_backend and str(q.puid) == name.lstrip("#"):
                return q
        return None
    return p if p.is_backend else None


def find_frontend(state: Any, name: str) -> Any:
    """``A frontend name is expected.`` / ``No such frontend.`` as HAProxy says them."""
    if not name:
        raise CliError("A frontend name is expected.")
    p = state.by_name.get(name)
    if p is None or not p.is_frontend:
        raise CliError("No such frontend.")
    return p


def find_server(state: Any, ref: str) -> Any:
    """``<backend>/<server>`` -> the server, or HAProxy's error sentence."""
    be_name, slash, srv_name = ref.partition("/")
    if not ref or not slash:
        raise CliError("Require 'backend/server'.")
    p = find_backend(state, be_name)
    if p is None:
        raise CliError("No such backend.")
    s = p.server(srv_name)
    if s is None:
        raise CliError("No such server.")
    return s


# ---------------------------------------------------------------- parsing helpers


def _strtol(text: str) -> tuple[int | None, str]:
    """C ``strtol(…, 10)``: (value or None when no digit, rest of the string)."""
    body = text.lstrip(" \t")
    i = 1 if body[:1] in ("+", "-") else 0
    j = i
    while j < len(body) and body[j].isdigit():
        j += 1
    if j == i:
        return None, text
    return int(body[:j]), body[j:]


def parse_weight(s: Any, text: str) -> int:
    """``N`` or ``N%`` of the initial weight, with HAProxy's checks and sentences."""
    if not text:
        raise CliError("Require <weight> or <weight%>.")
    w, rest = _strtol(text)
    if w is None:
        raise CliError("Empty weight string empty or preceded by garbage", newline=False)
    if rest == "%":
        if w < 0:
            raise CliError("Relative weight must be positive.")
        w = min(s.iweight * min(w, 25600) // 100, 256)
    elif w < 0 or w > 256:
        raise CliError("Absolute weight can only be between 0 and 256 inclusive.")
    elif rest:
        raise CliError("Trailing garbage in weight string", newline=False)
    if w and w != s.iweight and s.proxy.conf.balance[0] not in _DYNAMIC_ALGOS:
        hash_type = list(getattr(s.proxy.conf, "hash_type", []) or [])
        if "consistent" not in hash_type:
            raise CliError(
                "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'."
            )
    return w


def _parse_port(text: str) -> int | None:
    value, rest = _strtol(text)
    if value is None or rest:
        return None
    return value


def update_addr_port(s: Any, addr: str, port: str | None) -> str:
    """Apply ``set server … addr <ip> [port <p>]``; returns HAProxy's report sentence."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return f"Invalid addr '{addr}' by '{UPDATER}'\n"
    parts: list[str] = []
    new_host = str(ip)
    if new_host != s.host:
        parts.append(f"IP changed from '{s.host}' to '{new_host}'")
    else:
        parts.append("no need to change the addr")
    new_port: int | None = None
    if port is not None:
        if port[:1] in ("+", "-"):
            parts.append(
                "can't change <port> to port map because it is incompatible with current "
                "health check port configuration (use 'port' statement from the 'server' "
                "directive."
            )
        else:
            value = _parse_port(port)
            if value is None:
                parts.append(f"problem converting port '{port}' to an int")
            else:
                value &= 0xFFFF  # HAProxy keeps the low 16 bits
                if value != s.port:
                    parts.append(f"port changed from '{s.port}' to '{value}'")
                    new_port = value
                else:
                    parts.append("no need to change the port")
    if new_host != s.host or new_port is not None:
        if new_port is not None and s.check_port == s.port:
            s.check_port = new_port  # the check port follows the server's unless set
        if ip.version == 6:
            s.family = "ipv6"
        elif s.family == "ipv6":
            s.family = "ipv4"
        s.set_addr(new_host, new_port)
    return ", ".join(parts) + f" by '{UPDATER}'\n"


# ---------------------------------------------------------------- show servers


def _state_line(p: Any, s: Any, now: float) -> str:
    chk = s.check
    configured = chk is not None and bool(s.check_enabled)
    if configured:
        last = getattr(chk, "last_result", None)
        status = CHECK_STATUS_CODES.get(str(chk.status), 0)
        result = last.result_class if last is not None else 0
        health = 0 if s.in_maint else int(chk.health)
        cstate = CHK_ST_CONFIGURED
        if getattr(chk, "enabled", True):
            cstate |= CHK_ST_ENABLED
        if s.in_maint:
            cstate |= CHK_ST_PAUSED
    else:
        status, result, cstate = 1, 0, 0
        health = 0 if s.in_maint else int(s.conf.rise)
    check_port = s.check_port if s.check_port != s.port else 0
    fields = [
        p.puid, p.name, s.puid, s.name, s.host or "-", server_op_state(s), s.admin, s.uweight,
        s.iweight, max(0, int(now - s.last_change)), status, result, health, cstate, 0, 0, 0,
        s.options.get("fqdn") or "-", s.port, "-", 0, check_port, s.conf.check_addr or "-", "-", 0,
    ]  # fmt: skip
    return " ".join(str(f) for f in fields) + "\n"


def _backends(ctx: CommandContext, name: str) -> list[Any]:
    if name:
        p = find_backend(ctx.state, name)
        if p is None:
            raise CliError("Can't find backend.")
        return [p]
    return [p for p in ctx.state.proxies if p.is_backend]


@command("show servers state", level=Level.USER)
def cmd_show_servers_state(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    """``show servers state [<backend>]``: the server-state file format, version 1."""
    now = time.monotonic()
    out = [SERVERS_STATE_HEADER]
    for p in _backends(ctx, arg(args, 3)):
        out.extend(_state_line(p, s, now) for s in p.servers)
    return "".join(out)


@command("show servers conn", level=Level.USER)
def cmd_show_servers_conn(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    """``show servers conn [<backend>]``: connection-pool counters per server."""
    nbthread = max(1, int(ctx.state.cfg.global_.nbthread or 1))
    out = [
        "# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est "
        f"unsafe_nb safe_nb idle_lim idle_cur idle_per_thr[{nbthread}]\n"
    ]
    for p in _backends(ctx, arg(args, 3)):
        for s in p.servers:
            c = s.counters
            idle = len(s.idle)
            per_thr = " ".join([str(idle)] + ["0"] * (nbthread - 1))
            out.append(
                f"{p.name}/{s.name} {p.puid}/{s.puid} {s.host} {s.port} - 5000 {s.served} "
                f"{max(1, c.max_sess)} {max(1, c.max_sess)} 0 {idle} -1 {idle} {per_thr}\n"
            )
    return "".join(out)


# ---------------------------------------------------------------- set server / weight


def _set_state(s: Any, value: str) -> None:
    """HAProxy's forced states exclude each other: maint clears drain and drain clears maint.

    ``Server.set_maint``/``set_drain`` only add their own flag, so the other one is
    dropped here first (drain from maint goes through ``set_ready`` for its notice).
    """
    if value == "ready":
        s.set_ready()
    elif value == "drain":
        if s.admin & ADMIN_FMAINT:
            s.set_ready()
        s.set_drain()
    elif value == "maint":
        s.admin &= ~ADMIN_FDRAIN  # set_maint() recomputes the effective weight
        s.set_maint()
    else:
        raise CliError("'set server <srv> state' expects 'ready', 'drain' and 'maint'.")


def _set_health(s: Any, value: str) -> None:
    if value == "up":
        s.set_health_from_cli(True)
    elif value == "stopping":
        s.set_health_stopping()
    elif value == "down":
        s.set_health_from_cli(False)
    else:
        raise CliError("'set server <srv> health' expects 'up', 'stopping', or 'down'.")


def _set_check_port(s: Any, value: str) -> None:
    port = _parse_port(value)
    if port is None:
        raise CliError("provided port is not an integer", newline=False)
    if port < 1 or port > 65535:
        raise CliError("provided port is invalid", newline=False)
    if s.check is None or not s.check_enabled:
        raise CliError("health checks are not enabled on this server", newline=False)
    s.check_port = port


def _set_check_addr(s: Any, value: str) -> None:
    if s.check is None or not s.check_enabled:
        raise CliError("health checks are not enabled on this server", newline=False)
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise CliError(f"invalid addr '{value}'", newline=False) from None
    s.check_host = value


@command("set server")
def cmd_set_server(ctx: CommandContext, args: list[str], payload: str | None) -> str | None:
    """``set server <bk>/<srv> state|weight|addr|check-port|health|agent … <value>``."""
    s = find_server(ctx.state, arg(args, 2))
    what, value = arg(args, 3), arg(args, 4)
    if what == "weight":
        s.set_weight(parse_weight(s, value))
    elif what == "state":
        _set_state(s, value)
    elif what == "health":
        _set_health(s, value)
    elif what == "agent":
        raise CliError("agent checks are not enabled on this server.")
    elif what in ("agent-addr", "agent-port"):
        raise CliError("agent checks are not enabled on this server", newline=False)
    elif what == "agent-send":
        raise CliError("agent checks are not enabled on this server.")
    elif what == "check-addr":
        _set_check_addr(s, value)
    elif what == "check-port":
        _set_check_port(s, value)
    elif what == "addr":
        if not value:
            raise CliError("set server <b>/<s> addr requires an address and optionally a port.")
        port = arg(args, 6) if arg(args, 5) == "port" else None
        return CliMessage(update_addr_port(s, value, port))
    elif what == "fqdn":
        raise CliError("set server <b>/<s> fqdn failed because no resolution is configured.")
    elif what == "ssl":
        raise CliError(
            "'set server <srv> ssl' cannot be set.  default-server should define ssl settings"
        )
    else:
        raise CliError(SET_SERVER_USAGE)
    return None


@command("set weight")
def cmd_set_weight(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    """``set weight <bk>/<srv> <weight>[%]`` (deprecated form of ``set server … weight``)."""
    s = find_server(ctx.state, arg(args, 2))
    s.set_weight(parse_weight(s, arg(args, 3)))


@command("get weight", level=Level.USER)
def cmd_get_weight(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    s = find_server(ctx.state, arg(args, 2))
    return f"{s.uweight} (initial {s.iweight})\n"


# ---------------------------------------------------------------- enable / disable


@command("disable server")
def cmd_disable_server(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    find_server(ctx.state, arg(args, 2)).set_maint()


@command("enable server")
def cmd_enable_server(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    find_server(ctx.state, arg(args, 2)).set_ready()


@command("disable health")
def cmd_disable_health(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    s = find_server(ctx.state, arg(args, 2))
    if s.check is not None:
        s.check.pause()


@command("enable health")
def cmd_enable_health(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    s = find_server(ctx.state, arg(args, 2))
    if s.check is None or not s.check_enabled:
        raise CliError("Health check was not configured on this server, cannot enable.")
    s.check.resume()


@command("disable agent")
def cmd_disable_agent(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    find_server(ctx.state, arg(args, 2))  # no agent checks here: nothing to disable


@command("enable agent")
def cmd_enable_agent(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    find_server(ctx.state, arg(args, 2))
    raise CliError("Agent was not configured on this server, cannot enable.")


@command("disable frontend")
def cmd_disable_frontend(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    p = find_frontend(ctx.state, arg(args, 2))
    if p.stopped or p.disabled:
        raise CliError("Frontend was previously shut down, cannot disable.")
    if p.paused:
        raise CliError("All sockets are already disabled.")
    p.pause()


@command("enable frontend")
def cmd_enable_frontend(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    p = find_frontend(ctx.state, arg(args, 2))
    if p.stopped or p.disabled:
        raise CliError("Frontend was previously shut down, cannot enable.")
    if not p.paused:
        raise CliError("All sockets are already enabled.")
    p.resume()


@command("shutdown frontend")
def cmd_shutdown_frontend(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    p = find_frontend(ctx.state, arg(args, 2))
    if p.stopped or p.disabled:
        raise CliError("Frontend was already shut down.")
    p.stop_from_cli()


@command("shutdown sessions server")
def cmd_shutdown_sessions_server(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    # each stream on the server is killed as `shutdown session` does: server side first,
    # then the client, logged with termination flags `K`
    from runtime_api.commands.sessions import kill_server_sessions

    kill_server_sessions(ctx.state, find_server(ctx.state, arg(args, 3)))


# ---------------------------------------------------------------- limits


@command("set maxconn server")
def cmd_set_maxconn_server(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    s = find_server(ctx.state, arg(args, 3))
    text = arg(args, 4)
    if not text:
        raise CliError("Require <maxconn>.")
    value, rest = _strtol(text)
    if value is None:
        raise CliError("maxconn string empty or preceded by garbage", newline=False)
    if rest:
        raise CliError("Trailing garbage in maxconn string", newline=False)
    s.set_maxconn(value & 0xFFFFFFFF)


@command("set maxconn frontend")
def cmd_set_maxconn_frontend(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    p = find_frontend(ctx.state, arg(args, 3))
    text = arg(args, 4)
    if not text:
        raise CliError("Integer value expected.")
    value = _atoi(text)
    if value < 0:
        raise CliError("Value out of range.")
    p.maxconn = value
    for lst in p.listeners:
        if value and p.feconn >= value:
            lst.pause("fe-maxconn")
        else:
            lst.resume("fe-maxconn")


@command("set maxconn global")
def cmd_set_maxconn_global(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    state = ctx.state
    text = arg(args, 3)
    if not text:
        raise CliError("Expects an integer value.")
    value = _atoi(text)
    if value > state.hard_maxconn:
        raise CliError("Value out of range.")
    if value <= 0:
        value = state.hard_maxconn  # HAProxy resets to the hard limit on 0
    state.maxconn = value
    for lst in state.listeners:
        if state.actconn >= value:
            lst.pause("global-maxconn")
        elif "global-maxconn" in lst.paused_by:
            lst.resume("global-maxconn")


@command("set rate-limit")
def cmd_set_rate_limit(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    """``set rate-limit connections|sessions|ssl-sessions|http-compression global <v>``."""
    what = arg(args, 2)
    if what not in ("connections", "sessions", "ssl-sessions", "http-compression") or (
        arg(args, 3) != "global"
    ):
        raise CliError(RATE_LIMIT_USAGE)
    text = arg(args, 4)
    if not text:
        raise CliError("Expects an integer value.")
    value = _atoi(text)
    if value < 0:
        raise CliError("Value out of range.")
    state = ctx.state
    if what == "connections":
        state.rate_limit_connections = value
    elif what == "sessions":
        state.rate_limit_sessions = value


def _atoi(text: str) -> int:
    value, _rest = _strtol(text)
    return value or 0


# ---------------------------------------------------------------- counters


@command("clear counters", level=Level.OPERATOR)
def cmd_clear_counters(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    """``clear counters``: maxima only (operator); ``clear counters all``: everything (admin)."""
    clear_all = arg(args, 2) == "all"
    if clear_all:
        ctx.require(Level.ADMIN)
    state = ctx.state
    for p in state.proxies:
        if clear_all:  # HAProxy keeps these transition counters with the others
            p.down_trans = 0
            for s in p.servers:
                s.down_trans = 0
                s.down_time = 0.0
        objs = [p.fe_counters, p.be_counters] + [s.counters for s in p.servers]
        for c in objs:
            if clear_all:
                c.clear_all()
            else:
                c.clear_max()
    for rate in (state.conn_rate, state.sess_rate, state.req_rate):
        rate.clear_max()
