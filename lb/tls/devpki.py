"""A throw-away PKI for tests and benchmarks: a CA, leaf certificates, OCSP responses.

Nothing here is used by the load balancer itself; it lives beside the TLS
code so that unit, integration and bench code share one generator (the
reference notes suggest trustme; cryptography alone does the same job and is
already a dependency).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

_NOW = datetime.datetime.now(datetime.UTC)


def _key(kind: str) -> object:
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass
class Leaf:
    cert: x509.Certificate
    key: object

    def pem(self, chain: list[x509.Certificate] = ()) -> bytes:  # type: ignore[assignment]
        out = self.cert.public_bytes(serialization.Encoding.PEM)
        for c in chain:
            out += c.public_bytes(serialization.Encoding.PEM)
        return out + _pem_key(self.key)


class CA:
    def __init__(self, name: str = "lb test CA", kind: str = "rsa") -> None:
        self.key = _key(kind)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())  # type: ignore[attr-defined]
            .serial_number(x509.random_serial_number())
            .not_valid_before(_NOW - datetime.timedelta(days=1))
            .not_valid_after(_NOW + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())  # type: ignore[arg-type]
        )

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self, *names: str, kind: str = "rsa", client: bool = False, serial: int | None = None
    ) -> Leaf:
        key = _key(kind)
        cn = names[0] if names else "client"
        sans: list[x509.GeneralName] = []
        for n in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())  # type: ignore[attr-defined]
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(_NOW - datetime.timedelta(days=1))
            .not_valid_after(_NOW + datetime.timedelta(days=90))
        )
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if client:
            b = b.add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        return Leaf(b.sign(self.key, hashes.SHA256()), key)  # type: ignore[arg-type]

    def ocsp(self, leaf: Leaf, revoked: bool = False, valid_days: int = 7) -> bytes:
        """A DER OCSP response for `leaf`, signed by this CA."""
        status = ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD
        b = ocsp.OCSPResponseBuilder().add_response(
            cert=leaf.cert,
            issuer=self.cert,
            algorithm=hashes.SHA1(),
            cert_status=status,
            this_update=_NOW - datetime.timedelta(hours=1),
            next_update=_NOW + datetime.timedelta(days=valid_days),
            revocation_time=_NOW - datetime.timedelta(minutes=5) if revoked else None,
            revocation_reason=None,
        )
        b = b.responder_id(ocsp.OCSPResponderEncoding.NAME, self.cert)
        resp = b.sign(self.key, hashes.SHA256())  # type: ignore[arg-type]
        return resp.public_bytes(serialization.Encoding.DER)


def write_site(
    directory: Path, name: str, ca: CA, leaf: Leaf, ocsp_der: bytes | None = None
) -> str:
    """`name` (cert + key), `name.issuer` and optionally `name.ocsp` under `directory`."""
    path = directory / name
    path.write_bytes(leaf.pem())
    (directory / (name + ".issuer")).write_bytes(ca.pem)
    if ocsp_der is not None:
        (directory / (name + ".ocsp")).write_bytes(ocsp_der)
    return str(path)


def ticket_keys(n: int = 3, size: int = 48) -> list[bytes]:
    return [os.urandom(size) for _ in range(n)]
