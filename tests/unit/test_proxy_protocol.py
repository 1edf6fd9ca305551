"""The PROXY protocol codec, byte for byte against the specification
(/usr/share/doc/haproxy/proxy-protocol.txt.gz) and against headers captured
from HAProxy 2.6.12 itself."""

from __future__ import annotations

import struct

import pytest

from lb import proxy_protocol as pp
from lb.proxy_protocol import ProxyProtocolError, build_v1, build_v2, parse

SIG = b"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"


# ---------------------------------------------------------------- v1, section 2.1


def test_v1_spec_example_before_http_request() -> None:
    data = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n"
    h = parse(data)
    assert h is not None
    assert (h.version, h.command, h.family) == (1, "PROXY", pp.FAM_TCP4)
    assert h.src == ("192.168.0.1", 56324)
    assert h.dst == ("192.168.0.11", 443)
    assert data[h.length :] == b"GET / HTTP/1.1\r\n"


def test_v1_longest_lines_of_the_spec() -> None:
    v4 = b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"
    assert len(v4) == 56
    assert parse(v4).length == 56  # type: ignore[union-attr]
    f = "ffff:" * 7 + "ffff"
    v6 = f"PROXY TCP6 {f} {f} 65535 65535\r\n".encode()
    assert len(v6) == 104
    h = parse(v6)
    assert h is not None and h.src == (f, 65535) and h.length == 104
    worst = f"PROXY UNKNOWN {f} {f} 65535 65535\r\n".encode()
    assert len(worst) == 107
    h = parse(worst)
    assert h is not None and h.src is None and h.length == 107


def test_v1_unknown_short_form_uses_real_addresses() -> None:
    h = parse(b"PROXY UNKNOWN\r\nrest")
    assert h is not None and h.src is None and h.dst is None and h.length == 15


def test_v1_incomplete_waits_then_too_long_fails() -> None:
    assert parse(b"PRO") is None
    assert parse(b"PROXY TCP4 1.2.3.4") is None
    with pytest.raises(ProxyProtocolError):
        parse(b"PROXY TCP4 " + b"1" * 120)


@pytest.mark.parametrize(
    "line",
    [
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1111\r\n",  # a field missing
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",  # unknown protocol
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 70000\r\n",  # port out of range
        b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",  # heading zero
        b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",  # two spaces
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",  # LF alone does not end the line
        b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",  # family mismatch
    ],
)
def test_v1_invalid_lines(line: bytes) -> None:
    with pytest.raises(ProxyProtocolError) as exc:
        parse(line)
    assert str(exc.value) == pp.ERR_BAD_HDR


def test_not_a_header_uses_haproxy_words() -> None:
    with pytest.raises(ProxyProtocolError) as exc:
        parse(b"GET / HTTP/1.1\r\n")
    assert str(exc.value) == "Received something which does not look like a PROXY protocol header"


def test_build_v1() -> None:
    assert build_v1(("192.168.0.1", 56324), ("192.168.0.11", 443)) == (
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
    )
    assert build_v1(("::1", 1), ("::2", 2)) == b"PROXY TCP6 ::1 ::2 1 2\r\n"
    assert build_v1(None, None) == b"PROXY UNKNOWN\r\n"
    assert (
        build_v1(("::ffff:10.0.0.1", 5), ("10.0.0.2", 6)) == b"PROXY TCP4 10.0.0.1 10.0.0.2 5 6\r\n"
    )


# ---------------------------------------------------------------- v2, section 2.2


def test_v2_signature_is_the_spec_block() -> None:
    assert pp.V2_SIG == SIG
    assert len(SIG) == 12 and SIG[4] == 0


def test_v2_tcp4_layout() -> None:
    raw = build_v2(("192.168.0.1", 56324), ("192.168.0.11", 443))
    assert raw[:12] == SIG
    assert raw[12] == 0x21  # version 2, PROXY
    assert raw[13] == 0x11  # TCP over IPv4
    assert struct.unpack("!H", raw[14:16])[0] == 12  # 2*4 + 2*2
    assert raw[16:] == bytes([192, 168, 0, 1, 192, 168, 0, 11]) + struct.pack("!HH", 56324, 443)
    h = parse(raw + b"payload")
    assert h is not None and h.src == ("192.168.0.1", 56324) and h.dst == ("192.168.0.11", 443)
    assert h.length == 28


def test_v2_tcp6_layout() -> None:
    raw = build_v2(("2001:db8::1", 1), ("2001:db8::2", 2))
    assert raw[13] == 0x21 and struct.unpack("!H", raw[14:16])[0] == 36
    h = parse(raw)
    assert h is not None and h.src == ("2001:db8::1", 1) and h.family == pp.FAM_TCP6


def test_v2_local_and_unspec_use_real_addresses() -> None:
    raw = build_v2(None, None)
    assert raw == SIG + b"\x20\x00\x00\x00"
    h = parse(raw)
    assert h is not None and h.command == "LOCAL" and h.src is None
    # LOCAL with an address block: the receiver must skip it by its length
    h = parse(SIG + b"\x20\x11\x00\x0c" + b"\x01" * 12 + b"tail")
    assert h is not None and h.length == 28 and h.src is None


def test_v2_unix_and_unspec_families_fall_back() -> None:
    h = parse(SIG + b"\x21\x31" + struct.pack("!H", 216) + b"\x00" * 216)
    assert h is not None and h.src is None
    h = parse(SIG + b"\x21\x00\x00\x00")
    assert h is not None and h.src is None


def test_v2_rejects_bad_version_command_family() -> None:
    with pytest.raises(ProxyProtocolError):
        parse(SIG + b"\x11\x11\x00\x0c" + b"\x00" * 12)  # version 1 in a v2 header
    with pytest.raises(ProxyProtocolError):
        parse(SIG + b"\x22\x11\x00\x0c" + b"\x00" * 12)  # command 2
    with pytest.raises(ProxyProtocolError):
        parse(SIG + b"\x21\x41\x00\x0c" + b"\x00" * 12)  # family 4
    with pytest.raises(ProxyProtocolError):
        parse(SIG + b"\x21\x11\x00\x04" + b"\x00" * 4)  # address block too short


def test_v2_waits_for_the_whole_block() -> None:
    raw = build_v2(("1.2.3.4", 1), ("5.6.7.8", 2))
    for cut in (1, 5, 12, 15, 16, len(raw) - 1):
        assert parse(raw[:cut]) is None
    assert parse(raw) is not None


def test_v2_tlvs_round_trip() -> None:
    tlvs = [
        (pp.PP2_TYPE_ALPN, b"h2"),
        (pp.PP2_TYPE_AUTHORITY, b"example.com"),
        (pp.PP2_TYPE_UNIQUE_ID, b"abc"),
        pp.ssl_tlv(pp.PP2_CLIENT_SSL, 0, [(pp.PP2_SUBTYPE_SSL_VERSION, b"TLSv1.3")]),
        (pp.PP2_TYPE_NOOP, b""),
    ]
    raw = build_v2(("1.2.3.4", 1), ("5.6.7.8", 2), tlvs)
    h = parse(raw)
    assert h is not None and list(h.tlvs) == tlvs
    assert h.authority == "example.com" and h.unique_id == b"abc"
    client, verify, subs = pp.parse_ssl_tlv(h.tlv(pp.PP2_TYPE_SSL) or b"")
    assert (client, verify, subs) == (1, 0, ((pp.PP2_SUBTYPE_SSL_VERSION, b"TLSv1.3"),))


def test_v2_truncated_tlv_is_invalid() -> None:
    block = bytes([1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2]) + b"\x02\x00\x09abc"
    with pytest.raises(ProxyProtocolError):
        parse(SIG + b"\x21\x11" + struct.pack("!H", len(block)) + block)


def test_crc32c_reference_values() -> None:
    # RFC 3720 B.4 test vector: 32 bytes of zeroes
    assert pp.crc32c_checksum(b"\x00" * 32) == 0x8A9136AA
    assert pp.crc32c_checksum(b"123456789") == 0xE3069283


def test_v2_crc32c_checked() -> None:
    raw = build_v2(("1.2.3.4", 1), ("5.6.7.8", 2), crc32c=True)
    assert parse(raw) is not None
    bad = bytearray(raw)
    bad[17] ^= 0xFF  # change an address byte: the checksum no longer matches
    with pytest.raises(ProxyProtocolError):
        parse(bytes(bad))


# ---------------------------------------------------------------- HAProxy 2.6.12 captures

# `server … send-proxy-v2 proxy-v2-options authority,unique-id,crc32c,ssl` with
# `unique-id-format abc123`, a clear-text client 127.0.0.1:34956 -> 127.0.0.1:18002
HAPROXY_V2 = (
    SIG + b"!\x11\x00$\x7f\x00\x00\x01\x7f\x00\x00\x01\x88\x8cFR"
    b"\x03\x00\x04\x00e\r}\x05\x00\x06abc123 \x00\x05\x00\x00\x00\x00\x00"
)
# the same server's `check-send-proxy` health check: LOCAL, crc32c and ssl TLVs
HAPROXY_V2_CHECK = SIG + b" \x00\x00\x0f\x03\x00\x04\x88\x9d\xa1\xdf \x00\x05\x00\x00\x00\x00\x00"


def test_build_v2_matches_haproxy_bytes() -> None:
    tlvs = [(pp.PP2_TYPE_UNIQUE_ID, b"abc123"), pp.ssl_tlv(0, 0)]
    assert build_v2(("127.0.0.1", 34956), ("127.0.0.1", 18002), tlvs, crc32c=True) == HAPROXY_V2
    assert build_v2(None, None, [pp.ssl_tlv(0, 0)], local=True, crc32c=True) == HAPROXY_V2_CHECK


def test_parse_haproxy_bytes() -> None:
    h = parse(HAPROXY_V2 + b"GET /")
    assert h is not None
    assert h.src == ("127.0.0.1", 34956) and h.dst == ("127.0.0.1", 18002)
    assert h.unique_id == b"abc123"
    c = parse(HAPROXY_V2_CHECK)
    assert c is not None and c.command == "LOCAL" and c.length == len(HAPROXY_V2_CHECK)


def test_proxy_send_lines() -> None:
    from lb.proxy_send import check_line, proxy_line, v2_options

    class Conn:
        client_ip, client_port = "127.0.0.1", 34956
        frontend_ip, frontend_port = "127.0.0.1", 18002
        transport = None

        class stream:  # noqa: N801
            unique_id = "abc123"

    class Srv:
        options = {
            "send-proxy-v2": True,
            "proxy-v2-options": "authority,unique-id,crc32c,ssl",
        }

    assert proxy_line(Srv, Conn) == HAPROXY_V2
    assert check_line(Srv, None, None) == HAPROXY_V2_CHECK
    Srv.options = {"send-proxy": True}
    assert proxy_line(Srv, Conn) == b"PROXY TCP4 127.0.0.1 127.0.0.1 34956 18002\r\n"
    Srv.options = {}
    assert proxy_line(Srv, Conn) is None
    with pytest.raises(ValueError):
        v2_options("ssl,bogus")
