"""DNS messages on the wire (RFC 1035, EDNS0 from RFC 6891), without any I/O.

`build_query` makes the bytes of one question; `parse_response` reads a reply
into a `Response`, following compression pointers; `Response.addresses` walks
the CNAME chain from the question's name to the A / AAAA records at its end.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

TYPE_A = 1
TYPE_CNAME = 5
TYPE_AAAA = 28
TYPE_OPT = 41
CLASS_IN = 1

RCODE_NOERROR = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_REFUSED = 5

FLAG_QR = 0x8000
FLAG_TC = 0x0200
FLAG_RD = 0x0100

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_MAX_NAME = 255
_MAX_CNAME_HOPS = 16


class DnsFormatError(ValueError):
    """The bytes are not a DNS message this decoder can read."""


def encode_name(name: str) -> bytes:
    """`www.example.com` -> length-prefixed labels ending with the root label."""
    name = name.rstrip(".")
    out = bytearray()
    if name:
        for label in name.split("."):
            raw = label.encode("idna") if not label.isascii() else label.encode()
            if not raw or len(raw) > 63:
                raise ValueError(f"invalid DNS label in '{name}'")
            out.append(len(raw))
            out += raw
    out.append(0)
    if len(out) > _MAX_NAME:
        raise ValueError(f"DNS name too long: '{name}'")
    return bytes(out)


def build_query(qid: int, name: str, qtype: int, payload_size: int = 512) -> bytes:
    """One recursive question; an EDNS0 OPT record announces `payload_size`."""
    header = _HEADER.pack(qid & 0xFFFF, FLAG_RD, 1, 0, 0, 1)
    question = encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)
    opt = b"\x00" + _RR_FIXED.pack(TYPE_OPT, payload_size & 0xFFFF, 0, 0)
    return header + question + opt


def decode_name(data: bytes, pos: int) -> tuple[str, int]:
    """The name at `pos` (lower case, no trailing dot) and the offset just after it."""
    labels: list[str] = []
    end = -1
    jumps = 0
    total = 0
    while True:
        if pos >= len(data):
            raise DnsFormatError("name runs past the end of the message")
        n = data[pos]
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise DnsFormatError("truncated compression pointer")
            if end < 0:
                end = pos + 2
            target = ((n & 0x3F) << 8) | data[pos + 1]
            jumps += 1
            if jumps > 64 or target >= len(data):
                raise DnsFormatError("bad compression pointer")
            pos = target
            continue
        if n & 0xC0:
            raise DnsFormatError("unknown label type")
        pos += 1
        if n == 0:
            break
        if pos + n > len(data):
            raise DnsFormatError("label runs past the end of the message")
        total += n + 1
        if total > _MAX_NAME:
            raise DnsFormatError("name too long")
        labels.append(data[pos : pos + n].decode("ascii", "replace").lower())
        pos += n
    return ".".join(labels), (end if end >= 0 else pos)


@dataclass(slots=True)
class Record:
    name: str
    rtype: int
    rclass: int
    ttl: int
    data: str  # an address for A/AAAA, the target for CNAME, "" otherwise


@dataclass(slots=True)
class Response:
    qid: int
    flags: int
    rcode: int
    questions: list[tuple[str, int]] = field(default_factory=list)
    answers: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return bool(self.flags & FLAG_TC)

    def addresses(self, qname: str, qtype: int) -> tuple[list[str], bool]:
        """The `qtype` addresses of `qname` (following CNAMEs) in answer order, and
        whether a CNAME was followed. Records of names off the chain are ignored."""
        chain = {qname.rstrip(".").lower()}
        cname = False
        current = next(iter(chain))
        for _ in range(_MAX_CNAME_HOPS):
            nxt = next(
                (r.data for r in self.answers if r.rtype == TYPE_CNAME and r.name == current),
                None,
            )
            if nxt is None or nxt in chain:
                break
            cname = True
            chain.add(nxt)
            current = nxt
        out = [r.data for r in self.answers if r.rtype == qtype and r.name in chain]
        return out, cname


def _read_record(data: bytes, pos: int) -> tuple[Record, int]:
    name, pos = decode_name(data, pos)
    if pos + _RR_FIXED.size > len(data):
        raise DnsFormatError("record runs past the end of the message")
    rtype, rclass, ttl, rdlen = _RR_FIXED.unpack_from(data, pos)
    pos += _RR_FIXED.size
    end = pos + rdlen
    if end > len(data):
        raise DnsFormatError("record data runs past the end of the message")
    value = ""
    if rtype == TYPE_A:
        if rdlen != 4:
            raise DnsFormatError("bad A record length")
        value = str(ipaddress.IPv4Address(data[pos:end]))
    elif rtype == TYPE_AAAA:
        if rdlen != 16:
            raise DnsFormatError("bad AAAA record length")
        value = str(ipaddress.IPv6Address(data[pos:end]))
    elif rtype == TYPE_CNAME:
        value, after = decode_name(data, pos)
        if after > end:
            raise DnsFormatError("CNAME target runs past its record")
    return Record(name, rtype, rclass, ttl, value), end


def parse_response(data: bytes) -> Response:
    """Decode a reply; raise DnsFormatError when it cannot be read."""
    if len(data) < _HEADER.size:
        raise DnsFormatError("message shorter than a DNS header")
    qid, flags, qd, an, ns, ar = _HEADER.unpack_from(data, 0)
    if not flags & FLAG_QR:
        raise DnsFormatError("not a response")
    resp = Response(qid, flags, flags & 0x000F)
    pos = _HEADER.size
    for _ in range(qd):
        name, pos = decode_name(data, pos)
        if pos + 4 > len(data):
            raise DnsFormatError("question runs past the end of the message")
        qtype, _qclass = struct.unpack_from("!HH", data, pos)
        pos += 4
        resp.questions.append((name, qtype))
    if resp.truncated:
        return resp  # what follows may be cut anywhere: the caller only needs the flag
    for _ in range(an):
        rec, pos = _read_record(data, pos)
        resp.answers.append(rec)
    for _ in range(ns):
        _rec, pos = _read_record(data, pos)
    for _ in range(ar):
        rec, pos = _read_record(data, pos)
        resp.additional.append(rec)
    return resp


# ---------------------------------------------------------------- building answers
# (used by the tests' fake name server; kept here so encoder and decoder agree)


def build_response(
    query: bytes,
    records: list[tuple[str, int, str, int]],
    rcode: int = RCODE_NOERROR,
    truncated: bool = False,
    compress: bool = True,
) -> bytes:
    """A reply to `query` carrying `records` as (name, type, value, ttl) answers.
    With `compress`, names equal to the question's are written as a pointer to it."""
    qid, _flags, qd, _an, _ns, _ar = _HEADER.unpack_from(query, 0)
    qname, pos = decode_name(query, _HEADER.size)
    question = query[_HEADER.size : pos + 4] if qd else b""
    flags = FLAG_QR | FLAG_RD | 0x0080 | (FLAG_TC if truncated else 0) | (rcode & 0xF)
    out = bytearray(_HEADER.pack(qid, flags, 1 if qd else 0, len(records), 0, 0))
    out += question
    for name, rtype, value, ttl in records:
        if compress and qd and name.rstrip(".").lower() == qname:
            out += b"\xc0\x0c"
        else:
            out += encode_name(name)
        if rtype == TYPE_A:
            rdata = ipaddress.IPv4Address(value).packed
        elif rtype == TYPE_AAAA:
            rdata = ipaddress.IPv6Address(value).packed
        elif rtype == TYPE_CNAME:
            rdata = encode_name(value)
        else:
            rdata = value.encode()
        out += _RR_FIXED.pack(rtype, CLASS_IN, ttl, len(rdata)) + rdata
    return bytes(out)


def parse_query(data: bytes) -> tuple[int, str, int]:
    """(id, name, type) of a question (the fake name server's side)."""
    if len(data) < _HEADER.size:
        raise DnsFormatError("message shorter than a DNS header")
    qid, _flags, qd, _an, _ns, _ar = _HEADER.unpack_from(data, 0)
    if qd < 1:
        raise DnsFormatError("no question")
    name, pos = decode_name(data, _HEADER.size)
    if pos + 4 > len(data):
        raise DnsFormatError("question runs past the end of the message")
    (qtype,) = struct.unpack_from("!H", data, pos)
    return qid, name, qtype
