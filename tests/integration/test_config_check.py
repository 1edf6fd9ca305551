"""`lb -c`: every example configuration is accepted, every broken one is refused
with HAProxy's alert naming file and line, and exit code 1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from itest import REPO, run_lb

pytestmark = pytest.mark.timeout(60)

BROKEN = Path(__file__).parent / "broken"

# file -> (line in the alert or None for a whole-config check, words of the message)
EXPECTED = {
    "unknown_keyword.cfg": (10, "unknown keyword 'frobnicate' in 'frontend' section"),
    "bad_bind_port.cfg": (5, "invalid port '99999'"),
    "bad_time_unit.cfg": (3, "unexpected character 'p' in 'timeout client'"),
    "unknown_default_backend.cfg": (
        None,
        "Proxy 'fe': unable to find required default_backend: 'nosuch'.",
    ),
    "unknown_use_backend.cfg": (None, "Proxy 'fe': unable to find required use_backend: 'nosuch'."),
    "duplicate_proxy.cfg": (11, "backend 'be' has the same name as backend 'be' declared at"),
    "bad_address.cfg": (9, "'server be/s1' : could not resolve address '999.1.2.3'."),
}
ALERT = re.compile(r"^\[ALERT\]    \((\d+)\) : config : (.*)$")


@pytest.mark.parametrize("cfg", sorted(p.name for p in (REPO / "conf").glob("*.cfg")))
def test_examples_are_valid(cfg):
    r = run_lb("-c", "-f", str(REPO / "conf" / cfg))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Configuration file is valid\n"
    assert "[ALERT]" not in r.stderr


def test_every_broken_file_has_an_expectation():
    assert sorted(p.name for p in BROKEN.glob("*.cfg")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_configs_refused(name):
    path = BROKEN / name
    r = run_lb("-c", "-f", str(path))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Configuration file is valid" not in r.stdout
    alerts = [ALERT.match(ln) for ln in r.stderr.splitlines() if ln.startswith("[ALERT]")]
    assert alerts and all(alerts), r.stderr
    bodies = [m.group(2) for m in alerts if m]
    line, words = EXPECTED[name]
    if line is not None:
        want = {
            "duplicate_proxy.cfg": f"Parsing [{path}:{line}]: ",
            "bad_address.cfg": f"[{path}:{line}] : ",  # HAProxy words server errors so
        }.get(name, f"parsing [{path}:{line}] : ")
        hits = [b for b in bodies if b.startswith(want)]
        assert hits, (want, bodies)
        assert words in hits[0]
        assert f"Error(s) found in configuration file : {path}" in bodies
    else:
        assert words in bodies
    assert bodies[-1] == "Fatal errors found in configuration."


def test_check_reports_all_errors_at_once(tmp_path):
    cfg = tmp_path / "two.cfg"
    cfg.write_text(
        "defaults\n    mode http\n    bogus1\nfrontend fe\n    bind 127.0.0.1:1\n    bogus2 x\n"
    )
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 1
    assert f"parsing [{cfg}:3] : unknown keyword 'bogus1'" in r.stderr
    assert f"parsing [{cfg}:6] : unknown keyword 'bogus2'" in r.stderr
