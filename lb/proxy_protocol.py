"""The PROXY protocol (v1 text and v2 binary, with TLVs), sans-IO.

``parse(data)`` takes the first bytes of a connection and returns a
``ProxyHeader`` (with ``length``, the bytes it used), None when more bytes are
needed, or raises ``ProxyProtocolError`` whose message is HAProxy's wording
for the failure (what it logs for the connection). ``build_v1``/``build_v2``
make the header a sender puts first on a server connection.

The receiver rules follow the specification (haproxy's proxy-protocol.txt):
v1 lines are at most 107 bytes with a CRLF, addresses in canonical form
(no leading zeroes), ports 0..65535; v2 is the 12-byte signature, version 2,
command LOCAL or PROXY, then the address block and TLVs, whose CRC32C is
checked when present. ``UNKNOWN`` (v1), ``LOCAL`` and the unspecified or
unix families (v2) mean "use the real connection's addresses": the header
then has ``src`` None.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
V1_MAX = 107
V2_HEAD = 16

# v2 commands and families
CMD_LOCAL = 0x0
CMD_PROXY = 0x1
FAM_UNSPEC = 0x00
FAM_TCP4 = 0x11
FAM_UDP4 = 0x12
FAM_TCP6 = 0x21
FAM_UDP6 = 0x22
FAM_UNIX_STREAM = 0x31
FAM_UNIX_DGRAM = 0x32

# TLV types (section 2.2)
PP2_TYPE_ALPN = 0x01
PP2_TYPE_AUTHORITY = 0x02
PP2_TYPE_CRC32C = 0x03
PP2_TYPE_NOOP = 0x04
PP2_TYPE_UNIQUE_ID = 0x05
PP2_TYPE_SSL = 0x20
PP2_SUBTYPE_SSL_VERSION = 0x21
PP2_SUBTYPE_SSL_CN = 0x22
PP2_SUBTYPE_SSL_CIPHER = 0x23
PP2_SUBTYPE_SSL_SIG_ALG = 0x24
PP2_SUBTYPE_SSL_KEY_ALG = 0x25
PP2_TYPE_NETNS = 0x30

PP2_CLIENT_SSL = 0x01
PP2_CLIENT_CERT_CONN = 0x02
PP2_CLIENT_CERT_SESS = 0x04

# HAProxy's connection error texts (what it logs for a refused header)
ERR_NOT_HDR = "Received something which does not look like a PROXY protocol header"
ERR_BAD_HDR = "Received an invalid PROXY protocol header"
ERR_TRUNCATED = "Truncated PROXY protocol header received"
ERR_BAD_PROTO = "Received an unhandled protocol in the PROXY protocol header"
ERR_ABORT = "Connection error during PROXY protocol header parsing"  # not a header problem
ERR_TIMEOUT = "Timeout while waiting for PROXY protocol header"


class ProxyProtocolError(ValueError):
    """A header that must close the connection; the message is HAProxy's."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A parsed header. ``src``/``dst`` are None when the real connection's
    addresses apply (v1 UNKNOWN, v2 LOCAL, unspecified or unix families)."""

    version: int
    command: str  # "PROXY" or "LOCAL"
    family: int  # v2 family/protocol byte (v1: FAM_TCP4/FAM_TCP6/FAM_UNSPEC)
    src: tuple[str, int] | None
    dst: tuple[str, int] | None
    length: int
    tlvs: tuple[tuple[int, bytes], ...] = ()

    def tlv(self, kind: int) -> bytes | None:
        for t, v in self.tlvs:
            if t == kind:
                return v
        return None

    @property
    def authority(self) -> str | None:
        v = self.tlv(PP2_TYPE_AUTHORITY)
        return v.decode("utf-8", "replace") if v is not None else None

    @property
    def unique_id(self) -> bytes | None:
        return self.tlv(PP2_TYPE_UNIQUE_ID)


# ---------------------------------------------------------------- receiving


def parse(data: bytes | bytearray | memoryview) -> ProxyHeader | None:
    """Parse the header at the start of ``data``; None means "need more"."""
    buf = bytes(data[: V2_HEAD + 65535])
    n = len(buf)
    if n == 0:
        return None
    if buf[:1] == b"\r":
        if n < len(V2_SIG):
            if V2_SIG.startswith(buf):
                return None
            raise ProxyProtocolError(ERR_NOT_HDR)
        if buf[:12] != V2_SIG:
            raise ProxyProtocolError(ERR_NOT_HDR)
        return _parse_v2(buf)
    if n < 6:
        if b"PROXY "[:n] == buf:
            return None
        raise ProxyProtocolError(ERR_NOT_HDR)
    if buf[:6] != b"PROXY ":
        raise ProxyProtocolError(ERR_NOT_HDR)
    return _parse_v1(buf)


def _parse_v1(buf: bytes) -> ProxyHeader | None:
    end = buf.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(buf) >= V1_MAX or b"\n" in buf[:V1_MAX]:
            raise ProxyProtocolError(ERR_BAD_HDR)
        return None
    line = buf[6:end]
    length = end + 2
    if line.startswith(b"UNKNOWN"):
        return ProxyHeader(1, "PROXY", FAM_UNSPEC, None, None, length)
    parts = line.split(b" ")
    if len(parts) != 5 or parts[0] not in (b"TCP4", b"TCP6"):
        raise ProxyProtocolError(ERR_BAD_HDR)
    v6 = parts[0] == b"TCP6"
    try:
        src = _v1_addr(parts[1], v6)
        dst = _v1_addr(parts[2], v6)
        sport = _v1_port(parts[3])
        dport = _v1_port(parts[4])
    except ValueError:
        raise ProxyProtocolError(ERR_BAD_HDR) from None
    return ProxyHeader(1, "PROXY", FAM_TCP6 if v6 else FAM_TCP4, (src, sport), (dst, dport), length)


def _v1_addr(raw: bytes, v6: bool) -> str:
    text = raw.decode("ascii")
    if v6:
        return str(ipaddress.IPv6Address(text))
    octets = text.split(".")
    if len(octets) != 4 or any(
        not o.isdigit() or (len(o) > 1 and o[0] == "0") or int(o) > 255 for o in octets
    ):
        raise ValueError(text)
    return text


def _v1_port(raw: bytes) -> int:
    if not raw.isdigit() or (len(raw) > 1 and raw[:1] == b"0"):
        raise ValueError(raw)
    port = int(raw)
    if port > 65535:
        raise ValueError(raw)
    return port


def _parse_v2(buf: bytes) -> ProxyHeader | None:
    if len(buf) < V2_HEAD:
        return None
    ver_cmd, fam, alen = struct.unpack_from("!BBH", buf, 12)
    if ver_cmd >> 4 != 2:
        raise ProxyProtocolError(ERR_NOT_HDR)
    total = V2_HEAD + alen
    if len(buf) < total:
        return None
    cmd = ver_cmd & 0x0F
    block = buf[V2_HEAD:total]
    if cmd == CMD_LOCAL:
        tlvs = _tlvs_or_fail(block, _addr_len(fam), buf[:total])
        return ProxyHeader(2, "LOCAL", fam, None, None, total, tlvs)
    if cmd != CMD_PROXY:
        raise ProxyProtocolError(ERR_BAD_HDR)
    src: tuple[str, int] | None = None
    dst: tuple[str, int] | None = None
    if fam in (FAM_TCP4, FAM_UDP4):
        if alen < 12:
            raise ProxyProtocolError(ERR_BAD_HDR)
        s, d, sp, dp = struct.unpack_from("!4s4sHH", block)
        src = (str(ipaddress.IPv4Address(s)), sp)
        dst = (str(ipaddress.IPv4Address(d)), dp)
    elif fam in (FAM_TCP6, FAM_UDP6):
        if alen < 36:
            raise ProxyProtocolError(ERR_BAD_HDR)
        s, d, sp, dp = struct.unpack_from("!16s16sHH", block)
        src = (_v6_text(s), sp)
        dst = (_v6_text(d), dp)
    elif fam in (FAM_UNIX_STREAM, FAM_UNIX_DGRAM):
        if alen < 216:
            raise ProxyProtocolError(ERR_BAD_HDR)
    elif fam != FAM_UNSPEC:
        raise ProxyProtocolError(ERR_BAD_PROTO)
    tlvs = _tlvs_or_fail(block, _addr_len(fam), buf[:total])
    return ProxyHeader(2, "PROXY", fam, src, dst, total, tlvs)


def _v6_text(raw: bytes) -> str:
    addr = ipaddress.IPv6Address(raw)
    mapped = addr.ipv4_mapped
    return str(mapped) if mapped is not None else str(addr)


def _addr_len(fam: int) -> int:
    return {FAM_TCP4: 12, FAM_UDP4: 12, FAM_TCP6: 36, FAM_UDP6: 36}.get(
        fam, 216 if fam in (FAM_UNIX_STREAM, FAM_UNIX_DGRAM) else 0
    )


def _tlvs_or_fail(block: bytes, skip: int, header: bytes) -> tuple[tuple[int, bytes], ...]:
    if skip > len(block):
        skip = len(block)
    try:
        tlvs = decode_tlvs(block[skip:])
    except ValueError:
        raise ProxyProtocolError(ERR_BAD_HDR) from None
    for kind, value in tlvs:
        if kind == PP2_TYPE_CRC32C and (len(value) != 4 or not _crc_ok(header, value)):
            raise ProxyProtocolError(ERR_BAD_HDR)
    return tlvs


def decode_tlvs(data: bytes) -> tuple[tuple[int, bytes], ...]:
    """``type(1) length(2) value`` vectors; a vector cut short is an error."""
    out: list[tuple[int, bytes]] = []
    i = 0
    n = len(data)
    while i < n:
        if i + 3 > n:
            raise ValueError("truncated TLV")
        kind = data[i]
        ln = (data[i + 1] << 8) | data[i + 2]
        if i + 3 + ln > n:
            raise ValueError("truncated TLV")
        out.append((kind, data[i + 3 : i + 3 + ln]))
        i += 3 + ln
    return tuple(out)


def parse_ssl_tlv(value: bytes) -> tuple[int, int, tuple[tuple[int, bytes], ...]]:
    """The PP2_TYPE_SSL value: (client flags, verify, sub-TLVs)."""
    if len(value) < 5:
        raise ValueError("short SSL TLV")
    client, verify = struct.unpack_from("!BI", value)
    return client, verify, decode_tlvs(value[5:])


# ---------------------------------------------------------------- sending


def build_v1(src: tuple[str, int] | None, dst: tuple[str, int] | None) -> bytes:
    """``PROXY TCP4|TCP6 src dst sport dport\\r\\n``, or ``PROXY UNKNOWN\\r\\n``
    when the addresses are missing or of different families."""
    if src is None or dst is None:
        return b"PROXY UNKNOWN\r\n"
    s = _ip(src[0])
    d = _ip(dst[0])
    if s is None or d is None:
        return b"PROXY UNKNOWN\r\n"
    if s.version != d.version:
        # a v4 client on a dual-stack listener: write both as IPv6
        s, d = _as_v6(s), _as_v6(d)
    proto = "TCP4" if s.version == 4 else "TCP6"
    return f"PROXY {proto} {s} {d} {src[1]} {dst[1]}\r\n".encode("ascii")


def build_v2(
    src: tuple[str, int] | None,
    dst: tuple[str, int] | None,
    tlvs: Iterable[tuple[int, bytes]] = (),
    *,
    local: bool = False,
    crc32c: bool = False,
) -> bytes:
    """A v2 header. Without usable addresses (or with ``local``) the command is
    LOCAL with an unspecified family, as a health check sends it."""
    s = _ip(src[0]) if src is not None else None
    d = _ip(dst[0]) if dst is not None else None
    if local or s is None or d is None or src is None or dst is None:
        cmd, fam, block = CMD_LOCAL, FAM_UNSPEC, b""
    else:
        if s.version != d.version:
            s, d = _as_v6(s), _as_v6(d)
        cmd = CMD_PROXY
        if s.version == 4:
            fam = FAM_TCP4
        else:
            fam = FAM_TCP6
        block = s.packed + d.packed + struct.pack("!HH", src[1], dst[1])
    # the checksum goes first, as HAProxy places it
    crc_tlv = bytes((PP2_TYPE_CRC32C, 0, 4)) + b"\x00\x00\x00\x00" if crc32c else b""
    body = block + crc_tlv + encode_tlvs(tlvs)
    out = V2_SIG + struct.pack("!BBH", 0x20 | cmd, fam, len(body)) + body
    if crc32c:
        at = V2_HEAD + len(block) + 3
        out = out[:at] + struct.pack("!I", crc32c_checksum(out)) + out[at + 4 :]
    return out


def encode_tlvs(tlvs: Iterable[tuple[int, bytes]]) -> bytes:
    return b"".join(struct.pack("!BH", kind, len(value)) + value for kind, value in tlvs)


def ssl_tlv(
    client: int,
    verify: int = 0,
    subs: Sequence[tuple[int, bytes]] = (),
) -> tuple[int, bytes]:
    """The PP2_TYPE_SSL vector: client flags, verify result, sub-TLVs."""
    return PP2_TYPE_SSL, struct.pack("!BI", client, verify) + encode_tlvs(subs)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _as_v6(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv6Address:
    if isinstance(a, ipaddress.IPv6Address):
        return a
    return ipaddress.IPv6Address("::ffff:" + str(a))


# ---------------------------------------------------------------- CRC32C (Castagnoli)


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c_checksum(data: bytes) -> int:
    """CRC32C as RFC 4960 appendix B (reflected, init and final xor 0xFFFFFFFF)."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _crc_ok(header: bytes, value: bytes) -> bool:
    """Recompute with the checksum field zeroed (it is the TLV's value)."""
    pos = header.rfind(bytes((PP2_TYPE_CRC32C, 0, 4)) + value)
    if pos < 0:
        return False
    zeroed = header[: pos + 3] + b"\x00\x00\x00\x00" + header[pos + 7 :]
    return crc32c_checksum(zeroed) == struct.unpack("!I", value)[0]
