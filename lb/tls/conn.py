"""Per-connection TLS bookkeeping: counters, and what logs and fetches read.

Called by the listener once a handshake is over (or has failed) and by the
client protocols when they open a stream; nothing here runs per byte.
"""

from __future__ import annotations

from typing import Any


def ssl_object(transport: Any) -> Any:
    """The `ssl.SSLObject` of a TLS transport, or None for plain TCP."""
    if transport is None:
        return None
    return transport.get_extra_info("ssl_object")


def accepted(proto: Any, transport: Any) -> None:
    """A client handshake completed: `ssl_sess` / `ssl_reused_sess` of the frontend.

    Runs once per connection; what logs and fetches read (version, cipher, SNI) is asked
    of OpenSSL only when a stream needs it (`stream_tls`, `lb.sample_tls`)."""
    fe = getattr(proto, "frontend", None)
    if fe is None or transport is None:
        return
    obj = transport.get_extra_info("ssl_object")
    if obj is None:
        return
    c = fe.fe_counters
    c.ssl_sess += 1
    if obj.session_reused:
        c.ssl_reused_sess += 1
    st = getattr(proto, "stream", None)
    if st is not None:
        fill_stream(st, obj)


def failed(proto: Any) -> None:
    """A client handshake failed: `ssl_failed_handshake` of the frontend."""
    fe = getattr(proto, "frontend", None)
    if fe is not None:
        fe.fe_counters.ssl_failed_handshake += 1


def fill_stream(st: Any, obj: Any) -> None:
    """`%sslv`, `%sslc` and the `~` after the frontend name in logs."""
    st.frontend_is_ssl = True
    st.ssl_obj = obj  # what the `ssl_fc*` / `ssl_c_*` fetches read (lb.sample_tls)
    st.ssl_version = obj.version()
    cipher = obj.cipher()
    st.ssl_cipher = cipher[0] if cipher else None


def stream_tls(st: Any, transport: Any) -> None:
    obj = ssl_object(transport)
    if obj is not None:
        fill_stream(st, obj)
