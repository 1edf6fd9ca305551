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


# Keywords HAProxy knows but lb does not act on: refused, never silently accepted.
# (section, line, expected alert body after "parsing [file:line] : " or "[file:line] : ")
_HEAD = "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
_SERVER_REJECTED = {
    "proto": "proto h2",
    "namespace": "namespace ns1",
}
_PROXY_REJECTED = {
    "persist": ("backend", "persist rdp-cookie"),
}
_OPTION_REJECTED = [
    "dontlog-normal",
    "contstats",
    "socket-stats",
    "independent-streams",
    "http-pretend-keepalive",
    "http-ignore-probes",
    "http-use-proxy-header",
    "checkcache",
    "disable-h2-upgrade",
    "h1-case-adjust-bogus-client",
    "h1-case-adjust-bogus-server",
    "idle-close-on-response",
    "http-restrict-req-hdr-names",
    "spop-check",
    "transparent",
]
_GLOBAL_REJECTED = {
    "tune.stick-counters": "tune.stick-counters 4",
}


def _cases():
    for kw, words in _SERVER_REJECTED.items():
        text = _HEAD + f"backend be\n    server s1 127.0.0.1:80 {words}\n"
        yield f"server:{kw}", text, 6, f"[{{cfg}}:6] : 'server be/s1' : unknown keyword '{kw}'."
        text = _HEAD + f"backend be\n    default-server {words}\n    server s1 127.0.0.1:80\n"
        yield (
            f"default-server:{kw}",
            text,
            6,
            f"[{{cfg}}:6] : unknown keyword '{kw}'.",
        )
    for kw, (section, line) in _PROXY_REJECTED.items():
        bind = "    bind 127.0.0.1:1\n" if section == "frontend" else ""
        text = _HEAD + f"{section} px\n{bind}    {line}\n"
        n = 7 if bind else 6
        msg = f"parsing [{{cfg}}:{n}] : unknown keyword '{kw}' in '{section}' section"
        yield f"proxy:{kw}", text, n, msg
    for name in _OPTION_REJECTED:
        text = _HEAD + f"backend be\n    option {name}\n"
        yield f"option:{name}", text, 6, f"parsing [{{cfg}}:6] : unknown option '{name}'."
    for kw, line in _GLOBAL_REJECTED.items():
        text = f"global\n    {line}\n" + _HEAD
        msg = f"parsing [{{cfg}}:2] : unknown keyword '{kw}' in 'global' section"
        yield f"global:{kw}", text, 2, msg


_CASES = list(_cases())


@pytest.mark.parametrize(
    ("text", "line", "msg"), [c[1:] for c in _CASES], ids=[c[0] for c in _CASES]
)
def test_unimplemented_keywords_refused(tmp_path, text, line, msg):
    cfg = tmp_path / "k.cfg"
    cfg.write_text(text)
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Configuration file is valid" not in r.stdout
    assert msg.format(cfg=cfg) in r.stderr, r.stderr


@pytest.mark.parametrize(
    ("line", "msg"),
    [
        (
            "nbproc 2",
            "nbproc is not supported any more since HAProxy 2.5. Threads will automatically "
            "be used on multi-processor machines if available.",
        ),
    ],
)
def test_global_removed_keywords_haproxy_words(tmp_path, line, msg):
    cfg = tmp_path / "g.cfg"
    cfg.write_text(f"global\n    {line}\n" + _HEAD)
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 1
    assert f"parsing [{cfg}:2] : {msg}" in r.stderr


def test_option_forceclose_haproxy_words(tmp_path):
    cfg = tmp_path / "f.cfg"
    cfg.write_text(_HEAD + "backend be\n    option forceclose\n")
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 1
    assert f"[{cfg}:6" in r.stderr
    assert "option 'forceclose' is not supported any more since HAProxy 2.0" in r.stderr


def test_performance_only_keywords_still_accepted(tmp_path):
    cfg = tmp_path / "p.cfg"
    cfg.write_text(
        "global\n    nosplice\n    busy-polling\n    tune.ssl.default-dh-param 2048\n"
        + _HEAD
        + "frontend fe\n    bind 127.0.0.1:1\n    default_backend be\n"
        + "backend be\n    option splice-auto\n    option http-no-delay\n"
        "    server s1 127.0.0.1:80\n"
    )
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 0, r.stderr


def test_unknown_user_and_group_haproxy_words(tmp_path):
    cfg = tmp_path / "u.cfg"
    cfg.write_text("global\n    user nosuchuser-lb\n    group nosuchgroup-lb\n" + _HEAD)
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 1
    assert f"parsing [{cfg}:2] : cannot find user id for 'nosuchuser-lb' (0:Success)" in r.stderr
    assert f"parsing [{cfg}:3] : cannot find group id for 'nosuchgroup-lb' (0:Success)" in r.stderr


def test_replace_header_arguments_checked(tmp_path):
    cfg = tmp_path / "r.cfg"
    cfg.write_text(_HEAD + "frontend fe\n    http-request replace-header X-A\n")
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 1
    assert (
        f"parsing [{cfg}:6] : error detected in frontend 'fe' while parsing 'http-request "
        in r.stderr
    )
    assert "'replace-header' expects exactly 3 arguments." in r.stderr


def test_grace_haproxy_words(tmp_path):
    cfg = tmp_path / "g.cfg"
    cfg.write_text(_HEAD + "frontend fe\n    grace 10s\n")
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 1
    want = "the 'grace' keyword is not supported any more since HAProxy version 2.5."
    assert f"parsing [{cfg}:6]: {want}" in r.stderr, r.stderr
