"""Run-time resolution: the UDP client of each `resolvers` section and the
periodic resolutions of the names its servers use.

One `Resolution` per (name, preferred family) in a section, shared by every
server that uses that name (a `server-template` makes several). It asks all
the section's name servers every `timeout resolve`; the first valid answer
wins. Without one it tries the other record type, then starts over, up to
`resolve_retries` times; a query left unanswered for `timeout retry` counts as
a try. The outcome is handed to the servers through their own methods
(`Server.set_addr`, `set_rmaint`, `clear_rmaint`), as `set server … addr` and
`set server … state` do, so nothing on the request path changes: a new
connection simply reads the server's current address.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import time
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from lb.dns import wire
from lb.server import ADMIN_RMAINT as RMAINT

if TYPE_CHECKING:
    from lb.config.model import ResolversConf
    from lb.state import State

# why a server enters maintenance, per failed resolution status (HAProxy's words)
_REASONS = {
    "nx": "DNS NX status",
    "timeout": "DNS timeout status",
    "refused": "DNS refused status",
    "other": "unspecified DNS error",
}
NO_IP_REASON = "No IP for server "


@dataclass(slots=True)
class NsCounters:
    """What `show resolvers` prints for a name server, in its order."""

    sent: int = 0
    snd_error: int = 0
    valid: int = 0
    update: int = 0
    cname: int = 0
    cname_error: int = 0
    any_err: int = 0
    nx: int = 0
    timeout: int = 0
    refused: int = 0
    other: int = 0
    invalid: int = 0
    too_big: int = 0
    truncated: int = 0
    outdated: int = 0

    def items(self) -> list[tuple[str, int]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


class Nameserver(asyncio.DatagramProtocol):
    def __init__(self, section: Section, name: str, host: str, port: int) -> None:
        self.section = section
        self.name = name
        self.host = host
        self.port = port
        self.counters = NsCounters()
        self.transport: asyncio.DatagramTransport | None = None

    async def open(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            await loop.create_datagram_endpoint(lambda: self, remote_addr=(self.host, self.port))
        except OSError as exc:
            self.section.state.notify(
                "alert",
                f"resolvers '{self.section.name}': cannot open a socket to nameserver "
                f"'{self.name}' ({exc.strerror}).",
                None,
            )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.section.on_reply(self, data)

    def error_received(self, exc: Exception) -> None:
        self.counters.snd_error += 1

    def send(self, data: bytes) -> bool:
        if self.transport is None:
            self.counters.snd_error += 1
            return False
        try:
            self.transport.sendto(data)
        except OSError:
            self.counters.snd_error += 1
            return False
        self.counters.sent += 1
        return True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class Section:
    """The live side of one `resolvers` section."""

    def __init__(self, state: State, conf: ResolversConf) -> None:
        self.state = state
        self.conf = conf
        self.name = conf.name
        self.nameservers = [Nameserver(self, n, h, p) for n, h, p, _w in conf.nameservers]
        self.resolutions: dict[tuple[str, str], Resolution] = {}
        self.pending: dict[int, Resolution] = {}

    def add_requester(self, srv: Any) -> None:
        fqdn = str(srv.options["fqdn"]).rstrip(".").lower()
        prefer = srv.options.get("resolve-prefer") or "ipv6"
        key = (fqdn, prefer)
        res = self.resolutions.get(key)
        if res is None:
            res = self.resolutions[key] = Resolution(self, fqdn, prefer)
        res.requesters.append(srv)

    async def start(self, loop: asyncio.AbstractEventLoop) -> None:
        for ns in self.nameservers:
            await ns.open(loop)
        for res in self.resolutions.values():
            res.task = loop.create_task(res.run())

    def stop(self) -> None:
        for res in self.resolutions.values():
            if res.task is not None:
                res.task.cancel()
                res.task = None
        for ns in self.nameservers:
            ns.close()

    def new_qid(self) -> int:
        while True:
            qid = random.randrange(1, 0x10000)
            if qid not in self.pending:
                return qid

    def on_reply(self, ns: Nameserver, data: bytes) -> None:
        c = ns.counters
        if len(data) > self.conf.accepted_payload_size:
            c.too_big += 1
            return
        try:
            resp = wire.parse_response(data)
        except wire.DnsFormatError:
            c.invalid += 1
            return
        res = self.pending.get(resp.qid)
        if res is None:
            c.outdated += 1
            return
        res.on_reply(ns, resp)


class Resolution:
    """The periodic resolution of one name for the servers that use it."""

    def __init__(self, section: Section, fqdn: str, prefer: str) -> None:
        self.section = section
        self.fqdn = fqdn
        self.prefer = prefer
        self.requesters: list[Any] = []
        self.task: asyncio.Task[None] | None = None
        self.last_valid = 0.0  # monotonic time of the last valid answer (0: none yet)
        self.status = "none"
        # the query in flight (its id is the key of `section.pending`)
        self._qtype = 0
        self._waiting: set[Nameserver] = set()
        self._last_error = ""
        self._done: asyncio.Future[tuple[str, list[str], Nameserver | None]] | None = None

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        conf = self.section.conf
        while True:
            try:
                await self.resolve_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug here must not end the resolutions
                self.section.state.notify(
                    "alert", f"resolution of '{self.fqdn}' failed: {exc!r}", None
                )
            await asyncio.sleep(max(conf.timeout_resolve, 10) / 1000.0)

    async def resolve_once(self) -> None:
        conf = self.section.conf
        preferred = wire.TYPE_AAAA if self.prefer == "ipv6" else wire.TYPE_A
        other = wire.TYPE_A if preferred == wire.TYPE_AAAA else wire.TYPE_AAAA
        qtype, switched = preferred, False
        tries = max(conf.resolve_retries, 1)
        status = "timeout"
        while tries > 0:
            status, addrs, ns = await self._query(qtype)
            if status == "valid":
                self.on_valid(addrs, ns)
                return
            if status == "timeout":
                tries -= 1
                continue
            if not switched:  # NX, refused, empty ...: try the other record type
                qtype, switched = other, True
                continue
            qtype, switched = preferred, False
            tries -= 1
        self.on_error(status)

    async def _query(self, qtype: int) -> tuple[str, list[str], Nameserver | None]:
        section = self.section
        conf = section.conf
        loop = asyncio.get_running_loop()
        qid = section.new_qid()
        self._qtype = qtype
        self._last_error = ""
        self._done = done = loop.create_future()
        try:
            data = wire.build_query(qid, self.fqdn, qtype, conf.accepted_payload_size)
        except ValueError:
            return "other", [], None
        section.pending[qid] = self
        try:
            self._waiting = {ns for ns in section.nameservers if ns.send(data)}
            if not self._waiting:
                await asyncio.sleep(conf.timeout_retry / 1000.0)
                return "timeout", [], None
            try:
                return await asyncio.wait_for(done, conf.timeout_retry / 1000.0)
            except TimeoutError:
                for ns in self._waiting:
                    ns.counters.timeout += 1
                return self._last_error or "timeout", [], None
        finally:
            section.pending.pop(qid, None)
            self._waiting = set()
            self._done = None

    def on_reply(self, ns: Nameserver, resp: wire.Response) -> None:
        done = self._done
        c = ns.counters
        if done is None or done.done() or ns not in self._waiting:
            c.outdated += 1
            return
        status = self._classify(ns, resp)
        if status == "valid":
            addrs, _cname = resp.addresses(self.fqdn, self._qtype)
            done.set_result(("valid", addrs, ns))
            return
        self._waiting.discard(ns)
        self._last_error = status
        if not self._waiting:
            done.set_result((status, [], ns))

    def _classify(self, ns: Nameserver, resp: wire.Response) -> str:
        c = ns.counters
        if resp.rcode == wire.RCODE_NXDOMAIN:
            c.nx += 1
            return "nx"
        if resp.rcode == wire.RCODE_REFUSED:
            c.refused += 1
            return "refused"
        if resp.rcode != wire.RCODE_NOERROR:
            c.other += 1
            return "other"
        if resp.truncated:
            c.truncated += 1
            return "other"
        if len(resp.questions) != 1 or resp.questions[0][0] != self.fqdn:
            c.invalid += 1
            return "other"
        addrs, cname = resp.addresses(self.fqdn, self._qtype)
        if not addrs:
            if cname:
                c.cname_error += 1
            else:
                c.any_err += 1
            return "other"
        if cname:
            c.cname += 1
        c.valid += 1
        return "valid"

    # ------------------------------------------------------------ outcomes

    def on_valid(self, addrs: list[str], ns: Nameserver | None) -> None:
        self.status = "valid"
        self.last_valid = time.monotonic()
        changed = False
        for i, srv in enumerate(list(self.requesters)):
            by = f"{self.section.name}/{ns.name}" if i == 0 and ns is not None else "DNS cache"
            changed = self._update_server(srv, addrs, by) or changed
        if changed and ns is not None:
            ns.counters.update += 1

    def on_error(self, status: str) -> None:
        self.status = status
        hold = self.section.conf.hold.get(status, 30000) / 1000.0
        now = time.monotonic()
        if self.last_valid and now - self.last_valid < hold:
            return  # a recent valid answer still stands
        for srv in list(self.requesters):
            if srv.admin & RMAINT:
                continue
            srv.set_rmaint(_REASONS.get(status, _REASONS["other"]))
            set_address(srv, "")

    def _update_server(self, srv: Any, addrs: list[str], by: str) -> bool:
        """Give the server its address from the answer; True if it changed."""
        ip = pick_address(srv, addrs, self.fqdn)
        state = srv.proxy.state
        changed = False
        if ip is None:
            if not srv.admin & RMAINT:
                srv.set_rmaint(NO_IP_REASON)
                set_address(srv, "")
            return False
        if ip != srv.host:
            changed = True
            old = srv.host or "(none)"
            set_address(srv, ip)
            state.notify(
                "warning",
                f"{srv.proxy.name}/{srv.name} changed its IP from {old} to {ip} by {by}.",
                srv.proxy,
            )
        if srv.admin & RMAINT:
            srv.clear_rmaint(srv.options.get("fqdn", self.fqdn))
            state.notify(
                "warning",
                f"Server {srv.proxy.name}/{srv.name} administratively READY thanks to valid "
                "DNS answer.",
                srv.proxy,
            )
        return changed


def pick_address(srv: Any, addrs: list[str], fqdn: str) -> str | None:
    """The address a server takes from an answer: never one another server of its
    backend already took from the same name (unless `resolve-opts allow-dup-ip`);
    then the preferred family, a `resolve-net` network, and its current address
    weigh in that order; the first of equals wins."""
    opts = srv.options.get("resolve-opts") or {}
    taken: set[str] = set()
    if not opts.get("allow-dup-ip"):
        for other in srv.proxy.servers:
            if (
                other is not srv
                and other.host
                and other.options.get("resolvers")
                and str(other.options.get("fqdn", "")).rstrip(".").lower() == fqdn
            ):
                taken.add(other.host)
    prefer = 6 if (srv.options.get("resolve-prefer") or "ipv6") == "ipv6" else 4
    nets = srv.options.get("resolve-net") or ()
    best, best_score = None, -1
    for a in addrs:
        if a in taken:
            continue
        ip = ipaddress.ip_address(a)
        score = 8 if ip.version == prefer else 0
        if any(ip.version == n.version and ip in n for n in nets):
            score += 4
        if a == srv.host:
            score += 1
        if score > best_score:
            best, best_score = a, score
    return best


def set_address(srv: Any, ip: str) -> None:
    """The new address of a server, as `set server <b>/<s> addr` applies one: new
    connections and checks go there, idle connections to the old one are closed."""
    if ip:
        srv.family = "ipv6" if ipaddress.ip_address(ip).version == 6 else "ipv4"
    else:
        srv.family = "unspec"
    srv.set_addr(ip, None)


# ---------------------------------------------------------------- the state's hooks


def build(state: State) -> dict[str, Section]:
    """A live section for every `resolvers` section, with the servers using it."""
    sections = {name: Section(state, conf) for name, conf in state.cfg.resolvers.items()}
    for p in state.proxies:
        if not p.is_backend:
            continue
        for s in p.servers:
            name = s.options.get("resolvers")
            if name and s.options.get("fqdn") and name in sections:
                sections[name].add_requester(s)
    return sections


def start_resolvers(state: State) -> None:
    """Called once the state runs: start the resolutions (in the background)."""
    sections = build(state)
    state.dns_sections = sections  # type: ignore[attr-defined]
    loop = state.loop
    for sec in sections.values():
        if sec.resolutions and sec.nameservers:
            loop.create_task(sec.start(loop))


def stop_resolvers(state: State) -> None:
    for sec in getattr(state, "dns_sections", {}).values():
        with contextlib.suppress(Exception):
            sec.stop()
