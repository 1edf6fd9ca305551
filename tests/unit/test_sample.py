"""Sample fetches, converters and ACL compilation against a fake stream."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from lb.acl_compile import compile_acl_words
from lb.http.h1 import parse_request_head
from lb.patterns import PatternStore
from lb.sample import BuildCtx, compile_sample, parse_expr, split_args
from stick.config import parse_stick_table


def words(text: str) -> list[str]:
    return text.split(" ")


REQ = (
    b"GET /static/a.js?x=1&y=2 HTTP/1.1\r\nHost: ex.com\r\nX: a, b\r\nX: c\r\n"
    b"Cookie: s=1; t=2\r\n\r\n"
)


def stream(
    raw: bytes = REQ,
    ip: str = "10.1.2.3",
) -> Any:
    fe = SimpleNamespace(name="fe", puid=2, state=None)
    return SimpleNamespace(
        client_ip=ip,
        client_port=1234,
        frontend_ip="127.0.0.1",
        frontend_port=80,
        head=parse_request_head(raw),
        frontend=fe,
        backend=None,
        server=None,
        status=200,
        vars=None,
        sc=None,
        res_head=None,
    )


def ctx(tmp_path: Any = None) -> BuildCtx:
    state = SimpleNamespace(patterns=PatternStore(), tables={}, by_name={})
    where = SimpleNamespace(file="t.cfg", line=3)
    return BuildCtx(state, None, where, (0, 3))


def val(expr: str, st: Any = None, c: BuildCtx | None = None) -> Any:
    return compile_sample(expr, c or ctx()).fn(st or stream())


def test_parse_expr() -> None:
    assert parse_expr("src,map_ip(/f.lst)") == [("src", None), ("map_ip", ["/f.lst"])]
    assert parse_expr("hdr(host,1),lower") == [("hdr", ["host", "1"]), ("lower", None)]
    assert split_args(r"a\,b,c") == ["a,b", "c"]
    with pytest.raises(ValueError, match="unknown fetch method 'nosuch'"):
        compile_sample("nosuch", ctx())
    with pytest.raises(ValueError, match="unknown converter 'zz'"):
        compile_sample("src,zz", ctx())


def test_http_fetches() -> None:
    assert val("path") == "/static/a.js"
    assert val("url") == "/static/a.js?x=1&y=2"
    assert val("query") == "x=1&y=2"
    assert val("method") == "GET"
    assert val("base") == "ex.com/static/a.js"
    assert val("hdr(x)") == "c"
    assert val("hdr(x,1)") == "a"
    assert val("req.fhdr(x,1)") == "a, b"
    assert val("hdr_cnt(x)") == 3
    assert val("req.cook(t)") == "2"
    assert val("req.cook_cnt") == 2
    assert val("url_param(y)") == "2"
    assert val("src") == "10.1.2.3"
    assert val("src_port") == 1234
    assert val("always_true") is True
    assert val("status") == 200
    assert val("var(txn.nope)") is None


def test_converters() -> None:
    assert val("path,upper") == "/STATIC/A.JS"
    assert val("path,length") == 12
    assert val("path,field(2,/)") == "static"
    assert val("path,word(1,/)") == "static"
    assert val("path,regsub(/static,/s)") == "/s/a.js"
    assert val("src_port,add(6),mul(2),sub(4),div(3),mod(100)") == 25  # ((1234+6)*2-4)//3 % 100
    assert val("src_port,neg") == -1234
    assert val("src_port,and(255),or(1),xor(3)") == 208
    assert val("path,hex") == "2F7374617469632F612E6A73"
    assert val("path,base64,b64dec") == b"/static/a.js"
    assert val("path,ub64enc,ub64dec") == b"/static/a.js"
    assert val("path,url_enc") == "%2Fstatic%2Fa.js"
    assert val("path,url_enc,url_dec") == "/static/a.js"
    assert val("path,bytes(1,6)") == b"static"
    assert val("always_true,iif(yes,no)") == "yes"
    assert val("path,crc32") == __import__("zlib").crc32(b"/static/a.js")
    assert val("src,ipmask(16)") == "10.1.0.0"
    assert val("path,json") == "\\/static\\/a.js" or val("path,json") == "/static/a.js"
    assert isinstance(val("path,djb2"), int) and isinstance(val("path,xxh64"), int)


def test_map_converter(tmp_path: Any) -> None:
    f = tmp_path / "m.lst"
    f.write_text("# c\n10.0.0.0/8 PRIV\n127.0.0.0/8 LO\n")
    c = ctx()
    assert val(f"src,map_ip({f})", c=c) == "PRIV"
    assert val(f"src,map_ip({f},ZZ)", stream(ip="8.8.8.8"), c) == "ZZ"
    ref = c.state.patterns.find(str(f), 2)
    ref.load("8.8.8.0/24", "US")
    assert val(f"src,map_ip({f})", stream(ip="8.8.8.8"), c) == "US"
    g = tmp_path / "s.lst"
    g.write_text("/static 3\n")
    assert val(f"path,map_beg_int({g})", c=c) == 3


def test_stick_fetches() -> None:
    c = ctx()
    t = parse_stick_table("fe", words("type ip size 10 expire 10s store http_req_rate(10s),gpt0"))
    c.state.tables["fe"] = t
    st = stream()
    assert compile_sample("sc_http_req_rate(0)", c).fn(st) is None
    e = t.get(t.ktype.from_sample("10.1.2.3"))
    t.bumper("http_req_cnt")(e, __import__("stick.table").table.now_ms(), 7)
    st.sc = [(t, e, None), None, None]
    assert compile_sample("sc_http_req_rate(0)", c).fn(st) == 7
    assert compile_sample("sc0_get_gpt0", c).fn(st) == 0
    assert compile_sample("src_http_req_rate(fe)", c).fn(st) == 7
    assert compile_sample("src,table_http_req_rate(fe)", c).fn(st) == 7
    assert compile_sample("sc_tracked(1)", c).fn(st) is False
    assert compile_sample("table_cnt(fe)", c).fn(st) == 1


def test_acl_words(tmp_path: Any) -> None:
    c = ctx()
    wl = tmp_path / "wl.lst"
    wl.write_text("10.0.0.0/8\n")
    cond, refs = compile_acl_words(["src", "-f", str(wl)], c)
    assert cond(stream()) and not cond(stream(ip="8.8.8.8"))
    cond, refs = compile_acl_words(["path_beg", "/static"], c)
    assert cond(stream())
    cond, _ = compile_acl_words(["hdr(x)", "-i", "B"], c)
    assert cond(stream())  # any occurrence, comma-split, case-insensitive
    cond, refs = compile_acl_words(["src_port", "gt", "1000"], c)
    assert [e.text for e in refs[0]] == ["1001:"] and cond(stream())
    cond, _ = compile_acl_words(["path", "-m", "end", ".js"], c)
    assert cond(stream())
    cond, _ = compile_acl_words(["hdr(nope)", "-m", "found"], c)
    assert not cond(stream())
    with pytest.raises(ValueError, match="'x' is not a valid IPv4"):
        compile_acl_words(["src", "x"], c)


def test_constant_fetches() -> None:
    assert val("str(abc)") == "abc"
    assert val("str()") == ""
    assert val("int(-5)") == -5
    assert val("int(7),add(3)") == 10
    assert val("bool(true)") is True and val("bool(0)") is False
    assert val("ipv4(10.0.0.1)") == "10.0.0.1"
    assert val("ipv6(::1)") == "::1"
    assert val("bin(414243)") == b"ABC"
    assert val("meth(GET)") == "GET"
    assert val("str(Ab),lower") == "ab"
    # HAProxy 2.6's messages for bad constants
    for expr, msg in (
        ("int(abc)", "fetch method 'int' : failed to parse 'abc' as type 'integer' at position 1."),
        ("int()", "fetch method 'int' : expected type 'integer' at position 1, but got nothing."),
        ("bool(yes)", "invalid args in fetch method 'bool' : Expects 'true', 'false', '0' or '1'."),
        ("ipv4(::1)", "failed to parse '::1' as type 'IPv4 address' at position 1."),
        ("ipv6(zz)", "failed to parse 'zz' as type 'IPv6 address' at position 1."),
        ("bin(4)", "an even number of hex digit is expected."),
        ("bin(zz)", "an hex digit is expected (found 'z')."),
        ("meth(G T)", "expects valid method.."),
        ("str", "missing args for fetch method 'str'"),
    ):
        with pytest.raises(ValueError) as exc:
            compile_sample(expr, ctx())
        assert msg in str(exc.value), (expr, str(exc.value))


def _client_hello(sni: str) -> bytes:
    import ssl

    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = c.wrap_bio(inc, out, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def test_payload_fetches_wait_for_data() -> None:
    st = stream()
    st.req_data, st.req_final, st.smp_miss = b"PI", False, False
    assert val("req.len", st) == 2 and st.smp_miss  # may still grow
    st.smp_miss = False
    assert val("req.payload(0,4)", st) is None and st.smp_miss
    st.req_data, st.smp_miss = b"PING", False
    assert val("req.payload(0,4)", st) == b"PING" and not st.smp_miss
    st.req_data, st.req_final, st.smp_miss = b"PI", True, False
    assert val("req.payload(0,4)", st) is None and not st.smp_miss  # final: no sample
    hello = _client_hello("two.example")
    st.req_data, st.req_final = hello[:20], False
    assert val("req_ssl_sni", st) is None and st.smp_miss
    st.req_data, st.smp_miss = hello, False
    assert val("req_ssl_sni", st) == "two.example"
    assert val("req.ssl_hello_type", st) == 1
    assert val("req.ssl_ver", st) >= 0x30001
    st.req_data = b"GET / HTTP/1.1\r\n"
    assert val("req_ssl_sni", st) is None
    assert val("req.len", stream()) is None  # no inspection buffer (HTTP mode): no sample


def test_log_format_plain_flavour() -> None:
    from lb.log import compile_log_format

    c = ctx()
    fn = lambda e: compile_sample(e, c).fn  # noqa: E731
    st = stream()
    plain = compile_log_format(
        "a  [%[str()]] [%[var(txn.x)]] %{+Q}[str(q)] %[bin(0A41)]", fn, plain=True
    )
    assert plain(st) == "a  [] [] q %0AA"
    logged = compile_log_format("a  [%[str()]] [%[var(txn.x)]] %{+Q}[str(q)]", fn)
    assert logged(st) == 'a [-] [-] "q"'
