"""`server … redir PREFIX`: GET and HEAD requests for that server are answered with
a 302 to PREFIX followed by the request's path (from its leading '/'); other
methods are forwarded as usual. The response is HAProxy's, always closing."""

from __future__ import annotations

from typing import Any


def location_target(uri: bytes) -> bytes:
    """The part of a request target from the path's leading '/' on (an absolute-form
    target loses its scheme and authority)."""
    if uri[:1] == b"/":
        return uri
    scheme = uri.find(b"://")
    if scheme >= 0:
        slash = uri.find(b"/", scheme + 3)
        return uri[slash:] if slash >= 0 else b"/"
    return uri


def redirect_response(prefix: bytes, uri: bytes) -> bytes:
    return (
        b"HTTP/1.1 302 Found\r\ncache-control: no-cache\r\ncontent-length: 0\r\n"
        b"location: " + prefix + location_target(uri) + b"\r\nconnection: close\r\n\r\n"
    )


def server_redirect(front: Any, srv: Any, st: Any) -> bool:
    """Answer `st` with the server's redirect if its method is GET or HEAD."""
    if st.method not in (b"GET", b"HEAD"):
        return False
    data = redirect_response(srv.redir, st.uri or b"/")
    front._local_response(302, data, True, "LC")
    return True
