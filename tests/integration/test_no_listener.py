"""A configuration that would listen nowhere: `lb -c` says so and exits 2, starting
it is refused (exit 1), and a check with warnings says "Warnings were found." first;
each compared with HAProxy 2.6 where it is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from itest import run_lb

pytestmark = pytest.mark.timeout(60)

TIMEOUTS = "    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\n"
CASES = {
    "backend only": f"defaults\n    mode http\n{TIMEOUTS}backend b\n    server s 127.0.0.1:1\n",
    "disabled frontend": f"defaults\n{TIMEOUTS}frontend f\n    disabled\n    bind 127.0.0.1:1\n",
    "stats socket": "global\n    stats socket {tmp}/s.sock\n" + f"defaults\n{TIMEOUTS}",
    "warnings": "defaults\n    mode http\nfrontend f\n    bind 127.0.0.1:1\n",
    "local peer": "peers p\n    peer me 127.0.0.1:1\n" + f"defaults\n{TIMEOUTS}",
}


def check(cmd: list[str], cfg: Path) -> tuple[int, str]:
    r = subprocess.run([*cmd, "-c", "-L", "me", "-f", str(cfg)], capture_output=True, text=True)
    return r.returncode, r.stdout


@pytest.mark.parametrize("name", list(CASES))
def test_check_counts_listeners(name: str, tmp_path: Path) -> None:
    cfg = tmp_path / "c.cfg"
    cfg.write_text(CASES[name].format(tmp=tmp_path))
    r = run_lb("-c", "-L", "me", "-f", str(cfg))
    expected = {
        "backend only": (2, "Configuration file has no error but will not start (no listener)"),
        "disabled frontend": (2, "will not start (no listener) => exit(2).\n"),
        "stats socket": (0, "Configuration file is valid\n"),
        "warnings": (0, "Warnings were found.\nConfiguration file is valid\n"),
        "local peer": (0, "Configuration file is valid\n"),
    }[name]
    assert r.returncode == expected[0], r.stderr
    assert expected[1] in r.stdout
    haproxy = shutil.which("haproxy")
    if haproxy is not None:
        assert check([haproxy], cfg) == (r.returncode, r.stdout)


def test_start_without_listener_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.cfg"
    cfg.write_text(CASES["backend only"])
    r = run_lb("-f", str(cfg), timeout=10)
    assert r.returncode == 1
    assert "No enabled listener found (check for 'bind' directives) ! Exiting." in r.stderr
