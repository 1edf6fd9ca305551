"""Stats-socket framing, fed as bytes and compared with HAProxy 2.6.12 transcripts."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import runtime_api.commands.basic  # noqa: F401  (registers help/prompt/quit/...)
from runtime_api.commands.basic import parse_cli_timeout
from runtime_api.protocol import CliSession, collect, split_args
from runtime_api.registry import (
    REGISTRY,
    CliError,
    CliMessage,
    CommandContext,
    Level,
    Registry,
    SeverityOutput,
    arg,
)
from runtime_api.server import (
    StatsSocketSpec,
    parse_stats_socket_line,
    start_cli_listener,
)

REF = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "haproxy-2.6"
TRANSCRIPTS = REF / "transcripts"

BASIC = ("runtime_api.commands.basic", "runtime_api.registry")


def transcript(number: str) -> bytes:
    (path,) = TRANSCRIPTS.glob(f"{number}_*.txt")
    return path.read_bytes()


class FakeState:
    """Stand-ins for commands other modules own: they return the transcripts' text."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.table_used = 1


def make_registry() -> Registry:
    reg = REGISTRY.clone(handlers_from=BASIC)

    @reg.command("show backend", level=Level.USER)
    def show_backend(ctx: CommandContext, args: list[str], payload: str | None) -> str:
        return "# name\nbe_app\nbe_static\ntcp_echo\n"

    @reg.command("show version", level=Level.USER)
    def show_version(ctx: CommandContext, args: list[str], payload: str | None) -> CliMessage:
        return CliMessage("2.6.12-1+deb12u4\n")

    @reg.command("get weight", level=Level.USER)
    def get_weight(ctx: CommandContext, args: list[str], payload: str | None) -> str:
        if arg(args, 2) != "be_app/app1":
            raise CliError("No such server.")
        return "1 (initial 1)\n"

    @reg.command("set server")
    def set_server(ctx: CommandContext, args: list[str], payload: str | None) -> None:
        return None

    @reg.command("show table", level=Level.USER)
    def show_table(ctx: CommandContext, args: list[str], payload: str | None) -> Iterator[str]:
        state: FakeState = ctx.state
        yield f"# table: fe_main, type: ip, size:1048576, used:{state.table_used}\n"

    @reg.command("clear table", level=Level.OPERATOR)
    def clear_table(ctx: CommandContext, args: list[str], payload: str | None) -> None:
        ctx.state.table_used = 0

    @reg.command("add map")
    def add_map(ctx: CommandContext, args: list[str], payload: str | None) -> None:
        ctx.state.calls.append((args, payload))

    return reg


def new_session(level: Level = Level.ADMIN) -> tuple[CliSession, FakeState]:
    state = FakeState()
    reg = make_registry()
    make = reg.context_factory(state)

    def dispatch(session: CliSession, args: list[str], payload: str | None):  # type: ignore[no-untyped-def]
        return reg.dispatch(make(session), args, payload)

    return CliSession(dispatch, level), state


def run(data: bytes, level: Level = Level.ADMIN) -> bytes:
    session, _ = new_session(level)
    return collect(session, data)


# -- transcripts ----------------------------------------------------------------------

CASES = {
    "001": b"help\n",
    "264": b"\n",
    "265": b"quit\n",
    "266": b"   show backend\n",
    "267": b"show backend; get weight be_app/app1; show table\n",
    "268": b"get weight be_app/nosuch; show backend; foobar\n",
    "269": b"show backend\nshow table\n",
    "260": b"foobar\n",
    "261": b"show foo\n",
    "262": b"set foo bar\n",
    "263": b"SHOW INFO\n",
    "187": b"set maxconn\n",
    "280": b"prompt\nshow version\nshow backend\nfoo\n\nget weight be_app/app1\n",
    "281": b"prompt\nshow version\nprompt\n",
    "282": b"prompt\nshow version\nquit\nshow version\n",
    "283": b"prompt\n",
    "290": b"show cli level\n",
    "292": b"operator; show cli level\n",
    "293": b"user; show cli level\n",
    "294": b"user; set server be_app/app1 weight 5\n",
    "295": b"operator; set server be_app/app1 weight 5\n",
    "296": b"user; help\n",
    "297": b"operator; help\n",
    "298": b"set severity-output number; get weight be_app/nosuch; get weight be_app/app1\n",
    "299": b"set severity-output string; get weight be_app/nosuch; get weight be_app/app1\n",
    "300": b"user; operator; show cli level\n",
    "306": b"set timeout cli 60\n",
    "307": b"set timeout cli abc\n",
    "470": b"show version",
    "471": b"show version\r\n",
    "474": b"show version\nshow backend\n",
}


@pytest.mark.parametrize("number", sorted(CASES))
def test_transcript(number: str) -> None:
    assert run(CASES[number]) == transcript(number)


def test_escaped_semicolon_270() -> None:
    session, state = new_session()
    assert collect(session, b"add map #6 7.7.7.0/24 a\\;b\n") == transcript("270")
    assert state.calls == [(["add", "map", "#6", "7.7.7.0/24", "a;b"], None)]


def test_payload_472() -> None:
    session, state = new_session()
    data = b"add map #6 <<\n4.4.4.0/24 P1\n5.5.5.0/24 P2\n\n"
    assert collect(session, data) == transcript("472")
    assert state.calls == [(["add", "map", "#6"], "4.4.4.0/24 P1\n5.5.5.0/24 P2")]


# -- framing details ------------------------------------------------------------------


def test_non_interactive_closes_after_batch() -> None:
    session, _ = new_session()
    out = session.feed(b"show cli level\n")
    assert out == [b"admin\n\n"] and session.closed
    assert session.feed(b"show cli level\n") == []  # a line after the reply is lost


def test_partial_line_waits_for_the_rest() -> None:
    session, _ = new_session()
    assert session.feed(b"show cli level\nshow cli") == [b"admin\n\n"]
    assert not session.closed  # something is still buffered
    assert session.feed(b" level\n") == [b"admin\n\n"] and session.closed


def test_payload_split_over_packets_and_prompt_acks() -> None:
    session, state = new_session()
    out = session.feed(b"prompt\nadd map #6 <<\n")
    assert out == [b"\n> ", b"+ "]
    assert session.feed(b"1.1.1.0/24 A\n") == [b"+ "]
    assert session.feed(b"\n") == [b"\n> "]
    assert state.calls == [(["add", "map", "#6"], "1.1.1.0/24 A")]


def test_quit_in_chain_stops_everything() -> None:
    assert run(b"show cli level; quit; show cli level\n") == b"admin\n\n"


def test_lazy_output_runs_before_next_command() -> None:
    session, state = new_session()
    out = session.feed(b"show table; clear table; show table\n")
    assert session.waiting and not isinstance(out[-1], bytes)
    assert state.table_used == 1  # clear table has not run yet
    first = b"".join(out[-1])  # type: ignore[arg-type]
    assert first.endswith(b"used:1\n")
    rest = session.resume()
    assert rest[0] == b"\n" and rest[1] == b"\n"
    assert b"".join(rest[2]) == b"# table: fe_main, type: ip, size:1048576, used:0\n"  # type: ignore[arg-type]
    assert session.resume() == [b"\n"] and session.closed


def test_error_inside_lazy_output_is_rendered() -> None:
    reg = REGISTRY.clone(handlers_from=BASIC)

    @reg.command("show stat", level=Level.USER)
    def show_stat(ctx: CommandContext, args: list[str], payload: str | None) -> Iterator[str]:
        yield "partial\n"
        raise CliError("No such proxy.")

    make = reg.context_factory(None)
    session = CliSession(lambda s, a, p: reg.dispatch(make(s), a, p))
    session.severity_output = SeverityOutput.NUMBER
    assert collect(session, b"show stat\n") == b"partial\n[3]: No such proxy.\n\n"


def test_unexpected_exception_never_leaks_a_traceback() -> None:
    session = CliSession(lambda s, a, p: 1 / 0)
    assert collect(session, b"boom\n") == b"Internal error.\n\n"


def test_listed_but_unbuilt_command_answers_with_its_usage() -> None:
    out = run(b"show activity\n")
    assert out == (
        b"Unknown command, but maybe one of the following ones is a better match:\n"
        b"  show activity                           : show per-thread activity stats "
        b"(for support/developers)\n"
        b"  help [<command>]                        : list matching or all commands\n"
        b"  prompt                                  : toggle interactive mode with prompt\n"
        b"  quit                                    : disconnect\n\n"
    )


def test_level_lowering_without_terminator() -> None:
    assert run(b"operator -; show cli level\n") == b"operator\n\n"
    assert run(b"show cli level\n", Level.USER) == b"user\n\n"
    assert run(b"operator\n", Level.USER) == b"Permission denied\n\n"


def test_severity_applies_to_info_messages() -> None:
    assert run(b"set severity-output string; show cli level\n") == b"\n[info]: admin\n\n"
    assert run(b"set severity-output foo\n") == (
        b"one of 'none', 'number', 'string' is a required argument\n\n"
    )


def test_set_timeout_changes_session_timeout() -> None:
    session, _ = new_session()
    collect(session, b"set timeout cli 3\n")
    assert session.timeout_ms == 3000
    assert run(b"set timeout cli\n") == b"Expects an integer value.\n\n"
    assert run(b"set timeout foo\n") == b"'set timeout' only supports 'cli'.\n\n"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60", 60), ("500ms", 1), ("1m", 60), ("10s", 10), ("0", None), ("1.5", None)],
)
def test_parse_cli_timeout(text: str, seconds: int | None) -> None:
    assert parse_cli_timeout(text) == seconds


def test_split_args() -> None:
    assert split_args("  set  map \\ x a\\\\b") == (["set", "map", " x", "a\\b"], False)
    assert split_args("add map #6 <<") == (["add", "map", "#6"], True)


def test_overlong_line_closes() -> None:
    session, _ = new_session()
    assert session.feed(b"x" * 20000) == [] and session.closed


# -- config line ----------------------------------------------------------------------


def test_parse_stats_socket_line() -> None:
    line = "stats socket /etc/lb/admin.sock mode 600 level admin"
    spec = parse_stats_socket_line(line.split(" "))
    assert spec == StatsSocketSpec("/etc/lb/admin.sock", "unix", mode=0o600, level=Level.ADMIN)
    tcp = parse_stats_socket_line(["stats", "socket", "ipv4@127.0.0.1:18999", "level", "admin"])
    assert tcp.address == ("127.0.0.1", 18999) and tcp.family == "ipv4"
    assert parse_stats_socket_line(["/x"]).level == Level.OPERATOR
    assert parse_stats_socket_line(["/x", "expose-fd", "listeners"]).expose_fd


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/x level foo", "'stats socket' : ''level' only supports 'user', 'operator', and "
         "'admin' (got 'foo')'"),
        ("/x level", "'stats socket' : ''level' : missing level'"),
        ("/x mode abc", "'stats socket' : ''mode' : missing or invalid mode 'abc' "
         "(octal integer expected)'"),
        ("/x levl admin", "'stats socket' : unknown keyword 'levl'. Did you mean 'level' maybe ?"),
        ("/x expose-fd foo", "'stats socket' : ''expose-fd' only supports 'listeners' "
         "(got 'foo')'"),
        ("", "'stats socket' in global section expects an address or a path to a UNIX socket"),
    ],
)  # fmt: skip
def test_parse_stats_socket_line_errors(line: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_stats_socket_line(["stats", "socket", *line.split()])
    assert str(info.value) == message


# -- the I/O shell over a real unix socket ---------------------------------------------


class ServerThread:
    """Runs a listener on its own event loop in a thread; stopped in ``close``."""

    def __init__(self, spec: StatsSocketSpec, reg: Registry, timeout_ms: int = 10_000) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.server: asyncio.AbstractServer | None = None
        self.thread = threading.Thread(target=self._main, args=(spec, reg, timeout_ms))
        self.thread.start()
        assert self.ready.wait(5)

    def _main(self, spec: StatsSocketSpec, reg: Registry, timeout_ms: int) -> None:
        asyncio.set_event_loop(self.loop)
        make = reg.context_factory(FakeState(), self.loop)
        self.server = self.loop.run_until_complete(
            start_cli_listener(self.loop, spec, make, timeout_ms)
        )
        self.ready.set()
        self.loop.run_forever()
        self.server.close()
        self.loop.run_until_complete(self.server.wait_closed())
        self.loop.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def talk(path: Path, data: bytes, *, shut: bool = False) -> bytes:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(data)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def big_registry() -> Registry:
    reg = make_registry()

    @reg.command("show stat", level=Level.USER)
    def show_stat(ctx: CommandContext, args: list[str], payload: str | None) -> Iterator[str]:
        line = "x" * 1023 + "\n"
        for _ in range(8 * 1024):  # 8 MiB, produced lazily
            yield line

    return reg


def test_unix_listener_end_to_end(tmp_path: Path, big_registry: Registry) -> None:
    path = tmp_path / "admin.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # a stale socket file from a "previous run"
    stale.close()
    spec = StatsSocketSpec(str(path), "unix", mode=0o600, level=Level.ADMIN)
    srv = ServerThread(spec, big_registry)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert talk(path, b"show cli level\n") == b"admin\n\n"
        assert talk(path, b"show version\nshow backend\n") == transcript("474")
        assert talk(path, b"show version", shut=True) == b""

        # a slow reader of a huge dump does not block another client
        slow = socket.socket(socket.AF_UNIX)
        slow.connect(str(path))
        slow.sendall(b"show stat\n")
        time.sleep(0.2)
        start = time.monotonic()
        assert talk(path, b"show cli level\n") == b"admin\n\n"
        assert time.monotonic() - start < 2
        received = 0
        slow.settimeout(5)
        while chunk := slow.recv(1 << 20):
            received += len(chunk)
        slow.close()
        assert received == 8 * 1024 * 1024 + 1

        # a client vanishing mid-reply is harmless
        gone = socket.socket(socket.AF_UNIX)
        gone.connect(str(path))
        gone.sendall(b"show stat\n")
        gone.recv(1000)
        gone.close()
        time.sleep(0.2)
        assert talk(path, b"prompt\nshow cli level\n", shut=True) == b"\n> admin\n\n> "
    finally:
        srv.close()


def test_idle_timeout_closes(tmp_path: Path) -> None:
    path = tmp_path / "cli.sock"
    srv = ServerThread(StatsSocketSpec(str(path)), make_registry(), timeout_ms=200)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(path))
            sock.sendall(b"prompt\n")
            start = time.monotonic()
            data = b""
            while chunk := sock.recv(100):
                data += chunk
            assert data == b"\n> "
            assert 0.1 < time.monotonic() - start < 3
    finally:
        srv.close()
