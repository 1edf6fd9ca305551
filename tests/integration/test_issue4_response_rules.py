"""Issue 4: `http-response` and `http-after-response` through real sockets."""

from __future__ import annotations

from itest import GLOBAL, HOST, Reader, connect, free_port, get, wait_until

DEFAULTS = """\
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
"""


def _cfg(port: int, srv_port: int, fe: str = "", be: str = "", log: str = "") -> str:
    fmt = f"    log-format {log}\n" if log else ""
    return (
        f"{GLOBAL}\n{DEFAULTS}\nfrontend fe\n    bind {HOST}:{port}\n{fmt}{fe}"
        f"    default_backend be\n\nbackend be\n{be}"
        f"    server s1 {HOST}:{srv_port}\n"
    )


def test_response_header_actions(lb, backend):
    b = backend("s1")
    port = free_port()
    be = (
        "    http-response set-header X-Be be-%[status]\n"
        "    http-response add-header X-Multi one\n"
        "    http-response add-header X-Multi two\n"
        "    http-response del-header Content-Type\n"
        "    http-response replace-header X-Multi ^one$ uno\n"
    )
    fe = "    http-response set-header X-Fe fe\n"
    lb(_cfg(port, b.port, fe, be))
    r = get(port, "/")
    assert r.status == 200
    assert r.body == b"hello from s1"
    assert r.header("x-be") == "be-200"
    assert r.header("x-fe") == "fe"
    assert r.header("content-type") is None
    assert [v for n, v in r.headers if n.lower() == "x-multi"] == ["uno", "two"]


def test_response_rules_keep_alive_and_body(lb, backend):
    """An edited head goes out once, with the body bytes that came with it; the
    connection stays usable for the next request."""
    b = backend("s1")
    port = free_port()
    lb(_cfg(port, b.port, be="    http-response set-header X-Edit 1\n"))
    with connect(port) as s:
        rd = Reader(s)
        for _ in range(3):
            s.sendall(b"GET /chunked?n=4 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = rd.response()
            assert r.status == 200 and r.header("x-edit") == "1"
            assert r.body == b"".join(f"chunk-{i}\n".encode() for i in range(4))
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        r = rd.response()
        assert r.body == b"hello" and r.header("x-edit") == "1"


def test_response_condition_on_status_and_res_hdr(lb, backend):
    b = backend("s1")
    port = free_port()
    be = (
        "    http-response set-header X-Err yes if { status ge 400 }\n"
        "    http-response set-header X-Plain yes if { res.hdr(content-type) -m beg text/ }\n"
    )
    lb(_cfg(port, b.port, be=be))
    r = get(port, "/status?code=404")
    assert r.status == 404 and r.header("x-err") == "yes" and r.header("x-plain") == "yes"
    r = get(port, "/")
    assert r.header("x-err") is None and r.header("x-plain") == "yes"


def test_response_deny_and_set_status(lb, backend):
    b = backend("s1")
    port = free_port()
    be = (
        "    http-response deny if { status 404 }\n"
        "    http-response deny deny_status 403 if { status 410 }\n"
        "    http-response set-status 299 reason Fine if { status 201 }\n"
        "    http-response set-status 418 if { status 202 }\n"
    )
    inst = lb(_cfg(port, b.port, be=be, log="%ST\\ %tsc\\ %s"))
    r = get(port, "/status?code=404")
    assert r.status == 502
    assert b"502 Bad Gateway" in r.body
    r = get(port, "/status?code=410")
    assert r.status == 403
    r = get(port, "/status?code=201")
    assert r.status == 299 and r.reason == "Fine"
    r = get(port, "/status?code=202")
    assert r.status == 418 and r.reason == "I'm a teapot"
    lines = wait_until(lambda: len(inst.log_lines()) >= 4 and inst.log_lines())
    assert lines[0].startswith("502 PH")
    assert lines[1].startswith("403 PH")
    assert lines[2].startswith("299 --")


def test_response_allow_stops_proxy_rules(lb, backend):
    b = backend("s1")
    port = free_port()
    be = (
        "    http-response allow if { status 200 }\n    http-response set-header X-Be after-allow\n"
    )
    fe = "    http-response set-header X-Fe fe\n"
    lb(_cfg(port, b.port, fe, be))
    r = get(port, "/")
    assert r.header("x-be") is None and r.header("x-fe") == "fe"
    r = get(port, "/status?code=204")
    assert r.header("x-be") == "after-allow"


def test_after_response_and_order(lb, backend):
    """Backend rules run before frontend rules; http-after-response comes last."""
    b = backend("s1")
    port = free_port()
    be = (
        "    http-response set-header X-Order be\n"
        "    http-after-response add-header X-After be-after\n"
    )
    fe = (
        "    http-response set-header X-Order fe-%[res.hdr(x-order)]\n"
        "    http-after-response add-header X-After fe-after\n"
        "    http-after-response set-status 203\n"
    )
    lb(_cfg(port, b.port, fe, be))
    r = get(port, "/")
    assert r.header("x-order") == "fe-be"
    assert [v for n, v in r.headers if n.lower() == "x-after"] == ["be-after", "fe-after"]
    assert r.status == 203


def test_response_set_var_in_log(lb, backend):
    b = backend("s1")
    port = free_port()
    be = "    http-response set-var(txn.ctype) res.hdr(content-type)\n"
    inst = lb(_cfg(port, b.port, be=be, log="ct=%[var(txn.ctype)]"))
    get(port, "/")
    assert inst.wait_stderr(r"ct=text/plain")


def test_response_track_sc_counts_errors(lb, backend):
    b = backend("s1")
    port = free_port()
    be = (
        "    stick-table type ip size 1k expire 30s store http_err_cnt\n"
        "    http-request deny deny_status 429 if { src_http_err_cnt ge 2 }\n"
        "    http-response track-sc0 src\n"
    )
    lb(_cfg(port, b.port, be=be))
    assert get(port, "/status?code=404").status == 404
    assert get(port, "/status?code=404").status == 404
    assert get(port, "/").status == 429
