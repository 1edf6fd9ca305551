"""Wires `lb.log` to the live state: per-proxy access logs and process notices."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from lb.log import (
    CLF_LOG_FORMAT,
    HTTP_LOG_FORMAT,
    HTTPS_LOG_FORMAT,
    TCP_LOG_FORMAT,
    Logger,
    compile_log_format,
    format_notice,
    legacy_log_format,
    parse_log_line,
)

if TYPE_CHECKING:
    from lb.config.model import GlobalConf
    from lb.proxy import Proxy
    from lb.state import State

LOG_INFO = 6
LOG_ERR = 3
NOTICE_LEVELS = {"emerg": 0, "alert": 1, "err": 3, "warning": 4, "notice": 5, "info": 6}


def build_global_logger(g: GlobalConf, state: State) -> Logger:
    targets = []
    for lc in g.logs:
        try:
            targets.append(parse_log_line(list(lc.words)))
        except ValueError as exc:
            raise lc.where.error(str(exc)) from None
    cls = _logger_class(state, targets, [lc.where for lc in g.logs], None)
    return cls(
        targets, tag=g.log_tag or "haproxy", send_hostname=g.log_send_hostname, node=g.node or None
    )


def _logger_class(
    state: State, targets: list[Any], wheres: list[Any], proxy: str | None
) -> type[Logger]:
    """`Logger`, or `RingLogger` when a target is a `ring@` one (only those pay for rings)."""
    if not any(t.kind == "ring" for t in targets):
        return Logger
    from lb.logging_.ring import RingLogger, bind_ring_targets

    bind_ring_targets(state, targets, wheres, proxy)
    return RingLogger


def _proxy_logger(p: Proxy, state: State) -> Logger | None:
    targets = []
    wheres = []
    for lc in p.conf.logs:
        if lc.is_global:
            targets.extend(state.global_logger.targets)
            wheres.extend([lc.where] * len(state.global_logger.targets))
        else:
            targets.append(parse_log_line(list(lc.words)))
            wheres.append(lc.where)
    if not targets:
        return None
    g = state.cfg.global_
    return _logger_class(state, targets, wheres, p.name)(
        targets, tag=g.log_tag or "haproxy", send_hostname=g.log_send_hostname, node=g.node or None
    )


def _format_for(p: Proxy) -> str:
    pc = p.conf
    if pc.log_format is not None:
        return pc.log_format
    opts = pc.options
    if opts.get("httpslog"):
        return HTTPS_LOG_FORMAT
    if opts.get("httplog"):
        if p.mode != "http":
            return TCP_LOG_FORMAT
        return CLF_LOG_FORMAT if opts["httplog"] == "clf" else HTTP_LOG_FORMAT
    if opts.get("tcplog"):
        return TCP_LOG_FORMAT
    return legacy_log_format(p.mode == "http")


def build_proxy_logging(p: Proxy, state: State) -> None:
    from lb import captures

    captures.build(p)  # `capture cookie` hooks (after the rules they wrap)
    p.logger = _proxy_logger(p, state)
    if p.logger is None or not p.is_frontend:
        return
    fmt = _format_for(p)
    logasap = bool(p.conf.options.get("logasap"))
    try:
        from lb.sample import compile_sample_for_log  # type: ignore[attr-defined]
    except ImportError:
        compile_sample_for_log = None
    try:
        render = compile_log_format(
            fmt, compile_sample_for_log, http_mode=p.mode == "http", logasap=logasap
        )
    except ValueError as exc:
        where = p.conf.log_format_where or p.conf.where
        raise where.error(f"failed to parse log-format : {exc}") from None
    render = captures.with_response_slots(p, render)
    logger = p.logger
    name = p.name
    dontlognull = bool(p.conf.options.get("dontlognull"))
    separate = bool(p.conf.options.get("log-separate-errors"))

    def log_stream(st: Any) -> None:
        if dontlognull and st.bytes_in == 0 and (st.status <= 0 or st.status == 408):
            return
        level = LOG_INFO
        if separate and (st.status >= 500 or st.term_state[0] != "-"):
            level = LOG_ERR
        forced = st.log_level  # http-request set-log-level (-1: silent)
        if forced is not None:
            if forced < 0:
                return
            level = forced
        logger.log(level, render(st), name)

    p.log_stream = log_stream
    if logasap:
        captures.build_logasap(state, p, log_stream)


def emit_notice(state: State, level: str, msg: str, proxy: Any) -> None:
    if not state.quiet:
        sys.stderr.write(format_notice(level.upper(), state.pid, msg) + "\n")
        sys.stderr.flush()
    lvl = NOTICE_LEVELS.get(level, 5)
    logger = proxy.logger if proxy is not None and proxy.logger is not None else None
    if logger is None:
        logger = state.global_logger
    if logger is not None:
        logger.log(lvl, msg, proxy.name if proxy is not None else None)
