"""`ssl.SSLContext` objects built from bind and server options.

One context per certificate of a bind (all with the bind's options): SNI
switches between them. Options come from the bind line, then from the
global `ssl-default-bind-*` (or `ssl-default-server-*`) defaults.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from lb.tls import ossl

SESSION_ID_CONTEXT = b"haproxy"  # what HAProxy uses: tickets then resume across both

VERSIONS = {
    "SSLv3": ssl.TLSVersion.SSLv3,
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_NO_FLAGS = {
    "no-sslv3": "SSLv3",
    "no-tlsv10": "TLSv1.0",
    "no-tlsv11": "TLSv1.1",
    "no-tlsv12": "TLSv1.2",
    "no-tlsv13": "TLSv1.3",
}
_ORDER = list(VERSIONS)


class ContextError(ValueError):
    """An option OpenSSL refuses; the text is the sentence after the bind prefix."""


def default_words(g_ssl: Mapping[str, Any], side: str) -> dict[str, Any]:
    """`ssl-default-bind-options` & co. turned into option values (`side` bind|server)."""
    out: dict[str, Any] = {}
    words = list(g_ssl.get(f"ssl-default-{side}-options", ()))
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("ssl-min-ver", "ssl-max-ver") and i + 1 < len(words):
            out[w] = words[i + 1]
            i += 2
            continue
        out[w] = True
        i += 1
    for k in ("ciphers", "ciphersuites", "curves"):
        v = g_ssl.get(f"ssl-default-{side}-{k}")
        if v:
            out[k] = v[0]
    dh = g_ssl.get("ssl-dh-param-file")
    if dh and side == "bind":
        out["dh-param-file"] = dh[0]
    return out


def merged(opts: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    out.update(opts)
    return out


def _version_range(o: Mapping[str, Any], server: bool) -> tuple[str, str]:
    lo = "TLSv1.2" if not server else "TLSv1.2"
    hi = "TLSv1.3"
    if o.get("force-tlsv12"):
        return "TLSv1.2", "TLSv1.2"
    if o.get("force-tlsv13"):
        return "TLSv1.3", "TLSv1.3"
    for key in ("ssl-min-ver", "ssl-max-ver"):
        v = o.get(key)
        if v is not None and v not in VERSIONS:
            raise ContextError(
                f"'{key}' : unknown value '{v}'. Expected one of SSLv3, TLSv1.0, TLSv1.1, "
                "TLSv1.2, TLSv1.3."
            )
    lo = o.get("ssl-min-ver", lo)
    hi = o.get("ssl-max-ver", hi)
    allowed = [v for v in _ORDER[_ORDER.index(lo) : _ORDER.index(hi) + 1]]
    allowed = [v for v in allowed if not o.get(next(k for k, n in _NO_FLAGS.items() if n == v))]
    if not allowed:
        raise ContextError("all SSL/TLS versions are disabled.")
    return allowed[0], allowed[-1]


def _common(ctx: ssl.SSLContext, o: Mapping[str, Any], server: bool) -> None:
    lo, hi = _version_range(o, server)
    try:
        ctx.minimum_version = VERSIONS[lo]
        ctx.maximum_version = VERSIONS[hi]
    except ValueError as exc:
        raise ContextError(f"unable to set SSL/TLS versions {lo}-{hi} ({exc}).") from None
    if o.get("no-tls-tickets"):
        ctx.options |= ssl.OP_NO_TICKET
    if o.get("prefer-client-ciphers"):
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    ptr = ossl.ctx_pointer(ctx)
    ciphers = o.get("ciphers")
    if ciphers:
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            raise ContextError(f"unable to set SSL cipher list to '{ciphers}'.") from None
    suites = o.get("ciphersuites")
    if suites and not ossl.set_ciphersuites(ptr, suites):
        raise ContextError(f"unable to set TLS 1.3 cipher suites to '{suites}'.")
    curves = o.get("curves")
    if curves and not ossl.set_groups(ptr, curves):
        raise ContextError(f"unable to set SSL curves list to '{curves}'.")
    alpn = o.get("alpn")
    if alpn:
        ctx.set_alpn_protocols([p for p in alpn.split(",") if p])


def _dh_params(ctx: ssl.SSLContext, cert_path: str, global_file: str | None) -> None:
    """Parameters for the DHE ciphers: those in the certificate's file, else the
    global `ssl-dh-param-file` (without either, DHE ciphers are not offered)."""
    try:
        with open(cert_path, "rb") as f:
            in_cert = b"-----BEGIN DH PARAMETERS-----" in f.read()
    except OSError:
        in_cert = False
    source = cert_path if in_cert else global_file
    if source:
        try:
            ctx.load_dh_params(source)
        except (ssl.SSLError, OSError, ValueError):
            raise ContextError(f"unable to load DH parameters from file '{source}'.") from None


def server_side(o: Mapping[str, Any], cert_path: str, key_path: str) -> ssl.SSLContext:
    """A context for accepting TLS with one certificate and the bind's options."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert_path, None if key_path == cert_path else key_path)
    except (ssl.SSLError, OSError) as exc:
        raise ContextError(f"unable to load certificate from file '{cert_path}' ({exc}).") from None
    _common(ctx, o, server=False)
    _dh_params(ctx, cert_path, o.get("dh-param-file"))
    ptr = ossl.ctx_pointer(ctx)
    ossl.set_session_id_context(ptr, SESSION_ID_CONTEXT)
    verify = o.get("verify", "none")
    ca = o.get("ca-file")
    if verify not in ("none", "optional", "required"):
        raise ContextError(
            f"'verify' : unknown verify method '{verify}', only 'none', 'optional', and "
            "'required' are supported"
        )
    if ca:
        try:
            ctx.load_verify_locations(cafile=ca)
        except (ssl.SSLError, OSError):
            raise ContextError(f"unable to load CA file '{ca}'.") from None
        ossl.set_client_ca_list(ptr, ca)
    if verify != "none":
        if not ca:
            raise ContextError("verify is enabled but no CA file specified.")
        ctx.verify_mode = ssl.CERT_REQUIRED if verify == "required" else ssl.CERT_OPTIONAL
    return ctx


def client_side(o: Mapping[str, Any], g_ssl: Mapping[str, Any]) -> ssl.SSLContext:
    """A context for `server … ssl`: verification as configured (HAProxy default: required)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _common(ctx, merged(o, default_words(g_ssl, "server")), server=True)
    verify = o.get("verify") or ("none" if _global_verify_none(g_ssl) else "required")
    ca = o.get("ca-file")
    if verify == "none":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        if not ca:
            raise ContextError(
                "verify is enabled by default but no CA file specified. If you're running on a "
                "LAN where you're certain to trust the server's certificate, please set an "
                "explicit 'verify none' statement on the 'server' line, or use "
                "'ssl-server-verify none' in the global section to disable server-side "
                "verifications by default."
            )
        try:
            ctx.load_verify_locations(cafile=ca)
        except (ssl.SSLError, OSError):
            raise ContextError(f"unable to load CA file '{ca}'.") from None
        ctx.check_hostname = False  # HAProxy checks the name only with verifyhost/sni
    crt = o.get("crt")
    if crt:
        try:
            ctx.load_cert_chain(crt)
        except (ssl.SSLError, OSError):
            raise ContextError(f"unable to load certificate from file '{crt}'.") from None
    if o.get("no-tls-tickets"):
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def _global_verify_none(g_ssl: Mapping[str, Any]) -> bool:
    v = g_ssl.get("ssl-server-verify")
    return bool(v) and v[0] == "none"
