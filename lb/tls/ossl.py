"""ctypes access to the libssl/libcrypto that CPython's `ssl` module already uses.

The stdlib offers no way to set session-ticket keys, staple OCSP responses,
set the session-id context or TLS 1.3 ciphersuites. All of these exist in
OpenSSL's public API, so we call it on the *same* library instance that
`_ssl` linked (found in /proc/self/maps and opened with RTLD_NOLOAD: never a
second copy, whose SSL_CTX layout or globals could differ). The `SSL_CTX *`
of an `ssl.SSLContext` is the first field after the object header; it is
checked against `SSL_CTX_get_options` before any use (see `ctx_pointer`).
"""

from __future__ import annotations

import ctypes
import os
import ssl
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_long,
    c_size_t,
    c_uint,
    c_uint64,
    c_void_p,
)

SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB = 63
SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP = 71
SSL_CTRL_SET_GROUPS_LIST = 92
SSL_TLSEXT_ERR_OK = 0
SSL_TLSEXT_ERR_NOACK = 3
OSSL_PARAM_UTF8_STRING = 4
OSSL_PARAM_OCTET_STRING = 5
OSSL_PARAM_UNMODIFIED = ctypes.c_size_t(-1).value


class TlsUnavailable(RuntimeError):
    """The loaded OpenSSL cannot be driven safely (unexpected layout or symbols)."""


class OSSL_PARAM(Structure):  # noqa: N801 - OpenSSL's name
    _fields_ = [
        ("key", c_char_p),
        ("data_type", c_uint),
        ("data", c_void_p),
        ("data_size", c_size_t),
        ("return_size", c_size_t),
    ]


TICKET_CB = CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p, c_int)
STATUS_CB = CFUNCTYPE(c_int, c_void_p, c_void_p)


def _loaded(prefix: str) -> str:
    """Path of the already mapped shared object whose name starts with `prefix`."""
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and os.path.basename(parts[5]).startswith(prefix + ".so"):
                return parts[5]
    raise TlsUnavailable(f"{prefix} is not loaded by the ssl module")


def _open(prefix: str) -> ctypes.CDLL:
    path = _loaded(prefix)
    return ctypes.CDLL(path, mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)


def _sig(lib: ctypes.CDLL, name: str, res: object, *args: object) -> None:
    fn = getattr(lib, name)
    fn.restype = res
    fn.argtypes = list(args)


libssl = _open("libssl")
libcrypto = _open("libcrypto")

_sig(libssl, "SSL_CTX_get_options", c_uint64, c_void_p)
_sig(libssl, "SSL_CTX_set_tlsext_ticket_key_evp_cb", c_int, c_void_p, TICKET_CB)
_sig(libssl, "SSL_CTX_callback_ctrl", c_long, c_void_p, c_int, STATUS_CB)
_sig(libssl, "SSL_CTX_ctrl", c_long, c_void_p, c_int, c_long, c_void_p)
_sig(libssl, "SSL_ctrl", c_long, c_void_p, c_int, c_long, c_void_p)
_sig(libssl, "SSL_get_SSL_CTX", c_void_p, c_void_p)
_sig(libssl, "SSL_CTX_set_session_id_context", c_int, c_void_p, c_char_p, c_uint)
_sig(libssl, "SSL_CTX_set_ciphersuites", c_int, c_void_p, c_char_p)
_sig(libssl, "SSL_load_client_CA_file", c_void_p, c_char_p)
_sig(libssl, "SSL_CTX_set_client_CA_list", None, c_void_p, c_void_p)
_sig(libssl, "SSL_session_reused", c_int, c_void_p)
_sig(libssl, "SSL_get_servername", c_char_p, c_void_p, c_int)
_sig(libcrypto, "RAND_bytes", c_int, c_void_p, c_int)
_sig(libcrypto, "EVP_aes_128_cbc", c_void_p)
_sig(libcrypto, "EVP_aes_256_cbc", c_void_p)
_sig(libcrypto, "EVP_EncryptInit_ex", c_int, c_void_p, c_void_p, c_void_p, c_char_p, c_void_p)
_sig(libcrypto, "EVP_DecryptInit_ex", c_int, c_void_p, c_void_p, c_void_p, c_char_p, c_void_p)
_sig(libcrypto, "EVP_MAC_CTX_set_params", c_int, c_void_p, POINTER(OSSL_PARAM))
_sig(libcrypto, "CRYPTO_malloc", c_void_p, c_size_t, c_char_p, c_int)
_sig(libcrypto, "BIO_new", c_void_p, c_void_p)
_sig(libcrypto, "BIO_s_mem", c_void_p)
_sig(libcrypto, "BIO_free", c_int, c_void_p)
_sig(libcrypto, "BIO_ctrl", c_long, c_void_p, c_int, c_long, c_void_p)
_sig(libcrypto, "d2i_OCSP_RESPONSE", c_void_p, c_void_p, POINTER(c_void_p), c_long)
_sig(libcrypto, "OCSP_RESPONSE_free", None, c_void_p)
_sig(libcrypto, "OCSP_RESPONSE_print", c_int, c_void_p, c_void_p, c_long)

_CTX_OFFSET = object.__basicsize__


def ctx_pointer(ctx: ssl.SSLContext) -> int:
    """The `SSL_CTX *` inside `ctx`, verified against the options it reports."""
    ptr = c_void_p.from_address(id(ctx) + _CTX_OFFSET).value
    if not ptr or libssl.SSL_CTX_get_options(ptr) != int(ctx.options):
        raise TlsUnavailable("cannot locate SSL_CTX inside ssl.SSLContext")
    return ptr


# `_ssl._SSLSocket` (what `SSLObject._sslobj` is): PyObject_HEAD, then `PyObject *Socket`,
# `SSL *ssl`, `PySSLContext *ctx`. The `ctx` field is checked against `.context` on each
# use, and the whole layout once at import (see `_probe_ssl_layout`).
_SSLSOCK_SSL = object.__basicsize__ + ctypes.sizeof(c_void_p)
_SSLSOCK_CTX = _SSLSOCK_SSL + ctypes.sizeof(c_void_p)
TLSEXT_NAMETYPE_host_name = 0


def ssl_pointer(obj: object) -> int | None:
    """The `SSL *` of an `ssl.SSLObject`, or None if the layout is not the expected one."""
    if not SSL_LAYOUT_OK:
        return None
    sock = getattr(obj, "_sslobj", None)
    if sock is None:
        return None
    base = id(sock)
    if c_void_p.from_address(base + _SSLSOCK_CTX).value != id(sock.context):
        return None
    return c_void_p.from_address(base + _SSLSOCK_SSL).value or None


def servername(obj: object) -> str | None:
    """The server name (SNI) the client sent, read from OpenSSL when asked.

    This replaces a Python SNI callback that recorded the name on every handshake:
    only binds with several certificates (or `strict-sni`) install a callback now."""
    ptr = ssl_pointer(obj)
    if ptr is None:
        return getattr(obj, "lb_sni", None)
    name = libssl.SSL_get_servername(ptr, TLSEXT_NAMETYPE_host_name)
    return name.decode("latin-1") if name else None


def _probe_ssl_layout() -> bool:
    """Check `_SSLSOCK_*` on a client object whose SNI we set (no handshake needed)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="probe.lb.invalid")
    sock = obj._sslobj  # type: ignore[attr-defined]
    base = id(sock)
    if c_void_p.from_address(base + _SSLSOCK_CTX).value != id(sock.context):
        return False
    ptr = c_void_p.from_address(base + _SSLSOCK_SSL).value
    if not ptr or libssl.SSL_get_SSL_CTX(ptr) != c_void_p.from_address(id(ctx) + _CTX_OFFSET).value:
        return False
    return libssl.SSL_get_servername(ptr, TLSEXT_NAMETYPE_host_name) == b"probe.lb.invalid"


def set_session_id_context(ptr: int, sid: bytes) -> None:
    if libssl.SSL_CTX_set_session_id_context(ptr, sid, len(sid)) != 1:
        raise TlsUnavailable("SSL_CTX_set_session_id_context failed")


def set_ciphersuites(ptr: int, suites: str) -> bool:
    return libssl.SSL_CTX_set_ciphersuites(ptr, suites.encode()) == 1


def set_groups(ptr: int, groups: str) -> bool:
    buf = ctypes.create_string_buffer(groups.encode())
    return libssl.SSL_CTX_ctrl(ptr, SSL_CTRL_SET_GROUPS_LIST, 0, buf) == 1


def set_client_ca_list(ptr: int, cafile: str) -> None:
    names = libssl.SSL_load_client_CA_file(cafile.encode())
    if names:
        libssl.SSL_CTX_set_client_CA_list(ptr, names)


def staple(ssl_ptr: int, der: bytes) -> bool:
    """Hand a copy of `der` to OpenSSL as this connection's stapled OCSP response."""
    buf = libcrypto.CRYPTO_malloc(len(der), b"lb.tls", 0)
    if not buf:
        return False
    ctypes.memmove(buf, der, len(der))
    return libssl.SSL_ctrl(ssl_ptr, SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP, len(der), buf) == 1


def ocsp_response_text(der: bytes) -> str:
    """OpenSSL's own text dump of an OCSP response (what `show ssl ocsp-response ID` prints)."""
    src = ctypes.create_string_buffer(der, len(der))
    pp = c_void_p(ctypes.addressof(src))
    resp = libcrypto.d2i_OCSP_RESPONSE(None, ctypes.byref(pp), len(der))
    if not resp:
        raise ValueError("Unable to parse OCSP response.")
    bio = libcrypto.BIO_new(libcrypto.BIO_s_mem())
    try:
        libcrypto.OCSP_RESPONSE_print(bio, resp, 0)
        data = c_void_p()
        n = libcrypto.BIO_ctrl(bio, 3, 0, ctypes.byref(data))  # BIO_CTRL_INFO: mem data
        return ctypes.string_at(data.value, n).decode("latin-1") if n > 0 else ""
    finally:
        libcrypto.BIO_free(bio)
        libcrypto.OCSP_RESPONSE_free(resp)


def param_array(hmac_key: bytes) -> tuple[ctypes.Array, list[object]]:
    """An OSSL_PARAM list {key, digest=SHA256} for EVP_MAC_CTX_set_params (plus keep-alives)."""
    key_buf = ctypes.create_string_buffer(hmac_key, len(hmac_key))
    digest = ctypes.create_string_buffer(b"SHA256")
    params = (OSSL_PARAM * 3)()
    params[0] = OSSL_PARAM(
        b"key",
        OSSL_PARAM_OCTET_STRING,
        ctypes.addressof(key_buf),
        len(hmac_key),
        OSSL_PARAM_UNMODIFIED,
    )
    params[1] = OSSL_PARAM(
        b"digest", OSSL_PARAM_UTF8_STRING, ctypes.addressof(digest), 6, OSSL_PARAM_UNMODIFIED
    )
    params[2] = OSSL_PARAM(None, 0, None, 0, 0)
    return params, [key_buf, digest]


try:
    SSL_LAYOUT_OK = False  # read by ssl_pointer during the probe: keep it off until proven
    SSL_LAYOUT_OK = _probe_ssl_layout()
except Exception:  # any surprise: fall back to the SNI callback that records the name
    SSL_LAYOUT_OK = False
