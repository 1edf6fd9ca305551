"""Address parsing; error sentences are those haproxy 2.6.12 prints after `'bind' : `."""

from __future__ import annotations

import pytest

from lb.config.addr import BindAddr, ServerAddr, parse_bind, parse_server_addr

HOSTS = {"localhost": "127.0.0.1", "LOCALHOST": "127.0.0.1", "v6only": "::1"}


def resolver(host: str, family: int) -> str | None:
    return HOSTS.get(host)


def bind(text: str) -> list[BindAddr]:
    return parse_bind(text, resolver)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:80", [BindAddr("ipv4", "127.0.0.1", 80)]),
        (":80", [BindAddr("ipv4", "0.0.0.0", 80)]),
        ("*:80", [BindAddr("ipv4", "0.0.0.0", 80)]),
        ("[::1]:80", [BindAddr("ipv6", "::1", 80)]),
        ("[::]:80", [BindAddr("ipv6", "::", 80)]),
        ("::1:80", [BindAddr("ipv6", "::1", 80)]),
        (":::80", [BindAddr("ipv6", "::", 80)]),
        ("fe80::1:80", [BindAddr("ipv6", "fe80::1", 80)]),
        ("[1.2.3.4]:80", [BindAddr("ipv4", "1.2.3.4", 80)]),
        ("[::ffff:1.2.3.4]:80", [BindAddr("ipv6", "::ffff:1.2.3.4", 80)]),
        ("ipv4@:80", [BindAddr("ipv4", "0.0.0.0", 80)]),
        ("ipv6@:80", [BindAddr("ipv6", "::", 80)]),
        ("ipv6@[::1]:80", [BindAddr("ipv6", "::1", 80)]),
        ("tcp@:80", [BindAddr("ipv4", "0.0.0.0", 80)]),
        ("tcp4@:80", [BindAddr("ipv4", "0.0.0.0", 80)]),
        ("tcp6@:80", [BindAddr("ipv6", "::", 80)]),
        ("127.1:80", [BindAddr("ipv4", "127.0.0.1", 80)]),
        ("0x7f000001:80", [BindAddr("ipv4", "127.0.0.1", 80)]),
        ("0:80", [BindAddr("ipv4", "0.0.0.0", 80)]),
        ("0.0.0.0:65535", [BindAddr("ipv4", "0.0.0.0", 65535)]),
        (":080", [BindAddr("ipv4", "0.0.0.0", 80)]),
        ("127.0.0.1:80x", [BindAddr("ipv4", "127.0.0.1", 80)]),
        (":8a0", [BindAddr("ipv4", "0.0.0.0", 8)]),
        ("localhost:80", [BindAddr("ipv4", "127.0.0.1", 80)]),
        ("LOCALHOST:80", [BindAddr("ipv4", "127.0.0.1", 80)]),
        ("v6only:80", [BindAddr("ipv6", "::1", 80)]),
        ("unix@/tmp/x.sock", [BindAddr("unix", path="/tmp/x.sock")]),
        ("/tmp/x.sock", [BindAddr("unix", path="/tmp/x.sock")]),
        ("unix@", [BindAddr("unix", path="")]),
        ("unix@relative.sock", [BindAddr("unix", path="relative.sock")]),
        ("uxst@/tmp/y.sock", [BindAddr("unix", path="/tmp/y.sock")]),
        ("abns@foo", [BindAddr("abns", path="foo")]),
        ("fd@3", [BindAddr("fd", fd=3)]),
        ("sockpair@4", [BindAddr("sockpair", fd=4)]),
        (":1-1", [BindAddr("ipv4", "0.0.0.0", 1)]),
        (
            "127.0.0.1:1000-1003",
            [BindAddr("ipv4", "127.0.0.1", p) for p in (1000, 1001, 1002, 1003)],
        ),
        (
            "127.0.0.1:1,127.0.0.2:2",
            [BindAddr("ipv4", "127.0.0.1", 1), BindAddr("ipv4", "127.0.0.2", 2)],
        ),
        (
            ":80,:81-82",
            [BindAddr("ipv4", "0.0.0.0", p) for p in (80, 81, 82)],
        ),
        (":80,", [BindAddr("ipv4", "0.0.0.0", 80)]),
        (
            "127.0.0.1:1-3,[::1]:5",
            [BindAddr("ipv4", "127.0.0.1", p) for p in (1, 2, 3)] + [BindAddr("ipv6", "::1", 5)],
        ),
        (
            "/tmp/a.sock,/tmp/b.sock",
            [BindAddr("unix", path="/tmp/a.sock"), BindAddr("unix", path="/tmp/b.sock")],
        ),
    ],
)
def test_bind_ok(text: str, expected: list[BindAddr]) -> None:
    assert bind(text) == expected


LONG = "/tmp/lx/" + "0" * 120


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1:99999", "invalid port '99999'"),
        ("127.0.0.1:0", "invalid port '0'"),
        (":65536", "invalid port '65536'"),
        (":0x50", "invalid port '0x50'"),
        (":0-5", "invalid port '0'"),
        (":1-", "invalid port ''"),
        (":1-abc", "invalid port 'abc'"),
        ("127.0.0.1:1000-70000", "invalid port '70000'"),
        (":65535-65536", "invalid port '65536'"),
        ("127.0.0.1:1003-1000", "invalid port range '1003-1000'"),
        (":80-8x", "invalid port range '80-8'"),
        ("127.0.0.1", "missing port specification in '127.0.0.1'"),
        ("127.0.0.1:", "missing port specification in '127.0.0.1:'"),
        ("[::1]", "missing port specification in '[::1]'"),
        ("[::1]80", "missing port specification in '[::1]80'"),
        ("::", "missing port specification in '::'"),
        (":::", "missing port specification in ':::'"),
        ("*", "missing port specification in '*'"),
        ("8a0", "missing port specification in '8a0'"),
        ("ipv4@", "missing port specification in 'ipv4@'"),
        (":,", "missing port specification in ':'"),
        ("::1", "invalid address: ':' in '::1'"),
        ("[::1", "invalid address: '[:' in '[::1'"),
        ("ipv4@::1:80", "invalid address: '::1' in 'ipv4@::1:80'"),
        ("ipv6@1.2.3.4:80", "invalid address: '1.2.3.4' in 'ipv6@1.2.3.4:80'"),
        (
            "nonexistent.invalid:80",
            "invalid address: 'nonexistent.invalid' in 'nonexistent.invalid:80'",
        ),
        ("foo@1.2.3.4:80", "invalid address: 'foo@1.2.3.4' in 'foo@1.2.3.4:80'"),
        ("1.2.3.4.5:80", "invalid address: '1.2.3.4.5' in '1.2.3.4.5:80'"),
        ("256.1.1.1:80", "invalid address: '256.1.1.1' in '256.1.1.1:80'"),
        ("1.2.3.4:80:90", "invalid address: '1.2.3.4:80' in '1.2.3.4:80:90'"),
        (" :80", "invalid address: ' ' in ' :80'"),
        ("256.1.1.1:99999", "invalid port '99999'"),
        ("127.0.0.1:abc", "invalid character 'a' in port number 'abc' in '127.0.0.1:abc'"),
        (":a-b", "invalid character 'a' in port number 'a-b' in ':a-b'"),
        ("127.0.0.1:-1", "port offset not permitted here in '127.0.0.1:-1'"),
        ("127.0.0.1:+1", "port offset not permitted here in '127.0.0.1:+1'"),
        (":-", "port offset not permitted here in ':-'"),
        ("fd@x", "file descriptor 'x' is not a valid integer in 'fd@x'"),
        ("fd@-1", "file descriptor '-1' is not a valid integer in 'fd@-1'"),
        ("fd@", "file descriptor '' is not a valid integer in 'fd@'"),
        ("fd@3x", "file descriptor '3x' is not a valid integer in 'fd@3x'"),
        (",:80", "'' resolves to an empty address (environment variable missing?)"),
        (":80,,:81", "'' resolves to an empty address (environment variable missing?)"),
        ("", "'' resolves to an empty address (environment variable missing?)"),
        ("udp@:80", "dgram-type address not acceptable in 'udp@:80'"),
        ("udp4@:80", "dgram-type address not acceptable in 'udp4@:80'"),
        ("uxdg@/tmp/x", "dgram-type address not acceptable in 'uxdg@/tmp/x'"),
        (
            "quic4@:443",
            "unsupported stream protocol for datagram family 2 address 'quic4@:443'; "
            "QUIC is not compiled in if this is what you were looking for.",
        ),
        (
            "quic6@:80",
            "unsupported stream protocol for datagram family 10 address 'quic6@:80'; "
            "QUIC is not compiled in if this is what you were looking for.",
        ),
        (LONG, f"socket path '{LONG}' too long (max 97)"),
        ("abns@" + "0" * 120, f"socket path 'abns@{'0' * 120}' too long (max 107)"),
    ],
)
def test_bind_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        bind(text)
    assert str(exc.value) == message


def test_bind_real_resolver_localhost() -> None:
    (addr,) = parse_bind("localhost:8080")
    assert addr.port == 8080
    assert addr.host in ("127.0.0.1", "::1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:80", ServerAddr("ipv4", "127.0.0.1", 80)),
        ("127.0.0.1", ServerAddr("ipv4", "127.0.0.1", 0)),
        ("127.0.0.1:", ServerAddr("ipv4", "127.0.0.1", 0)),
        ("127.0.0.1:0", ServerAddr("ipv4", "127.0.0.1", 0)),
        ("127.0.0.1:+1", ServerAddr("ipv4", "127.0.0.1", 1, port_offset=True)),
        ("127.0.0.1:-1", ServerAddr("ipv4", "127.0.0.1", -1, port_offset=True)),
        ("127.0.0.1:+70000", ServerAddr("ipv4", "127.0.0.1", 70000, port_offset=True)),
        ("127.0.0.1:-", ServerAddr("ipv4", "127.0.0.1", 0, port_offset=True)),
        ("127.0.0.1:80x", ServerAddr("ipv4", "127.0.0.1", 80)),
        ("[::1]:80", ServerAddr("ipv6", "::1", 80)),
        ("[::1]", ServerAddr("ipv6", "::1", 0)),
        ("::1:80", ServerAddr("ipv6", "::1", 80)),
        ("::1", ServerAddr("unspec", ":", 1, resolve=True)),
        (":80", ServerAddr("ipv4", "0.0.0.0", 80)),
        ("*:80", ServerAddr("ipv4", "0.0.0.0", 80)),
        (":", ServerAddr("ipv4", "0.0.0.0", 0)),
        ("ipv4@", ServerAddr("ipv4", "0.0.0.0", 0)),
        ("ipv4@1.2.3.4:5", ServerAddr("ipv4", "1.2.3.4", 5)),
        ("ipv6@::1:5", ServerAddr("ipv6", "::1", 5)),
        ("localhost:80", ServerAddr("unspec", "localhost", 80, resolve=True)),
        ("localhost", ServerAddr("unspec", "localhost", 0, resolve=True)),
        ("ipv6@www.example.com:443", ServerAddr("ipv6", "www.example.com", 443, resolve=True)),
        (
            "127.0.0.1:80,127.0.0.2:80",
            ServerAddr("unspec", "127.0.0.1:80,127.0.0.2", 80, resolve=True),
        ),
        ("unix@/tmp/x.sock", ServerAddr("unix", path="/tmp/x.sock")),
        ("/tmp/x.sock", ServerAddr("unix", path="/tmp/x.sock")),
        ("abns@x", ServerAddr("abns", path="x")),
        ("sockpair@3", ServerAddr("sockpair", fd=3)),
    ],
)
def test_server_ok(text: str, expected: ServerAddr) -> None:
    assert parse_server_addr(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1:99999", "invalid port '99999'"),
        ("127.0.0.1:80-81", "port range not permitted here in '127.0.0.1:80-81'"),
        ("127.0.0.1:99999-1", "port range not permitted here in '127.0.0.1:99999-1'"),
        ("127.0.0.1:abc", "invalid character 'a' in port number 'abc' in '127.0.0.1:abc'"),
        ("fd@3", "a file descriptor is not acceptable here in 'fd@3'"),
        ("udp@1.2.3.4:5", "dgram-type address not acceptable in 'udp@1.2.3.4:5'"),
        ("/tmp/" + "0" * 120, f"socket path '/tmp/{'0' * 120}' too long (max 97)"),
        ("abns@" + "0" * 120, f"socket path 'abns@{'0' * 120}' too long (max 107)"),
    ],
)
def test_server_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_server_addr(text)
    assert str(exc.value) == message
