"""`setenv`, `presetenv`, `unsetenv`, `resetenv`: the environment changes as the file
is read, so a later line's `${NAME}` sees it; compared with HAProxy 2.6 serving the
same file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from itest import HOST, free_port, get, haproxy_serving, run_lb

pytestmark = pytest.mark.timeout(30)


BODY = "${A}|${B}|${C}|${D-unset}|${HOME-nohome}"


def env_cfg(port: int) -> str:
    return f"""\
global
    setenv A b c
    presetenv A c
    presetenv B d
    setenv C "x y"
    setenv D gone
    unsetenv D
    log-tag "${{C}}"
    resetenv A C
    presetenv B again

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind {HOST}:{port}
    http-request return status 200 content-type text/plain string "{BODY}"
"""


def test_environment_changes_as_the_file_is_read(lb, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("A", "from-outside")
    monkeypatch.setenv("HOME", "/root-like")
    want = "b|again|x y|unset|nohome"
    port = free_port()
    lb(env_cfg(port))
    assert get(port, "/").body.decode() == want
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        return
    ref_port = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(env_cfg(ref_port))
    with haproxy_serving(cfg, [ref_port]):
        assert get(ref_port, "/").body.decode() == want


@pytest.mark.parametrize(
    ("line", "alert"),
    [
        ("setenv", "'setenv' expects a name and a value."),
        ("setenv A", "'setenv' expects a name and a value."),
        ("presetenv A", "'presetenv' expects a name and a value."),
        ("unsetenv", "'unsetenv' expects at least one variable name."),
    ],
)
def test_environment_keyword_errors(tmp_path: Path, line: str, alert: str) -> None:
    f = tmp_path / "e.cfg"
    f.write_text(f"global\n    {line}\n")
    out = run_lb("-c", "-f", str(f))
    assert out.returncode == 1
    assert f"config : parsing [{f}:2]: {alert}\n" in out.stderr, out.stderr
