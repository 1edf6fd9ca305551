"""A tiny name server for the tests: UDP on 127.0.0.1, answers the test changes.

`FakeDns.set(name, a=[...], aaaa=[...], cname=...)` sets what a name answers;
`nx(name)`, `refuse(name)` and `drop(name)` make it answer NXDOMAIN, REFUSED or
nothing at all. Every question received is kept in `queries`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from lb.dns import wire


class FakeDns:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.lock = threading.Lock()
        self.zone: dict[str, dict[str, Any]] = {}
        self.queries: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ what it answers

    def set(
        self,
        name: str,
        a: list[str] | None = None,
        aaaa: list[str] | None = None,
        cname: str | None = None,
        ttl: int = 1,
    ) -> None:
        with self.lock:
            self.zone[name.lower()] = {"a": a or [], "aaaa": aaaa or [], "cname": cname, "ttl": ttl}

    def nx(self, name: str) -> None:
        with self.lock:
            self.zone[name.lower()] = {"rcode": wire.RCODE_NXDOMAIN}

    def refuse(self, name: str) -> None:
        with self.lock:
            self.zone[name.lower()] = {"rcode": wire.RCODE_REFUSED}

    def drop(self, name: str) -> None:
        with self.lock:
            self.zone[name.lower()] = {"drop": True}

    def count(self, name: str) -> int:
        with self.lock:
            return sum(1 for n, _t in self.queries if n == name.lower())

    # ------------------------------------------------------------ serving

    def _answer(self, data: bytes) -> bytes | None:
        _qid, name, qtype = wire.parse_query(data)
        with self.lock:
            self.queries.append((name, qtype))
            entry = self.zone.get(name)
            records: list[tuple[str, int, str, int]] = []
            if entry is None:
                return wire.build_response(data, [], wire.RCODE_NXDOMAIN)
            if entry.get("drop"):
                return None
            if "rcode" in entry:
                return wire.build_response(data, [], entry["rcode"])
            target = name
            ttl = entry["ttl"]
            if entry["cname"]:
                target = entry["cname"].lower()
                records.append((name, wire.TYPE_CNAME, target, ttl))
                entry = self.zone.get(target, {"a": [], "aaaa": []})
            key = "a" if qtype == wire.TYPE_A else "aaaa" if qtype == wire.TYPE_AAAA else ""
            for value in entry.get(key, []) if key else []:
                records.append((target, qtype, value, ttl))
        return wire.build_response(data, records)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(Exception):
                reply = self._answer(data)
                if reply is not None:
                    self.sock.sendto(reply, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
