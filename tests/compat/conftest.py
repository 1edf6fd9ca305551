"""One `lb` process on the reference configuration, shared by the compat tests of a module.

The tests replay the reference commands in the reference's execution order, so the
process lives for the whole module; it and the backends are stopped in the finalizer
(SIGTERM by pid, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tests.compat.helpers` also under a bare `pytest`
    sys.path.insert(0, str(REPO))

from tests.compat.helpers import (  # noqa: E402
    LIVE_BACKENDS,
    REF,
    REF_PORTS,
    HttpBackend,
    Masker,
    cli,
    free_port,
    rewrite_config,
)


@dataclass
class RefLB:
    """The running instance: its socket, port map and masker."""

    sock: Path
    ports: dict[int, int]
    masker: Masker
    proc: subprocess.Popen[bytes]
    err_path: Path

    def cli(self, command: str) -> str:
        for ref, ours in self.ports.items():
            command = command.replace(str(ref), str(ours)) if str(ref) in command else command
        return self.masker.ports(cli(self.sock, command).decode("utf-8", "replace"))

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_for(self, command: str, needle: str, timeout: float = 15.0) -> str:
        """Repeat `command` until its reply contains `needle` (bounded)."""
        deadline = time.monotonic() + timeout
        reply = ""
        while time.monotonic() < deadline:
            reply = self.cli(command)
            if needle in reply:
                return reply
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} never appeared in {command!r}: {reply}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(3)


@pytest.fixture(scope="module")
def ref_lb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RefLB]:
    tmp = tmp_path_factory.mktemp("ref")
    ports = {ref: free_port() for ref in REF_PORTS}
    for name in ("whitelist.lst", "ip-country.lst"):
        (tmp / name).write_bytes((REF / name).read_bytes())
    cfg = tmp / "haproxy.cfg"
    cfg.write_text(rewrite_config((REF / "haproxy.cfg").read_text(), tmp, ports))
    backends = [HttpBackend(f"b{ref}", ports[ref]) for ref in LIVE_BACKENDS]
    err_path = tmp / "lb.err"
    with open(tmp / "lb.out", "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lb", "-f", str(cfg)],
            cwd=REPO,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    inst = RefLB(tmp / "admin.sock", ports, Masker(ports), proc, err_path)
    try:
        deadline = time.monotonic() + 10
        while not _accepts(inst.sock) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert _accepts(inst.sock), f"lb did not start: {inst.stderr}"
        # the reference was captured with every check settled (tcp2 DOWN after one failure)
        inst.wait_for("show stat", "tcp_echo,tcp2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,")
        inst.wait_for("show stat", "be_app,app3,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,")
        deadline = time.monotonic() + 15
        while ",INI," in inst.cli("show stat") and time.monotonic() < deadline:
            time.sleep(0.2)
        yield inst
    finally:
        _stop(proc)
        for b in backends:
            b.close()


def _accepts(path: Path) -> bool:
    """The socket file exists before it listens: wait until a connect succeeds."""
    import socket

    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True
