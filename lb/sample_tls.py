"""TLS sample fetches on the front connection: `ssl_fc*` and `ssl_c_*`.

They read the `ssl.SSLObject` that `lb.tls.conn.fill_stream` leaves on the
stream (`st.ssl_obj`); a stream of a plain TCP connection has none, and then
`ssl_fc` is false and the others give no sample, as in HAProxy.
"""

from __future__ import annotations

from typing import Any

from lb.sample import simple_fetch


def _obj(st: Any) -> Any:
    return getattr(st, "ssl_obj", None)


def _fc(st: Any) -> bool:
    return _obj(st) is not None


def _sni(st: Any) -> str | None:
    obj = _obj(st)
    if obj is None:
        return None
    from lb.tls.ossl import servername  # loaded with the TLS store, whenever `ssl` is used

    return servername(obj)


def _protocol(st: Any) -> str | None:
    obj = _obj(st)
    return obj.version() if obj is not None else None


def _cipher(st: Any) -> str | None:
    obj = _obj(st)
    if obj is None:
        return None
    c = obj.cipher()
    return c[0] if c else None


def _alpn(st: Any) -> str | None:
    obj = _obj(st)
    return (obj.selected_alpn_protocol() or None) if obj is not None else None


def _reused(st: Any) -> bool | None:
    obj = _obj(st)
    return bool(obj.session_reused) if obj is not None else None


def _peer_der(obj: Any) -> bytes | None:
    try:
        return obj.getpeercert(binary_form=True)
    except ValueError:  # handshake not done
        return None


def _c_used(st: Any) -> bool | None:
    obj = _obj(st)
    return _peer_der(obj) is not None if obj is not None else None


def _zero(st: Any) -> int | None:
    """`ssl_c_verify` & co.: a connection that exists passed verification (or had none)."""
    return 0 if _obj(st) is not None else None


# OpenSSL's short names, as `X509_NAME_oneline` (and so HAProxy) prints them
_SHORT = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.5": "serialNumber",
    "2.5.4.9": "street",
    "2.5.4.42": "GN",
    "2.5.4.4": "SN",
    "1.2.840.113549.1.9.1": "emailAddress",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}


def dn_oneline(name: Any) -> str:
    """`/C=FR/O=Org/CN=name` from a `cryptography` `x509.Name`."""
    out = []
    for rdn in name.rdns:
        for attr in rdn:
            key = _SHORT.get(attr.oid.dotted_string, attr.oid.dotted_string)
            out.append(f"/{key}={attr.value}")
    return "".join(out)


def _c_s_dn(st: Any) -> str | None:
    obj = _obj(st)
    der = _peer_der(obj) if obj is not None else None
    if der is None:
        return None
    text = getattr(st, "ssl_c_s_dn_text", None)
    if text is None:
        from cryptography import x509

        text = st.ssl_c_s_dn_text = dn_oneline(x509.load_der_x509_certificate(der).subject)
    return text


simple_fetch("ssl_fc", "bool", _fc)
simple_fetch("ssl_fc_sni", "str", _sni)
simple_fetch("ssl_fc_protocol", "str", _protocol)
simple_fetch("ssl_fc_cipher", "str", _cipher)
simple_fetch("ssl_fc_alpn", "str", _alpn)
simple_fetch("ssl_fc_session_reused", "bool", _reused)
simple_fetch("ssl_fc_is_resumed", "bool", _reused)  # HAProxy's documented name
simple_fetch("ssl_c_used", "bool", _c_used)
simple_fetch("ssl_c_verify", "int", _zero)
simple_fetch("ssl_c_err", "int", _zero)
simple_fetch("ssl_c_ca_err", "int", _zero)
simple_fetch("ssl_fc_err", "int", _zero)
simple_fetch("ssl_c_s_dn", "str", _c_s_dn)
