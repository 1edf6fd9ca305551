"""`stick-table` lines into `Table` objects (frontends, backends, `peers` sections)."""

from __future__ import annotations

from lb.config.units import SizeError, TimeError, parse_size, parse_time
from stick.datatypes import DATA_TYPES
from stick.keys import KeyType
from stick.table import Table

KEY_TYPES = {"ip": 4, "ipv4": 4, "ipv6": 16, "integer": 4, "string": 32, "binary": 32}


def parse_stick_table(name: str, words: list[str] | tuple[str, ...]) -> Table:
    """Build a table from the words after `stick-table`; ValueError with HAProxy's reason."""
    ktype = ""
    klen = 0
    size = 0
    expire = 0
    nopurge = False
    peers = ""
    store: dict[str, int] = {}
    i = 0
    words = list(words)
    while i < len(words):
        w = words[i]
        if w == "type":
            ktype = words[i + 1] if i + 1 < len(words) else ""
            if ktype not in KEY_TYPES:
                raise ValueError(f"'stick-table' : unknown type '{ktype}'.")
            if ktype == "ipv4":
                ktype = "ip"
            klen = KEY_TYPES[ktype]
            i += 2
            if ktype in ("string", "binary") and i < len(words) and words[i] == "len":
                klen = int(words[i + 1])
                i += 2
        elif w == "size":
            try:
                size = parse_size(words[i + 1])
            except (SizeError, IndexError):
                raise ValueError("'stick-table' : invalid size.") from None
            i += 2
        elif w == "expire":
            try:
                expire = parse_time(words[i + 1])
            except (TimeError, IndexError):
                raise ValueError("'stick-table' : invalid expire.") from None
            i += 2
        elif w == "nopurge":
            nopurge = True
            i += 1
        elif w == "peers":
            peers = words[i + 1]
            i += 2
        elif w in ("srvkey", "write-to"):
            i += 2
        elif w == "store":
            for item in words[i + 1].split(","):
                dname, _, arg = item.partition("(")
                dt = DATA_TYPES.get(dname)
                if dt is None:
                    raise ValueError(f"'stick-table': unknown data type '{dname}'.")
                period = 0
                if dt.is_rate:
                    if not arg.endswith(")"):
                        raise ValueError(
                            f"'stick-table': missing argument for data type '{dname}'."
                        )
                    period = parse_time(arg[:-1])
                store[dname] = period
            i += 2
        else:
            raise ValueError(
                f"'stick-table': unknown argument '{w}', expects 'type', 'size', "
                "'expire', 'peers', 'nopurge' or 'store'."
            )
    if not ktype:
        raise ValueError("'stick-table': missing 'type'.")
    if not size:
        raise ValueError("'stick-table': missing 'size'.")
    return Table(name, KeyType(ktype, klen), size, expire, store, nopurge, peers)
