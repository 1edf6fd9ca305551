"""`capture cookie` parsing and the %CC/%CS fields (cases checked against haproxy 2.6)."""

from __future__ import annotations

from types import SimpleNamespace

from lb.captures import request_cookie, response_cookie
from lb.logging_.logformat import compile_log_format


def test_request_cookie_first_prefix_match_across_headers():
    values = [b"a=1; SESSION=abcdefghijklmnop; SESS=zz"]
    assert request_cookie(values, b"SESS", 12) == "SESSION=abcd"
    assert request_cookie([b"x=1", b"SESSa=q"], b"SESS", 63) == "SESSa=q"
    # `NAME=` matches the exact name only
    assert request_cookie([b"SESSX=1; SESS=ok"], b"SESS=", 63) == "SESS=ok"


def test_request_cookie_spaces_commas_and_no_value():
    assert request_cookie([b"  SESS  =  v v  ; b=2"], b"SESS", 63) == "SESS=v v"
    assert request_cookie([b"a=1, SESS=comma"], b"SESS", 63) == "SESS=comma"
    assert request_cookie([b"SESS"], b"SESS", 63) is None  # no `=`: not a cookie
    assert request_cookie([b"SESS="], b"SESS", 63) == "SESS="
    assert request_cookie([b"S=2"], b"S", 0) == ""  # found, but nothing kept


def test_response_cookie_ignores_attributes_and_commas():
    assert response_cookie([b"SESSX=val; path=/"], b"SESS", 63) == "SESSX=val"
    assert response_cookie([b"other=1", b"SESS=2"], b"SESS", 63) == "SESS=2"
    assert response_cookie([b"SESS = x ; a"], b"SESS", 63) == "SESS=x"
    assert response_cookie([b"a=1, SESS=cc"], b"SESS", 63) is None
    assert response_cookie([b"SESS"], b"SESS", 63) is None


def test_raw_bytes_round_trip_to_the_log_line():
    text = request_cookie(["SESS=é#".encode()], b"SESS", 63)
    assert text is not None
    assert text.encode("utf-8", "surrogateescape") == "SESS=é#".encode()


def test_cc_cs_fields_dash_only_when_absent():
    render = compile_log_format("%CC %CS %{+Q}CC|", hostname="h")
    ctx = SimpleNamespace(captured_request_cookie="", captured_response_cookie=None)
    assert render(ctx) == ' - ""|'
    ctx = SimpleNamespace(captured_request_cookie="A=1", captured_response_cookie="B=2")
    assert render(ctx) == 'A=1 B=2 "A=1"|'
