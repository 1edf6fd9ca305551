"""Protocol checks as built-in tcp-check sequences (as in HAProxy 2.6):
``option redis-check``, ``smtpchk``, ``pgsql-check``, ``mysql-check``,
``ldap-check`` and ``ssl-hello-chk``.

Their messages are HAProxy's: ``Redis server is ok``, the server's first
line on an error (``-ERR …``), ``PostgreSQL server is ok``, ``Success``
(LDAP), the MySQL server version, the SMTP greeting's text.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Sequence

from lb.checks.tcpcheck import (
    CustomMatch,
    Sequence_,
    TConnect,
    TExpect,
    TSend,
    TStep,
    Verdict,
    first_line,
    make_expect,
)

REDIS_PING = b"*1\r\n$4\r\nPING\r\n"
LDAP_BIND = bytes.fromhex("300c020101600702010304008000")


def redis_check() -> Sequence_:
    expect = make_expect(
        "string",
        "+PONG",
        error_status="L7STS",
        on_success="Redis server is ok",
        on_error=first_line,
    )
    return Sequence_((TConnect(implicit=True), TSend(REDIS_PING), expect), proto=True, kind="redis")


def smtp_check(args: Sequence[str]) -> Sequence_:
    """``option smtpchk [HELO|EHLO domain]``, HAProxy 2.6's ``*smtp-check``
    ruleset step for step (numbered as it numbers them, the connect being 1):

    2. ``expect rstring "^[0-9]{3}[ \\r]" min-recv 4`` (L7RSP, the first line)
    3. ``expect rstring "^2[0-9]{2}[ \\r]" min-recv 4`` (L7STS)
    4. ``send-lf "HELO localhost\\r\\n"`` (or the configured command)
    5. ``expect rstring "^(2[0-9]{2}-[^\\r]*\\r\\n)*2[0-9]{2}[ \\r]"`` (L7STS, no
       min-recv: a non-2xx answer waits for more until the peer closes or the
       check times out)
    6. ``send "QUIT\\r\\n"``
    7. ``expect rstring "^2[0-9]{2}[- \\r]" min-recv 4`` (L7STS): its code and
       text are the check's (``code: 221, info: "Bye"``).

    The L7STS steps report ``res.payload(0,3)`` as the code and
    ``res.payload(4,0),ltrim(' '),cut_crlf`` as the text.
    """
    cmd = "HELO localhost"
    if len(args) >= 2 and args[0] in ("HELO", "EHLO"):
        cmd = f"{args[0]} {args[1]}"
    steps = (
        TConnect(),
        _rx_expect(rb"^[0-9]{3}[ \r]", 2, 4, "L7RSP"),
        _rx_expect(rb"^2[0-9]{2}[ \r]", 3, 4, "L7STS"),
        TSend(cmd.encode() + b"\r\n"),
        _rx_expect(rb"^(2[0-9]{2}-[^\r]*\r\n)*2[0-9]{2}[ \r]", 5, -1, "L7STS"),
        TSend(b"QUIT\r\n"),
        _rx_expect(rb"^2[0-9]{2}[- \r]", 7, 4, "L7STS", success_text=True),
    )
    return Sequence_(steps, proto=True, kind="smtp")


def _smtp_code(buf: bytes) -> int:
    """``status-code res.payload(0,3)``: 0 when fewer than 3 bytes came, else
    the leading digits of the first three bytes as an integer."""
    if len(buf) < 3:
        return 0
    m = re.match(rb"[0-9]+", buf[:3])
    return int(m.group()) if m else 0


def _smtp_text(buf: bytes) -> str:
    """``res.payload(4,0),ltrim(' '),cut_crlf``."""
    return first_line(buf[4:].lstrip(b" "))


def _rx_expect(
    pattern: bytes, step: int, min_recv: int, err_status: str, success_text: bool = False
) -> TExpect:
    """A built-in ``expect rstring`` as HAProxy evaluates it: wait for
    ``min_recv`` bytes (or the end); a match passes; a mismatch fails at once
    when a minimum is set or the peer has closed, else waits for more."""
    rx = re.compile(pattern)

    def fn(buf: bytes, eof: bool) -> Verdict | None:
        if not buf:
            if not eof:
                return None
            code = 0 if err_status == "L7STS" else None
            return (err_status, code, f"TCPCHK got an empty response at step {step}")
        if min_recv >= 0 and len(buf) < min_recv and not eof:
            return None
        if rx.match(buf):
            return ("L7OK", _smtp_code(buf), _smtp_text(buf) if success_text else "")
        if min_recv < 0 and not eof:
            return None
        if err_status == "L7RSP":
            return ("L7RSP", None, first_line(buf))
        return ("L7STS", _smtp_code(buf), _smtp_text(buf))

    return TExpect("custom", custom=fn, error_status=err_status)


def pgsql_check(args: Sequence[str]) -> Sequence_:
    """``option pgsql-check user U``: a StartupMessage, then HAProxy 2.6's two
    expects:

    3. ``expect !rstring ^E min-recv 5`` (L7RSP, ``on-error res.payload(6,0)``,
       which ends at the first NUL: ``FATAL``)
    4. ``expect rbinary ^52000000..000000(00|02|03|04|05|06|07|08|09|0A)
       min-recv 9`` (L7STS): ``PostgreSQL server is ok`` or ``PostgreSQL
       unknown error``.
    """
    user = args[1] if len(args) >= 2 and args[0] == "user" else "haproxy"
    body = struct.pack("!I", 196608) + b"user\x00" + user.encode() + b"\x00\x00"
    packet = struct.pack("!I", len(body) + 4) + body

    def not_error(buf: bytes, eof: bool) -> Verdict | None:
        if len(buf) < 5 and not eof:
            return None
        if not buf:
            return ("L7RSP", None, "TCPCHK got an empty response at step 3")
        if buf[:1] == b"E":
            return ("L7RSP", None, buf[6:].split(b"\x00", 1)[0].decode("latin-1"))
        return ("L7OK", 0, "")

    def auth_request(buf: bytes, eof: bool) -> Verdict | None:
        if len(buf) < 9 and not eof:
            return None
        if PGSQL_AUTH_OK.match(buf):
            return ("L7OK", 0, "PostgreSQL server is ok")
        return ("L7STS", 0, "PostgreSQL unknown error")

    steps = (
        TConnect(),
        TSend(packet),
        TExpect("custom", custom=not_error, error_status="L7RSP"),
        TExpect("custom", custom=auth_request, error_status="L7STS"),
    )
    return Sequence_(steps, proto=True, kind="pgsql")


PGSQL_AUTH_OK = re.compile(rb"^R\x00\x00\x00.\x00\x00\x00[\x00\x02-\x0a]", re.S)


def mysql_check(args: Sequence[str]) -> Sequence_:
    """``option mysql-check [user U [post-41|pre-41]]``, as HAProxy 2.6 runs it.

    With a user, the client authentication packet and a COM_QUIT are sent at
    once on connect; then the greeting, and (with a user) the packet after
    it, must be complete packets that are not errors (0xff): an error is
    ``Layer7 wrong status`` with the server's error code and message
    (``code: 1045, info: "#28000Access denied …"``); a truncated one
    ``Layer7 invalid response``. Success reports the greeting's version.
    """
    user = args[1] if len(args) >= 2 and args[0] == "user" else None
    steps: list[TStep] = [TConnect()]
    if user is not None:
        name = user.encode()
        if len(args) >= 3 and args[2] == "pre-41":
            body = b"\x00\x80" + b"\x00\x00\x01" + name + b"\x00\x00"
        else:
            body = b"\x00\x82\x00\x00" + b"\x00\x80\x00\x01" + b"\x21" + b"\x00" * 23
            body += name + b"\x00\x00"
        header = struct.pack("<I", len(body))[:3] + b"\x01"
        steps.append(TSend(header + body + b"\x01\x00\x00\x00\x01"))
    steps.append(TExpect("custom", custom=_mysql_packet(False, last=user is None)))
    if user is not None:
        steps.append(TExpect("custom", custom=_mysql_packet(True, last=True)))
    return Sequence_(tuple(steps), proto=True, kind="mysql")


def _mysql_packet(after_greeting: bool, last: bool) -> CustomMatch:
    """HAProxy's ``tcpcheck_mysql_expect_packet`` at the buffer's start (the
    greeting) or just after the greeting (the answer to the login)."""

    def fn(buf: bytes, eof: bool) -> Verdict | None:
        offset = 0
        if after_greeting and len(buf) >= 3:
            offset = 4 + (buf[0] | buf[1] << 8 | buf[2] << 16)
        if len(buf) < offset + 4:
            return ("L7RSP", None, "") if eof else None
        plen = buf[offset] | buf[offset + 1] << 8 | buf[offset + 2] << 16
        if len(buf) < offset + plen + 4:
            return ("L7RSP", None, "") if eof else None
        if buf[offset + 4 : offset + 5] == b"\xff":
            code = int.from_bytes(buf[offset + 5 : offset + 7].ljust(2, b"\x00"), "little")
            return ("L7STS", code, _cstr(buf[offset + 7 :]))
        return ("L7OK", 0, _cstr(buf[5:]) if last else "")

    return fn


def _cstr(data: bytes) -> str:
    """A buffer read as a C string: up to the first NUL."""
    return data.split(b"\x00", 1)[0].decode("latin-1")


def ldap_check() -> Sequence_:
    def fn(buf: bytes, eof: bool) -> Verdict | None:
        if len(buf) < 14:
            return ("L7RSP", None, "Not LDAPv3 protocol") if eof else None
        # SEQUENCE, messageID 1, [APPLICATION 1] BindResponse, ENUMERATED result
        m = re.match(rb"^\x30.\x02\x01\x01\x61.\x0a\x01(.)", buf, re.S)
        if m is None:
            return ("L7RSP", None, "Not LDAPv3 protocol")
        if m.group(1) != b"\x00":
            return ("L7STS", None, "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9")
        return ("L7OK", 0, "Success")

    steps = (TConnect(implicit=True), TSend(LDAP_BIND), TExpect("custom", custom=fn))
    return Sequence_(steps, proto=True, kind="ldap")


def ssl_hello_check() -> Sequence_:
    """A TLS ClientHello; any handshake or alert record back is Layer6 OK."""

    def fn(buf: bytes, eof: bool) -> Verdict | None:
        if len(buf) < 5:
            return ("L6RSP", None, "") if eof else None
        if buf[0] in (0x15, 0x16):
            return ("L6OK", None, "")
        return ("L6RSP", None, "")

    steps = (
        TConnect(implicit=True),
        TSend(client_hello()),
        TExpect("custom", custom=fn, error_status="L6RSP", tout_status="L6TOUT"),
    )
    return Sequence_(steps, proto=True, kind="ssl-hello")


def client_hello() -> bytes:
    """A minimal TLS 1.2 ClientHello with common cipher suites."""
    suites = bytes.fromhex("c02fc030c02bc02c009e009fc013c014009c009d002f0035000a")
    body = b"\x03\x03" + os.urandom(32) + b"\x00"
    body += struct.pack("!H", len(suites)) + suites + b"\x01\x00"
    ext = bytes.fromhex("000d0012001004010501060104030503060302010203")  # signature_algorithms
    ext += bytes.fromhex("000a00080006001d00170018")  # supported groups
    ext += bytes.fromhex("000b00020100")  # ec point formats
    body += struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs
