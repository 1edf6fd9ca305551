"""Builds and starts a server's health check from the server and proxy settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lb.checks import (
    CheckParams,
    HealthCheck,
    build_http_check,
    build_tcp_check,
    parse_http_check_send,
    parse_http_expect,
    parse_option_httpchk,
)
from lb.checks.setup_extra import make_check, protocol_sequence

if TYPE_CHECKING:
    from lb.proxy import Proxy
    from lb.state import State


def check_params(p: Proxy, s: Any) -> CheckParams:
    c = s.conf
    return CheckParams(
        inter=c.inter,
        fastinter=c.fastinter or None,
        downinter=c.downinter or None,
        rise=c.rise,
        fall=c.fall,
        port=c.check_port or None,
        addr=c.check_addr or None,
        timeout_check=p.timeouts.get("check"),
        timeout_connect=p.timeouts.get("connect"),
        log_health_checks=bool(p.options.get("log-health-checks")),
        spread=_spread_checks(p),
        **_check_ssl(p, c),
    )


def _spread_checks(p: Proxy) -> int:
    state = getattr(p, "state", None)
    return max(state.cfg.global_.spread_checks, 0) if state is not None else 0


def _check_ssl(p: Proxy, conf: Any) -> dict[str, Any]:
    from lb.tls import check_ssl

    state = getattr(p, "state", None)
    found = check_ssl(state, conf)
    if found is None:
        return {}
    alpn = conf.options.get("check-alpn")
    if alpn:  # `check-alpn`: a context of its own, offering that list instead
        from lb.tls import context as ctxmod

        opts = {**conf.options, "alpn": alpn}
        return {"ssl": ctxmod.client_side(opts, state.cfg.global_.ssl), "sni": found[1]}
    return {"ssl": found[0], "sni": found[1]}


def check_spec(p: Proxy) -> Any:
    seq = protocol_sequence(p)  # tcp-check sequences and protocol checks
    if seq is not None:
        return seq
    httpchk = p.options.get("httpchk")
    if httpchk is None or httpchk is False:
        return build_tcp_check()
    method, uri, version = parse_option_httpchk(list(httpchk))
    headers: list[tuple[str, str]] = []
    body = None
    expects = []
    for rule in p.conf.http_check:
        words = list(rule.words)
        try:
            if words[0] == "send":
                send = parse_http_check_send(words[1:])
                method = send.method or method
                uri = send.uri or uri
                version = send.version or version
                headers.extend(send.headers)
                body = send.body if send.body is not None else body
            elif words[0] == "expect":
                expects.append(parse_http_expect(words[1:]))
            elif words[0] in ("disable-on-404", "comment", "connect", "set-var", "unset-var"):
                continue
            else:
                raise ValueError(f"'http-check' : unknown keyword '{words[0]}'")
        except ValueError as exc:
            raise rule.where.error(str(exc)) from None
    return build_http_check(method, uri, version, headers, body, expects)


def start_check(state: State, p: Proxy, s: Any) -> HealthCheck:
    if p.options.get("external-check"):  # lb/checks/external.py
        from lb.checks.external import ExternalCheck

        chk: HealthCheck = ExternalCheck(s, check_params(p, s), p, state.loop)
    else:
        chk = make_check(s, check_params(p, s), check_spec(p), state.loop)
    s.check = chk
    s.observe = s.conf.observe  # passive health needs a check to act on (HAProxy too)
    if s.in_maint:
        chk.enter_maintenance()
    chk.start()
    s.sync_trackers()
    return chk
