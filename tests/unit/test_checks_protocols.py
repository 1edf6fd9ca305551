"""tcp-check sequences, protocol checks and agent replies against scripted
loopback peers; messages compared with what HAProxy 2.6.12 logs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from lb.checks import tcpcheck
from lb.checks.agent import parse_agent_reply
from lb.checks.params import CheckParams
from lb.checks.protocols import ldap_check, mysql_check, pgsql_check, redis_check, smtp_check
from lb.checks.result import CheckResult
from lb.checks.tcpcheck import Sequence_, parse_tcp_check_rules, run_sequence

pytestmark = pytest.mark.timeout(30)
PARAMS = CheckParams(inter=1000, timeout_check=300, timeout_connect=300)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def run_against(handler: Handler, seq: Sequence_) -> CheckResult:
    async def main() -> CheckResult:
        async def wrap(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                await handler(r, w)
            except (asyncio.CancelledError, OSError):
                pass
            finally:
                w.close()

        server = await asyncio.start_server(wrap, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await run_sequence(seq, "127.0.0.1", port, PARAMS)
        finally:
            server.close()

    return uvloop.run(main())


def reply(data: bytes, read: bool = True, linger: float = 0.0) -> Handler:
    async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if read:
            await r.read(100)
        w.write(data)
        await w.drain()
        if linger:
            await asyncio.sleep(linger)

    return h


def reason(res: CheckResult) -> str:
    return res.reason().rsplit(", check duration", 1)[0]


def test_redis_ok_and_error() -> None:
    res = run_against(reply(b"+PONG\r\n"), redis_check())
    assert reason(res) == 'reason: Layer7 check passed, code: 0, info: "Redis server is ok"'
    res = run_against(reply(b"-ERR nope\r\n"), redis_check())
    assert reason(res) == 'reason: Layer7 wrong status, code: 0, info: "-ERR nope"'


def test_redis_silent_is_a_timeout_without_step_info() -> None:
    res = run_against(reply(b"", linger=1.0), redis_check())
    assert res.status == "L7TOUT" and reason(res) == "reason: Layer7 timeout"


def test_refused_is_layer4() -> None:
    async def main() -> CheckResult:
        return await run_sequence(redis_check(), "127.0.0.1", 1, PARAMS)

    res = uvloop.run(main())
    assert reason(res) == 'reason: Layer4 connection problem, info: "Connection refused"'


def test_tcp_check_sequence_messages() -> None:
    seq = parse_tcp_check_rules(
        [
            ("comment", "hello phase"),
            ("send", "PING\\r\\n"),
            ("expect", "string", "PONG", "comment", "pong test"),
        ]
    )
    res = run_against(reply(b"PONG\r\n"), seq)
    assert reason(res) == 'reason: Layer7 check passed, code: 0, info: "(tcp-check)"'
    # a wrong answer on a connection kept open: HAProxy waits, then times out
    res = run_against(reply(b"NOPE\r\n", linger=1.0), seq)
    assert reason(res) == (
        "reason: Layer7 timeout, info: \" at step 3 of tcp-check (expect string 'PONG') "
        "comment: 'pong test'\""
    )
    # a wrong answer then close: a mismatch
    res = run_against(reply(b"NOPE\r\n"), seq)
    assert reason(res) == (
        'reason: Layer7 invalid response, info: "TCPCHK did not match content '
        "'PONG' at step 3 comment: pong test\""
    )
    res = run_against(reply(b""), seq)
    assert "info: \"TCPCHK got an empty response at step 3 comment: 'pong test'\"" in reason(res)


def test_binary_and_regex_expects() -> None:
    seq = parse_tcp_check_rules([("send-binary", "50494e47"), ("expect", "binary", "504f4e47")])
    assert run_against(reply(b"PONG"), seq).status == "L7OK"
    seq = parse_tcp_check_rules([("expect", "rstring", "^220 "), ("expect", "!", "string", "ERR")])
    assert run_against(reply(b"220 ok\r\n", read=False), seq).status == "L7OK"


def test_smtp() -> None:
    """HAProxy 2.6's smtpchk ends with QUIT: the check's code and text are
    those of the answer to QUIT (compared with haproxy 2.6 on scripted peers)."""

    def peer(quit_answer: bytes) -> Handler:
        async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write(b"220 mail ready\r\n")
            assert (await r.readline()) == b"EHLO me\r\n"
            w.write(b"250-hello\r\n250 SIZE 1000\r\n")
            assert (await r.readline()) == b"QUIT\r\n"
            w.write(quit_answer)
            await w.drain()

        return h

    res = run_against(peer(b"221 Bye\r\n"), smtp_check(["EHLO", "me"]))
    assert reason(res) == 'reason: Layer7 check passed, code: 221, info: "Bye"'
    # the colleague's scripted peer closed without answering QUIT: haproxy's words
    res = run_against(peer(b""), smtp_check(["EHLO", "me"]))
    assert reason(res) == (
        'reason: Layer7 wrong status, code: 0, info: "TCPCHK got an empty response at step 7"'
    )
    res = run_against(peer(b"xyz\r\n"), smtp_check(["EHLO", "me"]))
    assert reason(res) == "reason: Layer7 wrong status, code: 0"
    res = run_against(reply(b"554 go away\r\n", read=False), smtp_check([]))
    assert reason(res) == 'reason: Layer7 wrong status, code: 554, info: "go away"'


def test_pgsql_and_ldap() -> None:
    res = run_against(reply(b"R\x00\x00\x00\x08\x00\x00\x00\x00"), pgsql_check(["user", "u"]))
    assert reason(res) == 'reason: Layer7 check passed, code: 0, info: "PostgreSQL server is ok"'
    res = run_against(reply(bytes.fromhex("300c02010161070a010004000400")), ldap_check())
    assert reason(res) == 'reason: Layer7 check passed, code: 0, info: "Success"'


MYSQL_GREETING = b"\x0a5.5.5-10.11.6-MariaDB\x00" + b"\x01" * 40
MYSQL_OK = b"\x00\x00\x00\x02\x00\x00\x00"
MYSQL_DENIED = b"\xff\x15\x04#28000Access denied for user 'haproxy'@'127.0.0.1'"


def mysql_packet(seq: int, body: bytes) -> bytes:
    return len(body).to_bytes(3, "little") + bytes([seq]) + body


@pytest.mark.parametrize(
    ("answer", "want"),
    [
        (MYSQL_OK, 'Layer7 check passed, code: 0, info: "5.5.5-10.11.6-MariaDB"'),
        (
            MYSQL_DENIED,
            'Layer7 wrong status, code: 1045, info: "#28000Access denied for user '
            "'haproxy'@'127.0.0.1'\"",
        ),
    ],
)
def test_mysql_greeting_read_before_the_login_is_sent(
    monkeypatch: pytest.MonkeyPatch, answer: bytes, want: str
) -> None:
    """A server that greets at once may be read before the check sends its
    login; the greeting must still count (it used to be dropped, and the
    answer to the login was then taken for the greeting)."""
    connect = tcpcheck._connect

    async def greeted(*args: object) -> object:
        proto = await connect(*args)
        for _ in range(100):
            if proto.buf:
                break
            await asyncio.sleep(0.005)
        assert proto.buf, "the greeting did not arrive"
        return proto

    async def server(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(mysql_packet(0, MYSQL_GREETING))
        await r.read(100)
        w.write(mysql_packet(2, answer))
        await w.drain()

    monkeypatch.setattr(tcpcheck, "_connect", greeted)
    assert reason(run_against(server, mysql_check(["user", "haproxy"]))) == f"reason: {want}"


def test_agent_reply_words() -> None:
    r = parse_agent_reply("50% drain")
    assert (r.weight_pct, r.admin, r.state) == (50, "drain", None)
    r = parse_agent_reply("up,maxconn:30\t75%  # all good")
    assert (r.state, r.maxconn, r.weight_pct, r.desc) == ("up", 30, 75, "all good")
    assert parse_agent_reply("MAINT").admin == "maint"
    assert parse_agent_reply("stopped").state == "stopped"
