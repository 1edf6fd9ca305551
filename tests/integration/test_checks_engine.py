"""The health-check engine against real loopback servers (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable

import pytest
import uvloop
from itest import free_port

from lb.checks import (
    CheckParams,
    CheckResult,
    HealthCheck,
    build_http_check,
    build_tcp_check,
    parse_http_expect,
    run_check,
)

pytestmark = pytest.mark.timeout(30)


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    uvloop.run(coro_fn())


class TinyHttp:
    """An HTTP server whose answer can be switched (status line, silence)."""

    def __init__(self) -> None:
        self.status = "200 OK"
        self.body = b"hello world"
        self.silent = False
        self.requests: list[bytes] = []
        self.open_conns = 0
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> TinyHttp:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_conns += 1
        try:
            if self.silent:
                await reader.read()  # until the checker goes away
                return
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head)
            writer.write(
                f"HTTP/1.1 {self.status}\r\nContent-Length: {len(self.body)}\r\n\r\n".encode()
                + self.body
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the checker reset the connection, or the test is over
        finally:
            self.open_conns -= 1
            writer.close()


class Srv:
    """The fake server object the engine talks to."""

    def __init__(self, port: int, params: CheckParams) -> None:
        self.name = "app1"
        self.proxy_name = "be_app"
        self.check_host = "127.0.0.1"
        self.check_port = port
        self.check_params = params
        self.results: list[CheckResult] = []
        self.logs: list[str] = []
        self.changes: list[tuple[bool, str]] = []
        self.changed = asyncio.Event()
        self.got_result = asyncio.Event()

    def on_check_result(self, result: CheckResult) -> None:
        self.results.append(result)
        self.got_result.set()

    def on_check_log(self, message: str) -> None:
        self.logs.append(message)

    def on_health_change(self, up: bool, reason: str) -> None:
        self.changes.append((up, reason))
        self.changed.set()

    async def wait_change(self, timeout: float = 5) -> tuple[bool, str]:
        self.changed.clear()
        await asyncio.wait_for(self.changed.wait(), timeout)
        return self.changes[-1]

    async def wait_results(self, n: int, timeout: float = 5) -> None:
        async def _wait() -> None:
            while len(self.results) < n:
                self.got_result.clear()
                await self.got_result.wait()

        await asyncio.wait_for(_wait(), timeout)


@contextlib.contextmanager
def backlog_full_port():
    """A port whose accept queue is full, so connects hang (for L4TOUT)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    clients = []
    try:
        for _ in range(8):
            c = socket.socket()
            c.settimeout(0.2)
            try:
                c.connect(("127.0.0.1", port))
            except (TimeoutError, OSError):
                c.close()
                break
            clients.append(c)
        else:
            pytest.skip("could not fill the accept queue")
        yield port
    finally:
        for c in clients:
            c.close()
        lsock.close()


# --- one check ---------------------------------------------------------------------


def test_l4con_on_closed_port() -> None:
    async def main() -> None:
        r = await run_check(build_tcp_check().steps, "127.0.0.1", free_port(), CheckParams())
        assert (r.status, r.info, r.passed) == ("L4CON", "Connection refused", False)
        assert r.reason().startswith(
            'reason: Layer4 connection problem, info: "Connection refused", check duration: '
        )

    run(main)


def test_l4ok_and_request_bytes() -> None:
    async def main() -> None:
        web = await TinyHttp().start()
        try:
            r = await run_check(build_tcp_check().steps, "127.0.0.1", web.port, CheckParams())
            assert (r.status, r.info, r.code, r.passed) == ("L4OK", "", None, True)
            r = await run_check(build_http_check().steps, "127.0.0.1", web.port, CheckParams())
            assert (r.status, r.code, r.info, r.passed) == ("L7OK", 200, "", True)
            assert web.requests[-1] == b"OPTIONS / HTTP/1.0\r\n\r\n"
            web.status = "503 Service Unavailable"
            r = await run_check(build_http_check().steps, "127.0.0.1", web.port, CheckParams())
            assert (r.status, r.code, r.info) == ("L7STS", 503, "Service Unavailable")
        finally:
            await web.close()

    run(main)


def test_l7tout_bounded_by_timeout_check() -> None:
    async def main() -> None:
        web = await TinyHttp().start()
        web.silent = True
        try:
            params = CheckParams(inter=5000, timeout_connect=3000, timeout_check=200)
            t0 = time.monotonic()
            r = await run_check(build_http_check().steps, "127.0.0.1", web.port, params)
            assert r.status == "L7TOUT" and r.info == "" and r.code is None
            assert 180 <= r.duration_ms < 1000
            assert time.monotonic() - t0 < 1.5
            # without timeout check, inter bounds the whole check
            r = await run_check(
                build_http_check().steps, "127.0.0.1", web.port, CheckParams(inter=300)
            )
            assert r.status == "L7TOUT" and 280 <= r.duration_ms < 1000
            # a TCP check only needs the connection
            r = await run_check(build_tcp_check().steps, "127.0.0.1", web.port, params)
            assert r.status == "L4OK"
        finally:
            await web.close()

    run(main)


def test_l4tout_bounded_by_timeout_connect() -> None:
    async def main() -> None:
        with backlog_full_port() as port:
            params = CheckParams(inter=5000, timeout_connect=200, timeout_check=2000)
            r = await run_check(build_tcp_check().steps, "127.0.0.1", port, params)
            assert (r.status, r.info) == ("L4TOUT", "")
            assert 180 <= r.duration_ms < 1000
            assert r.reason().startswith("reason: Layer4 timeout, check duration: ")
            r = await run_check(build_http_check().steps, "127.0.0.1", port, CheckParams(inter=300))
            assert r.status == "L4TOUT" and 280 <= r.duration_ms < 1000

    run(main)


@pytest.mark.parametrize(
    ("expect", "status", "ok", "info"),
    [
        ("status 200", "200 OK", True, ""),
        ("status 200", "503 Service Unavailable", False, "Service Unavailable"),
        ("! status 503", "503 Service Unavailable", False, "Service Unavailable"),
        ("rstatus ^5", "503 Service Unavailable", True, ""),
        ("string hello", "200 OK", True, ""),
        ("string nope", "200 OK", False, "HTTP content check did not match"),
        ("! string world", "200 OK", False, "HTTP check matched unwanted content"),
        ("rstring ^hel+o", "200 OK", True, ""),
    ],
)
def test_expect_rules(expect: str, status: str, ok: bool, info: str) -> None:
    async def main() -> None:
        web = await TinyHttp().start()
        web.status = status
        try:
            spec = build_http_check(
                "GET",
                "/health",
                "HTTP/1.1",
                [("Host", "x")],
                None,
                [parse_http_expect(expect.split())],
            )
            r = await run_check(spec.steps, "127.0.0.1", web.port, CheckParams())
            assert (r.passed, r.info) == (ok, info)
            assert web.requests[-1] == (
                b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
            )
        finally:
            await web.close()

    run(main)


def test_l7rsp_on_garbage_and_early_close() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"hello\r\n")
        await writer.drain()
        writer.close()

    async def early_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async def main() -> None:
        for handler in (garbage, early_close):
            server = await asyncio.start_server(handler, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            try:
                r = await run_check(build_http_check().steps, "127.0.0.1", port, CheckParams())
                assert (r.status, r.info, r.desc) == ("L7RSP", "", "Layer7 invalid response")
            finally:
                server.close()

    run(main)


# --- the scheduled engine ---------------------------------------------------------------


def test_down_after_fall_up_after_rise() -> None:
    async def main() -> None:
        web = await TinyHttp().start()
        params = CheckParams(inter=100, first_delay_ms=0, log_health_checks=True)
        srv = Srv(web.port, params)
        hc = HealthCheck(srv, params, build_http_check(), asyncio.get_running_loop())
        hc.start()
        try:
            await srv.wait_results(1)
            assert (hc.health, hc.status, hc.up) == (4, "L7OK", True)
            web.status = "503 Service Unavailable"
            n = len(srv.results)
            assert await srv.wait_change() == (False, "")
            assert [r.status for r in srv.results[n:]] == ["L7STS"] * 3
            assert hc.health == 0 and not hc.up
            web.status = "200 OK"
            n = len(srv.results)
            assert (await srv.wait_change())[0] is True
            assert [r.status for r in srv.results[n:]] == ["L7OK"] * 2
            states = [m.rsplit("status: ", 1)[1] for m in srv.logs]
            assert states == ["3/3 UP.", "2/3 UP.", "1/3 UP.", "0/2 DOWN.", "1/2 DOWN.", "3/3 UP."]
            assert srv.logs[1].startswith(
                "Health check for server be_app/app1 failed, reason: Layer7 wrong status, "
                'code: 503, info: "Service Unavailable", check duration: '
            )
        finally:
            task = hc.stop()
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await web.close()

    run(main)


def test_reason_without_log_health_checks_and_closed_port() -> None:
    async def main() -> None:
        params = CheckParams(inter=100, first_delay_ms=0)
        srv = Srv(free_port(), params)
        hc = HealthCheck(srv, params, build_tcp_check())
        hc.start()
        try:
            up, reason = await srv.wait_change()
            assert not up
            assert reason.startswith(
                'reason: Layer4 connection problem, info: "Connection refused", check duration: '
            )
            assert srv.logs == []
            assert hc.failed_checks == 1
        finally:
            hc.stop()

    run(main)


def test_stop_cancels_a_check_in_progress() -> None:
    async def main() -> None:
        web = await TinyHttp().start()
        web.silent = True
        params = CheckParams(inter=5000, first_delay_ms=0)
        srv = Srv(web.port, params)
        hc = HealthCheck(srv, params, build_http_check())
        hc.start()
        for _ in range(100):
            if web.open_conns:
                break
            await asyncio.sleep(0.01)
        assert hc.in_progress and web.open_conns == 1
        task = hc.stop()
        assert task is not None
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert task.done()
        for _ in range(100):
            if not web.open_conns:
                break
            await asyncio.sleep(0.01)
        assert web.open_conns == 0  # the check's connection was closed
        assert srv.results == []
        await web.close()

    run(main)


def test_pause_and_maintenance() -> None:
    async def main() -> None:
        web = await TinyHttp().start()
        params = CheckParams(inter=100, first_delay_ms=0)
        srv = Srv(web.port, params)
        hc = HealthCheck(srv, params, build_http_check())
        hc.start()
        try:
            await srv.wait_results(1)
            hc.pause()
            await asyncio.sleep(0.05)
            n = len(srv.results)
            await asyncio.sleep(0.35)
            assert len(srv.results) == n  # "disable health": no checks
            hc.resume()
            await srv.wait_results(n + 1)
        finally:
            hc.stop()
        # maintenance: no checks; leaving restarts at rise and checks at once
        params = CheckParams(inter=1000, first_delay_ms=0)
        srv = Srv(web.port, params)
        hc = HealthCheck(srv, params, build_http_check())
        hc.start()
        try:
            await srv.wait_results(1)
            hc.enter_maintenance()
            web.status = "503 Service Unavailable"
            await asyncio.sleep(1.2)
            assert len(srv.results) == 1
            t0 = time.monotonic()
            hc.leave_maintenance()
            assert (hc.health, hc.progress()) == (hc.rise, (1, 3))
            up, _ = await srv.wait_change()
            assert up is False and time.monotonic() - t0 < 0.5
        finally:
            hc.stop()
            await web.close()

    run(main)
