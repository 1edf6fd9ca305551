"""The configuration parser: defaults inheritance, named defaults, several
global sections, keyword errors with file:line."""

from __future__ import annotations

import pytest

from lb.config.parser import ConfigErrors, parse_string


def parse(text: str):
    return parse_string(text, "t.cfg")


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as ei:
        parse(text)
    return ei.value.lines


BASE = """
defaults
    mode http
    timeout client 5s
    timeout server 7s
    timeout connect 1s
    retries 5
    option forwardfor
"""


def test_defaults_inherited():
    cfg = parse(
        BASE + "frontend fe\n    bind 127.0.0.1:1\n    default_backend be\n"
        "backend be\n    timeout server 9s\n    server s 127.0.0.1:2\n"
    )
    fe, be = cfg.proxy("fe"), cfg.proxy("be")
    assert fe.mode == be.mode == "http"
    assert fe.timeouts["client"] == 5000
    assert be.timeouts["server"] == 9000 and be.timeouts["connect"] == 1000
    assert be.retries == 5
    assert be.options.get("forwardfor")
    assert fe.default_backend[0] == "be"


def test_later_defaults_replace_earlier_ones():
    cfg = parse(
        BASE
        + "backend a\n    server s 127.0.0.1:2\n"
        + "defaults\n    mode tcp\n    timeout server 3s\n"
        + "backend b\n    server s 127.0.0.1:2\n"
    )
    a, b = cfg.proxy("a"), cfg.proxy("b")
    assert a.mode == "http" and a.timeouts["server"] == 7000
    assert b.mode == "tcp" and b.timeouts["server"] == 3000
    assert "client" not in b.timeouts  # an anonymous defaults section starts afresh
    assert not b.options.get("forwardfor")


def test_named_defaults_and_from():
    cfg = parse(
        "defaults web\n    mode http\n    timeout server 4s\n"
        "defaults raw\n    mode tcp\n    timeout server 2s\n"
        "backend h from web\n    server s 127.0.0.1:2\n"
        "backend t from raw\n    server s 127.0.0.1:2\n"
        "backend last\n    server s 127.0.0.1:2\n"
    )
    assert cfg.proxy("h").mode == "http" and cfg.proxy("h").timeouts["server"] == 4000
    assert cfg.proxy("t").mode == "tcp" and cfg.proxy("t").timeouts["server"] == 2000
    # without `from`, the last defaults section applies
    assert cfg.proxy("last").mode == "tcp"


def test_defaults_from_defaults():
    cfg = parse(
        "defaults base\n    mode http\n    timeout client 1s\n"
        "defaults more from base\n    timeout server 2s\n"
        "backend b from more\n    server s 127.0.0.1:2\n"
    )
    b = cfg.proxy("b")
    assert b.mode == "http" and b.timeouts == {"client": 1000, "server": 2000} | {
        k: v for k, v in b.timeouts.items() if k not in ("client", "server")
    }


def test_unknown_defaults_in_from():
    lines = errors("backend b from nosuch\n")
    assert any("parsing [t.cfg:1]" in ln and "'nosuch'" in ln for ln in lines), lines


def test_unknown_defaults_in_from_then_keywords():
    lines = errors("backend b from nosuch\n    server s 127.0.0.1:2\n")
    assert any("defaults section 'nosuch' not found for backend 'b'." in ln for ln in lines)


def test_several_global_sections_merge():
    cfg = parse("global\n    maxconn 100\nglobal\n    tune.bufsize 32768\n" + BASE)
    assert cfg.global_.maxconn == 100
    assert cfg.global_.bufsize == 32768


def test_keyword_errors_name_file_and_line():
    lines = errors(
        "global\n    nosuchglobal 1\n"
        + BASE
        + "frontend fe\n    bind 127.0.0.1:1\n    frobnicate\n    timeout client 5parsecs\n"
    )
    assert any(
        ln.startswith("parsing [t.cfg:2] : unknown keyword 'nosuchglobal' in 'global'")
        for ln in lines
    ), lines
    assert any(
        ln.startswith("parsing [t.cfg:13] : unknown keyword 'frobnicate' in 'frontend'")
        for ln in lines
    ), lines
    assert any(ln.startswith("parsing [t.cfg:14] : ") and "timeout client" in ln for ln in lines), (
        lines
    )


def test_keyword_out_of_section():
    lines = errors("maxconn 10\n")
    assert lines == ["parsing [t.cfg:1] : unknown keyword 'maxconn' out of section."]


def test_duplicate_proxy_name():
    lines = errors(
        BASE + "backend be\n    server s 127.0.0.1:2\nbackend be\n    server s 127.0.0.1:3\n"
    )
    assert any(
        "backend 'be' has the same name as backend 'be' declared at t.cfg:9" in ln for ln in lines
    ), lines


def test_frontend_and_backend_may_share_a_name():
    cfg = parse(
        BASE + "frontend x\n    bind 127.0.0.1:1\n    default_backend x\n"
        "backend x\n    server s 127.0.0.1:2\n"
    )
    assert [p.kind for p in cfg.proxies] == ["frontend", "backend"]


def test_unknown_backend_references():
    lines = errors(
        BASE + "frontend fe\n    bind 127.0.0.1:1\n    use_backend nope\n    default_backend nada\n"
    )
    text = "\n".join(lines)
    assert "Proxy 'fe': unable to find required use_backend: 'nope'." in text
    assert "Proxy 'fe': unable to find required default_backend: 'nada'." in text


def test_default_backend_inherited_from_defaults():
    cfg = parse(
        "defaults\n    mode http\n    default_backend be\n"
        "frontend fe\n    bind 127.0.0.1:1\nbackend be\n    server s 127.0.0.1:2\n"
    )
    assert cfg.proxy("fe").default_backend[0] == "be"


def test_no_ssl_undoes_default_server_ssl():
    cfg = parse(
        BASE + "backend be\n    default-server ssl verify none\n"
        "    server a 127.0.0.1:2\n    server b 127.0.0.1:3 no-ssl\n"
    )
    a, b = cfg.proxy("be").servers
    assert a.options.get("ssl") and not b.options.get("ssl")


@pytest.mark.parametrize("opt", ["proto h2", "namespace x"])
def test_unacted_server_options_refused(opt):
    lines = errors(BASE + f"backend be\n    server s 127.0.0.1:2 {opt}\n")
    assert any(
        f"[t.cfg:10] : 'server be/s' : unknown keyword '{opt.split()[0]}'." in ln for ln in lines
    )
