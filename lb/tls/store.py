"""The TLS part of the live state: certificates, key rings, staples and bind contexts.

Built once from the model (`TlsStore.build`), before any socket is opened,
so `lb -c` sees every broken file. The Runtime API changes it through
`push_ticket_key` and `set_ocsp_response`; handshakes read it through the
OpenSSL callbacks installed here, so a change applies to the next handshake.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
from dataclasses import dataclass, field
from typing import Any

from lb.tls import context as ctxmod
from lb.tls import ocsp as ocsp_mod
from lb.tls import ossl
from lb.tls.certs import CertError, CertFile, files_in, load_cert_file
from lb.tls.crtlist import CrtListError, CrtListLine, parse_crt_list
from lb.tls.tickets import TicketKeyError, TicketKeyStore


@dataclass(slots=True)
class SniEntry:
    ctx: ssl.SSLContext
    cert: CertFile


@dataclass(slots=True)
class BindTls:
    """What one `bind … ssl` line accepts with: a default context and the SNI table."""

    default: ssl.SSLContext
    exact: dict[str, SniEntry] = field(default_factory=dict)
    wildcard: dict[str, SniEntry] = field(default_factory=dict)
    excluded: set[str] = field(default_factory=set)
    strict: bool = False
    switching: bool = True  # `can_switch()`, computed once the table is complete

    def pick(self, name: str) -> ssl.SSLContext | None:
        """The context for a server name: exact, then `*.domain`, else None."""
        name = name.lower().rstrip(".")
        e = self.exact.get(name)
        if e is None and "." in name:
            e = self.wildcard.get(name.split(".", 1)[1])
        return e.ctx if e is not None else None

    def can_switch(self) -> bool:
        """Whether the server name can change anything: another certificate, or a refusal."""
        if self.strict:
            return True
        default = self.default
        return any(e.ctx is not default for e in (*self.exact.values(), *self.wildcard.values()))

    def sni_callback(self, sslobj: Any, name: str | None, ctx: ssl.SSLContext) -> int | None:
        # Always installed, even with one certificate: without a servername callback
        # OpenSSL does not acknowledge SNI, and then keeps no name in the session (a
        # resumed TLS 1.2 connection would have no `ssl_fc_sni`). `ssl_fc_sni` reads the
        # name from OpenSSL (`ossl.servername`); it is recorded here only when it cannot.
        if not ossl.SSL_LAYOUT_OK:
            sslobj.lb_sni = name
        if not self.switching:
            return None
        target = self.pick(name) if name else None
        if target is None:
            return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE if self.strict else None
        if target is not ctx:
            sslobj.context = target
        return None


class TlsStore:
    def __init__(self) -> None:
        self.certs: dict[str, CertFile] = {}
        self.tickets = TicketKeyStore()
        self.binds: dict[int, BindTls] = {}
        self.servers: dict[int, ssl.SSLContext] = {}
        self.staples: dict[int, CertFile] = {}  # SSL_CTX * -> certificate with a staple
        self._status_cb = ossl.STATUS_CB(self._status)
        self.warnings: list[str] = []

    # ------------------------------------------------------------ building

    def build(self, state: Any) -> None:
        cfg = state.cfg
        g_ssl = cfg.global_.ssl
        bind_defaults = ctxmod.default_words(g_ssl, "bind")
        for pc in cfg.proxies:
            for b in pc.binds:
                if b.options.get("ssl"):
                    self._build_bind(pc, b, ctxmod.merged(b.options, bind_defaults), g_ssl)
            for s in pc.servers:
                if s.options.get("ssl") or s.options.get("check-ssl"):
                    try:
                        self.servers[id(s)] = ctxmod.client_side(s.options, g_ssl)
                    except ctxmod.ContextError as exc:
                        raise s.where.error(f"'server {pc.name}/{s.name}' : {exc}") from None
        self.tickets.finalize()

    def _build_bind(self, pc: Any, b: Any, opts: dict[str, Any], g_ssl: Any) -> None:
        prefix = f"'bind {_bind_text(b)}' in section '{pc.kind}' : "
        alpn = opts.get("alpn")
        if alpn and pc.mode == "http" and "h2" in alpn.split(","):
            # HTTP/2 is not spoken here yet: offering it would break every h2-capable client
            opts["alpn"] = ",".join(p for p in alpn.split(",") if p != "h2")
            self.warnings.append(
                f"parsing [{b.where.file}:{b.where.line}] : {prefix}'h2' removed from 'alpn' "
                "(HTTP/2 is not supported)."
            )
        try:
            lines = self._cert_lines(opts, g_ssl)
            if not lines:
                raise CertError(
                    f"no SSL certificate specified for bind '{_bind_text(b)}' at "
                    f"[{b.where.file}:{b.where.line}] (use 'crt')."
                )
            bt: BindTls | None = None
            for line in lines:
                cf = self._cert(line.path)
                ctx = ctxmod.server_side(ctxmod.merged(opts, line.options), cf.path, cf.key_path)
                if cf.ocsp_der is not None:
                    self._install_stapler(ctx, cf)
                if bt is None:
                    bt = BindTls(default=ctx, strict=bool(opts.get("strict-sni")))
                entry = SniEntry(ctx, cf)
                names = [f for f in line.filters if not f.startswith("!")] or cf.names
                bt.excluded.update(f[1:] for f in line.filters if f.startswith("!"))
                for n in names:
                    if n in bt.excluded:
                        continue
                    if n.startswith("*."):
                        bt.wildcard.setdefault(n[2:], entry)
                    else:
                        bt.exact.setdefault(n, entry)
            assert bt is not None
            ptr = ossl.ctx_pointer(bt.default)
            keyfile = opts.get("tls-ticket-keys")
            if keyfile and not opts.get("no-tls-tickets"):
                self.tickets.get(keyfile).install(ptr)
            bt.switching = bt.can_switch()
            bt.default.sni_callback = bt.sni_callback
        except (
            CertError,
            CrtListError,
            TicketKeyError,
            ctxmod.ContextError,
            ocsp_mod.OcspError,
        ) as exc:
            raise b.where.error(prefix + str(exc)) from None
        except ossl.TlsUnavailable as exc:
            raise b.where.error(prefix + f"TLS is unavailable: {exc}.") from None
        self.binds[id(b)] = bt

    def _cert_lines(self, opts: dict[str, Any], g_ssl: Any) -> list[CrtListLine]:
        base = (g_ssl.get("crt-base") or ("",))[0]
        lines: list[CrtListLine] = []
        for crt in opts.get("crt", []):
            path = _based(base, crt)
            if os.path.isdir(path):
                lines += [CrtListLine(path=p) for p in files_in(path)]
            else:
                lines.append(CrtListLine(path=path))
        lst = opts.get("crt-list")
        if lst:
            try:
                with open(lst) as f:
                    text = f.read()
            except OSError as exc:
                raise CrtListError(f"'{lst}' : {exc.strerror}.") from None
            for line in parse_crt_list(lst, text):
                line.path = _based(base, line.path)
                lines.append(line)
        return lines

    def _cert(self, path: str) -> CertFile:
        cf = self.certs.get(path)
        if cf is None:
            cf = load_cert_file(path)
            self.warnings.extend(cf.warnings)
            self.certs[path] = cf
        return cf

    def _install_stapler(self, ctx: ssl.SSLContext, cf: CertFile) -> None:
        ptr = ossl.ctx_pointer(ctx)
        ossl.libssl.SSL_CTX_callback_ctrl(
            ptr, ossl.SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB, self._status_cb
        )
        self.staples[ptr] = cf  # valid while the context lives, i.e. as long as this store

    def _status(self, ssl_ptr: int, arg: int) -> int:
        """OpenSSL asks for the staple of the certificate this handshake uses."""
        try:
            cf = self.staples.get(ossl.libssl.SSL_get_SSL_CTX(ssl_ptr))
            if cf is None or cf.ocsp_der is None:
                return ossl.SSL_TLSEXT_ERR_NOACK
            if not ossl.staple(ssl_ptr, cf.ocsp_der):
                return ossl.SSL_TLSEXT_ERR_NOACK
            return ossl.SSL_TLSEXT_ERR_OK
        except Exception:
            return ossl.SSL_TLSEXT_ERR_NOACK

    # ------------------------------------------------------------ run time

    def ocsp_certs(self) -> list[CertFile]:
        """Certificates with a staple, in HAProxy's order (by CertID key)."""
        seen: dict[str, CertFile] = {}
        for cf in self.certs.values():
            if cf.ocsp_der is not None and cf.cert_id is not None:
                seen.setdefault(cf.cert_id.key, cf)
        return [seen[k] for k in sorted(seen)]

    def set_ocsp_response(self, b64: str) -> None:
        """`set ssl ocsp-response`: check the response, then swap every matching staple."""
        try:
            der = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ocsp_mod.OcspError(
                "'set ssl ocsp-response' received invalid base64 encoded response."
            ) from None
        resp = ocsp_mod.parse_response(der)
        cid = ocsp_mod.response_cert_id(resp)
        targets = [cf for cf in self.ocsp_certs() if cf.cert_id == cid]
        if not targets:
            raise ocsp_mod.OcspError(
                "OCSP single response: Certificate ID does not match any certificate or issuer."
            )
        issuer = targets[0].issuer
        assert issuer is not None
        ocsp_mod.check_response(resp, issuer)
        for cf in targets:
            cf.ocsp_der = der


def _based(base: str, path: str) -> str:
    return os.path.join(base, path) if base and not os.path.isabs(path) else path


def _bind_text(b: Any) -> str:
    text = getattr(b, "text", "")
    if text:
        return text
    parts = []
    for a in b.addrs:
        if a.family == "unix":
            parts.append(a.path)
        elif a.family == "fd":
            parts.append(f"fd@{a.fd}")
        else:
            parts.append(f"{a.host}:{a.port}")
    return ",".join(parts)
