"""TLS commands: ticket keys, OCSP staples and certificates (HAProxy 2.6 replies).

HAProxy 2.6 lets every level read and rotate ticket keys and OCSP responses;
`show ssl cert` needs operator (a user gets HAProxy's odd "Can't allocate
memory!"). The sentences below are HAProxy's, byte for byte.
"""

from __future__ import annotations

from typing import Any

from lb.tls.ocsp import OcspError, response_text
from lb.tls.tickets import TicketKeyError, decode_key
from runtime_api.registry import CliError, CliMessage, CommandContext, Level, arg, command


def _store(ctx: CommandContext) -> Any:
    from lb.tls import store_of

    return store_of(ctx.state)


@command("show tls-keys", level=Level.USER)
def cmd_show_tls_keys(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    """No argument: the key files; `#ID`, a file name or `*`: their keys, `.1` encrypting."""
    store = _store(ctx).tickets
    ref = arg(args, 2)
    if not ref:
        return "# id (file)\n" + "".join(f"{r.uid} ({r.path})\n" for r in store.rings.values())
    if ref == "*":
        rings = list(store.rings.values())
    else:
        ring = store.find(ref)
        if ring is None:
            raise CliError("'show tls-keys' unable to locate referenced filename")
        rings = [ring]
    return "# id secret\n" + "".join(r.dump() for r in rings)


@command("set ssl tls-key", level=Level.USER)
def cmd_set_tls_key(ctx: CommandContext, args: list[str], payload: str | None) -> CliMessage:
    """Push a key into a ring: the oldest drops out, the previous newest starts encrypting."""
    ref, b64 = arg(args, 3), arg(args, 4)
    if not ref or not b64:
        raise CliError(
            "'set ssl tls-key' expects a filename and the new TLS key in base64 encoding."
        )
    ring = _store(ctx).tickets.find(ref)
    if ring is None:
        raise CliError("'set ssl tls-key' unable to locate referenced filename")
    raw = decode_key(b64)
    if raw is None:
        raise CliError("'set ssl tls-key' received invalid base64 encoded TLS key.")
    try:
        ring.push(raw)
    except TicketKeyError as exc:
        raise CliError(str(exc)) from None
    return CliMessage("TLS ticket key updated!\n")


@command("show ssl ocsp-response", level=Level.USER)
def cmd_show_ocsp(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    certs = _store(ctx).ocsp_certs()
    key = arg(args, 3)
    if not key:
        out = ["# Certificate IDs\n"]
        for cf in certs:
            out.append(f"Certificate ID key : {cf.cert_id.key}\n")
            out.append(cf.cert_id.describe())
        return "".join(out)
    for cf in certs:
        if cf.cert_id.key == key.lower():
            return response_text(cf.ocsp_der)
    raise CliError("Certificate ID does not match any certificate.")


@command("set ssl ocsp-response", level=Level.USER)
def cmd_set_ocsp(ctx: CommandContext, args: list[str], payload: str | None) -> CliMessage:
    """Swap the staple of the certificate the response is about, for the next handshake."""
    b64 = "".join(payload.split()) if payload is not None else arg(args, 3)
    if not b64:
        raise CliError("'set ssl ocsp-response' expects response in base64 encoding.")
    try:
        _store(ctx).set_ocsp_response(b64)
    except OcspError as exc:
        raise CliError(str(exc)) from None
    return CliMessage("OCSP Response updated!\n")


@command("show ssl cert", level=Level.USER)
def cmd_show_cert(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    if ctx.session.level < Level.OPERATOR:
        raise CliError("Can't allocate memory!")
    certs = _store(ctx).certs
    name = arg(args, 3)
    if not name:
        return "# filename\n" + "".join(f"{p}\n" for p in sorted(certs))
    cf = certs.get(name)
    if cf is not None:
        return cf.describe()
    if name.endswith(".ocsp"):
        cf = certs.get(name[: -len(".ocsp")])
        if cf is not None and cf.ocsp_der is not None:
            return response_text(cf.ocsp_der)
    raise CliError("Can't display the certificate: Not found or the certificate is a bundle!")
