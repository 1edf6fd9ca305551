"""Master CLI replies of a live `lb -W` compared byte for byte with HAProxy 2.6.12.

Pids, uptimes and the version string are masked.  Where lb follows the documented
intent instead of 2.6.12 (a `no option start-on-reload` program keeps running across
reloads), the expected text is the reference plus that program's line, said below.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.test_mworker import Master, master, wait_until  # noqa: F401

REF = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "haproxy-2.6"
TRANSCRIPTS = REF / "transcripts"

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not TRANSCRIPTS.exists(), reason="reference transcripts not available"),
]

BACKENDS = """\
backend be_app
    server app1 127.0.0.1:1
backend be_static
    server static1 127.0.0.1:1
backend tcp_echo
    mode tcp
    server tcp1 127.0.0.1:1
"""

LOCAL = {
    "400_master_help.txt": "help",
    "402_master_show_cli_sockets.txt": "show cli sockets",
    "403_master_show_cli_level.txt": "show cli level",
    "404_master_operator_level.txt": "operator; show cli level",
    "405_master_user_level.txt": "user; show cli level",
    "409_master_at1_show_backend.txt": "@1 show backend",
    "410_master_at1_show_cli_level.txt": "@1 show cli level",
    "411_master_operator_at1_level.txt": "operator; @1 show cli level",
    "412_master_user_at1_level.txt": "user; @1 show cli level",
    "413_master_unknown.txt": "foobar",
    "414_master_at2.txt": "@2 show info",
    "415_master_atpid_nosuch.txt": "@!99999 show info",
    "416_master_show_version.txt": "show version",
    "417_master_show_info.txt": "show info",
    "419_master_semicolon.txt": "show version; @1 show backend; show cli level",
    "420_master_at1_semicolon.txt": "@1 show version; show backend",
    "421_master_user_reload.txt": "user; reload",
    "422_master_at_bad.txt": "@foo show info",
    "423_master_empty.txt": "",
}


def mask(data: bytes) -> str:
    text = data.decode()
    text = re.sub(r"2\.6\.12(-1\+deb12u4)?", "VERSION", text)
    text = re.sub(r"VERSION +$", "VERSION", text, flags=re.M)
    text = re.sub(r"^\d+ +", "PID ", text, flags=re.M)
    text = re.sub(r"\b\d+> ", "PID> ", text)
    return re.sub(r"\d+d\d\dh\d\dm\d\ds", "UPTIME", text)


def ref(name: str, keep_reloads: int | None = None) -> str:
    """The masked reference; ``keep_reloads`` adds lb's still-running kept program."""
    text = mask((TRANSCRIPTS / name).read_bytes())
    if keep_reloads is not None and "sleeper_keep" not in text:
        line = f"PID sleeper_keep    {keep_reloads:<15} UPTIME     -              \n"
        text = text.replace("\n\n", "\n" + line + "\n", 1) if text.endswith("\n\n") else text
    return text


@pytest.fixture
def lbm(master: Callable[..., Master]) -> Master:  # noqa: F811
    m = master()
    m.write_cfg(extra=BACKENDS)
    return m.start()


def test_master_cli_single_commands_match_reference(lbm: Master) -> None:
    mismatches = {}
    for name, command in LOCAL.items():
        got = mask(lbm.cli(command + "\n"))
        if got != ref(name):
            mismatches[name] = (got, ref(name))
    assert not mismatches


def test_master_cli_prompt_session_matches_reference(lbm: Master) -> None:
    import socket

    steps = [
        "prompt",
        "show version",
        "@1",
        "show backend",
        "@master",
        "show cli level",
        "operator",
        "show cli level",
    ]
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(lbm.sock)
        s.settimeout(3)
        out = b""
        for step in steps:
            s.sendall(step.encode() + b"\n")
            time.sleep(0.15)
        time.sleep(0.3)
        s.shutdown(socket.SHUT_WR)
        while chunk := s.recv(65536):
            out += chunk
    assert mask(out) == ref("430_master_prompt_session.txt")


def test_master_cli_reload_sequence_matches_reference(lbm: Master) -> None:
    """440-461: reloads, an old worker, a broken configuration and the recovery."""
    assert mask(lbm.cli("show proc\n")) == ref("440_master_show_proc_before_reload.txt")
    lbm.reload()
    # 442 lists the old worker until it is gone; it goes fast here (no open connection)
    assert wait_until(lambda: "old" not in lbm.procs())
    assert mask(lbm.cli("show proc\n")) == ref("453_master_show_proc_after_old_worker_exit.txt", 1)
    assert mask(lbm.cli("help\n")) == ref("446_master_help_after_reload.txt")
    lbm.reload()
    assert wait_until(lambda: "old" not in lbm.procs())
    assert mask(lbm.cli("show proc\n")) == ref("457_master_show_proc_after_reload_2.txt", 2)
    good = lbm.cfg.read_text()
    lbm.cfg.write_text(good + "\nprogram broken\n    this_is_not_a_keyword\n")
    assert lbm.cli("reload\n") == b""  # 458: 0 bytes
    assert wait_until(lambda: "Loading failure!" in lbm.stderr())
    assert mask(lbm.cli("show proc\n")) == ref("459_master_show_proc_after_failed_reload.txt", 3)
    lbm.cfg.write_text(good)
    lbm.reload()
    assert wait_until(lambda: "old" not in lbm.procs())
    assert mask(lbm.cli("show proc\n")) == ref("461_master_show_proc_after_recover.txt", 4)


def test_master_cli_old_worker_listed_while_busy(lbm: Master) -> None:
    """442: the previous worker stays under `# old workers` while a connection is open."""
    import socket

    with socket.create_connection(("127.0.0.1", lbm.port)) as held:
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # an unfinished request
        time.sleep(0.2)
        lbm.reload()
        got = mask(lbm.cli("show proc\n"))
        expected = ref("442_master_show_proc_after_reload.txt", 1)
        assert got == expected
    assert wait_until(lambda: "old" not in lbm.procs())
