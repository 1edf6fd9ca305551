"""Sans-IO tests of the health-check engine: arithmetic, wording, parsing.

Expected strings were taken from a real HAProxy 2.6.12 run against loopback
servers (``option log-health-checks`` on and off).
"""

from __future__ import annotations

import pytest

from lb.checks import (
    CheckConfigError,
    CheckParams,
    CheckResult,
    Health,
    HealthCheck,
    build_http_check,
    build_http_request,
    build_tcp_check,
    log_line,
    make_expect,
    parse_http_check_send,
    parse_http_expect,
    parse_option_httpchk,
    parse_server_check_options,
    parse_time_ms,
    spread_first_delays,
)
from lb.checks.http1 import InvalidResponse, parse_response
from lb.checks.result import ascii_encode
from lb.checks.steps import Connect, ExpectHttp, ExpectSyntaxError, Send


def ok200(ms: int = 0) -> CheckResult:
    return CheckResult.make("L7OK", code=200, duration_ms=ms)


def sts503(ms: int = 0) -> CheckResult:
    return CheckResult.make("L7STS", code=503, duration_ms=ms, info="Service Unavailable")


class FakeServer:
    def __init__(self, params: CheckParams | None = None) -> None:
        self.name = "s1"
        self.proxy_name = "tog"
        self.check_host = "127.0.0.1"
        self.check_port = 1
        self.check_params = params or CheckParams()
        self.events: list[tuple] = []

    def on_check_result(self, result: CheckResult) -> None:
        self.events.append(("result", result.status))

    def on_check_log(self, message: str) -> None:
        self.events.append(("log", message))

    def on_health_change(self, up: bool, reason: str) -> None:
        self.events.append(("change", up, reason))

    def logs(self) -> list[str]:
        return [e[1] for e in self.events if e[0] == "log"]

    def changes(self) -> list[tuple]:
        return [e[1:] for e in self.events if e[0] == "change"]


# --- result wording -------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "text"),
    [
        (ok200(), "reason: Layer7 check passed, code: 200, check duration: 0ms"),
        (
            CheckResult.make("L4CON", info="Connection refused"),
            'reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms',
        ),
        (
            CheckResult.make("L4TOUT", duration_ms=2001),
            "reason: Layer4 timeout, check duration: 2001ms",
        ),
        (
            sts503(1),
            'reason: Layer7 wrong status, code: 503, info: "Service Unavailable", '
            "check duration: 1ms",
        ),
        (CheckResult.make("L4OK"), "reason: Layer4 check passed, check duration: 0ms"),
        (
            CheckResult.make("L7TOUT", duration_ms=1001),
            "reason: Layer7 timeout, check duration: 1001ms",
        ),
        (CheckResult.make("L7RSP"), "reason: Layer7 invalid response, check duration: 0ms"),
        (
            CheckResult.make("L7RSP", info="HTTP content check did not match"),
            'reason: Layer7 invalid response, info: "HTTP content check did not match", '
            "check duration: 0ms",
        ),
        (
            CheckResult.make("SOCKERR", duration_ms=1, info="Connection reset by peer"),
            'reason: Socket error, info: "Connection reset by peer", check duration: 1ms',
        ),
    ],
)
def test_reason_wording(result: CheckResult, text: str) -> None:
    assert result.reason() == text


def test_result_fields() -> None:
    r = sts503()
    assert (r.passed, r.desc, r.code) == (False, "Layer7 wrong status", 503)
    assert CheckResult.make("L7OKC", code=404).passed
    assert CheckResult.make("L7OKC", code=404).conditional
    # the code is only kept where HAProxy reports it
    assert CheckResult.make("L7RSP", code=200).code is None
    assert CheckResult.make("L4OK").desc == "Layer4 check passed"
    assert len(CheckResult.make("L4CON", info="x" * 500).info) == 127


def test_ascii_encode() -> None:
    assert ascii_encode('a"b<c>\td') == "a<22>b<3C>c<3E><09>d"
    assert ascii_encode("é") == "<C3><A9>"


# --- health arithmetic ----------------------------------------------------------


def test_initial_state_is_up_one_failure_from_down() -> None:
    h = Health(2, 3)
    assert (h.health, h.up, h.status) == (2, True, "INI")
    assert h.progress() == (1, 3)  # "UP 1/3"
    v = h.record(sts503())
    assert (h.health, h.up, v.report, v.change) == (0, False, True, False)
    assert h.progress() is None  # "DOWN"


def test_first_pass_goes_to_top() -> None:
    h = Health(2, 3)
    v = h.record(ok200())
    assert (h.health, v.report, v.change) == (4, True, None)
    assert h.progress() is None  # "UP"


def test_fall_then_rise() -> None:
    h = Health(2, 3)
    h.record(ok200())
    seen = []
    for _ in range(3):
        v = h.record(sts503())
        seen.append((h.health, h.progress(), v.change))
    assert seen == [(3, (2, 3), None), (2, (1, 3), None), (0, None, False)]
    seen = []
    for _ in range(2):
        v = h.record(ok200())
        seen.append((h.health, h.progress(), v.change))
    assert seen == [(1, (1, 2), None), (4, None, True)]  # "DOWN 1/2", then UP


def test_report_only_on_move_or_status_change() -> None:
    h = Health(2, 3)
    h.record(sts503())
    assert not h.record(sts503()).report  # same status, counter already 0
    assert h.record(CheckResult.make("L7TOUT")).report  # new status
    assert h.record(CheckResult.make("L7STS", code=404, info="Not Found")).report
    h2 = Health(2, 3)
    h2.record(ok200())
    assert not h2.record(ok200()).report


def test_rise_one_fall_one() -> None:
    h = Health(1, 1)
    assert h.health == 1 and h.progress() is None
    assert h.record(sts503()).change is False
    assert h.record(ok200()).change is True


def test_progress_uses_server_state() -> None:
    h = Health(2, 3)
    h.record(sts503())
    h.record(ok200())
    assert h.progress(running=False) == (1, 2)
    assert h.progress(running=True) == (0, 3)


def test_intervals() -> None:
    p = CheckParams(inter=2000, fastinter=500, downinter=5000)
    h = Health(2, 3)
    assert h.interval_ms(p) == 500  # starting at rise: transitional
    h.record(ok200())
    assert h.interval_ms(p) == 2000
    h.record(sts503())
    assert h.interval_ms(p) == 500
    h.record(sts503())
    h.record(sts503())
    assert h.interval_ms(p) == 5000
    h.record(ok200())
    assert h.interval_ms(p) == 500
    assert Health(2, 3).interval_ms(CheckParams(inter=700)) == 700


def test_log_line_variants() -> None:
    h = Health(2, 3)
    h.record(ok200())
    assert log_line("be", "s1", ok200(), h) == (
        "Health check for server be/s1 succeeded, reason: Layer7 check passed, code: 200, "
        "check duration: 0ms, status: 3/3 UP."
    )
    assert "for backup server be/s1" in log_line("be", "s1", ok200(), h, backup=True)
    assert log_line("be", "s1", ok200(), h, drain=True).endswith("status: 3/3 DRAIN.")
    c = CheckResult.make("L7OKC", code=404)
    assert " conditionally succeeded, " in log_line("be", "s1", c, h)


# --- the engine without I/O (apply_result) ------------------------------------------


def test_engine_sequence_matches_haproxy_transcript() -> None:
    """The sequence from a real haproxy run (option log-health-checks)."""
    params = CheckParams(inter=300, log_health_checks=True)
    srv = FakeServer(params)
    hc = HealthCheck(srv, params, build_http_check())
    feed = [ok200(), sts503(), ok200(), sts503(), sts503(), sts503(), ok200(), ok200()]
    feed += [sts503()] * 3
    feed += [CheckResult.make("L7TOUT", duration_ms=301), CheckResult.make("L7RSP")]
    feed += [CheckResult.make("L7STS", code=404, info="Not Found"), ok200(), ok200()]
    for r in feed:
        hc.apply_result(r)
    pre = "Health check for server tog/s1 "
    ok = "succeeded, reason: Layer7 check passed, code: 200, check duration: 0ms, status: "
    bad = (
        'failed, reason: Layer7 wrong status, code: 503, info: "Service Unavailable", '
        "check duration: 0ms, status: "
    )
    assert srv.logs() == [
        pre + ok + "3/3 UP.",
        pre + bad + "2/3 UP.",
        pre + ok + "3/3 UP.",
        pre + bad + "2/3 UP.",
        pre + bad + "1/3 UP.",
        pre + bad + "0/2 DOWN.",
        pre + ok + "1/2 DOWN.",
        pre + ok + "3/3 UP.",
        pre + bad + "2/3 UP.",
        pre + bad + "1/3 UP.",
        pre + bad + "0/2 DOWN.",
        pre + "failed, reason: Layer7 timeout, check duration: 301ms, status: 0/2 DOWN.",
        pre + "failed, reason: Layer7 invalid response, check duration: 0ms, status: 0/2 DOWN.",
        pre + 'failed, reason: Layer7 wrong status, code: 404, info: "Not Found", '
        "check duration: 0ms, status: 0/2 DOWN.",
        pre + ok + "1/2 DOWN.",
        pre + ok + "3/3 UP.",
    ]
    # with log-health-checks HAProxy leaves the reason out of "Server ... is DOWN"
    assert srv.changes() == [(False, ""), (True, ""), (False, ""), (True, "")]
    # each log line comes after the result callback, and the change after the log line
    kinds = [e[0] for e in srv.events[:3]]
    assert kinds == ["result", "log", "result"]


def test_engine_without_log_health_checks() -> None:
    srv = FakeServer()
    hc = HealthCheck(srv, CheckParams(), build_http_check())
    hc.apply_result(sts503())
    hc.apply_result(ok200())
    hc.apply_result(ok200())
    assert srv.logs() == []
    assert srv.changes() == [
        (
            False,
            'reason: Layer7 wrong status, code: 503, info: "Service Unavailable", '
            "check duration: 0ms",
        ),
        (True, "reason: Layer7 check passed, code: 200, check duration: 0ms"),
    ]


def test_failed_checks_counter_like_chkfail() -> None:
    hc = HealthCheck(FakeServer(), CheckParams(), build_tcp_check())
    for _ in range(10):
        hc.apply_result(CheckResult.make("L4CON", info="Connection refused"))
    assert hc.failed_checks == 1  # HAProxy counts only failures that lower the counter
    assert (hc.health, hc.rise, hc.fall, hc.status, hc.up) == (0, 2, 3, "L4CON", False)
    assert hc.last_result is not None and hc.last_result.info == "Connection refused"


def test_leave_maintenance_restarts_at_rise() -> None:
    srv = FakeServer()
    hc = HealthCheck(srv, CheckParams(), build_tcp_check())
    hc.apply_result(CheckResult.make("L4CON", info="Connection refused"))
    hc.enter_maint()
    assert hc.in_maintenance
    hc.leave_maint()
    assert (hc.health, hc.up, hc.progress()) == (2, True, (1, 3))
    hc.apply_result(CheckResult.make("L4CON", info="Connection refused"))
    assert srv.changes()[-1][0] is False


def test_callback_errors_are_contained() -> None:
    class Broken(FakeServer):
        def on_check_result(self, result: CheckResult) -> None:
            raise RuntimeError("boom")

    srv = Broken()
    hc = HealthCheck(srv, CheckParams(), build_tcp_check())
    hc.apply_result(CheckResult.make("L4CON"))
    assert srv.changes() and srv.changes()[0][0] is False


def test_params_default_from_server() -> None:
    srv = FakeServer(CheckParams(rise=5, fall=1))
    hc = HealthCheck(srv)
    assert (hc.rise, hc.fall, hc.health) == (5, 1, 5)
    assert hc.steps == (Connect(),)


# --- parameters -----------------------------------------------------------------------


def test_params_defaults_and_timeouts() -> None:
    p = CheckParams()
    assert (p.inter, p.fastinter_ms, p.downinter_ms, p.rise, p.fall) == (2000, 2000, 2000, 2, 3)
    assert p.connect_timeout_ms() == 2000
    # timeout connect alone does not bound a check: inter does
    assert CheckParams(inter=1000, timeout_connect=300).connect_timeout_ms() == 1000
    assert (
        CheckParams(inter=5000, timeout_connect=300, timeout_check=2000).connect_timeout_ms() == 300
    )
    assert CheckParams(inter=500, timeout_connect=3000, timeout_check=1).connect_timeout_ms() == 500
    assert 0 <= CheckParams(inter=100).first_delay() < 0.1
    assert CheckParams(first_delay_ms=0).first_delay() == 0


def test_spread_first_delays() -> None:
    assert spread_first_delays([1000, 2000, 1000, 4000]) == [0, 250, 500, 750]
    assert spread_first_delays([]) == []


def test_parse_server_check_options() -> None:
    toks = (
        "check inter 5s fastinter 500 downinter 1m rise 3 fall 1 port 8080 addr 10.0.0.1 weight 5"
    )
    p = parse_server_check_options(toks.split())
    assert (p.inter, p.fastinter, p.downinter, p.rise, p.fall) == (5000, 500, 60000, 3, 1)
    assert (p.port, p.addr) == (8080, "10.0.0.1")
    assert parse_server_check_options(["rise", "2x"]).rise == 2  # atol, like HAProxy


@pytest.mark.parametrize(
    ("toks", "msg"),
    [
        ("rise 0", "'rise' has to be > 0."),
        ("fall 0", "'fall' has to be > 0."),
        ("rise abc", "'rise' has to be > 0."),
        ("inter 0", "invalid value 0 for argument 'inter' of server s1."),
        ("fastinter 0", "invalid value 0 for argument 'fastinter' of server s1."),
        ("inter abc", "unexpected character 'a' in 'agent-inter' argument of server s1."),
        ("downinter 1x", "unexpected character 'x' in 'agent-inter' argument of server s1."),
        ("inter 1.5s", "unexpected character '.' in 'agent-inter' argument of server s1."),
        ("inter", "'inter' expects a delay as argument."),
        ("addr", "'addr' expects <ipv4|ipv6> as argument."),
        (
            "inter 3000000000",
            "timer overflow in argument <3000000000> to <inter> of server s1, "
            "maximum value is 2147483647 ms (~24.8 days).",
        ),
    ],
)
def test_parse_server_check_errors(toks: str, msg: str) -> None:
    with pytest.raises(CheckConfigError) as err:
        parse_server_check_options(toks.split(), server_name="s1")
    assert str(err.value) == msg


def test_parse_time_units() -> None:
    assert parse_time_ms("100", "inter") == 100
    assert parse_time_ms("2s", "inter") == 2000
    assert parse_time_ms("1500us", "inter") == 2
    assert parse_time_ms("1h", "inter") == 3600000


# --- request building (bytes captured from haproxy 2.6) -------------------------------


@pytest.mark.parametrize(
    ("kwargs", "wire"),
    [
        ({}, b"OPTIONS / HTTP/1.0\r\n\r\n"),
        ({"method": "GET", "uri": "/h"}, b"GET /h HTTP/1.0\r\n\r\n"),
        (
            {"method": "HEAD", "uri": "/h", "version": "HTTP/1.1"},
            b"HEAD /h HTTP/1.1\r\nconnection: close\r\n\r\n",
        ),
        (
            {"method": "GET", "uri": "/x", "version": "HTTP/1.1\r\nHost: www.x\r\nX-A: b"},
            b"GET /x HTTP/1.1\r\nhost: www.x\r\nx-a: b\r\nconnection: close\r\n\r\n",
        ),
        (
            {
                "method": "POST",
                "uri": "/p",
                "version": "HTTP/1.1",
                "headers": [("Host", "a.b"), ("X-Y", "z")],
                "body": "hello",
            },
            b"POST /p HTTP/1.1\r\nhost: a.b\r\nx-y: z\r\ncontent-length: 5\r\n"
            b"connection: close\r\n\r\nhello",
        ),
        ({"headers": [("Host", "a.b")]}, b"OPTIONS / HTTP/1.0\r\nhost: a.b\r\n\r\n"),
        (
            {"method": "POST", "uri": "/p", "version": "HTTP/1.1"},
            b"POST /p HTTP/1.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        ),
        (
            {
                "method": "GET",
                "uri": "/base",
                "version": "HTTP/1.1",
                "headers": [("Host", "a.b")],
                "body": "xyz",
            },
            b"GET /base HTTP/1.1\r\nhost: a.b\r\ncontent-length: 3\r\nconnection: close\r\n\r\nxyz",
        ),
    ],
)
def test_http_check_request_bytes(kwargs: dict, wire: bytes) -> None:
    spec = build_http_check(**kwargs)
    assert spec.kind == "http"
    send = spec.steps[1]
    assert isinstance(send, Send) and send.data == wire
    assert isinstance(spec.steps[0], Connect)
    assert spec.steps[2] == ExpectHttp()  # implicit 2xx/3xx rule


def test_build_request_function_and_head_flag() -> None:
    assert build_http_request("get", "/", "HTTP/1.0") == b"GET / HTTP/1.0\r\n\r\n"
    send = build_http_check("HEAD", "/").steps[1]
    assert isinstance(send, Send) and send.head_request


def test_parse_option_httpchk_forms() -> None:
    assert parse_option_httpchk([]) == ("OPTIONS", "/", "HTTP/1.0")
    assert parse_option_httpchk(["/only-uri"]) == ("OPTIONS", "/only-uri", "HTTP/1.0")
    assert parse_option_httpchk(["GET", "/h"]) == ("GET", "/h", "HTTP/1.0")
    assert parse_option_httpchk(["HEAD", "/h", "HTTP/1.1"]) == ("HEAD", "/h", "HTTP/1.1")


def test_parse_http_check_send() -> None:
    line = "meth POST uri /p ver HTTP/1.1 hdr Host a.b hdr X-Y z body hello"
    a = parse_http_check_send(line.split())
    assert (a.method, a.uri, a.version, a.body) == ("POST", "/p", "HTTP/1.1", "hello")
    assert a.headers == [("Host", "a.b"), ("X-Y", "z")]
    with pytest.raises(ExpectSyntaxError):
        parse_http_check_send(["hdr", "X"])


def test_parse_http_expect() -> None:
    e = parse_http_expect(["!", "status", "500-599"])
    assert (e.match, e.inverse, e.codes) == ("status", True, ((500, 599),))
    assert parse_http_expect(["!string", "x"]).inverse
    e = parse_http_expect(["error-status", "L7OKC", "rstatus", "^5"])
    assert e.error_status == "L7OKC"
    with pytest.raises(ExpectSyntaxError):
        parse_http_expect(["status"])
    with pytest.raises(ExpectSyntaxError):
        parse_http_expect(["bogus", "x"])


# --- response parsing and expect evaluation ------------------------------------------------

R200 = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"
R503 = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nsorry"


def test_parse_response_incremental() -> None:
    assert parse_response(R200[:20], False, need_body=False) is None
    r = parse_response(R200[:40], False, need_body=False)
    assert r is not None and (r.code, r.reason) == (200, "OK")
    assert parse_response(R200[:-3], False, need_body=True) is None
    r = parse_response(R200, False, need_body=True)
    assert r is not None and r.body == b"hello world"


def test_parse_response_errors() -> None:
    with pytest.raises(InvalidResponse):
        parse_response(b"hello\r\n", False, need_body=False)
    with pytest.raises(InvalidResponse):
        parse_response(b"", True, need_body=False)  # closed before any response
    with pytest.raises(InvalidResponse):
        parse_response(b"HTTP/1.1 200 OK\r\nContent-Le", True, need_body=False)
    assert parse_response(b"HTT", False, need_body=False) is None


def test_parse_response_bodies() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n"
    assert parse_response(chunked, False, need_body=True) is None
    r = parse_response(chunked + b"0\r\n\r\n", False, need_body=True)
    assert r is not None and r.body == b"hello world"
    r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nuntil close", True, need_body=True)
    assert r is not None and r.body == b"until close"
    r = parse_response(b"HTTP/1.1 100 Continue\r\n\r\n" + R503, False, need_body=False)
    assert r is not None and r.code == 503
    r = parse_response(
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", False, need_body=True, head_request=True
    )
    assert r is not None and r.body == b""


@pytest.mark.parametrize(
    ("args", "raw", "expected"),
    [
        (["string", "nope"], R200, (False, "L7RSP", "HTTP content check did not match")),
        (["string", "hello"], R200, (True, "L7OK", "")),
        (["!", "string", "hello"], R200, (False, "L7RSP", "HTTP check matched unwanted content")),
        (["rstring", "^h.*d$"], R200, (True, "L7OK", "")),
        (["rstring", "^x"], R200, (False, "L7RSP", "HTTP content check did not match")),
        (["!", "rstring", "wor"], R200, (False, "L7RSP", "HTTP check matched unwanted content")),
        (["status", "200"], R503, (False, "L7STS", "Service Unavailable")),
        (["status", "201,300-310"], R200, (False, "L7STS", "OK")),
        (["status", "200-299"], R200, (True, "L7OK", "")),
        (["!", "status", "503"], R503, (False, "L7STS", "Service Unavailable")),
        (["!", "status", "503"], R200, (True, "L7OK", "")),
        (["rstatus", "^5"], R503, (True, "L7OK", "")),
        (["rstatus", "^5"], R200, (False, "L7STS", "OK")),
        (["!", "rstatus", "^5"], R503, (False, "L7STS", "Service Unavailable")),
        (["string", "sorry"], R503, (True, "L7OK", "")),  # body only, status ignored
    ],
)
def test_expect_matrix_like_haproxy(args: list[str], raw: bytes, expected: tuple) -> None:
    rule = parse_http_expect(args)
    resp = parse_response(raw, True, need_body=rule.needs_body)
    assert resp is not None
    out = rule.evaluate(resp)
    assert (out.passed, out.status, out.info) == expected


def test_default_expect() -> None:
    rule = make_expect("default")
    for raw, passed in [(R200, True), (R503, False), (b"HTTP/1.1 302 Found\r\n\r\n", True)]:
        resp = parse_response(raw, True, need_body=False)
        assert resp is not None and rule.evaluate(resp).passed is passed


def test_spread_checks_shifts_each_interval_within_its_percent() -> None:
    import random

    rng = random.Random(7)
    params = CheckParams(inter=1000, spread=20)
    delays = [params.spread_ms(1000, rng) for _ in range(2000)]
    assert min(delays) >= 800 and max(delays) <= 1200
    assert min(delays) < 820 and max(delays) > 1180  # the whole range is used
    assert abs(sum(delays) / len(delays) - 1000) < 15  # centred on the interval
    assert CheckParams(inter=1000).spread_ms(1000, rng) == 1000
