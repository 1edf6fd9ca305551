"""`option external-check`: a health check that runs a program.

The program gets `<proxy_addr> <proxy_port> <server_addr> <server_port>` as
arguments and only the HAPROXY_* variables (and PATH, from `external-check path`)
as its environment, as HAProxy gives them. Exit status 0 is PROCOK, any other
PROCERR with the status as code; a program still running after the check's time
(`timeout check` when shorter than `inter`) is killed and the check is PROCTOUT.
It runs through asyncio's subprocess support, so the loop never waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

from lb.checks.engine import HealthCheck
from lb.checks.params import CheckParams
from lb.checks.result import CheckResult

log = logging.getLogger(__name__)

NOT_USED = "NOT_USED"


def proxy_address(p: Any) -> tuple[str, str]:
    """The first IPv4, IPv6 or UNIX listener of the proxy as (address, port);
    NOT_USED for both in a backend, and as the port of a UNIX socket."""
    for bind in p.conf.binds:
        for a in bind.addrs:
            if a.family in ("ipv4", "ipv6"):
                return a.host, str(a.port)
            if a.family == "unix":
                return a.path, NOT_USED
    return NOT_USED, NOT_USED


def check_argv(command: str, p: Any, srv: Any) -> list[str]:
    paddr, pport = proxy_address(p)
    return [command, paddr, pport, str(srv.host), str(srv.port)]


def check_env(p: Any, srv: Any, path: str | None) -> dict[str, str]:
    """The program's whole environment (HAProxy passes nothing else)."""
    paddr, pport = proxy_address(p)
    maxconn = getattr(srv, "maxconn_cfg", srv.maxconn)
    o = srv.conf.options
    return {
        "PATH": path or "",
        "HAPROXY_PROXY_ADDR": "" if paddr == NOT_USED else paddr,
        "HAPROXY_PROXY_ID": str(p.puid),
        "HAPROXY_PROXY_NAME": p.name,
        "HAPROXY_PROXY_PORT": "" if pport == NOT_USED else pport,
        "HAPROXY_SERVER_ADDR": str(srv.host),
        "HAPROXY_SERVER_CURCONN": str(srv.served),
        "HAPROXY_SERVER_ID": str(srv.puid),
        "HAPROXY_SERVER_MAXCONN": str(maxconn or 0),
        "HAPROXY_SERVER_NAME": srv.name,
        "HAPROXY_SERVER_PORT": str(srv.port),
        "HAPROXY_SERVER_PROTO": "h1" if p.mode == "http" else "tcp",
        "HAPROXY_SERVER_SSL": "1" if o.get("ssl") else "0",
    }


def time_limit_ms(params: CheckParams) -> int:
    """How long the program may run: the interval, or `timeout check` if shorter."""
    if params.timeout_check:
        return min(params.inter, params.timeout_check)
    return params.inter


class ExternalCheck(HealthCheck):
    """A HealthCheck whose one run is the external program."""

    def __init__(self, server: Any, params: CheckParams, proxy: Any, loop: Any) -> None:
        super().__init__(server, params, (), loop)
        self.proxy = proxy
        self.command = proxy.conf.ext_check_command
        self.path = proxy.conf.ext_check_path

    async def check_now(self) -> CheckResult:
        self.in_progress = True
        try:
            result = await run_external(
                check_argv(self.command, self.proxy, self.server),
                check_env(self.proxy, self.server, self.path),
                time_limit_ms(self.params) / 1000,
            )
        finally:
            self.in_progress = False
        self.apply_result(result)
        return result


async def run_external(argv: list[str], env: dict[str, str], limit: float) -> CheckResult:
    start = time.monotonic()

    def done(status: str, code: int) -> CheckResult:
        ms = int((time.monotonic() - start) * 1000)
        return CheckResult.make(status, code=code, duration_ms=ms)

    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdin=asyncio.subprocess.DEVNULL, start_new_session=True
        )
    except OSError as exc:  # HAProxy's child cannot exec and exits with -1
        log.warning("Failed to exec process for external health check: %s.", exc.strerror)
        return done("PROCERR", 255)
    try:
        rc = await asyncio.wait_for(proc.wait(), limit)
    except TimeoutError:
        _kill(proc)
        return done("PROCTOUT", 0)
    except asyncio.CancelledError:
        _kill(proc)
        raise
    if rc == 0:
        return done("PROCOK", 0)
    return done("PROCERR", rc if rc > 0 else 255)


def _kill(proc: asyncio.subprocess.Process) -> None:
    """End the program and whatever it started (it runs in its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, 9)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    # (the transport reaps it once it has exited)
