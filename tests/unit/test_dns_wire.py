"""The DNS codec (lb/dns/wire.py): queries, answers, compression, CNAME chains."""

from __future__ import annotations

import struct

import pytest

from lb.dns import wire


def test_query_layout():
    q = wire.build_query(0x1234, "App.Example.com", wire.TYPE_AAAA, 1232)
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", q[:12])
    assert (qid, flags, qd, an, ns, ar) == (0x1234, wire.FLAG_RD, 1, 0, 0, 1)
    assert q[12:29] == b"\x03App\x07Example\x03com\x00"
    assert struct.unpack("!HH", q[29:33]) == (wire.TYPE_AAAA, wire.CLASS_IN)
    # EDNS0 OPT: root name, type 41, class = payload size
    assert q[33:] == b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    assert wire.parse_query(q) == (0x1234, "app.example.com", wire.TYPE_AAAA)


def test_bad_names_refused():
    with pytest.raises(ValueError):
        wire.encode_name("a" * 64 + ".com")
    with pytest.raises(ValueError):
        wire.encode_name("a..b")


def test_answer_with_compression():
    q = wire.build_query(7, "app.test", wire.TYPE_A)
    r = wire.build_response(q, [("app.test", wire.TYPE_A, "10.0.0.1", 5)] * 2)
    assert b"\xc0\x0c" in r
    resp = wire.parse_response(r)
    assert resp.qid == 7 and resp.rcode == 0 and not resp.truncated
    assert resp.questions == [("app.test", wire.TYPE_A)]
    assert resp.addresses("app.test", wire.TYPE_A) == (["10.0.0.1", "10.0.0.1"], False)
    assert resp.answers[0].ttl == 5


def test_cname_chain_followed():
    q = wire.build_query(9, "www.test", wire.TYPE_AAAA)
    r = wire.build_response(
        q,
        [
            ("www.test", wire.TYPE_CNAME, "lb.test", 60),
            ("lb.test", wire.TYPE_CNAME, "real.test", 60),
            ("real.test", wire.TYPE_AAAA, "2001:db8::1", 60),
            ("other.test", wire.TYPE_AAAA, "2001:db8::2", 60),  # off the chain: ignored
        ],
    )
    resp = wire.parse_response(r)
    assert resp.addresses("www.test", wire.TYPE_AAAA) == (["2001:db8::1"], True)
    assert resp.addresses("www.test", wire.TYPE_A) == ([], True)


def test_cname_loop_stops():
    q = wire.build_query(9, "a.test", wire.TYPE_A)
    r = wire.build_response(
        q, [("a.test", wire.TYPE_CNAME, "b.test", 1), ("b.test", wire.TYPE_CNAME, "a.test", 1)]
    )
    assert wire.parse_response(r).addresses("a.test", wire.TYPE_A) == ([], True)


def test_rcodes_and_truncation():
    q = wire.build_query(1, "nx.test", wire.TYPE_A)
    assert wire.parse_response(wire.build_response(q, [], wire.RCODE_NXDOMAIN)).rcode == 3
    assert wire.parse_response(wire.build_response(q, [], wire.RCODE_REFUSED)).rcode == 5
    assert wire.parse_response(wire.build_response(q, [], truncated=True)).truncated


def test_pointer_into_itself_is_refused():
    bad = struct.pack("!HHHHHH", 1, 0x8180, 1, 0, 0, 0) + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    with pytest.raises(wire.DnsFormatError):
        wire.parse_response(bad)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 11,
        struct.pack("!HHHHHH", 1, 0x0100, 0, 0, 0, 0),  # a query, not a response
        struct.pack("!HHHHHH", 1, 0x8180, 1, 1, 0, 0) + b"\x03app",  # cut in the name
        struct.pack("!HHHHHH", 1, 0x8180, 0, 1, 0, 0)
        + b"\x00"
        + struct.pack("!HHIH", 1, 1, 0, 3)
        + b"\x01\x02\x03",  # A record of 3 bytes
    ],
)
def test_garbage_raises_format_error(data):
    with pytest.raises(wire.DnsFormatError):
        wire.parse_response(data)
