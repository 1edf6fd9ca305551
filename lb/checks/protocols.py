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

from lb.checks.tcpcheck import Sequence_, TConnect, TExpect, TSend, Verdict, first_line, make_expect

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
    """``option smtpchk [HELO|EHLO domain]``: banner 2xx, then the command, 2xx."""
    cmd = "HELO localhost"
    if len(args) >= 2 and args[0].upper() in ("HELO", "EHLO"):
        cmd = f"{args[0]} {args[1]}"

    def banner_any(buf: bytes, eof: bool) -> Verdict | None:
        if len(buf) < 4 and not eof:
            return None
        if not re.match(rb"^[0-9]{3}[- \r]", buf):
            return ("L7RSP", None, first_line(buf)) if buf else _empty(eof, 2)
        return ("L7OK", 0, "")

    def two_xx(success: bool) -> TExpect:
        def fn(buf: bytes, eof: bool) -> Verdict | None:
            if len(buf) < 4 and not eof:
                return None
            if not buf:
                return ("L7STS", 0, "TCPCHK got an empty response")
            code = int(buf[:3]) if buf[:3].isdigit() else 0
            text = first_line(buf[4:]).lstrip(" ")
            if re.match(rb"^2[0-9]{2}[- \r]", buf):
                return ("L7OK", code, text if success else "")
            return ("L7STS", code, text)

        return TExpect("custom", custom=fn, error_status="L7STS")

    steps = (
        TConnect(implicit=True),
        TExpect("custom", custom=banner_any),
        two_xx(False),
        TSend(cmd.encode() + b"\r\n"),
        TExpect("custom", custom=banner_any),
        two_xx(True),
        TSend(b"QUIT\r\n"),
    )
    return Sequence_(steps, proto=True, kind="smtp")


def _empty(eof: bool, step: int) -> Verdict | None:
    return ("L7RSP", None, f"TCPCHK got an empty response at step {step}") if eof else None


def pgsql_check(args: Sequence[str]) -> Sequence_:
    """``option pgsql-check user U``: a StartupMessage, then 'R' means OK."""
    user = args[1] if len(args) >= 2 and args[0] == "user" else "haproxy"
    body = struct.pack("!I", 196608) + b"user\x00" + user.encode() + b"\x00\x00"
    packet = struct.pack("!I", len(body) + 4) + body

    def fn(buf: bytes, eof: bool) -> Verdict | None:
        if not buf:
            return ("L7RSP", None, "") if eof else None
        if buf[:1] == b"R":
            return ("L7OK", 0, "PostgreSQL server is ok")
        if buf[:1] == b"E":
            fields = buf[5:].split(b"\x00")
            msg = next((f[1:] for f in fields if f[:1] == b"M"), b"")
            return ("L7RSP", None, msg.decode("latin-1"))
        return ("L7RSP", None, "")

    steps = (TConnect(implicit=True), TSend(packet), TExpect("custom", custom=fn))
    return Sequence_(steps, proto=True, kind="pgsql")


def mysql_check(args: Sequence[str]) -> Sequence_:
    """``option mysql-check [user U [post-41]]``: the greeting must be a v10
    handshake; with a user, an unauthenticated login then QUIT."""
    user = args[1] if len(args) >= 2 and args[0] == "user" else None

    def greeting(buf: bytes, eof: bool) -> Verdict | None:
        if len(buf) < 5:
            return ("L7RSP", None, "") if eof else None
        plen = buf[0] | buf[1] << 8 | buf[2] << 16
        if len(buf) < plen + 4:
            return ("L7RSP", None, "") if eof else None
        payload = buf[4 : 4 + plen]
        if payload[:1] == b"\xff":
            return ("L7STS", None, payload[3:].decode("latin-1", "replace"))
        if payload[:1] != b"\x0a":
            return ("L7RSP", None, "")
        version = payload[1:].split(b"\x00", 1)[0].decode("latin-1")
        return ("L7OK", 0, version if user is None else "")

    steps: list[object] = [TConnect(implicit=True), TExpect("custom", custom=greeting)]
    if user is not None:
        auth = struct.pack("<IIB", 0x0000A685, 0x00000001, 0x21) + b"\x00" * 23
        auth += user.encode() + b"\x00\x00"
        packet = struct.pack("<I", len(auth))[:3] + b"\x01" + auth

        def auth_ok(buf: bytes, eof: bool) -> Verdict | None:
            if len(buf) < 5:
                return ("L7RSP", None, "") if eof else None
            if buf[4:5] == b"\x00":
                return ("L7OK", 0, "")
            return ("L7STS", None, buf[7:].decode("latin-1", "replace"))

        steps += [TSend(packet), TExpect("custom", custom=auth_ok), TSend(b"\x01\x00\x00\x00\x01")]
    return Sequence_(tuple(steps), proto=True, kind="mysql")  # type: ignore[arg-type]


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

    steps = (TConnect(implicit=True), TSend(client_hello()), TExpect("custom", custom=fn))
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
