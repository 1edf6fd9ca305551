"""From live objects to `show stat` rows and `show info` values (sans-IO).

Everything here only reads the state: `stats_format` renders what these functions return.
Which cells are empty follows HAProxy 2.6.12 (see the reference transcripts): servers
without a running check have no check columns, TCP proxies no HTTP columns, a server in
maintenance keeps `chkfail`/`chkdown`/`downtime` but loses the check status columns.

Time values (`lastchg`, `downtime`, `lastsess`, uptime) are computed from ``now`` (a
monotonic time, defaulting to the current one) so that tests can pass a fixed clock.
"""

from __future__ import annotations

import os
import resource
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lb import counters as counters_mod
from lb.server import (
    ADMIN_FDRAIN,
    SRV_ST_RUNNING,
    SRV_ST_STARTING,
    SRV_ST_STOPPED,
    SRV_ST_STOPPING,
)
from runtime_api.stats_format import StatRow, StatValue

__all__ = [
    "PRODUCT_NAME",
    "PRODUCT_VERSION",
    "RELEASE_DATE",
    "StatFilter",
    "backend_row",
    "backend_status",
    "check_running",
    "frontend_row",
    "info_values",
    "proxy_rows",
    "server_is_up",
    "server_op_state",
    "server_row",
    "server_status",
]

PRODUCT_NAME = "HAProxy"  # tools key on this name; the version says what we emulate
PRODUCT_VERSION = "2.6.12"
RELEASE_DATE = "2023/03/28"

TYPE_FE, TYPE_BE, TYPE_SRV = 1, 2, 4

_MODULE_SSL = ("ssl_sess", "ssl_reused_sess", "ssl_failed_handshake")
_MODULE_H2 = (
    "h2_headers_rcvd",
    "h2_data_rcvd",
    "h2_settings_rcvd",
    "h2_rst_stream_rcvd",
    "h2_goaway_rcvd",
    "h2_detected_conn_protocol_errors",
    "h2_detected_strm_protocol_errors",
    "h2_rst_stream_resp",
    "h2_goaway_resp",
    "h2_open_connections",
    "h2_backend_open_streams",
    "h2_total_connections",
    "h2_backend_total_streams",
)
_HRSP = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")


@dataclass(frozen=True, slots=True)
class StatFilter:
    """`show stat` selection: proxy uuid (0 = all), type mask, server id (-1 = all)."""

    iid: int = 0
    types: int = -1
    sid: int = -1
    hide_down: bool = False  # `up`
    hide_maint: bool = False  # `no-maint`


# ---------------------------------------------------------------- server state


def check_running(s: Any) -> bool:
    """A health check exists and is enabled (not `disable health`)."""
    chk = s.check
    return chk is not None and bool(s.check_enabled) and bool(getattr(chk, "enabled", True))


def server_op_state(s: Any) -> int:
    """HAProxy's operational state: a server in maintenance counts as stopped."""
    if s.in_maint:
        return SRV_ST_STOPPED
    return int(s.op_state)  # (STARTING: in a slow start)


def server_is_up(s: Any) -> bool:
    """Counted as up by `show stat up` and the `UP (n/m)` backend status."""
    return server_op_state(s) != SRV_ST_STOPPED


def _progress(s: Any, running: bool) -> tuple[int, int] | None:
    chk = s.check
    if not check_running(s) or not hasattr(chk, "progress"):
        return None
    try:
        return chk.progress(running)
    except TypeError:
        return chk.progress()


def server_status(s: Any) -> str:
    """The `status` cell of a server: MAINT, DOWN, DRAIN, NOLB, no check, UP [x/y]."""
    if s.in_maint:
        return "MAINT (resolution)" if s.admin & 0x20 else "MAINT"  # RMAINT: lb/dns/
    state = server_op_state(s)
    if state == SRV_ST_STOPPED:
        prog = _progress(s, False)
        return f"DOWN {prog[0]}/{prog[1]}" if prog else "DOWN"
    if s.admin & ADMIN_FDRAIN:
        return "DRAIN"
    if state == SRV_ST_STOPPING:
        prog = _progress(s, True)
        return f"NOLB {prog[0]}/{prog[1]}" if prog else "NOLB"
    if not check_running(s):
        # a tracking server shows the state it follows, without check progress
        return "UP" if s.track_target() is not None else "no check"
    prog = _progress(s, True)
    return f"UP {prog[0]}/{prog[1]}" if prog else "UP"


def _eligible(s: Any) -> bool:
    """Takes new traffic: up, not drained or stopping, weight above zero."""
    return (
        not s.in_maint
        and s.op_state in (SRV_ST_RUNNING, SRV_ST_STARTING)
        and not (s.admin & ADMIN_FDRAIN)
        and s.uweight > 0
    )


def _active_group(p: Any) -> list[Any]:
    """Servers whose weight counts for the backend: the active ones, else the backups."""
    act = [s for s in p.servers if not s.backup and _eligible(s)]
    if act:
        return act
    bck = [s for s in p.servers if s.backup and _eligible(s)]
    if p.options.get("allbackups"):
        return bck
    return bck[:1]


def backend_status(p: Any, flt: StatFilter | None = None) -> str:
    """`UP`/`DOWN`, with ` (up/total)` under `show stat up|no-maint`."""
    status = "UP" if (not p.servers or _active_group(p)) else "DOWN"
    if flt is not None and (flt.hide_down or flt.hide_maint):
        nbup = sum(1 for s in p.servers if server_is_up(s))
        status += f" ({nbup}/{len(p.servers)})"
    return status


def frontend_status(p: Any, state: Any) -> str:
    if p.disabled or getattr(p, "stopped", False):
        return "STOP"
    if p.paused:
        return "PAUSED"
    maxconn = frontend_maxconn(p, state)
    if maxconn and p.feconn >= maxconn:
        return "FULL"
    return "OPEN"


def frontend_maxconn(p: Any, state: Any) -> int:
    """A frontend without `maxconn` inherits the global one as it was at start-up."""
    return int(p.maxconn or getattr(state, "hard_maxconn", 0) or state.maxconn)


def backend_fullconn(p: Any, state: Any) -> int:
    """`slim` of a backend: `fullconn`, else 10% of the frontends' maxconn that reach it."""
    if p.conf.fullconn:
        return int(p.conf.fullconn)
    total = 0
    for fe in state.proxies:
        if not fe.is_frontend:
            continue
        conf = fe.conf
        names = {r.words[0] for r in conf.use_backends if r.words}
        if conf.default_backend is not None:
            names.add(conf.default_backend[0])
        if fe is p or p.name in names:  # configured values: later `set maxconn` do not count
            total += int(conf.maxconn or getattr(state, "hard_maxconn", 0) or state.maxconn)
    return max(1, (total + 9) // 10)


# ---------------------------------------------------------------- rows


def _secs(now: float, since: float) -> int:
    return max(0, int(now - since))


def _lastsess(c: Any) -> int:
    if c.last_sess is None or c.last_sess < 0:
        return -1
    return max(0, counters_mod.now_sec() - int(c.last_sess))


def _avg(avg: Any, count: int) -> int:
    return int(avg.value(count))


def _times(v: dict[str, StatValue], c: Any, count: int) -> None:
    v["qtime"] = _avg(c.qtime, count)
    v["ctime"] = _avg(c.ctime, count)
    v["rtime"] = _avg(c.rtime, count)
    v["ttime"] = _avg(c.ttime, count)
    v["qtime_max"] = c.qtime_max
    v["ctime_max"] = c.ctime_max
    v["rtime_max"] = c.rtime_max
    v["ttime_max"] = c.ttime_max


def _ssl(v: dict[str, StatValue], c: Any) -> None:
    v["ssl_sess"] = c.ssl_sess
    v["ssl_reused_sess"] = c.ssl_reused_sess
    v["ssl_failed_handshake"] = c.ssl_failed_handshake


def _modules(v: dict[str, StatValue], c: Any) -> None:
    """SSL, H2 and H1 module fields of a frontend or backend."""
    _ssl(v, c)
    for name in _MODULE_H2:
        v[name] = 0
    v["h1_open_connections"] = c.h1_open_conns
    v["h1_open_streams"] = c.h1_open_streams
    v["h1_total_connections"] = c.h1_total_conns
    v["h1_total_streams"] = c.h1_total_streams
    v["h1_bytes_in"] = c.h1_bytes_in
    v["h1_bytes_out"] = c.h1_bytes_out
    v["h1_spliced_bytes_in"] = 0
    v["h1_spliced_bytes_out"] = 0


def _hrsp(v: dict[str, StatValue], c: Any) -> None:
    for name, n in zip(_HRSP, c.hrsp, strict=True):
        v[name] = n


def frontend_row(p: Any, state: Any) -> StatRow:
    c = p.fe_counters
    http = p.mode == "http"
    v: dict[str, StatValue] = {
        "pxname": p.name,
        "svname": "FRONTEND",
        "scur": p.feconn,
        "smax": c.max_sess,
        "slim": frontend_maxconn(p, state),
        "stot": c.cum_sess,
        "bin": c.bytes_in,
        "bout": c.bytes_out,
        "dreq": c.denied_req,
        "dresp": c.denied_resp,
        "ereq": c.failed_req,
        "status": frontend_status(p, state),
        "pid": 1,
        "iid": p.puid,
        "sid": 0,
        "type": 0,
        "rate": c.sess_rate.rate(),
        "rate_lim": int(getattr(p, "rate_limit_sessions", 0) or 0),
        "rate_max": c.sess_rate.max,
        "req_rate": c.req_rate.rate(),
        "req_rate_max": c.req_rate.max,
        "req_tot": c.cum_req,
        "comp_in": c.comp_in,
        "comp_out": c.comp_out,
        "comp_byp": c.comp_byp,
        "comp_rsp": c.comp_rsp,
        "mode": p.mode,
        "conn_rate": c.conn_rate.rate(),
        "conn_rate_max": c.conn_rate.max,
        "conn_tot": c.cum_conn,
        "dcon": c.denied_conn,
        "dses": c.denied_sess,
        "wrew": c.failed_rewrites,
        "eint": c.internal_errors,
    }
    if http:
        _hrsp(v, c)
        v["intercepted"] = c.intercepted
        v["cache_lookups"] = c.cache_lookups
        v["cache_hits"] = c.cache_hits
    _modules(v, c)
    return StatRow.from_mapping("F", p.puid, 0, v)


def backend_row(p: Any, state: Any, now: float, flt: StatFilter | None = None) -> StatRow:
    c = p.be_counters
    http = p.mode == "http"
    group = _active_group(p)
    weight = sum(s.stat_weight for s in group)
    down = bool(p.servers) and not group
    v: dict[str, StatValue] = {
        "pxname": p.name,
        "svname": "BACKEND",
        "qcur": len(p.queue),
        "qmax": c.nbpend_max,
        "scur": p.beconn,
        "smax": c.max_sess,
        "slim": backend_fullconn(p, state),
        "stot": c.cum_sess,
        "bin": c.bytes_in,
        "bout": c.bytes_out,
        "dreq": c.denied_req,
        "dresp": c.denied_resp,
        "econ": c.failed_conns,
        "eresp": c.failed_resp,
        "wretr": c.retries,
        "wredis": c.redispatches,
        "status": backend_status(p, flt),
        "weight": weight,
        "act": sum(1 for s in p.servers if not s.backup and _eligible(s)),
        "bck": sum(1 for s in p.servers if s.backup and _eligible(s)),
        "chkdown": p.down_trans,
        "lastchg": _secs(now, p.last_change),
        "downtime": _secs(now, p.last_change) if down else 0,
        "pid": 1,
        "iid": p.puid,
        "sid": 0,
        "lbtot": c.cum_lbconn,
        "type": 1,
        "rate": c.sess_rate.rate(),
        "rate_max": c.sess_rate.max,
        "cli_abrt": c.cli_aborts,
        "srv_abrt": c.srv_aborts,
        "comp_in": c.comp_in,
        "comp_out": c.comp_out,
        "comp_byp": c.comp_byp,
        "comp_rsp": c.comp_rsp,
        "lastsess": _lastsess(c),
        "mode": p.mode,
        "algo": _algo(p),
        "wrew": c.failed_rewrites,
        "connect": sum(s.counters.connect for s in p.servers),
        "reuse": sum(s.counters.reuse for s in p.servers),
        "eint": c.internal_errors,
        "uweight": weight,
        "agg_server_status": 0,
        "agg_server_check_status": 0,
        "agg_check_status": 0,
    }
    _times(v, c, c.cum_lbconn)
    if http:
        _hrsp(v, c)
        v["req_tot"] = c.cum_req
        v["cache_lookups"] = c.cache_lookups
        v["cache_hits"] = c.cache_hits
    _modules(v, c)
    return StatRow.from_mapping("B", p.puid, 0, v)


def _algo(p: Any) -> str:
    try:
        from lb.balance import stat_name
    except ImportError:  # pragma: no cover - the balance registry is part of the core
        return str(p.conf.balance[0])
    return stat_name(p.conf.balance[0])


def _server_downtime(s: Any, now: float) -> int:
    return int(s.total_down_time())


def server_row(p: Any, s: Any, state: Any, now: float) -> StatRow:
    c = s.counters
    http = p.mode == "http"
    checked = check_running(s)
    show_check = checked and not s.in_maint
    v: dict[str, StatValue] = {
        "pxname": p.name,
        "svname": s.name,
        "qcur": len(s.queue),
        "qmax": c.nbpend_max,
        "scur": s.served,
        "smax": c.max_sess,
        "slim": getattr(s, "maxconn_cfg", s.maxconn) or None,  # (minconn: lb/server_minconn.py)
        "stot": c.cum_sess,
        "bin": c.bytes_in,
        "bout": c.bytes_out,
        "dresp": c.denied_resp,
        "econ": c.failed_conns,
        "eresp": c.failed_resp,
        "wretr": c.retries,
        "wredis": c.redispatches,
        "status": server_status(s),
        "weight": s.stat_weight,
        "act": 0 if s.backup else 1,
        "bck": 1 if s.backup else 0,
        "lastchg": _secs(now, s.last_change),
        "qlimit": s.maxqueue or None,
        "pid": 1,
        "iid": p.puid,
        "sid": s.puid,
        "lbtot": c.cum_lbconn,
        "type": 2,
        "rate": c.sess_rate.rate(),
        "rate_max": c.sess_rate.max,
        "cli_abrt": c.cli_aborts,
        "srv_abrt": c.srv_aborts,
        "lastsess": _lastsess(c),
        "addr": s.addr_text() if s.host else "",  # none yet: `init-addr none`
        "mode": p.mode,
        "wrew": c.failed_rewrites,
        "connect": c.connect,
        "reuse": c.reuse,
        "srv_icur": len(s.idle),
        "eint": c.internal_errors,
        "idle_conn_cur": len(s.idle),
        "safe_conn_cur": 0,
        "used_conn_cur": s.served,
        "need_conn_est": max(1, c.max_sess) if c.cum_sess else 1,
        "uweight": s.uweight,
    }
    tracked = s.tracked_name
    if tracked:
        v["tracked"] = tracked
    if s.throttle is not None:  # in a slow start
        v["throttle"] = s.throttle
    if s.observe:
        v["hanafail"] = s.failed_hana
    if checked:
        chk = s.check
        v["chkfail"] = int(getattr(chk, "failed_checks", 0))
        v["chkdown"] = s.down_trans
        v["downtime"] = _server_downtime(s, now)
    if show_check:
        _check_fields(v, s.check)
    _times(v, c, c.cum_lbconn)
    if http:
        _hrsp(v, c)
        v["req_tot"] = sum(c.hrsp)
    _ssl(v, c)
    return StatRow.from_mapping("S", p.puid, s.puid, v)


def _check_fields(v: dict[str, StatValue], chk: Any) -> None:
    from lb.checks import status_description

    res = getattr(chk, "last_result", None)
    status = str(chk.status)
    v["check_status"] = status
    if res is not None and res.code is not None:
        v["check_code"] = res.code
    if status != "INI":
        v["check_duration"] = max(0, res.duration_ms) if res is not None else 0
    v["last_chk"] = res.info if res is not None else ""
    v["check_desc"] = status_description(status)
    v["check_rise"] = chk.rise
    v["check_fall"] = chk.fall
    v["check_health"] = chk.health


def proxy_rows(
    state: Any, flt: StatFilter | None = None, now: float | None = None
) -> Iterator[StatRow]:
    """Rows in config order: FRONTEND, servers, BACKEND for each selected proxy."""
    flt = flt or StatFilter()
    now = time.monotonic() if now is None else now
    for p in state.proxies:
        if flt.iid and p.puid != flt.iid:
            continue
        if p.is_frontend and flt.types & TYPE_FE:
            yield frontend_row(p, state)
        if not p.is_backend:
            continue
        if flt.types & TYPE_SRV:
            for s in p.servers:
                if flt.sid != -1 and s.puid != flt.sid:
                    continue
                if flt.hide_maint and s.in_maint:
                    continue
                if flt.hide_down and not server_is_up(s):
                    continue
                yield server_row(p, s, state, now)
        if flt.types & TYPE_BE:
            yield backend_row(p, state, now, flt)


# ---------------------------------------------------------------- show info


def format_uptime(seconds: int) -> str:
    """`0d 0h00m22s` as `show info` prints it."""
    d, rest = divmod(max(0, seconds), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{d}d {h}h{m:02d}m{s:02d}s"


def _nofile() -> int:
    try:
        return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    except (OSError, ValueError):  # pragma: no cover
        return 0


def info_values(
    state: Any, *, use_float: bool = False, cli_sessions: int = 1
) -> dict[str, StatValue]:
    """The `show info` fields (name -> value); absent fields are left out."""
    g = state.cfg.global_
    now = time.time()
    up = now - state.start_time
    fes = [p for p in state.proxies if p.is_frontend]
    cum_req = sum(p.fe_counters.cum_req for p in fes)
    listeners = len(getattr(state, "listeners", ())) + len(getattr(state, "cli_servers", ()))
    ulimit = _nofile()
    conn_limit = int(getattr(state, "rate_limit_connections", g.rate_limit_connections) or 0)
    v: dict[str, StatValue] = {
        "Name": PRODUCT_NAME,
        "Version": PRODUCT_VERSION,
        "Release_date": RELEASE_DATE,
        "Nbthread": int(g.nbthread or 1),
        "Nbproc": 1,
        "Process_num": 1,
        "Pid": int(state.pid or os.getpid()),
        "Uptime": format_uptime(int(up)),
        "Uptime_sec": up if use_float else int(up),
        "Memmax_MB": 0,
        "PoolAlloc_MB": 0,
        "PoolUsed_MB": 0,
        "PoolFailed": 0,
        "Ulimit-n": ulimit,
        "Maxsock": ulimit,
        "Maxconn": int(state.maxconn),
        "Hard_maxconn": int(state.hard_maxconn),
        "CurrConns": int(state.actconn),
        "CumConns": int(state.cum_conns),
        "CumReq": max(int(getattr(state, "cum_reqs", 0)), cum_req),
        "MaxSslConns": 0,
        "CurrSslConns": 0,
        "CumSslConns": sum(p.fe_counters.ssl_sess for p in fes),
        "Maxpipes": 0,
        "PipesUsed": 0,
        "PipesFree": 0,
        "ConnRate": state.conn_rate.rate(),
        "ConnRateLimit": conn_limit,
        "MaxConnRate": state.conn_rate.max,
        "SessRate": state.sess_rate.rate(),
        "SessRateLimit": int(state.rate_limit_sessions or 0),
        "MaxSessRate": state.sess_rate.max,
        "SslRate": 0,
        "SslRateLimit": 0,
        "MaxSslRate": 0,
        "SslFrontendKeyRate": 0,
        "SslFrontendMaxKeyRate": 0,
        "SslFrontendSessionReuse_pct": 0,
        "SslBackendKeyRate": 0,
        "SslBackendMaxKeyRate": 0,
        "SslCacheLookups": 0,
        "SslCacheMisses": 0,
        "CompressBpsIn": 0,
        "CompressBpsOut": 0,
        "CompressBpsRateLim": 0,
        "Tasks": len(state.conns) + len(getattr(state, "checks", ())) + listeners,
        "Run_queue": 0,
        "Idle_pct": 100,
        "node": g.node or socket.gethostname(),
        "description": g.description or None,
        "Stopping": 1 if state.stopping else 0,
        "Jobs": listeners + int(state.actconn) + cli_sessions,
        "Unstoppable Jobs": cli_sessions,
        "Listeners": listeners,
        "ActivePeers": 0,
        "ConnectedPeers": 0,
        "DroppedLogs": 0,
        "BusyPolling": 0,
        "FailedResolutions": 0,
        "TotalBytesOut": sum(p.fe_counters.bytes_out for p in fes),
        "TotalSplicdedBytesOut": 0,
        "BytesOutRate": 0,
        "DebugCommandsIssued": 0,
        "CumRecvLogs": 0,
        "Build info": PRODUCT_VERSION,
        "Memmax_bytes": 0,
        "PoolAlloc_bytes": 0,
        "PoolUsed_bytes": 0,
        "Start_time_sec": float(state.start_time) if use_float else int(state.start_time),
        "Tainted": "0",  # a str field in 2.6 (hex flags)
    }
    return v
