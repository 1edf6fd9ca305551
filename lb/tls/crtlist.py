"""`crt-list FILE`: one certificate per line, with per-line SSL options and SNI filters.

    /etc/ssl/site.pem [alpn http/1.1 ssl-min-ver TLSv1.2] www.example.com *.example.org

Filters replace the names read from the certificate; `!name` excludes a name.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field


class CrtListError(ValueError):
    """A malformed crt-list; the text names the list file and its line."""


@dataclass(slots=True)
class CrtListLine:
    path: str
    options: dict[str, str | bool] = field(default_factory=dict)
    filters: list[str] = field(default_factory=list)
    line: int = 0


# per-line options we understand, with their number of arguments
LINE_OPTIONS = {
    "alpn": 1,
    "ssl-min-ver": 1,
    "ssl-max-ver": 1,
    "ciphers": 1,
    "ciphersuites": 1,
    "curves": 1,
    "verify": 1,
    "ca-file": 1,
    "no-tls-tickets": 0,
    "npn": 1,
    "ecdhe": 1,
    "crl-file": 1,
    "allow-0rtt": 0,
}


def parse_crt_list(path: str, text: str) -> list[CrtListLine]:
    out: list[CrtListLine] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            raise CrtListError(f"'{path}' : unbalanced quotes on line {n}") from None
        if not words:
            continue
        entry = CrtListLine(path=words[0], line=n)
        rest = words[1:]
        if rest and rest[0].startswith("["):
            opts: list[str] = []
            joined = " ".join(rest)
            end = joined.find("]")
            if end < 0:
                raise CrtListError(f"'{path}' : missing ']' on line {n}")
            opts = joined[1:end].split()
            rest = joined[end + 1 :].split()
            i = 0
            while i < len(opts):
                o = opts[i]
                if o not in LINE_OPTIONS:
                    raise CrtListError(f"'{path}' : unknown ssl keyword '{o}' on line {n}")
                k = LINE_OPTIONS[o]
                if k and i + 1 >= len(opts):
                    raise CrtListError(f"'{path}' : '{o}' expects an argument on line {n}")
                entry.options[o] = opts[i + 1] if k else True
                i += 1 + k
        entry.filters = [w.lower() for w in rest]
        out.append(entry)
    return out
