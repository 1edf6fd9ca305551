"""Choosing and starting the checks that go beyond ``option httpchk`` and the
plain connect: tcp-check sequences, protocol checks, ``check-send-proxy``
and agents. Called from lb/checksetup.py and lb/state.py."""

from __future__ import annotations

from typing import Any

from lb.checks.agent import AgentCheck
from lb.checks.engine import HealthCheck
from lb.checks.params import CheckParams
from lb.checks.protocols import (
    ldap_check,
    mysql_check,
    pgsql_check,
    redis_check,
    smtp_check,
    ssl_hello_check,
)
from lb.checks.result import CheckResult
from lb.checks.tcpcheck import Sequence_, TConnect, parse_tcp_check_rules, run_sequence


def protocol_sequence(p: Any) -> Sequence_ | None:
    """The sequence for the proxy's check option, or None (httpchk / plain)."""
    opts = p.options
    if opts.get("tcp-check"):
        rules = [r.words for r in p.conf.extra.get("tcp-check", [])]
        try:
            return parse_tcp_check_rules(rules)
        except ValueError as exc:
            where = p.conf.extra["tcp-check"][0].where if rules else p.conf.where
            raise where.error(str(exc)) from None
    args = _args(opts)
    if opts.get("redis-check"):
        return redis_check()
    if opts.get("smtpchk"):
        return smtp_check(args("smtpchk"))
    if opts.get("pgsql-check"):
        return pgsql_check(args("pgsql-check"))
    if opts.get("mysql-check"):
        return mysql_check(args("mysql-check"))
    if opts.get("ldap-check"):
        return ldap_check()
    if opts.get("ssl-hello-chk"):
        return ssl_hello_check()
    return None


def _args(opts: dict[str, Any]) -> Any:
    def get(name: str) -> list[str]:
        v = opts.get(name)
        return list(v) if isinstance(v, tuple) else []

    return get


class SequenceCheck(HealthCheck):
    """A HealthCheck whose one run is a tcp-check sequence."""

    def __init__(self, server: Any, params: CheckParams, seq: Sequence_, loop: Any) -> None:
        super().__init__(server, params, (), loop)
        self.seq = seq

    async def check_now(self) -> CheckResult:
        from lb.proxy_send import check_line

        srv = self.server

        def pline(local: Any, peer: Any) -> bytes:
            return check_line(srv, _hp(local), _hp(peer))

        self.in_progress = True
        try:
            result = await run_sequence(
                self.seq, srv.check_host, int(srv.check_port), self.params, pline
            )
        finally:
            self.in_progress = False
        self.apply_result(result)
        return result


def _hp(addr: Any) -> tuple[str, int] | None:
    return (addr[0], addr[1]) if isinstance(addr, tuple) and len(addr) >= 2 else None


def make_check(server: Any, params: CheckParams, spec: Any, loop: Any) -> HealthCheck:
    """The check object for a server: sequences and ``check-send-proxy``
    need the sequence interpreter, the rest the plain one."""
    if isinstance(spec, Sequence_):
        if server.options.get("check-send-proxy"):
            steps = tuple(
                TConnect(s.port, True, s.implicit, s.comment) if isinstance(s, TConnect) else s
                for s in spec.steps
            )
            spec = Sequence_(steps, spec.proto, spec.kind)
        return SequenceCheck(server, params, spec, loop)
    if server.options.get("check-send-proxy") and getattr(spec, "kind", "") == "tcp":
        seq = Sequence_((TConnect(implicit=True, send_proxy=True),), proto=True, kind="tcp")
        return SequenceCheck(server, params, seq, loop)
    return HealthCheck(server, params, spec, loop)


def start_agent(state: Any, p: Any, s: Any) -> AgentCheck | None:
    """``agent-check``: start the server's agent (``server.agent``)."""
    if not s.options.get("agent-check"):
        return None
    from lb.checksetup import check_params

    agent = AgentCheck(s, check_params(p, s), state.loop)
    s.agent = agent
    if hasattr(s, "sync_trackers"):
        s.sync_trackers()
    if agent.port > 0:
        agent.start()
        state.checks.append(agent)
    return agent
