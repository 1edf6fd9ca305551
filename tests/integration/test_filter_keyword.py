"""`filter compression` and `filter cache NAME`: accepted as declarations of the
filters lb applies anyway, with HAProxy 2.6's alerts for every misuse (compared with
`haproxy -c` where it is installed); other filter kinds are refused by name."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from itest import run_lb

pytestmark = pytest.mark.timeout(60)

HEAD = """cache c1
    total-max-size 4
defaults
    mode http
    timeout client 1s
    timeout server 1s
    timeout connect 1s
frontend f
    bind 127.0.0.1:1
"""
TAIL = "    default_backend b\nbackend b\n    server s 127.0.0.1:1\n"
CASES = {
    "declared": "    filter cache c1\n    filter compression\n    compression algo gzip\n"
    "    http-request cache-use c1\n    http-response cache-store c1\n",
    "implicit": "    compression algo gzip\n    http-request cache-use c1\n",
    "unknown kind": "    filter bogus\n",
    "no cache name": "    filter cache\n",
    "extra word": "    filter compression extra\n",
    "twice compression": "    filter compression\n    filter compression\n",
    "twice cache": "    filter cache c1\n    filter cache c1\n",
    "unknown cache": "    filter cache nope\n",
    "compression before implicit cache": "    filter compression\n    http-request cache-use c1\n",
    "no argument": "    filter\n",
    "compression then cache": "    filter compression\n    filter cache c1\n",
}


def alerts(text: str) -> list[str]:
    """The alert lines, pids and paths masked."""
    text = re.sub(r"\(\d+\)", "(PID)", text)
    text = re.sub(r"\[[^\]]*c\.cfg:", "[c.cfg:", text)
    return [ln for ln in text.splitlines() if not ln.startswith("[NOTICE]")]


@pytest.mark.parametrize("name", list(CASES))
def test_filter_lines(name: str, tmp_path: Path) -> None:
    cfg = tmp_path / "c.cfg"
    cfg.write_text(HEAD + CASES[name] + TAIL)
    r = run_lb("-c", "-f", str(cfg))
    valid = name in ("declared", "implicit")
    assert (r.returncode == 0) == valid, r.stderr
    if not valid:
        assert "filter" in r.stderr
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        return
    ref = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert ref.returncode == r.returncode
    assert alerts(r.stderr) == alerts(ref.stderr)


def test_other_kinds_refused_by_name(tmp_path: Path) -> None:
    cfg = tmp_path / "c.cfg"
    cfg.write_text(HEAD + "    filter trace\n" + TAIL)
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 1
    assert f"parsing [{cfg}:10] : 'filter trace' is not supported." in r.stderr
