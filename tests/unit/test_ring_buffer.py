"""Ring buffers and `ring` sections, without sockets."""

from __future__ import annotations

import pytest

from lb.config.parser import ConfigErrors, parse_string
from lb.log import parse_log_line
from lb.logging_.ring import Ring, RingLogger


def test_ring_keeps_what_haproxy_keeps() -> None:
    # haproxy 2.6.12, `ring a` (16384 bytes), 300 lines of 120 bytes: the last 134 stay
    ring = Ring("a", "a")
    for i in range(300):
        ring.write(f"{i:03d}".ljust(120, "x"))
    lines, end = ring.read(0)
    assert len(lines) == 134 and lines[-1].startswith("299") and end == 300
    assert ring.read(end) == ([], 300)
    assert ring.read(299)[0] == [lines[-1]]


def test_line_larger_than_ring_is_dropped() -> None:
    ring = Ring("a", "a", size=100)
    ring.write("x" * 200)
    assert ring.dropped == 1 and ring.read(0)[0] == []


def test_ring_logger_cuts_message_then_line() -> None:
    t = parse_log_line(["log", "ring@c", "len", "90", "format", "iso", "local2"])
    ring = Ring("c", "c", fmt="raw", maxlen=50)
    t.ring, t.format = ring, ring.format
    RingLogger([t]).log(6, "m" * 200)
    assert ring.read(0)[0] == ["m" * 50]
    ring.maxlen = 1000
    RingLogger([t]).log(6, "m" * 200)
    assert ring.read(1)[0] == ["m" * 90]  # `len` cuts the message only


def test_section_parsed() -> None:
    cfg = parse_string(
        'ring r\n    description "my ring"\n    format rfc5424\n    maxlen 200\n'
        "    size 32768\n    timeout connect 2s\n    timeout server 5s\n"
        "    server s 127.0.0.1:514 log-proto octet-count\n"
    )
    rc = cfg.rings["r"]
    assert (rc.description, rc.format, rc.maxlen, rc.size) == ("my ring", "rfc5424", 200, 32768)
    assert (rc.timeout_connect, rc.timeout_server) == (2000, 5000)
    srv = rc.servers[0]
    assert (srv.host, srv.port, srv.log_proto) == ("127.0.0.1", 514, "octet-count")
    assert not cfg.warnings


def test_section_errors() -> None:
    with pytest.raises(ConfigErrors) as exc:
        parse_string("ring r\n    size 1\n    maxlen 0\n    bogus\nring buf0\n", "x.cfg")
    assert exc.value.lines == [
        "parsing [x.cfg:3] : invalid size '0' for new sink buffer.",
        "parsing [x.cfg:4] : unknown statement 'bogus'.",
        "parsing [x.cfg:5] : sink named 'buf0' already exists.",
    ]


def test_forwarding_ring_without_timeouts_warns() -> None:
    cfg = parse_string("ring r\n    size 1\n    server s 127.0.0.1:514\n", "x.cfg")
    assert cfg.warnings[0].startswith("parsing [x.cfg:2] : ignoring new size '1'")
    assert cfg.warnings[1].startswith("missing timeouts for backend 'r'.")
