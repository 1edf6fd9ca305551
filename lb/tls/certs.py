"""Certificate files: `crt FILE` (PEM with chain, key inside or in FILE.key), FILE.issuer,
FILE.ocsp. Everything is parsed and cross-checked here, at build time, so that a broken
file is a configuration error naming the file, and nothing is half-loaded.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from lb.tls import ocsp as ocsp_mod

_KEY_RE = re.compile(
    rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.DOTALL
)
_IGNORED_IN_DIR = (".ocsp", ".issuer", ".key", ".sctl", ".dh")


class CertError(ValueError):
    """A certificate problem; the text is HAProxy's sentence (after the bind prefix)."""


@dataclass(slots=True)
class CertFile:
    path: str
    cert: x509.Certificate
    chain: list[x509.Certificate]
    key_path: str
    issuer: x509.Certificate | None = None
    ocsp_der: bytes | None = None
    cert_id: ocsp_mod.CertId | None = None
    names: list[str] = field(default_factory=list)
    used: bool = True
    warnings: list[str] = field(default_factory=list)

    # -- `show ssl cert FILE` -------------------------------------------------------------

    def describe(self) -> str:
        c = self.cert
        lines = [
            f"Filename: {self.path}",
            f"Status: {'Used' if self.used else 'Unused'}",
            f"Serial: {ocsp_mod.serial_bytes(c.serial_number).hex().upper()}",
            f"notBefore: {_asn1_time(c.not_valid_before_utc)}",
            f"notAfter: {_asn1_time(c.not_valid_after_utc)}",
        ]
        dns = _san_dns(c)
        if dns:
            lines.append("Subject Alternative Name: " + "".join(f"DNS:{d}, " for d in dns))
        lines += [
            f"Algorithm: {_algo(c)}",
            f"SHA1 FingerPrint: {hashlib.sha1(c.public_bytes(serialization.Encoding.DER)).hexdigest().upper()}",  # noqa: E501
            f"Subject: {oneline(c.subject)}",
            f"Issuer: {oneline(c.issuer)}",
        ]
        for ch in self.chain:
            lines += [
                f"Chain Subject: {oneline(ch.subject)}",
                f"Chain Issuer: {oneline(ch.issuer)}",
            ]
        lines.append(
            f"OCSP Response Key: {self.cert_id.key if self.cert_id and self.ocsp_der else ''}"
        )
        return "\n".join(lines) + "\n"


def _asn1_time(t: datetime.datetime) -> str:
    return f"{t:%b} {t.day:2d} {t:%H:%M:%S} {t.year} GMT"


def _san_dns(c: x509.Certificate) -> list[str]:
    try:
        ext = c.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return []
    return list(ext.value.get_values_for_type(x509.DNSName))


_SHORT = {
    NameOID.COMMON_NAME: "CN",
    NameOID.COUNTRY_NAME: "C",
    NameOID.LOCALITY_NAME: "L",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.DOMAIN_COMPONENT: "DC",
}


def oneline(name: x509.Name) -> str:
    """`/C=FR/O=Acme/CN=x`, as HAProxy prints subjects and issuers."""
    out = []
    for rdn in name.rdns:
        for a in rdn:
            key = _SHORT.get(a.oid, a.oid.dotted_string)
            out.append(f"/{key}={a.value}")
    return "".join(out)


def _algo(c: x509.Certificate) -> str:
    pub = c.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        return f"RSA{pub.key_size}"
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return f"EC{pub.key_size}"
    if isinstance(pub, dsa.DSAPublicKey):
        return f"DSA{pub.key_size}"
    return "unknown"


def cert_names(c: x509.Certificate) -> list[str]:
    """Names a certificate answers to for SNI: its CN and its DNS SANs, lower-cased."""
    names = [str(a.value).lower() for a in c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    for d in _san_dns(c):
        if d.lower() not in names:
            names.append(d.lower())
    return names


def _spki(pub: object) -> bytes:
    return pub.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _find_key(data: bytes) -> object | None:
    m = _KEY_RE.search(data)
    if m is None:
        return None
    try:
        return serialization.load_pem_private_key(m.group(0), None)
    except (ValueError, TypeError):
        return None


def load_cert_file(path: str) -> CertFile:
    """Parse and check one PEM file and its companions; raises `CertError`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise CertError(
            f"unable to stat SSL certificate from file '{path}' : {exc.strerror}."
        ) from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise CertError(f"unable to load certificate from file '{path}'.")
    leaf, chain = certs[0], certs[1:]
    key_path = path
    key = _find_key(data)
    if key is None:
        key_path = path + ".key"
        try:
            with open(key_path, "rb") as f:
                key = _find_key(f.read())
        except OSError:
            key = None
        if key is None:
            raise CertError(f"No Private Key found in '{key_path}'.")
    if _spki(key.public_key()) != _spki(leaf.public_key()):  # type: ignore[attr-defined]
        raise CertError(f"inconsistencies between private key and certificate loaded '{path}'.")
    cf = CertFile(path=path, cert=leaf, chain=chain, key_path=key_path, names=cert_names(leaf))
    _load_ocsp(cf)
    return cf


def _load_ocsp(cf: CertFile) -> None:
    path = cf.path
    issuer_path = path + ".issuer"
    if os.path.exists(issuer_path):
        try:
            with open(issuer_path, "rb") as f:
                cf.issuer = x509.load_pem_x509_certificates(f.read())[0]
        except (OSError, ValueError, IndexError):
            raise CertError(f"'{issuer_path}' : unable to load issuer certificate.") from None
    if cf.issuer is None:
        for ch in cf.chain:
            if ch.subject == cf.cert.issuer:
                cf.issuer = ch
                break
    if cf.issuer is not None:
        cf.cert_id = ocsp_mod.cert_id_for(cf.cert, cf.issuer)
    ocsp_path = path + ".ocsp"
    if not os.path.exists(ocsp_path):
        return
    if cf.cert_id is None or cf.issuer is None:
        raise CertError(
            f" '{ocsp_path}' is present and activates OCSP but it is impossible to compute the "
            "OCSP certificate ID (maybe the issuer could not be found)'."
        )
    try:
        with open(ocsp_path, "rb") as f:
            der = f.read()
    except OSError as exc:
        raise CertError(f"'{ocsp_path}' : {exc.strerror}.") from None
    try:
        resp = ocsp_mod.parse_response(der)
        if ocsp_mod.response_cert_id(resp) != cf.cert_id:
            raise ocsp_mod.OcspError(
                "OCSP single response: Certificate ID does not match certificate and issuer."
            )
        ocsp_mod.check_response(resp, cf.issuer)
    except ocsp_mod.OcspError as exc:
        if "no longer valid" in str(exc):
            # HAProxy only warns about an outdated response and staples nothing
            cf.warnings.append(f"Loading: {exc}. Content will be ignored.")
            return
        raise CertError(f"'{ocsp_path}' : {exc}") from None
    cf.ocsp_der = der


def files_in(path: str) -> list[str]:
    """`crt DIR`: every certificate file of the directory, in name order."""
    out = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if name.startswith(".") or name.endswith(_IGNORED_IN_DIR) or not os.path.isfile(full):
            continue
        out.append(full)
    return out
