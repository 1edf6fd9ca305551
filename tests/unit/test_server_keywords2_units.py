"""Sans-IO parts of `minconn`, `redir` and the external check."""

from __future__ import annotations

from lb.checks.external import time_limit_ms
from lb.checks.params import CheckParams
from lb.server_minconn import dynamic_maxconn
from lb.server_redir import location_target, redirect_response


def test_dynamic_maxconn_ramp() -> None:
    # minconn 100, maxconn 1000, fullconn 10000 (the manual's example)
    assert dynamic_maxconn(1000, 100, 0, 10000) == 100
    assert dynamic_maxconn(1000, 100, 5000, 10000) == 500
    assert dynamic_maxconn(1000, 100, 9999, 10000) == 999
    assert dynamic_maxconn(1000, 100, 10000, 10000) == 1000
    assert dynamic_maxconn(1000, 100, 20000, 10000) == 1000
    assert dynamic_maxconn(20, 20, 0, 100) == 20  # no ramp
    assert dynamic_maxconn(0, 5, 0, 100) == 0  # no limit


def test_redirect_location() -> None:
    assert location_target(b"/a/b?c=1") == b"/a/b?c=1"
    assert location_target(b"http://h.example/p?q") == b"/p?q"
    assert location_target(b"http://h.example") == b"/"
    assert redirect_response(b"http://x", b"/y").endswith(
        b"location: http://x/y\r\nconnection: close\r\n\r\n"
    )


def test_external_time_limit() -> None:
    assert time_limit_ms(CheckParams(inter=500, timeout_check=1000)) == 500
    assert time_limit_ms(CheckParams(inter=2000, timeout_check=1000)) == 1000
    assert time_limit_ms(CheckParams(inter=2000)) == 2000
