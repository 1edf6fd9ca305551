"""Server ``send-proxy`` / ``send-proxy-v2`` (+ ``proxy-v2-options``) and
``check-send-proxy``: the PROXY header a server connection starts with.

The addresses are the client connection's: its source, and the address it
reached (both as advertised by the previous hop when the bind has
``accept-proxy``), as the specification asks of a relaying proxy. A
connection that carries a PROXY header belongs to its client and is not
put back into the shared idle pool.
"""

from __future__ import annotations

from typing import Any

from lb.proxy_protocol import (
    PP2_CLIENT_SSL,
    PP2_SUBTYPE_SSL_CIPHER,
    PP2_SUBTYPE_SSL_VERSION,
    PP2_TYPE_ALPN,
    PP2_TYPE_AUTHORITY,
    PP2_TYPE_UNIQUE_ID,
    build_v1,
    build_v2,
    ssl_tlv,
)

V2_OPTIONS = frozenset(
    {"ssl", "cert-cn", "ssl-cipher", "cert-sig", "cert-key", "authority", "crc32c", "unique-id"}
)


def v2_options(text: str | bool | None) -> frozenset[str]:
    """``proxy-v2-options ssl,crc32c`` -> its option names (unknown ones raise)."""
    if not text or text is True:
        return frozenset()
    names = frozenset(w for w in str(text).split(",") if w)
    bad = names - V2_OPTIONS
    if bad:
        raise ValueError(f"'proxy-v2-options' : unknown option '{sorted(bad)[0]}'")
    return names


def proxy_line(srv: Any, conn: Any) -> bytes | None:
    """The header a new connection to ``srv`` for client ``conn`` starts with,
    or None when the server has neither ``send-proxy`` nor ``send-proxy-v2``."""
    opts = srv.options
    if opts.get("send-proxy-v2"):
        return _v2(opts, conn)
    if opts.get("send-proxy"):
        return build_v1(
            _addr(conn.client_ip, conn.client_port), _addr(conn.frontend_ip, conn.frontend_port)
        )
    return None


def _addr(ip: Any, port: Any) -> tuple[str, int] | None:
    if not isinstance(ip, str) or ip in ("-", "unix", ""):
        return None
    return ip, int(port or 0)


def _v2(opts: dict[str, Any], conn: Any) -> bytes:
    names = v2_options(opts.get("proxy-v2-options"))
    tlvs: list[tuple[int, bytes]] = []
    sslobj = _ssl_object(conn)
    if sslobj is not None:
        alpn = sslobj.selected_alpn_protocol()
        if alpn:
            tlvs.append((PP2_TYPE_ALPN, alpn.encode()))
        if "authority" in names and getattr(sslobj, "server_hostname", None):
            tlvs.append((PP2_TYPE_AUTHORITY, str(sslobj.server_hostname).encode()))
    if "unique-id" in names:
        st = getattr(conn, "stream", None)
        uid = getattr(st, "unique_id", None) if st is not None else None
        if uid:
            tlvs.append((PP2_TYPE_UNIQUE_ID, str(uid).encode()))
    if names & {"ssl", "cert-cn", "ssl-cipher", "cert-sig", "cert-key"}:
        tlvs.append(_ssl_vector(sslobj, names))
    return build_v2(
        _addr(conn.client_ip, conn.client_port),
        _addr(conn.frontend_ip, conn.frontend_port),
        tlvs,
        crc32c="crc32c" in names,
    )


def _ssl_object(conn: Any) -> Any:
    tr = getattr(conn, "transport", None)
    if tr is None:
        return None
    try:
        return tr.get_extra_info("ssl_object")
    except Exception:
        return None


def _ssl_vector(sslobj: Any, names: frozenset[str]) -> tuple[int, bytes]:
    """PP2_TYPE_SSL: for a clear-text client HAProxy sends flags 0, verify 0."""
    if sslobj is None:
        return ssl_tlv(0, 0)
    subs: list[tuple[int, bytes]] = []
    version = sslobj.version()
    if version:
        subs.append((PP2_SUBTYPE_SSL_VERSION, version.encode()))
    if "ssl-cipher" in names:
        cipher = sslobj.cipher()
        if cipher:
            subs.append((PP2_SUBTYPE_SSL_CIPHER, cipher[0].encode()))
    return ssl_tlv(PP2_CLIENT_SSL, 0, subs)


def check_line(srv: Any, local: tuple[str, int] | None, peer: tuple[str, int] | None) -> bytes:
    """``check-send-proxy``: v1 names the check connection's own endpoints;
    v2 is a LOCAL header with the configured TLVs (as HAProxy 2.6 sends)."""
    opts = srv.options
    if opts.get("send-proxy-v2"):
        names = v2_options(opts.get("proxy-v2-options"))
        tlvs = []
        if names & {"ssl", "cert-cn", "ssl-cipher", "cert-sig", "cert-key"}:
            tlvs.append(ssl_tlv(0, 0))
        return build_v2(None, None, tlvs, local=True, crc32c="crc32c" in names)
    return build_v1(local, peer)
