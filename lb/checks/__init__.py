"""Health checks: a check is a compiled list of steps run by one interpreter.

Public API::

    CheckParams, parse_server_check_options, CheckConfigError
    CheckResult, STATUSES, status_description
    CheckSpec, Connect, Send, ExpectHttp,
    build_tcp_check, build_http_check, build_http_request,
    parse_option_httpchk, parse_http_check_send, parse_http_expect, make_expect
    Health, log_line          (sans-IO arithmetic and messages)
    run_check                 (one check, async)
    HealthCheck               (the scheduled engine, one per server)
"""

from lb.checks.engine import HealthCheck
from lb.checks.health import Health, Verdict, log_line
from lb.checks.params import (
    CheckConfigError,
    CheckParams,
    parse_server_check_options,
    parse_time_ms,
    spread_first_delays,
)
from lb.checks.result import STATUSES, CheckResult, status_description
from lb.checks.runner import run_check
from lb.checks.steps import (
    CheckSpec,
    Connect,
    ExpectHttp,
    ExpectSyntaxError,
    HttpSendArgs,
    Send,
    build_http_check,
    build_http_request,
    build_tcp_check,
    make_expect,
    parse_http_check_send,
    parse_http_expect,
    parse_option_httpchk,
)

__all__ = [
    "STATUSES",
    "CheckConfigError",
    "CheckParams",
    "CheckResult",
    "CheckSpec",
    "Connect",
    "ExpectHttp",
    "ExpectSyntaxError",
    "Health",
    "HealthCheck",
    "HttpSendArgs",
    "Send",
    "Verdict",
    "build_http_check",
    "build_http_request",
    "build_tcp_check",
    "log_line",
    "make_expect",
    "parse_http_check_send",
    "parse_http_expect",
    "parse_option_httpchk",
    "parse_server_check_options",
    "parse_time_ms",
    "run_check",
    "spread_first_delays",
    "status_description",
]
