"""TLS termination and origination on stdlib `ssl` (uvloop's native TLS transport).

`build(state)` loads every certificate, key ring and OCSP staple of the
configuration at build time (so `lb -c` reports broken files); listeners then
ask `make_server_context` for their context, and backend connections ask
`server_context`. See `lb.tls.ossl` for what stdlib `ssl` lacks and how it is
reached.
"""

from __future__ import annotations

import ssl
from typing import Any

from lb.tls.store import TlsStore

__all__ = [
    "TlsStore",
    "build",
    "check_ssl",
    "make_server_context",
    "server_context",
    "store_of",
]


def build(state: Any) -> TlsStore:
    """Load the TLS material of `state.cfg`; raises `ConfigError` naming file and line."""
    store = TlsStore()
    if _uses_tls(state.cfg):
        store.build(state)
        if store.warnings:
            _warn(store.warnings)
    state.tls = store
    return store


def _uses_tls(cfg: Any) -> bool:
    for pc in cfg.proxies:
        if any(b.options.get("ssl") for b in pc.binds):
            return True
        if any(s.options.get("ssl") or s.options.get("check-ssl") for s in pc.servers):
            return True
    return False


def _warn(lines: list[str]) -> None:
    import os
    import sys

    from lb.logging_.notice import format_notice

    for msg in lines:
        sys.stderr.write(format_notice("WARNING", os.getpid(), f"config : {msg}") + "\n")


def store_of(state: Any) -> TlsStore:
    store = getattr(state, "tls", None)
    if store is None:
        store = build(state)
    return store


def make_server_context(bind_conf: Any, state: Any) -> ssl.SSLContext:
    """The context a `bind … ssl` listener accepts with (built by `build`)."""
    store = store_of(state)
    bt = store.binds.get(id(bind_conf))
    if bt is None:
        store._build_bind(_proxy_of(state, bind_conf), bind_conf, dict(bind_conf.options), {})
        bt = store.binds[id(bind_conf)]
    return bt.default


def server_context(server_conf: Any, state: Any) -> ssl.SSLContext | None:
    """The client context of a `server … ssl` line, or None for plain TCP."""
    store = getattr(state, "tls", None)
    return store.servers.get(id(server_conf)) if store is not None else None


def _proxy_of(state: Any, bind_conf: Any) -> Any:
    for pc in state.cfg.proxies:
        if bind_conf in pc.binds:
            return pc
    raise LookupError("bind not found in configuration")


def connect_kwargs(state: Any, server: Any) -> dict[str, Any]:
    """Extra `create_connection` arguments for a server: TLS and SNI when `ssl` is set,
    the local address when the server or its backend has a `source`."""
    conf = server.conf
    source = conf.options.get("source") or server.proxy.options.get("source")
    out = {"local_addr": source} if source else {}
    store = getattr(state, "tls", None)
    if store is None or not store.servers:
        return out
    ctx = store.servers.get(id(conf))
    if ctx is None or not conf.options.get("ssl"):
        return out
    out.update(ssl=ctx, server_hostname=_literal_sni(conf.options.get("sni")) or "")
    return out


def check_ssl(state: Any, conf: Any) -> tuple[ssl.SSLContext, str | None] | None:
    """The context (and SNI) of a server's health checks, None for plain TCP.

    As HAProxy: `check-ssl`, or `ssl` when the check goes to the traffic port
    (no `port` / `addr` override on the server line)."""
    store = getattr(state, "tls", None)
    if store is None:
        return None
    o = conf.options
    use = bool(o.get("check-ssl")) or (
        bool(o.get("ssl")) and not getattr(conf, "check_port", None)
        and not getattr(conf, "check_addr", None)
    )  # fmt: skip
    ctx = store.servers.get(id(conf)) if use else None
    if ctx is None:
        return None
    sni = o.get("check-sni")
    return ctx, (sni if isinstance(sni, str) else None)


def _literal_sni(expr: Any) -> str | None:
    """`sni str(name)`: other sample expressions need the sample registry (not wired yet)."""
    if isinstance(expr, str) and expr.startswith("str(") and expr.endswith(")"):
        return expr[4:-1]
    return None
