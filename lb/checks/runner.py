"""The interpreter that runs a compiled step list against one address.

One coroutine, one connection, one deadline: the connect phase is bounded
as ``CheckParams.connect_timeout_ms`` says; once connected, ``timeout check``
(when set) replaces the deadline for the rest. Every failure is turned into
a CheckResult; nothing but cancellation propagates.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import struct
import time
from collections.abc import Sequence
from typing import Any

from lb.checks.http1 import BUFSIZE, HttpResponse, InvalidResponse, parse_response
from lb.checks.params import CheckParams
from lb.checks.result import CheckResult
from lb.checks.steps import Connect, ExpectHttp, Send, Step

log = logging.getLogger(__name__)

_LINGER_RST = struct.pack("ii", 1, 0)


class _CheckProtocol(asyncio.Protocol):
    """Buffers what the server sends and wakes the interpreter."""

    __slots__ = ("transport", "buf", "eof", "error", "_waiter")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        room = BUFSIZE - len(self.buf)
        if room > 0:
            self.buf += data[:room]
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.error = exc
        self.eof = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        if self.eof or self.error is not None:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        """Close at once, with a reset: a check leaves no TIME_WAIT behind."""
        tr = self.transport
        if tr is None or tr.is_closing():
            return
        sock = tr.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            except OSError:
                pass
        tr.abort()


def _strerror(exc: BaseException) -> str:
    err = getattr(exc, "errno", None)
    if isinstance(err, int) and err > 0:
        return os.strerror(err)
    return str(exc) or type(exc).__name__


class _Fail(Exception):
    def __init__(self, status: str, info: str = "", code: int | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.info = info
        self.code = code


async def run_check(
    steps: Sequence[Step],
    host: str,
    port: int,
    params: CheckParams,
) -> CheckResult:
    """Run ``steps`` once against host:port and return the result."""
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    proto: _CheckProtocol | None = None
    connected = False
    tout_status = "L4TOUT"
    head_request = False
    in_handshake: list[bool] = []  # check-ssl: TCP connected, TLS handshake under way
    outcome: tuple[str, int | None, str]
    try:
        async with asyncio.timeout(params.connect_timeout_ms() / 1000) as deadline:
            status, code, info = "L7OK", None, ""
            response: HttpResponse | None = None
            for step in steps:
                if isinstance(step, Connect):
                    if proto is not None:
                        proto.close()
                    connected = False
                    tout_status = "L4TOUT"
                    tls = tls_of(params, step.port)
                    in_handshake.clear()
                    proto = await _connect(loop, host, step.port or port, *tls, in_handshake)
                    in_handshake.clear()
                    connected = True
                    if params.timeout_check:
                        deadline.reschedule(loop.time() + params.timeout_check / 1000)
                    status = "L4OK" if tls[0] is None else "L6OK"  # check-ssl: handshake done
                    info = "" if step.implicit else "(tcp-check)"
                elif isinstance(step, Send):
                    if proto is None or proto.transport is None:
                        raise _Fail("SOCKERR", "no connection")
                    if proto.error is not None:
                        raise _Fail("SOCKERR", _strerror(proto.error))
                    proto.buf.clear()
                    response = None
                    head_request = step.head_request
                    proto.transport.write(step.data)
                elif isinstance(step, ExpectHttp):
                    if proto is None:
                        raise _Fail("SOCKERR", "no connection")
                    tout_status = step.tout_status
                    if response is None or (step.needs_body and not response.body):
                        response = await _read_http(proto, step.needs_body, head_request)
                    result = step.evaluate(response)
                    if not result.passed:
                        raise _Fail(result.status, result.info, result.code)
                    status, code, info = result.status, result.code, result.info
            outcome = (status, code, info)
    except _Fail as fail:
        outcome = (fail.status, fail.code, fail.info)
    except TimeoutError:
        tout = "L6TOUT" if in_handshake else "L4TOUT"
        outcome = (tout_status if connected else tout, None, "")
    except OSError as exc:
        outcome = ("L4CON" if not connected else "SOCKERR", None, _strerror(exc))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # never let a check crash the engine
        log.exception("unexpected error in health check to %s:%s", host, port)
        outcome = ("SOCKERR", None, _strerror(exc))
    finally:
        if proto is not None:
            proto.close()
    duration = int((time.monotonic() - start) * 1000)
    status, code, info = outcome
    return CheckResult.make(status, code=code, duration_ms=duration, info=info)


def tls_of(params: CheckParams, port_override: int | None) -> tuple[Any, str | None]:
    """TLS for a connect step: the server's check TLS, unless the step names its own port."""
    if params.ssl is None or port_override:
        return None, None
    return params.ssl, params.sni


async def _connect(
    loop: asyncio.AbstractEventLoop,
    host: str,
    port: int,
    ssl_ctx: Any = None,
    sni: str | None = None,
    in_handshake: list[bool] | None = None,
) -> _CheckProtocol:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise _Fail("SOCKERR", _strerror(exc)) from None
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    if ssl_ctx is None:
        _, proto = await loop.create_connection(_CheckProtocol, sock=sock)
        return proto
    if in_handshake is not None:
        in_handshake.append(True)
    try:  # `check-ssl`: a failed handshake is a layer 6 error, as HAProxy reports it
        _, proto = await loop.create_connection(
            _CheckProtocol, sock=sock, ssl=ssl_ctx, server_hostname=sni or ""
        )
    except ssl.SSLError as exc:
        sock.close()
        raise _Fail("L6RSP", _strerror(exc)) from None
    return proto


async def _read_http(proto: _CheckProtocol, need_body: bool, head_request: bool) -> HttpResponse:
    while True:
        try:
            resp = parse_response(
                bytes(proto.buf), proto.eof, need_body=need_body, head_request=head_request
            )
        except InvalidResponse:
            if proto.error is not None and not proto.buf:
                raise _Fail("SOCKERR", _strerror(proto.error)) from None
            raise _Fail("L7RSP") from None
        if resp is not None:
            return resp
        if proto.error is not None:
            raise _Fail("SOCKERR", _strerror(proto.error))
        await proto.wait()
