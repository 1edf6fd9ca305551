"""The httplog line, field by field, parsed as halog would."""

from __future__ import annotations

import re
import time

import pytest
from itest import HOST, Reader, connect, free_port, get, http_cfg

pytestmark = pytest.mark.timeout(30)

HTTPLOG = re.compile(
    r"^(?P<ip>[\d.]+):(?P<port>\d+) "
    r"\[(?P<date>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}\.\d{3})\] "
    r"(?P<fe>\S+) (?P<be>\S+)/(?P<srv>\S+) "
    r"(?P<TR>-?\d+)/(?P<Tw>-?\d+)/(?P<Tc>-?\d+)/(?P<Tr>-?\d+)/(?P<Ta>\+?\d+) "
    r"(?P<status>-?\d+) (?P<bytes>\d+) (?P<creq>\S+) (?P<cres>\S+) (?P<ts>\S{4}) "
    r"(?P<ac>\d+)/(?P<fc>\d+)/(?P<bc>\d+)/(?P<sc>\d+)/(?P<rc>\+?\d+) "
    r"(?P<sq>\d+)/(?P<bq>\d+) "
    r'"(?P<req>.*)"$'
)


def test_httplog_fields(lb, backend):
    b = backend("s1")
    port = free_port()
    inst = lb(http_cfg(port, f"    server s1 {HOST}:{b.port}\n"))
    t0 = time.time()
    r = get(port, "/delay?ms=200")
    assert r.status == 200
    lines = inst.wait_stderr(r'"GET /delay\?ms=200 HTTP/1.1"$')
    assert lines, inst.stderr
    m = HTTPLOG.match(lines[-1])
    assert m, lines[-1]
    assert m["ip"] == "127.0.0.1" and int(m["port"]) > 0
    stamp = time.mktime(time.strptime(m["date"][:-4], "%d/%b/%Y:%H:%M:%S"))
    assert abs(stamp - t0) < 5
    assert (m["fe"], m["be"], m["srv"]) == ("fe", "be", "s1")
    tr, tw, tc, tresp, ta = (int(m[k]) for k in ("TR", "Tw", "Tc", "Tr", "Ta"))
    assert 0 <= tr < 100 and 0 <= tw < 100 and 0 <= tc < 100
    assert 190 <= tresp < 1000
    assert ta >= tr + tw + tc + tresp
    assert m["status"] == "200"
    assert int(m["bytes"]) == len(r.raw_head) + len(r.body)
    assert (m["creq"], m["cres"], m["ts"]) == ("-", "-", "----")
    # haproxy logs once the stream has left the server: a lone request counts 0 there
    assert (m["ac"], m["fc"], m["bc"], m["sc"]) == ("1", "1", "0", "0")
    assert m["rc"] == "0" and (m["sq"], m["bq"]) == ("0", "0")


def test_httplog_keepalive_idle_and_errors(lb, backend):
    b = backend("s1")
    port = free_port()
    inst = lb(http_cfg(port, f"    server s1 {HOST}:{b.port}\n"))
    with connect(port) as s:
        rd = Reader(s)
        s.sendall(b"GET /first HTTP/1.1\r\nHost: t\r\n\r\n")
        rd.response()
        time.sleep(0.3)
        s.sendall(b"GET /second HTTP/1.1\r\nHost: t\r\n\r\n")
        rd.response()
    second = inst.wait_stderr(r'"GET /second HTTP/1.1"$')
    m = HTTPLOG.match(second[-1])
    assert m
    # the idle time between the two requests is in Ta's total, not in TR
    assert int(m["TR"]) < 100
    get(port, "/close")
    bad = inst.wait_stderr(r'"GET /close HTTP/1.1"$')
    m = HTTPLOG.match(bad[-1])
    assert m and m["status"] == "502" and m["ts"] == "SH--" and m["Tr"] == "-1"


def test_dead_server_retries_logged(lb):
    port = free_port()
    inst = lb(http_cfg(port, f"    server s1 {HOST}:{free_port()}\n", extra_be="    retries 2\n"))
    assert get(port, "/").status == 503
    lines = inst.wait_stderr(r" be/s1 ")
    m = HTTPLOG.match(lines[-1])
    assert m, lines[-1]
    assert m["status"] == "503" and m["ts"] == "SC--"
    assert m["rc"] == "2" and m["Tc"] == "-1" and m["Tr"] == "-1"


def test_captured_headers_in_httplog(lb, backend):
    """`capture request|response header NAME len N`: the last occurrence, cut to N,
    braced in the httplog line as haproxy 2.6 writes them (a missing one is empty)."""
    b = backend("s1")
    port = free_port()
    extra = (
        "    capture request header Host len 5\n"
        "    capture request header User-Agent len 3\n"
        "    capture response header X-Absent len 20\n"
    )
    inst = lb(http_cfg(port, f"    server s1 {HOST}:{b.port}\n", extra_fe=extra))
    with connect(port) as s:
        rd = Reader(s)
        s.sendall(
            b"GET /a HTTP/1.1\r\nHost: example.org\r\nUser-Agent: first\r\nUser-Agent: curl\r\n\r\n"
        )
        assert rd.response().status == 200
        s.sendall(b"GET /b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert rd.response().status == 200
    lines = inst.wait_stderr(r'"GET /b HTTP/1.1"$')
    assert lines, inst.stderr
    a_line = next(ln for ln in inst.stderr.splitlines() if ln.endswith('"GET /a HTTP/1.1"'))
    assert ' 0/0 {examp|cur} {} "GET /a' in a_line, a_line
    assert ' 0/0 {127.0|} {} "GET /b' in lines[-1], lines[-1]


def test_http_request_capture_and_set_log_level(lb, backend):
    """`http-request capture <sample> len N` fills request capture slots after those
    of `capture request header` (empty when its rule did not run), as haproxy 2.6
    logs them; `set-log-level silent` drops a stream's line."""
    b = backend("s1")
    port = free_port()
    extra = (
        "    capture request header Host len 5\n"
        "    http-request capture path len 4 if { path_beg /a }\n"
        "    http-request capture req.hdr(x-id) len 10\n"
        "    http-request set-log-level silent if { path /quiet }\n"
    )
    inst = lb(http_cfg(port, f"    server s1 {HOST}:{b.port}\n", extra_fe=extra))
    with connect(port) as s:
        rd = Reader(s)
        for req in (
            b"GET /abcdef HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Id: 12345678901234\r\n\r\n",
            b"GET /quiet HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            b"GET /zzz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        ):
            s.sendall(req)
            assert rd.response().status == 200
    lines = inst.wait_stderr(r'"GET /zzz HTTP/1.1"$')
    assert lines, inst.stderr
    logged = [ln for ln in inst.stderr.splitlines() if ln.endswith(' HTTP/1.1"')]
    assert len(logged) == 2, logged
    assert ' {127.0|/abc|1234567890} "GET /abcdef' in logged[0]
    assert ' {127.0||} "GET /zzz' in logged[1]
