"""Sans-IO tests of the TLS pieces: key files and the ring, CertIDs, crt-lists, SNI,
and the OpenSSL callbacks driven by an in-memory handshake (no sockets)."""

from __future__ import annotations

import base64
import os
import ssl
from pathlib import Path

import pytest

from lb.tls import context as ctxmod
from lb.tls import devpki, ossl
from lb.tls.certs import CertError, load_cert_file
from lb.tls.crtlist import CrtListError, parse_crt_list
from lb.tls.ocsp import CertId, certid_der, response_text
from lb.tls.store import BindTls, SniEntry
from lb.tls.tickets import TicketKeyError, TicketKeyRing, TicketKeyStore, parse_key_lines

REF = Path(
    os.environ.get("LB_REFERENCE_DIR")
    or Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "haproxy-2.6"
)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# ---------------------------------------------------------------- key files and ring


def test_key_file_errors_name_file_and_line() -> None:
    k = devpki.ticket_keys(3)
    with pytest.raises(TicketKeyError, match=r"^'f' : please supply at least 3 keys"):
        parse_key_lines("f", [b64(k[0]), b64(k[1])])
    with pytest.raises(TicketKeyError, match=r"^'f' : unable to decode base64 key on line 2$"):
        parse_key_lines("f", [b64(k[0]), "notbase64!!", b64(k[2])])
    with pytest.raises(TicketKeyError, match=r"^'f' : wrong sized key on line 3$"):
        parse_key_lines("f", [b64(k[0]), b64(k[1]), b64(k[2][:20])])
    with pytest.raises(TicketKeyError, match=r"^'f' : wrong sized key on line 2$"):
        parse_key_lines("f", [b64(k[0]), b64(devpki.ticket_keys(1, 80)[0]), b64(k[2])])


def test_ring_keeps_last_three_and_push_rotates() -> None:
    keys = devpki.ticket_keys(5)
    ring = TicketKeyRing("/k", parse_key_lines("/k", [b64(k) for k in keys]))
    assert [k.raw for k in ring.keys] == keys[2:]
    new = devpki.ticket_keys(1)[0]
    ring.push(new)
    assert [k.raw for k in ring.keys] == [keys[3], keys[4], new]
    assert ring.dump().splitlines()[0] == "# 0 (/k)"
    assert ring.dump().splitlines()[3] == f"0.2 {b64(new)}"
    with pytest.raises(TicketKeyError, match="wrong size"):
        ring.push(devpki.ticket_keys(1, 80)[0])


def test_store_numbers_files_last_mentioned_first(tmp_path: Path) -> None:
    store = TicketKeyStore()
    for name in ("a", "b", "c"):
        (tmp_path / name).write_text("".join(b64(k) + "\n" for k in devpki.ticket_keys()))
        store.get(str(tmp_path / name))
    store.get(str(tmp_path / "a"))
    store.finalize()
    assert [(r.uid, Path(r.path).name) for r in store.rings.values()] == [
        (0, "c"),
        (1, "b"),
        (2, "a"),
    ]
    assert store.find("#2") is store.find(str(tmp_path / "a"))
    assert store.find("#3") is None and store.find("2") is None


# ---------------------------------------------------------------- OCSP and certificates


def test_certid_der_matches_haproxy_key() -> None:
    key = certid_der(
        bytes.fromhex("5BB23F85484D920DDD52216B8061B1D8E394DC27"),
        bytes.fromhex("81B86A33AAFEC69D921DC37A2AF8A54088EE98FC"),
        0x1001,
    ).hex()
    assert key == (
        "303b300906052b0e03021a050004145bb23f85484d920ddd52216b8061b1d8e394dc27041481b86a33aa"
        "fec69d921dc37a2af8a54088ee98fc02021001"
    )
    # a serial with its top bit set takes a leading zero in DER, not in the text
    cid = CertId(b"\0" * 20, b"\1" * 20, 0x99)
    assert cid.key.endswith("02020099")
    assert "Serial Number: 99\n" in cid.describe()


@pytest.mark.skipif(not REF.is_dir(), reason="reference files not available")
def test_reference_cert_id_and_ocsp_text() -> None:
    cf = load_cert_file(str(REF / "site.pem"))
    assert cf.cert_id is not None
    assert cf.cert_id.key.startswith("303b300906052b0e03021a0500")
    ref = (REF / "transcripts/133_show_ssl_ocsp_response_id.txt").read_text()
    assert response_text((REF / "site.pem.ocsp").read_bytes()) + "\n" == ref


def test_cert_file_errors(tmp_path: Path) -> None:
    ca = devpki.CA()
    leaf = ca.issue("x.example")
    p = tmp_path / "x.pem"
    with pytest.raises(CertError, match="unable to stat SSL certificate from file"):
        load_cert_file(str(p))
    p.write_bytes(leaf.pem().split(b"-----BEGIN PRIVATE KEY-----")[0])
    with pytest.raises(CertError, match=rf"No Private Key found in '{p}.key'\."):
        load_cert_file(str(p))
    other_key = ca.issue("y").pem().split(b"-----END CERTIFICATE-----\n")[1]
    (tmp_path / "x.pem.key").write_bytes(other_key)
    with pytest.raises(CertError, match="inconsistencies between private key and certificate"):
        load_cert_file(str(p))
    p.write_bytes(leaf.pem())
    (tmp_path / "x.pem.ocsp").write_bytes(ca.ocsp(leaf))
    with pytest.raises(CertError, match="impossible to compute the OCSP certificate ID"):
        load_cert_file(str(p))
    (tmp_path / "x.pem.issuer").write_bytes(ca.pem)
    assert load_cert_file(str(p)).ocsp_der is not None
    (tmp_path / "x.pem.ocsp").write_bytes(ca.ocsp(ca.issue("other")))
    with pytest.raises(CertError, match="x.pem.ocsp' : OCSP single response: Certificate ID"):
        load_cert_file(str(p))


def test_show_ssl_cert_text(tmp_path: Path) -> None:
    ca = devpki.CA("Root")
    leaf = ca.issue("a.example", "b.example", "127.0.0.1", kind="ec", serial=0x99)
    path = devpki.write_site(tmp_path, "s.pem", ca, leaf, ca.ocsp(leaf))
    text = load_cert_file(path).describe()
    assert "Serial: 99\n" in text
    assert "Subject Alternative Name: DNS:a.example, DNS:b.example, \n" in text
    assert "Algorithm: EC256\n" in text
    assert "Subject: /CN=a.example\nIssuer: /CN=Root\nOCSP Response Key: 303" in text


# ---------------------------------------------------------------- crt-list and SNI


def test_crt_list_lines() -> None:
    lines = parse_crt_list(
        "l",
        "# comment\n\n/a.pem\n/b.pem [alpn http/1.1 ssl-min-ver TLSv1.3] B.example !x.b.example\n",
    )
    assert [ln.path for ln in lines] == ["/a.pem", "/b.pem"]
    assert lines[1].options == {"alpn": "http/1.1", "ssl-min-ver": "TLSv1.3"}
    assert lines[1].filters == ["b.example", "!x.b.example"]
    with pytest.raises(CrtListError, match="unknown ssl keyword 'bogus' on line 1"):
        parse_crt_list("l", "/a.pem [bogus]\n")


def test_sni_pick_exact_then_wildcard() -> None:
    a, b = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    bt = BindTls(default=a)
    bt.exact["www.example.com"] = SniEntry(a, None)  # type: ignore[arg-type]
    bt.wildcard["example.com"] = SniEntry(b, None)  # type: ignore[arg-type]
    assert bt.pick("WWW.example.com.") is a
    assert bt.pick("api.example.com") is b
    assert bt.pick("a.b.example.com") is None
    assert bt.pick("example.com") is None


def test_version_options() -> None:
    assert ctxmod._version_range({}, False) == ("TLSv1.2", "TLSv1.3")
    assert ctxmod._version_range({"no-tlsv13": True}, False) == ("TLSv1.2", "TLSv1.2")
    assert ctxmod._version_range({"force-tlsv13": True}, False) == ("TLSv1.3", "TLSv1.3")
    with pytest.raises(ctxmod.ContextError, match="unknown value 'TLSv9'"):
        ctxmod._version_range({"ssl-min-ver": "TLSv9"}, False)
    d = ctxmod.default_words(
        {"ssl-default-bind-options": ("ssl-min-ver", "TLSv1.3", "no-tls-tickets")}, "bind"
    )
    assert d == {"ssl-min-ver": "TLSv1.3", "no-tls-tickets": True}


# ---------------------------------------------------------------- callbacks, in memory


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, session=None, sni="a.example"):
    """A full TLS exchange over memory BIOs; returns the client SSLObject."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    cli = client.wrap_bio(c_in, c_out, server_hostname=sni, session=session)
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(20):
        for obj in (cli, srv):
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    srv.write(b"x")  # TLS 1.3 tickets travel after the handshake
    c_in.write(s_out.read())
    assert cli.read(1) == b"x"
    return cli


def _contexts(tmp_path: Path, keyfile: Path):
    ca = devpki.CA()
    leaf = ca.issue("a.example")
    path = devpki.write_site(tmp_path, "a.pem", ca, leaf)
    server = ctxmod.server_side({}, path, path)
    ring = TicketKeyRing(str(keyfile), parse_key_lines("k", keyfile.read_text().splitlines()))
    ring.install(ossl.ctx_pointer(server))
    client = ssl.create_default_context(cadata=ca.pem.decode())
    client.check_hostname = False
    return server, client, ring


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_ticket_ring_rotation_in_memory(tmp_path: Path, version: ssl.TLSVersion) -> None:
    keyfile = tmp_path / "k"
    keyfile.write_text("".join(b64(k) + "\n" for k in devpki.ticket_keys()))
    server, client, ring = _contexts(tmp_path, keyfile)
    client.maximum_version = client.minimum_version = version
    first = _handshake(server, client)
    assert not first.session_reused
    # a second server process with the same file resumes
    server2, _, _ = _contexts(tmp_path, keyfile)
    assert _handshake(server2, client, first.session).session_reused
    ring.push(devpki.ticket_keys(1)[0])
    assert _handshake(server, client, first.session).session_reused
    ring.push(devpki.ticket_keys(1)[0])
    ring.push(devpki.ticket_keys(1)[0])
    assert not _handshake(server, client, first.session).session_reused


def test_ctx_pointer_is_checked() -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ptr = ossl.ctx_pointer(ctx)
    assert ossl.libssl.SSL_CTX_get_options(ptr) == int(ctx.options)


# ---------------------------------------------------------------- per-handshake cost


def _server_side_handshake(server, client, sni, session=None):
    """Like `_handshake`, but returns (client, server) SSLObjects."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    cli = client.wrap_bio(c_in, c_out, server_hostname=sni, session=session)
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(20):
        for obj in (cli, srv):
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    srv.write(b"x")
    c_in.write(s_out.read())
    assert cli.read(1) == b"x"
    return cli, srv


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_servername_read_from_openssl(tmp_path: Path, version) -> None:
    """`ssl_fc_sni` is read from the `SSL *`: the SNI callback records nothing per handshake."""
    assert ossl.SSL_LAYOUT_OK
    ca = devpki.CA()
    path = devpki.write_site(tmp_path, "a.pem", ca, ca.issue("a.example"))
    server = ctxmod.server_side({}, path, path)
    bt = BindTls(default=server)
    bt.exact["a.example"] = SniEntry(server, None)  # type: ignore[arg-type]
    bt.switching = bt.can_switch()
    assert not bt.switching
    server.sni_callback = bt.sni_callback
    client = ssl.create_default_context(cadata=ca.pem.decode())
    client.check_hostname = False
    client.maximum_version = client.minimum_version = version
    cli, srv = _server_side_handshake(server, client, "A.example")
    assert ossl.servername(srv) == "A.example"  # as sent, as HAProxy's ssl_fc_sni
    assert "lb_sni" not in vars(srv)
    # resumed: still there (TLS 1.2 keeps it in the session, because the callback acks it)
    _, srv2 = _server_side_handshake(server, client, "A.example", cli.session)
    assert srv2.session_reused and ossl.servername(srv2) == "A.example"
    # no SNI sent (an IP address as server_hostname sends none)
    _, srv3 = _server_side_handshake(server, client, "127.0.0.1")
    assert ossl.servername(srv3) is None
    assert ossl.ssl_pointer(object()) is None


def test_sni_switching_only_when_it_can_change_something() -> None:
    a, b = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    one = BindTls(default=a)
    one.exact["a.example"] = SniEntry(a, None)  # type: ignore[arg-type]
    one.wildcard["example.org"] = SniEntry(a, None)  # type: ignore[arg-type]
    assert not one.can_switch()  # one certificate: any name gets it
    one.strict = True
    assert one.can_switch()  # strict-sni refuses unknown names
    two = BindTls(default=a)
    two.exact["a.example"] = SniEntry(a, None)  # type: ignore[arg-type]
    two.exact["b.example"] = SniEntry(b, None)  # type: ignore[arg-type]
    assert two.can_switch()


def test_sample_sni_fetch_falls_back_to_recorded_name() -> None:
    from lb import sample_tls

    class Obj:  # no `_sslobj`: what an unexpected layout looks like
        lb_sni = "b.example"

    class St:
        ssl_obj = Obj()

    assert sample_tls._sni(St()) == "b.example"
    St.ssl_obj = None  # type: ignore[assignment]
    assert sample_tls._sni(St()) is None


def test_listener_accept_helpers() -> None:
    import socket

    from lb.listener import _accepted_class, _fixed_local_address

    cls = _accepted_class(socket.AF_INET)
    assert cls is _accepted_class(socket.AF_INET) and issubclass(cls, socket.socket)
    a, b = socket.socketpair()
    try:
        s = _accepted_class(socket.AF_UNIX)(socket.AF_UNIX, socket.SOCK_STREAM, 0, a.detach())
        # plain ints (uvloop compares them), no enum conversion per connection
        assert type(s.family) is int and s.family == socket.AF_UNIX
        assert type(s.type) is int and s.type == socket.SOCK_STREAM
        s.close()
    finally:
        b.close()
    for host, fixed in (("127.0.0.1", True), ("0.0.0.0", False)):
        ls = socket.socket()
        try:
            ls.bind((host, 0))
            local = _fixed_local_address(ls)
            assert (local is not None) is fixed
            if fixed:
                assert local == ls.getsockname()
        finally:
            ls.close()
