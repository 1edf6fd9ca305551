"""OCSP responses: loading `FILE.ocsp`, matching them to certificates, their CertID keys.

A response is identified, as in HAProxy, by the DER of its `OCSP_CERTID`
(SHA-1 of the issuer name and key, and the serial number); `show ssl
ocsp-response` prints that DER in hex. The staple itself is the DER bytes,
handed to OpenSSL per handshake by `lb.tls.store`.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

from lb.tls import ossl

_SHA1_ALGID = bytes.fromhex("300906052b0e03021a0500")


class OcspError(ValueError):
    """A response that cannot be used; the text is HAProxy's sentence."""


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def serial_bytes(serial: int) -> bytes:
    """The magnitude of a serial number, as OpenSSL prints it (`i2a_ASN1_INTEGER`)."""
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")


def certid_der(name_hash: bytes, key_hash: bytes, serial: int) -> bytes:
    content = serial_bytes(serial)
    if content[0] & 0x80:
        content = b"\x00" + content
    body = _SHA1_ALGID + _tlv(4, name_hash) + _tlv(4, key_hash) + _tlv(2, content)
    return _tlv(0x30, body)


@dataclass(slots=True, frozen=True)
class CertId:
    name_hash: bytes
    key_hash: bytes
    serial: int

    @property
    def key(self) -> str:
        return certid_der(self.name_hash, self.key_hash, self.serial).hex()

    def describe(self) -> str:
        """The ` Certificate ID:` block of `show ssl ocsp-response`."""
        return (
            " Certificate ID:\n"
            f"   Issuer Name Hash: {self.name_hash.hex().upper()}\n"
            f"   Issuer Key Hash: {self.key_hash.hex().upper()}\n"
            f"   Serial Number: {serial_bytes(self.serial).hex().upper()}\n"
        )


def cert_id_for(cert: x509.Certificate, issuer: x509.Certificate) -> CertId:
    name_hash = hashlib.sha1(issuer.subject.public_bytes()).digest()
    spki = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_hash = hashlib.sha1(_spki_bits(spki)).digest()
    return CertId(name_hash, key_hash, cert.serial_number)


def _spki_bits(spki: bytes) -> bytes:
    """The BIT STRING contents (minus the unused-bits byte) of a SubjectPublicKeyInfo."""

    def read(buf: bytes, pos: int) -> tuple[int, int, int]:
        tag = buf[pos]
        n = buf[pos + 1]
        pos += 2
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(buf[pos : pos + k], "big")
            pos += k
        return tag, pos, n

    _, pos, _ = read(spki, 0)  # outer SEQUENCE
    _, pos, n = read(spki, pos)  # AlgorithmIdentifier
    pos += n
    _, pos, n = read(spki, pos)  # BIT STRING
    return spki[pos + 1 : pos + n]


def response_cert_id(resp: ocsp.OCSPResponse) -> CertId:
    return CertId(resp.issuer_name_hash, resp.issuer_key_hash, resp.serial_number)


def parse_response(der: bytes) -> ocsp.OCSPResponse:
    try:
        resp = ocsp.load_der_ocsp_response(der)
    except ValueError:
        raise OcspError("Unable to parse OCSP response.") from None
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspError("OCSP response status not successful.")
    return resp


def check_response(
    resp: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime.datetime | None = None
) -> None:
    """Signature (by the issuer or a responder it certified) and validity window."""
    signer = issuer
    for c in resp.certificates:
        if c.subject == resp.responder_name or _key_hash_matches(c, resp):
            signer = c
            break
    if signer is not issuer and not _verify(issuer.public_key(), signer):
        raise OcspError("OCSP single response: responder certificate not signed by issuer.")
    if not _verify_data(signer.public_key(), resp):
        raise OcspError("OCSP response signature verification failed.")
    now = now or datetime.datetime.now(datetime.UTC)
    nxt = resp.next_update_utc
    skew = datetime.timedelta(minutes=5)
    if resp.this_update_utc > now + skew or (nxt is not None and nxt < now - skew):
        raise OcspError("OCSP single response: no longer valid.")


def _key_hash_matches(c: x509.Certificate, resp: ocsp.OCSPResponse) -> bool:
    if resp.responder_key_hash is None:
        return False
    spki = c.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(_spki_bits(spki)).digest() == resp.responder_key_hash


def _verify(pub: object, cert: x509.Certificate) -> bool:
    return _check_sig(
        pub, cert.signature, cert.tbs_certificate_bytes, cert.signature_hash_algorithm
    )


def _verify_data(pub: object, resp: ocsp.OCSPResponse) -> bool:
    return _check_sig(pub, resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm)


def _check_sig(pub: object, sig: bytes, data: bytes, algo: object) -> bool:
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(sig, data, padding.PKCS1v15(), algo)  # type: ignore[arg-type]
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(sig, data, ec.ECDSA(algo))  # type: ignore[arg-type]
        else:
            pub.verify(sig, data)  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def response_text(der: bytes) -> str:
    """OpenSSL's dump of the response, with HAProxy's one quirk: empty lines carry a space."""
    text = ossl.ocsp_response_text(der)
    return "\n".join(line if line else " " for line in text.split("\n")[:-1]) + "\n"
