"""The sans-IO Master CLI session, fed bytes and compared with HAProxy 2.6.12 transcripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from lb.mworker.master_cli import Forward, MasterCliSession, Write, make_registry
from lb.mworker.procs import PROGRAM, WORKER, Proc, format_show_proc, format_uptime

REF = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "haproxy-2.6"
TRANSCRIPTS = REF / "transcripts"
HAPROXY_VERSION = "2.6.12-1+deb12u4"
WORKER_PID = 5090


class FakeMaster:
    version = HAPROXY_VERSION

    def __init__(self) -> None:
        self.reloads = 0

    def resolve_target(self, prefix: str) -> int | None:
        return {"@": 0, "@0": 0, "@master": 0, "@1": WORKER_PID, "@!5090": WORKER_PID}.get(prefix)

    def show_proc(self) -> str:
        return "PROC\n"

    def request_reload(self) -> None:
        self.reloads += 1


def run(data: bytes, worker_replies: dict[bytes, bytes] | None = None) -> bytes:
    """Feed ``data`` then EOF; forwarded commands get ``worker_replies[command]``."""
    master = FakeMaster()
    session = MasterCliSession(master, make_registry())
    session.feed(data)
    session.eof()
    out = []
    while (step := session.next_step()) is not None:
        if isinstance(step, Write):
            out.append(step.data)
        else:
            assert isinstance(step, Forward)
            out.append((worker_replies or {})[step.command] + step.suffix)
    assert session.closed
    return b"".join(out)


def transcript(name: str) -> bytes:
    path = TRANSCRIPTS / name
    if not path.exists():
        pytest.skip("reference transcripts not available")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("400_master_help.txt", "help"),
        ("402_master_show_cli_sockets.txt", "show cli sockets"),
        ("403_master_show_cli_level.txt", "show cli level"),
        ("404_master_operator_level.txt", "operator; show cli level"),
        ("405_master_user_level.txt", "user; show cli level"),
        ("413_master_unknown.txt", "foobar"),
        ("414_master_at2.txt", "@2 show info"),
        ("415_master_atpid_nosuch.txt", "@!99999 show info"),
        ("416_master_show_version.txt", "show version"),
        ("417_master_show_info.txt", "show info"),
        ("421_master_user_reload.txt", "user; reload"),
        ("422_master_at_bad.txt", "@foo show info"),
        ("423_master_empty.txt", ""),
        ("446_master_help_after_reload.txt", "help"),
    ],
)
def test_master_local_commands_match_reference(name: str, command: str) -> None:
    assert run(command.encode() + b"\n") == transcript(name)


def test_forwarded_commands_carry_the_level_and_reply_unchanged() -> None:
    worker = {
        b"show cli level\n": b"admin\n\n",
        b"operator -;show cli level\n": b"operator\n\n",
        b"user -;show cli level\n": b"user\n\n",
        b"show backend\n": b"# name\nbe_app\nbe_static\ntcp_echo\n\n",
        b"show version\n": HAPROXY_VERSION.encode() + b"\n\n",
    }
    assert run(b"@1 show cli level\n", worker) == transcript("410_master_at1_show_cli_level.txt")
    assert run(b"operator; @1 show cli level\n", worker) == transcript(
        "411_master_operator_at1_level.txt"
    )
    assert run(b"user; @1 show cli level\n", worker) == transcript("412_master_user_at1_level.txt")
    assert run(b"show version; @1 show backend; show cli level\n", worker) == transcript(
        "419_master_semicolon.txt"
    )
    assert run(b"@1 show version; show backend\n", worker) == transcript(
        "420_master_at1_semicolon.txt"
    )


def test_prompt_session_matches_reference() -> None:
    worker = {b"show backend\n": b"# name\nbe_app\nbe_static\ntcp_echo\n\n"}
    data = b"prompt\nshow version\n@1\nshow backend\n@master\nshow cli level\noperator\n"
    data += b"show cli level\n"
    assert run(data, worker) == transcript("430_master_prompt_session.txt")


def test_reload_closes_without_reply() -> None:
    master = FakeMaster()
    session = MasterCliSession(master, make_registry())
    session.feed(b"prompt\nshow version\nreload\nshow version\n")
    out = b""
    while (step := session.next_step()) is not None:
        assert isinstance(step, Write)
        out += step.data
    assert session.closed and master.reloads == 1
    assert out == transcript("462_master_prompt_reload.txt")


def test_bad_target_closes_the_session() -> None:
    expected = b"Can't find the target PID matching the prefix '@2'\n"
    assert run(b"@2 show info; show version\n") == expected


def test_levels_only_go_down() -> None:
    assert run(b"operator; user; operator\n") == b"Permission denied!\n"
    both = run(b"@master show version\n@0 show version\n")
    assert both == 2 * (HAPROXY_VERSION + "\n\n").encode()


def test_payload_is_forwarded_whole() -> None:
    master = FakeMaster()
    session = MasterCliSession(master, make_registry())
    session.feed(b"@1 add map #0 <<\n1.2.3.4 A\n")
    assert session.next_step() is None and not session.closed
    session.feed(b"5.6.7.8 B\n\n")
    step = session.next_step()
    assert step == Forward(WORKER_PID, b"add map #0 <<\n1.2.3.4 A\n5.6.7.8 B\n\n", b"")


def test_show_proc_layout() -> None:
    master = Proc(5085, "master", reloads=1, started=0.0, version=HAPROXY_VERSION)
    kids = [
        Proc(23401, WORKER, started=198.0, version=HAPROXY_VERSION),
        Proc(5090, WORKER, reloads=1, started=0.0, leaving=True, version=HAPROXY_VERSION),
        Proc(23400, PROGRAM, "sleeper_restart", started=197.0),
    ]
    assert (format_show_proc(master, 0, kids, now=200.0) + "\n").encode() == transcript(
        "442_master_show_proc_after_reload.txt"
    )
    assert format_uptime(4 * 86400 + 3 * 3600 + 62) == "4d03h01m02s"
