"""lb.log against lines captured from haproxy 2.6.12 (Debian 2.6.12-1+deb12u4).

Every expected line below was produced by a real haproxy on 127.0.0.1 (stdout
raw logs, or datagrams read from a UDP socket); the fake contexts carry the
values of the captured sessions.
"""

from __future__ import annotations

import asyncio
import calendar
import os
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from lb.log import (
    CLF_LOG_FORMAT,
    HTTP_LOG_FORMAT,
    HTTPS_LOG_FORMAT,
    LEGACY_HTTP_LOG_FORMAT,
    LEGACY_TCP_LOG_FORMAT,
    TCP_LOG_FORMAT,
    Logger,
    compile_log_format,
    format_notice,
    legacy_log_format,
    parse_log_line,
)
from lb.logging_ import logformat


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def at(date: str, frac: float = 0.0) -> float:
    """``21/Nov/2026:22:45:32`` (UTC) plus a fraction, nudged off float edges."""
    return calendar.timegm(time.strptime(date, "%d/%b/%Y:%H:%M:%S")) + frac + 2e-7


def ctx(**kw):
    base = dict(
        client_ip="127.0.0.1",
        client_port=40362,
        frontend_ip="127.0.0.1",
        frontend_port=19080,
        backend_src_ip="127.0.0.1",
        backend_src_port=40000,
        server_ip="127.0.0.1",
        server_port=19001,
        accept_time=at("21/Nov/2026:22:45:32", 0.764),
        request_time=at("21/Nov/2026:22:45:32", 0.764),
        frontend_name="fe_http",
        frontend_is_ssl=False,
        backend_name="be",
        server_name="s1",
        t_handshake=0,
        t_idle=0,
        t_request=0,
        t_queue=0,
        t_connect=0,
        t_response=4,
        t_active=4,
        t_total=4,
        status=200,
        bytes_out=185,
        bytes_in=80,
        term_state="--",
        actconn=1,
        feconn=1,
        beconn=0,
        srv_conn=0,
        retries=0,
        redispatched=False,
        srv_queue=0,
        backend_queue=0,
        captured_request_headers=None,
        captured_response_headers=None,
        method=b"GET",
        uri=b"/index.html?a=1",
        http_version=b"HTTP/1.1",
        unique_id=None,
        ssl_version=None,
        ssl_cipher=None,
    )
    base.update(kw)
    return SimpleNamespace(**base)


def parse(line: str):
    return parse_log_line(line.split())


def fake_samples(table):
    def compile_sample(expr):
        if expr not in table:
            raise ValueError(f"unknown fetch method '{expr.split(',')[0]}'.")
        value = table[expr]
        return lambda c: value(c) if callable(value) else value

    return compile_sample


# ------------------------------------------------------------ default formats


def test_httplog():
    line = compile_log_format(HTTP_LOG_FORMAT)(ctx())
    assert line == (
        "127.0.0.1:40362 [21/Nov/2026:22:45:32.764] fe_http be/s1 0/0/0/4/4 200 185 - - "
        '---- 1/1/0/0/0 0/0 "GET /index.html?a=1 HTTP/1.1"'
    )


def test_tcplog():
    c = ctx(
        client_port=33056,
        accept_time=at("21/Nov/2026:22:45:32", 0.776),
        frontend_name="fe_tcp",
        backend_name="be_tcp",
        t_idle=-1,
        t_request=-1,
        t_response=-1,
        t_active=-1,
        t_total=1,
        status=0,
        bytes_out=190,
    )
    line = compile_log_format(TCP_LOG_FORMAT, http_mode=False)(c)
    assert line == (
        "127.0.0.1:33056 [21/Nov/2026:22:45:32.776] fe_tcp be_tcp/s1 1/0/1 190 -- 1/1/0/0/0 0/0"
    )


def test_clf():
    c = ctx(
        client_port=41054,
        accept_time=at("21/Nov/2026:22:45:32", 0.785),
        request_time=at("21/Nov/2026:22:45:32", 0.785),
        frontend_name="fe_clf",
        uri=b"/index.html",
        t_response=0,
        t_active=0,
        t_total=0,
    )
    line = compile_log_format(CLF_LOG_FORMAT)(c)
    assert line == (
        '127.0.0.1 - - [21/Nov/2026:22:45:32 +0000] "GET /index.html HTTP/1.1" 200 185 "" "" '
        '41054 785 "fe_clf" "be" "s1" 0 0 0 0 0 ---- 1 1 0 0 0 0 0 "" "" '
    )


def test_legacy_default():
    c = ctx(client_port=36670, frontend_port=19083, frontend_name="fe_plain")
    assert legacy_log_format(True) == LEGACY_HTTP_LOG_FORMAT
    assert compile_log_format(LEGACY_HTTP_LOG_FORMAT)(c) == (
        "Connect from 127.0.0.1:36670 to 127.0.0.1:19083 (fe_plain/HTTP)"
    )
    c = ctx(client_port=43590, frontend_port=19087, frontend_name="fe_tcpplain")
    assert compile_log_format(legacy_log_format(False), http_mode=False)(c) == (
        "Connect from 127.0.0.1:43590 to 127.0.0.1:19087 (fe_tcpplain/TCP)"
    )
    assert legacy_log_format(False) == LEGACY_TCP_LOG_FORMAT


def test_httpslog():
    samples = fake_samples(
        {
            "fc_err": 0,
            "ssl_fc_err,hex": "0000000000000000",
            "ssl_c_err": 0,
            "ssl_c_ca_err": 0,
            "ssl_fc_is_resumed": False,
            "ssl_fc_sni": None,
        }
    )
    c = ctx(
        client_port=34756,
        request_time=at("21/Nov/2026:22:45:32", 0.804),
        frontend_name="fe_https",
        frontend_is_ssl=True,
        uri=b"/index.html",
        t_response=1,
        t_active=1,
        t_total=1,
        ssl_version="TLSv1.3",
        ssl_cipher="TLS_AES_256_GCM_SHA384",
    )
    assert compile_log_format(HTTPS_LOG_FORMAT, samples)(c) == (
        "127.0.0.1:34756 [21/Nov/2026:22:45:32.804] fe_https~ be/s1 0/0/0/1/1 200 185 - - "
        '---- 1/1/0/0/0 0/0 "GET /index.html HTTP/1.1" 0/0000000000000000/0/0/0 '
        "-/TLSv1.3/TLS_AES_256_GCM_SHA384"
    )


def test_reference_traffic_line():
    fmt = (
        "%ci:%cp [%tr] %ft %b/%s %ST %B country=%[src,map_ip(/etc/lb/ip-country.lst)] "
        "rate=%[sc_http_req_rate(0)]"
    )
    samples = fake_samples(
        {"src,map_ip(/etc/lb/ip-country.lst)": "LO", "sc_http_req_rate(0)": lambda c: c.rate}
    )
    render = compile_log_format(fmt, samples)
    c = ctx(
        client_port=36900,
        request_time=at("21/Nov/2026:21:01:38", 0.984),
        frontend_name="fe_main",
        backend_name="be_app",
        server_name="app3",
        rate=1,
    )
    assert render(c) == (
        "127.0.0.1:36900 [21/Nov/2026:21:01:38.984] fe_main be_app/app3 200 185 country=LO rate=1"
    )
    c = ctx(
        client_port=40914,
        request_time=at("21/Nov/2026:21:02:16", 0.947),
        frontend_name="fe_main",
        frontend_is_ssl=True,
        backend_name="fe_main",
        server_name="<NOSRV>",
        status=400,
        bytes_out=0,
        rate=None,
    )
    assert render(c) == (
        "127.0.0.1:40914 [21/Nov/2026:21:02:16.947] fe_main~ fe_main/<NOSRV> 400 0 "
        "country=LO rate=-"
    )


# ------------------------------------------------------------ every variable


ALL_VARS = (
    "ci=%ci cp=%cp fi=%fi fp=%fp bi=%bi bp=%bp si=%si sp=%sp tr=%tr trg=%trg trl=%trl t=%t "
    "T=%T Tl=%Tl ft=%ft f=%f b=%b s=%s TR=%TR Tw=%Tw Tc=%Tc Tr=%Tr Ta=%Ta Tt=%Tt Th=%Th Ti=%Ti "
    "Tq=%Tq Td=%Td Tu=%Tu ST=%ST B=%B U=%U CC=%CC CS=%CS tsc=%tsc ts=%ts ac=%ac fc=%fc bc=%bc "
    "sc=%sc rc=%rc sq=%sq bq=%bq hr=%hr hrl=%hrl hs=%hs hsl=%hsl r=%r HM=%HM HU=%HU HP=%HP "
    "HPO=%HPO HQ=%HQ HV=%HV ID=%ID pid=%pid H=%H lc=%lc rt=%rt sslv=%sslv sslc=%sslc ms=%ms "
    "Ts=%Ts"
)


def test_all_variables(monkeypatch):
    monkeypatch.setattr(logformat._PROC, "pid", 6363)
    c = ctx(
        client_port=37510,
        frontend_port=19085,
        backend_src_port=40856,
        accept_time=at("21/Nov/2026:22:45:32", 0.814),
        request_time=at("21/Nov/2026:22:45:32", 0.814),
        frontend_name="fe_custom",
        t_response=0,
        t_active=0,
        t_total=0,
        bytes_in=108,
        captured_request_headers=["127.0.0.1:19085", 'a"b|c]d'],
        captured_response_headers=["SimpleHTTP/0.6 Pytho"],
        uri=b"/index.html?q=1",
        unique_id="7F000001:9286_7F000001:4A8D_6B021F0C_0005:18DB",
        request_counter=5,
    )
    line = compile_log_format(ALL_VARS, hostname="vm")(c)
    assert line == (
        "ci=127.0.0.1 cp=37510 fi=127.0.0.1 fp=19085 bi=127.0.0.1 bp=40856 si=127.0.0.1 "
        "sp=19001 tr=21/Nov/2026:22:45:32.814 trg=21/Nov/2026:22:45:32 +0000 "
        "trl=21/Nov/2026:22:45:32 +0000 t=21/Nov/2026:22:45:32.814 T=21/Nov/2026:22:45:32 +0000 "
        "Tl=21/Nov/2026:22:45:32 +0000 ft=fe_custom f=fe_custom b=be s=s1 TR=0 Tw=0 Tc=0 Tr=0 "
        "Ta=0 Tt=0 Th=0 Ti=0 Tq=0 Td=0 Tu=0 ST=200 B=185 U=108 CC=- CS=- tsc=---- ts=-- ac=1 "
        "fc=1 bc=0 sc=0 rc=0 sq=0 bq=0 hr={127.0.0.1:19085|a#22b#7Cc]d} "
        "hrl=127.0.0.1:19085 a#22b#7Cc]d hs={SimpleHTTP/0.6 Pytho} hsl=SimpleHTTP/0.6 Pytho "
        "r=GET /index.html?q=1 HTTP/1.1 HM=GET HU=/index.html?q=1 HP=/index.html "
        "HPO=/index.html HQ=?q=1 HV=HTTP/1.1 "
        "ID=7F000001:9286_7F000001:4A8D_6B021F0C_0005:18DB pid=6363 H=vm lc=0 rt=5 sslv=- "
        "sslc=- ms=814 Ts=1795301132"
    )


def test_local_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    t = at("21/Nov/2026:22:46:07", 0.552)
    fmt = "t=%t tr=%tr trg=%trg trl=%trl T=%T Tl=%Tl ms=%ms"
    assert compile_log_format(fmt)(ctx(accept_time=t, request_time=t)) == (
        "t=21/Nov/2026:17:46:07.552 tr=21/Nov/2026:17:46:07.552 "
        "trg=21/Nov/2026:22:46:07 +0000 trl=21/Nov/2026:17:46:07 -0500 "
        "T=21/Nov/2026:22:46:07 +0000 Tl=21/Nov/2026:17:46:07 -0500 ms=552"
    )


def test_timers_error_cases():
    fmt = (
        "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc "
        "%sq/%bq %hr %hs %{+Q}r Th=%Th Ti=%Ti Tq=%Tq Td=%Td Tu=%Tu Tt=%Tt U=%U si=%si sp=%sp "
        "bi=%bi bp=%bp %{+E}r"
    )
    render = compile_log_format(fmt)
    dead = ctx(
        client_port=39012,
        request_time=at("21/Nov/2026:22:46:22", 0.262),
        frontend_name="fe1",
        backend_name="dead",
        server_name="d1",
        server_port=19009,
        backend_src_port=48502,
        t_connect=-1,
        t_response=-1,
        t_active=3005,
        t_total=3005,
        status=503,
        bytes_out=217,
        bytes_in=86,
        term_state="SC",
        retries=3,
        uri=b"/dead",
    )
    assert render(dead) == (
        "127.0.0.1:39012 [21/Nov/2026:22:46:22.262] fe1 dead/d1 0/0/-1/-1/3005 503 217 - - "
        'SC-- 1/1/0/0/3 0/0 "GET /dead HTTP/1.1" Th=0 Ti=0 Tq=0 Td=-1 Tu=3005 Tt=3005 U=86 '
        "si=127.0.0.1 sp=19009 bi=127.0.0.1 bp=48502 GET /dead HTTP/1.1"
    )
    redispatched = ctx(
        client_port=39020,
        request_time=at("21/Nov/2026:22:46:25", 0.278),
        frontend_name="fe1",
        backend_name="redis",
        backend_src_port=37904,
        t_response=1,
        t_active=1,
        t_total=1,
        status=404,
        bytes_out=500,
        bytes_in=87,
        retries=1,
        redispatched=True,
        uri=b"/redis",
    )
    assert render(redispatched) == (
        "127.0.0.1:39020 [21/Nov/2026:22:46:25.278] fe1 redis/s1 0/0/0/1/1 404 500 - - ---- "
        '1/1/0/0/+1 0/0 "GET /redis HTTP/1.1" Th=0 Ti=0 Tq=0 Td=0 Tu=1 Tt=1 U=87 '
        "si=127.0.0.1 sp=19001 bi=127.0.0.1 bp=37904 GET /redis HTTP/1.1"
    )
    badreq = ctx(
        client_port=37468,
        request_time=at("21/Nov/2026:22:46:28", 0.417),
        frontend_name="fe1",
        backend_name="fe1",
        server_name="<NOSRV>",
        server_ip="-",
        server_port=0,
        backend_src_ip="",
        backend_src_port=0,
        t_request=-1,
        t_queue=-1,
        t_connect=-1,
        t_response=-1,
        t_active=200,
        t_total=200,
        status=400,
        bytes_out=0,
        bytes_in=0,
        term_state="CR",
        actconn=2,
        feconn=2,
        method=b"",
        uri=b"",
        http_version=b"",
    )
    assert render(badreq) == (
        "127.0.0.1:37468 [21/Nov/2026:22:46:28.417] fe1 fe1/<NOSRV> -1/-1/-1/-1/200 400 0 - - "
        'CR-- 2/2/0/0/0 0/0 "<BADREQ>" Th=0 Ti=0 Tq=-1 Td=-1 Tu=200 Tt=200 U=0 si=- sp=- '
        "bi=- bp=- <BADREQ>"
    )
    escaped = ctx(uri=b"/p\\a]t?x=y", frontend_name="fe1")
    assert compile_log_format("%{+Q}r %{+E}r")(escaped) == (
        '"GET /p\\a]t?x=y HTTP/1.1" GET /p\\\\a\\]t?x=y HTTP/1.1'
    )


def test_tcp_timers():
    fmt = "Tw=%Tw Tc=%Tc Tt=%Tt Th=%Th Td=%Td Tu=%Tu ts=%ts ST=%ST t=%t hr=%hr B=%B U=%U ID=%ID"
    c = ctx(
        accept_time=at("21/Nov/2026:22:45:32", 0.829),
        t_idle=-1,
        t_request=-1,
        t_response=-1,
        t_active=-1,
        t_total=1,
        status=0,
        bytes_out=190,
        bytes_in=89,
    )
    assert compile_log_format(fmt, http_mode=False)(c) == (
        "Tw=1 Tc=0 Tt=1 Th=0 Td=1 Tu=1 ts=-- ST=0 t=21/Nov/2026:22:45:32.829 hr= B=190 U=89 ID=-"
    )


# ------------------------------------------------------------ flags, captures, spaces


def test_flags_q_x_e(monkeypatch):
    monkeypatch.setattr(logformat._PROC, "pid", 0x18DB)
    fmt = (
        "Q:%{+Q}ci %{+Q}cp %{+Q}ST %{+Q}r %{+Q}ID %{+Q}HQ %{+Q}hr %{+Q}hrl %{+Q}[var(txn.none)] "
        "%{+Q}[capture.req.hdr(0)] %{+Q}f %{+Q}t %{+Q}sslv X:%{+X}ci %{+X}cp %{+X}fi %{+X}fp "
        "%{+X}Ts %{+X}rt %{+X}pid %{+X}ST %{+X}B %{+X}si %{+X}sp E:%{+E}[var(txn.e)] "
        "%{+E,+Q}[var(txn.e)] %{+E}r %{+E}hr %{+E}HU none:%[var(txn.none)] %HQ %ID %sslv %sslc "
        "%CC pct:%% %{+Q}o %ci %{-Q}cp %r"
    )
    samples = fake_samples(
        {
            "var(txn.none)": None,
            "capture.req.hdr(0)": lambda c: c.captured_request_headers[0],
            "var(txn.e)": 'a"b\\c]d',
        }
    )
    c = ctx(
        client_port=58468,
        frontend_port=19086,
        accept_time=at("21/Nov/2026:22:45:32", 0.822),
        frontend_name="fe_flags",
        status=404,
        bytes_out=500,
        uri=b'/x%20y?q="1',
        captured_request_headers=["127.0.0.1:19086", None],
        request_counter=6,
    )
    assert compile_log_format(fmt, samples)(c) == (
        'Q:"127.0.0.1" 58468 404 "GET /x%20y?q=#221 HTTP/1.1" "" "?q=#221" '
        '"{127.0.0.1:19086|}" "127.0.0.1:19086" "" "" "127.0.0.1:19086" "fe_flags" '
        '21/Nov/2026:22:45:32.822 "" X:7F000001 E464 7F000001 4A8E 6B021F0C 0006 18DB 404 500 '
        '7F000001 4A39 E:a\\"b\\\\c\\]d "a\\"b\\\\c\\]d" GET /x%20y?q=#221 HTTP/1.1 '
        "{127.0.0.1:19086|} /x%20y?q=#221 none:- ?q=#221 - - - - pct:% "
        '"127.0.0.1" 58468 "GET /x%20y?q=#221 HTTP/1.1"'
    )


def test_header_and_cookie_encoding():
    fmt = (
        "B:%hr|%{+Q}hrl|%hrl|%{+E}hr|%{+E}hrl|%hs|%CC|%CS|%{+Q}CC|%{+E}CC|%tsc|%HM|%r|%HU|%HP|"
        "%HPO|%HQ|%HV"
    )
    render = compile_log_format(fmt)
    c = ctx(
        captured_request_headers=["ex\tample", b"\\x]{y}|#\xc3\xa9".decode("latin-1")],
        captured_response_headers=["SimpleHTTP/0.6 Pytho"],
        captured_request_cookie='SID=abc"d;',
        uri=b"/p?x",
    )
    assert render(c) == (
        'B:{ex#09ample|\\x]#7By#7D#7C#23#C3#A9}|"ex#09ample" "\\x]#7By#7D#7C#23#C3#A9"|'
        "ex#09ample \\x]#7By#7D#7C#23#C3#A9|{ex#09ample|\\\\x\\]#7By#7D#7C#23#C3#A9}|"
        'ex#09ample \\\\x\\]#7By#7D#7C#23#C3#A9|{SimpleHTTP/0.6 Pytho}|SID=abc"d;|-|'
        '"SID=abc"d;"|SID=abc\\"d;|----|GET|GET /p?x HTTP/1.1|/p?x|/p|/p|?x|HTTP/1.1'
    )
    bad = ctx(term_state="PR", method=b"", uri=b"", http_version=b"")
    assert render(bad) == (
        'B:||||||-|-|""|-|PR--|<BADREQ>|<BADREQ>|<BADREQ>|<BADREQ>|<BADREQ>|<BADREQ>|<BADREQ>'
    )


def test_separators_merge_around_empty_captures():
    fmt = "A:a  b|%hr a|x %hr %hs y|%o z|%{+Q}hr %{+Q}hs w|HQ=%HQ HPO=%HPO|end "
    c = ctx(uri=b"http://ex.com:80/a/b")
    assert compile_log_format(fmt)(c) == "A:a b| a|x y| z| w|HQ= HPO=/a/b|end "
    assert compile_log_format("  %hr x")(c) == "x"
    assert compile_log_format("%hr %hs %ci")(c) == "127.0.0.1"
    caps = ctx(captured_request_headers=["h"])
    assert compile_log_format("%hr %hs %ci")(caps) == "{h} 127.0.0.1"


def test_logasap_plus_signs():
    render = compile_log_format("%Tt %Ta %Tu %B %U", logasap=True)
    assert render(ctx()) == "+4 +4 +4 +185 80"


def test_literal_braces_and_percent():
    assert compile_log_format("{%ci}%%{x}'\"\\")(ctx()) == "{127.0.0.1}%{x}'\"\\"


# ------------------------------------------------------------ parse errors


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        (
            "%ci %zz",
            "no such format variable 'zz'. If you wanted to emit the '%' character verbatim, "
            "you need to use '%%'.",
        ),
        (
            "%Tz9",
            "no such format variable 'Tz9'. If you wanted to emit the '%' character verbatim, "
            "you need to use '%%'.",
        ),
        ("%", "truncated line after '%'."),
        ("%Tq%", "truncated line after '%'."),
        ("%{+Q", "truncated line after '+Q'."),
        ("%{ci", "truncated line after 'ci'."),
        ("%{+Q}", "parse argument modifier without variable name near '%{+Q}'."),
        ("%{+Q} x", "parse argument modifier without variable name near '%{+Q}'."),
        ("%[src", "missing ']' after 'src'."),
        ("%{+Q}[src", "missing ']' after 'src'."),
        (
            "%1",
            "unexpected variable name near '1' at position 1 line : '%1'. Maybe you want to "
            "write a single '%', use the syntax '%%'.",
        ),
        (
            "a% x",
            "unexpected variable name near ' ' at position 2 line : 'a% x'. Maybe you want to "
            "write a single '%', use the syntax '%%'.",
        ),
    ],
)
def test_parse_errors(fmt, message):
    with pytest.raises(ValueError) as info:
        compile_log_format(fmt, fake_samples({"src": 1}))
    assert str(info.value) == message


def test_sample_errors():
    with pytest.raises(ValueError) as info:
        compile_log_format("%[nosuchfetch] rest %ci", fake_samples({}))
    assert str(info.value) == (
        "failed to parse sample expression <nosuchfetch] rest %ci> : "
        "unknown fetch method 'nosuchfetch'."
    )
    with pytest.raises(ValueError) as info:
        compile_log_format("%[src] %[nope,lower]")
    assert str(info.value) == (
        "failed to parse sample expression <src] %[nope,lower]> : unknown fetch method 'src'."
    )
    with pytest.raises(ValueError) as info:
        compile_log_format("%[]")
    assert str(info.value) == "failed to parse sample expression <]> : missing fetch method."


def test_http_only_variable_in_tcp_mode():
    with pytest.raises(ValueError) as info:
        compile_log_format("%TR", http_mode=False)
    assert str(info.value) == "format variable 'TR' is reserved for HTTP mode."
    compile_log_format(TCP_LOG_FORMAT, http_mode=False)


def test_render_cost_is_small():
    """A coarse guard (not a benchmark): the httplog line stays well under 50 µs."""
    render = compile_log_format(HTTP_LOG_FORMAT)
    c = ctx()
    start = time.perf_counter()
    for _ in range(2000):
        render(c)
    assert (time.perf_counter() - start) / 2000 < 50e-6


# ------------------------------------------------------------ log targets


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("log 127.0.0.1 local9", "unknown log facility 'local9'"),
        ("log stdout 3", "unknown log facility '3'"),
        ("log 127.0.0.1 local0 bogus", "unknown optional log level 'bogus'"),
        ("log stdout local0 8", "unknown optional log level '8'"),
        ("log 127.0.0.1 local0 info bogus", "unknown optional minimum log level 'bogus'"),
        ("log 127.0.0.1", "expects <address> and <facility>  as arguments"),
        ("log 127.0.0.1 format bogus local0", "unknown log format 'bogus'"),
        ("log 127.0.0.1 format", "unknown log format ''"),
        ("log 127.0.0.1 len 10 local0", "invalid log length '10', must be between 80 and 65535"),
        (
            "log 127.0.0.1 len 70000 local0",
            "invalid log length '70000', must be between 80 and 65535",
        ),
        ("log 127.0.0.1 len abc local0", "invalid log length 'abc', must be between 80 and 65535"),
        ("log 127.0.0.1 len", "invalid log length '', must be between 80 and 65535"),
        ("log 127.0.0.1 sample 1:0 local0", "wrong sample size '0' for sample range '1'"),
        (
            "log 127.0.0.1 sample 2:1 local0",
            "sample size 1 should be greater or equal to 2 the maximum of the high ranges limits",
        ),
        ("log 127.0.0.1 sample 0:2 local0", "wrong sample range '0'"),
        ("log 127.0.0.1 sample 3-1:5 local0", "wrong sample range '3-1'"),
        ("log 127.0.0.1 sample x local0", "Missing sample size"),
        ("log 127.0.0.1 sample 1-2 local0", "Missing sample size"),
        ("log 127.0.0.1 local0 info warning extra", "cannot handle unexpected argument 'extra'"),
        ("log 999.1.1.1 local0", "invalid address: '999.1.1.1' in '999.1.1.1'"),
        ("log ipv6@::1 local0", "invalid address: ':' in 'ipv6@::1'"),
        ("log 127.0.0.1:99999 local0", "invalid port '99999'"),
    ],
)
def test_log_line_errors(line, message):
    with pytest.raises(ValueError) as info:
        parse(line)
    assert str(info.value) == message


def test_log_line_parsing():
    t = parse("127.0.0.1 len 80 format rfc5424 sample 1,3-4:5 daemon err")
    assert (t.kind, t.address, t.maxlen, t.format) == ("udp", ("127.0.0.1", 514), 80, "rfc5424")
    assert (t.sample_ranges, t.sample_size, t.facility, t.level) == ([(1, 1), (3, 4)], 5, 3, 3)
    t = parse_log_line(["stdout", "format", "raw", "local0"])
    assert (t.kind, t.fd, t.facility, t.level, t.minlevel) == ("fd", 1, 16, 7, 0)
    assert parse_log_line(["stderr", "daemon"]).fd == 2
    assert parse_log_line(["fd@3", "daemon"]).fd == 3
    assert parse_log_line(["unix@/tmp/x.sock", "daemon"]).path == "/tmp/x.sock"
    assert parse_log_line(["/tmp/x.sock", "daemon"]).kind == "unix"
    t = parse_log_line(["ipv6@::1:5514", "local0", "debug", "warning"])
    assert (t.address, t.family, t.level, t.minlevel) == (("::1", 5514), socket.AF_INET6, 7, 4)


# Datagrams captured from haproxy (pid 8509, TZ=UTC) for one alert and one
# info line; the pid is replaced with ours since the header uses os.getpid().
SERVER_DOWN = (
    'Server be/s2 is DOWN, reason: Layer4 connection problem, info: "Connection refused", '
    "check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, "
    "0 remaining in queue."
)
WIRE = [
    ("log 127.0.0.1:19501 local0", 1, b"<129>Nov 21 22:47:19 haproxy[8509]: "),
    ("log 127.0.0.1:19502 format rfc3164 local1 info", 1,
     b"<137>Nov 21 22:47:19 localhost haproxy[8509]: "),
    (
        "log 127.0.0.1:19503 format rfc5424 local2",
        1,
        b"<145>1 2026-11-21T22:47:19.619151+00:00 - haproxy 8509 - - ",
    ),
    ("log 127.0.0.1:19504 format short local3", 1, b"<1>"),
    ("log 127.0.0.1:19505 format priority local4", 1, b"<161>"),
    ("log 127.0.0.1:19506 format iso local5", 1, b"2026-11-21T22:47:19.619151+00:00 "),
    ("log 127.0.0.1:19507 format timed local6", 1, b"<1>2026-11-21T22:47:19.619151+00:00 "),
    ("log 127.0.0.1:19508 format raw local7", 1, b""),
    ("log 127.0.0.1:19511 local0 debug warning", 1, b"<132>Nov 21 22:47:19 haproxy[8509]: "),
    ("log 127.0.0.1:19511 local0 debug warning", 6, b"<134>Nov 21 22:47:19 haproxy[8509]: "),
]  # fmt: skip


@pytest.mark.parametrize(("line", "level", "header"), WIRE)
def test_wire_formats(line, level, header):
    logger = Logger([])
    target = parse_log_line(line.split())
    now = at("21/Nov/2026:22:47:19", 0.619151)
    lvl = max(level, target.minlevel)
    got = logger.render(target, lvl, SERVER_DOWN, "haproxy", now)
    pid = str(os.getpid()).encode()
    assert got == header.replace(b"8509", pid) + SERVER_DOWN.encode() + b"\n"


def test_wire_truncation_and_hostname():
    logger = Logger([], send_hostname="foo.bar", tag="mytag")
    target = parse("127.0.0.1:19509 len 80 format rfc3164 daemon")
    now = at("21/Nov/2026:22:47:19", 0.5)
    got = logger.render(target, 1, SERVER_DOWN, "mytag", now)
    pid = os.getpid()
    want = f"<25>Nov 21 22:47:19 foo.bar mytag[{pid}]: {SERVER_DOWN}".encode()[:80] + b"\n"
    assert got == want and len(got) == 81
    # log-send-hostname switches the default "local" format to rfc3164
    target = parse("127.0.0.1:19501 local0")
    assert logger.render(target, 6, "vm", "pxtag", now) == (
        f"<134>Nov 21 22:47:19 foo.bar pxtag[{pid}]: vm\n".encode()
    )
    target = parse("127.0.0.1:19503 format rfc5424 local2")
    assert logger.render(target, 6, "vm", "mytag", at("21/Nov/2026:23:16:17", 0.166945)) == (
        f"<150>1 2026-11-21T23:16:17.166945+00:00 foo.bar mytag {pid} - - vm\n".encode()
    )
    # stdout: the newline counts in the length, like haproxy's fd logs
    target = parse("stdout len 80 format raw local0")
    assert logger.render(target, 6, "x" * 100, "t", now) == b"x" * 80


def test_rfc3164_day_padding():
    logger = Logger([])
    target = parse("127.0.0.1 local0")
    got = logger.render(target, 6, "m", "haproxy", at("01/Nov/2026:01:02:03"))
    assert got.startswith(b"<134>Nov  1 01:02:03 haproxy[")


@pytest.fixture
def udp_sink():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    yield sock
    sock.close()


def test_logger_udp_levels_and_sampling(udp_sink):
    port = udp_sink.getsockname()[1]
    logger = Logger(
        [
            parse(f"127.0.0.1:{port} format raw local0 notice"),
            parse(f"127.0.0.1:{port} format short sample 2:2 local0"),
        ],
    )
    logger.log(6, "info line")  # raw target filters it; sampled target skips #1
    logger.log(4, "warning line")  # raw sends; sampled sends #2
    logger.log(3, "err line")  # raw sends; sampled skips #3
    got = sorted(udp_sink.recv(1000) for _ in range(3))
    assert got == [b"<4>warning line\n", b"err line\n", b"warning line\n"]
    udp_sink.settimeout(0.1)
    with pytest.raises(TimeoutError):
        udp_sink.recv(1000)
    logger.close()


def test_logger_proxy_tag(udp_sink):
    port = udp_sink.getsockname()[1]
    logger = Logger([parse(f"127.0.0.1:{port} local0")], tag="mytag")
    logger.set_proxy_tag("fe2", "pxtag")
    logger.log(4, "Proxy fe2 stopped.", "fe2")
    logger.log(4, "Proxy fe1 stopped.", "fe1")
    assert b" pxtag[" in udp_sink.recv(1000)
    assert b" mytag[" in udp_sink.recv(1000)
    logger.close()


def test_logger_unreachable_never_raises():
    logger = Logger([parse_log_line(["unix@/nonexistent/log.sock", "local0"])])
    logger.log(6, "dropped")
    assert logger.dropped == 1


def test_logger_fd_batches_per_loop_iteration():
    r, w = os.pipe()
    try:
        logger = Logger([parse_log_line([f"fd@{w}", "format", "raw", "local0"])])

        async def scenario():
            logger.log(6, "one")
            logger.log(6, "two")
            os.set_blocking(r, False)
            with pytest.raises(BlockingIOError):
                os.read(r, 100)  # nothing written yet: batched
            await asyncio.sleep(0)
            return os.read(r, 100)

        assert asyncio.run(scenario()) == b"one\ntwo\n"
        logger.log(6, "three")  # no running loop: written at once
        assert os.read(r, 100) == b"three\n"
    finally:
        os.close(r)
        os.close(w)


# ------------------------------------------------------------ notices


def test_format_notice():
    assert format_notice("NOTICE", 5085, "Loading success.") == (
        "[NOTICE]   (5085) : Loading success."
    )
    assert format_notice("WARNING", 5090, "Paused frontend fe_main.") == (
        "[WARNING]  (5090) : Paused frontend fe_main."
    )
    assert format_notice("alert", 5085, "Current worker (26412) exited with code 143") == (
        "[ALERT]    (5085) : Current worker (26412) exited with code 143"
    )
    msg = (
        "config : missing timeouts for frontend 'f'.\n"
        "While not properly invalid, you will certainly encounter various problems"
    )
    assert format_notice("WARNING", 11436, msg) == (
        "[WARNING]  (11436) : config : missing timeouts for frontend 'f'.\n"
        "   | While not properly invalid, you will certainly encounter various problems"
    )


def test_notices_match_reference_file():
    path = (
        Path(__file__).resolve().parents[2].parent
        / "shared/reference/haproxy-2.6/logs/haproxy-master-and-worker-notices.txt"
    )
    if not os.path.exists(path):
        pytest.skip("reference transcripts not available")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for raw in lines:
        if not raw.startswith("["):
            continue
        level = raw[1 : raw.index("]")]
        pid = int(raw[raw.index("(") + 1 : raw.index(")")])
        msg = raw[raw.index(") : ") + 4 :]
        assert format_notice(level, pid, msg) == raw
