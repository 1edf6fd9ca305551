"""Session-ticket keys with HAProxy's ring semantics, driven through OpenSSL's callback.

A `tls-ticket-keys` file holds base64 lines of 48 bytes (AES-128) or 80
bytes (AES-256) laid out `name[16] | aes key | hmac key`. The ring keeps the
last three keys: `.0` is the oldest, `.1` encrypts new tickets, `.2` is the
newest (published early so that every node of a fleet can decrypt before
anyone encrypts with it). All three decrypt; a ticket under a key other than
the encrypting one is accepted and renewed. `set ssl tls-key` pushes a key:
the oldest falls out, the previous newest starts encrypting.

Tickets are AES-CBC + HMAC-SHA256 as OpenSSL lays them out, and the
session-id context is the one HAProxy uses, so tickets resume across a fleet
mixing `lb` and HAProxy.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
from collections.abc import Iterable
from dataclasses import dataclass, field

from lb.tls import ossl

RING_SIZE = 3
KEY_SIZES = (48, 80)


class TicketKeyError(ValueError):
    """A key file or key that cannot be used; the text is HAProxy's sentence."""


@dataclass(slots=True)
class TicketKey:
    raw: bytes
    name: bytes = b""
    aes: bytes = b""
    hmac: bytes = b""
    params: object = None
    keep: list[object] = field(default_factory=list)

    def __post_init__(self) -> None:
        size = len(self.raw)
        aes_len = 16 if size == 48 else 32
        self.name = self.raw[:16]
        self.aes = self.raw[16 : 16 + aes_len]
        self.hmac = self.raw[16 + aes_len :]
        self.params, self.keep = ossl.param_array(self.hmac)

    @property
    def b64(self) -> str:
        return base64.b64encode(self.raw).decode()


def decode_key(text: str) -> bytes | None:
    """Strict base64 (HAProxy refuses garbage rather than skipping it)."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_key_lines(path: str, lines: Iterable[str]) -> list[bytes]:
    """The keys of a file, checked as HAProxy checks them (messages name file and line)."""
    keys: list[bytes] = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        raw = decode_key(text)
        if raw is None:
            raise TicketKeyError(f"'{path}' : unable to decode base64 key on line {n}")
        if len(raw) not in KEY_SIZES or (keys and len(raw) != len(keys[0])):
            raise TicketKeyError(f"'{path}' : wrong sized key on line {n}")
        keys.append(raw)
    if len(keys) < RING_SIZE:
        raise TicketKeyError(f"'{path}' : please supply at least 3 keys in the tls-tickets-file")
    return keys


def load_key_file(path: str) -> list[bytes]:
    try:
        with open(path, encoding="latin-1") as f:
            lines = f.readlines()
    except OSError:
        raise TicketKeyError(f"'{path}' : unable to load ssl tickets keys file") from None
    return parse_key_lines(path, lines)


class TicketKeyRing:
    """The three live keys of one key file, shared by every bind that names the file."""

    def __init__(self, path: str, keys: list[bytes]) -> None:
        self.path = path
        self.uid = 0
        self.key_size = len(keys[0])
        self.keys = [TicketKey(k) for k in keys[-RING_SIZE:]]
        self._evp_cipher = self._cipher()  # a static EVP_CIPHER: looked up once
        self._cb = ossl.TICKET_CB(self._callback)

    # -- operator side -------------------------------------------------------------------

    def push(self, raw: bytes) -> None:
        """`set ssl tls-key`: drop the oldest key, the new one becomes the newest."""
        if len(raw) != self.key_size:
            raise TicketKeyError("'set ssl tls-key' received a key of wrong size.")
        self.keys = [*self.keys[1:], TicketKey(raw)]

    def dump(self) -> str:
        lines = [f"# {self.uid} ({self.path})\n"]
        lines += [f"{self.uid}.{i} {k.b64}\n" for i, k in enumerate(self.keys)]
        return "".join(lines)

    # -- OpenSSL side --------------------------------------------------------------------

    def install(self, ctx_ptr: int) -> None:
        """Make this ring encrypt and decrypt the tickets of an `SSL_CTX`."""
        if ossl.libssl.SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx_ptr, self._cb) != 1:
            raise ossl.TlsUnavailable("SSL_CTX_set_tlsext_ticket_key_evp_cb failed")

    def _cipher(self) -> int:
        lib = ossl.libcrypto
        return lib.EVP_aes_128_cbc() if self.key_size == 48 else lib.EVP_aes_256_cbc()

    def _callback(self, ssl: int, name: int, iv: int, cctx: int, hctx: int, enc: int) -> int:
        """OpenSSL's ticket-key callback: 1 use, 2 use and renew, 0 unknown key, -1 error."""
        try:
            lib = ossl.libcrypto
            if enc:
                key = self.keys[1]
                if lib.RAND_bytes(iv, 16) != 1:
                    return -1
                ctypes.memmove(name, key.name, 16)
                if not lib.EVP_EncryptInit_ex(cctx, self._evp_cipher, None, key.aes, iv):
                    return -1
                if not lib.EVP_MAC_CTX_set_params(hctx, key.params):
                    return -1
                return 1
            wanted = ctypes.string_at(name, 16)
            keys = self.keys
            idx = next((i for i, k in enumerate(keys) if k.name == wanted), -1)
            if idx < 0:
                return 0  # unknown key: full handshake
            key = keys[idx]
            if not lib.EVP_MAC_CTX_set_params(hctx, key.params):
                return -1
            if not lib.EVP_DecryptInit_ex(cctx, self._evp_cipher, None, key.aes, iv):
                return -1
            return 1 if idx == 1 else 2
        except Exception:  # an exception must never cross into OpenSSL
            return -1


class TicketKeyStore:
    """Every key file of the configuration, numbered as HAProxy numbers them."""

    def __init__(self) -> None:
        self.rings: dict[str, TicketKeyRing] = {}

    def get(self, path: str) -> TicketKeyRing:
        ring = self.rings.get(path)
        if ring is None:
            ring = TicketKeyRing(path, load_key_file(path))
            self.rings[path] = ring
        return ring

    def finalize(self) -> None:
        """HAProxy numbers the files from the last one first mentioned down to the first."""
        ordered = list(self.rings.values())[::-1]
        self.rings = {r.path: r for r in ordered}
        for uid, ring in enumerate(ordered):
            ring.uid = uid

    def find(self, ref: str) -> TicketKeyRing | None:
        """`#ID` or a file name."""
        if ref.startswith("#"):
            for ring in self.rings.values():
                if ref[1:] == str(ring.uid):
                    return ring
            return None
        return self.rings.get(ref)
