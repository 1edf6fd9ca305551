"""``show sess [id|all]``, ``shutdown session <id>`` and the kill helper for servers.

A "session" here is what HAProxy calls a stream: an HTTP exchange in progress (an idle
keep-alive connection or one still receiving its request head has none), a TCP relay,
or a stats-socket connection (``fe=GLOBAL``).  Its id is the address-like ``0x…`` handle
HAProxy prints: the Python ``id()`` of our ``Stream`` (or of the CLI record), stable for
the stream's life, so a handle read from ``show sess`` can be given to ``show sess`` or
``shutdown session`` later.

Values we do not track as HAProxy does (buffer flags, analysers, call counts) are given
the values HAProxy shows for the same phase, so masked compares hold and scripts that
parse the output keep working.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lb.stream import IDS
from runtime_api import server as cli_server
from runtime_api.registry import CliError, CommandContext, arg, command

# HTTP/1 front phases (lb/http/front.py) and TCP phases (lb/tcp.py), by value.
_P_IDLE, _P_HEAD, _P_QUEUE, _P_CONNECT, _P_WAIT_RESP, _P_RESP, _P_TUNNEL, _P_CLOSING = range(8)
_P_BODY = 8  # a request held for its body
_T_WAIT, _T_QUEUE, _T_CONNECT, _T_RELAY, _T_CLOSED = range(5)
_METHODS = {
    b"OPTIONS": 0,
    b"GET": 1,
    b"HEAD": 2,
    b"POST": 3,
    b"PUT": 4,
    b"DELETE": 5,
    b"TRACE": 6,
    b"CONNECT": 7,
}
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


# ---------------------------------------------------------------- CLI streams


@dataclass(eq=False, slots=True)
class CliStream:
    """A stats-socket connection, listed by ``show sess`` as a ``fe=GLOBAL`` stream."""

    proto: Any
    transport: Any
    uniq_id: int
    epoch: int
    accept_time: float
    m_accept: float
    src: str
    proto_name: str
    listener_id: int
    fd: int
    closed: bool = field(default=False)


_CLI: dict[Any, CliStream] = {}


def _cli_hook(proto: Any, transport: Any) -> None:
    """Track stats-socket connections (registered in ``runtime_api.server``)."""
    if transport is None:
        entry = _CLI.pop(proto, None)
        if entry is not None:
            entry.closed = True
        return
    peer = transport.get_extra_info("peername")
    spec = getattr(proto, "_spec", None)
    family = getattr(spec, "family", "unix")
    listener_id = _cli_listener_id(spec)
    if isinstance(peer, tuple) and len(peer) >= 2:
        proto_name = "tcpv6" if family == "ipv6" else "tcpv4"
        src = f"{peer[0]}:{peer[1]}"
    else:
        proto_name = "unix_stream"
        src = f"unix:{listener_id}"
    IDS.last += 1
    _CLI[proto] = CliStream(
        proto,
        transport,
        IDS.last,
        IDS.epoch,
        time.time(),
        time.monotonic(),
        src,
        proto_name,
        listener_id,
        _fd_of(transport),
    )


_SPECS: list[Any] = []


def _cli_listener_id(spec: Any) -> int:
    """1-based position of the stats socket among those seen (HAProxy's listener id)."""
    if spec is None:
        return 1
    for i, known in enumerate(_SPECS):
        if known is spec or known == spec:
            return i + 1
    _SPECS.append(spec)
    return len(_SPECS)


if _cli_hook not in cli_server.CONNECTION_HOOKS:
    cli_server.CONNECTION_HOOKS.append(_cli_hook)


# ---------------------------------------------------------------- helpers


def _fd_of(transport: Any) -> int:
    if transport is None:
        return -1
    sock = transport.get_extra_info("socket")
    try:
        return int(sock.fileno()) if sock is not None else -1
    except (OSError, ValueError):
        return -1


def human_time(seconds: float) -> str:
    """A duration as HAProxy prints it in dumps: ``5s``, ``2m5s``, ``1h2m``, ``3d4h``."""
    t = max(0, int(seconds))
    if t < 60:
        return f"{t}s"
    if t < 3600:
        return f"{t // 60}m{t % 60}s"
    if t < 86400:
        return f"{t // 3600}h{t % 3600 // 60}m"
    return f"{t // 86400}d{t % 86400 // 3600}h"


def _remaining(deadline: float, now: float) -> str:
    """Time left before a monotonic deadline (``""`` when none), rounded up."""
    if not deadline:
        return ""
    left = deadline - now
    return human_time(-(-left // 1)) if left > 0 else "0s"


def _epoch(value: int) -> str:
    return "0" if value == 0 else f"0x{value:x}"


def _date(ts: float) -> str:
    lt = time.localtime(ts)
    usec = int((ts - int(ts)) * 1_000_000)
    return (
        f"{lt.tm_mday:02d}/{_MONTHS[lt.tm_mon - 1]}/{lt.tm_year:04d}:"
        f"{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}.{usec:06d}"
    )


def _ptr(obj: Any, offset: int = 0) -> str:
    return f"0x{id(obj) + offset:x}"


def _sockname(transport: Any) -> str:
    if transport is None:
        return ""
    name = transport.get_extra_info("sockname")
    if isinstance(name, tuple) and len(name) >= 2:
        return f"{name[0]}:{name[1]}"
    return ""


def _proto_of(ip: str) -> str:
    return "tcpv6" if ":" in ip else "tcpv4"


# ---------------------------------------------------------------- the stream table


@dataclass(slots=True)
class Entry:
    """One listed stream: the connection (or CLI record) and its display values."""

    handle: int
    uniq_id: int
    conn: Any
    stream: Any
    cli: CliStream | None = None


def entries(state: Any) -> list[Entry]:
    """Every stream `show sess` lists, oldest first."""
    out: list[Entry] = []
    for conn in list(getattr(state, "conns", ())):
        st = getattr(conn, "stream", None)
        if st is None or getattr(conn, "closed", False):
            continue
        out.append(Entry(id(st), st.sid, conn, st))
    for cli in list(_CLI.values()):
        if not cli.closed:
            out.append(Entry(id(cli), cli.uniq_id, None, None, cli))
    out.sort(key=lambda e: e.uniq_id)
    return out


def find(state: Any, text: str) -> Entry | None:
    """The stream whose handle is ``text`` (``0x…`` hex, as printed)."""
    try:
        handle = int(text, 16)
    except ValueError:
        return None
    for e in entries(state):
        if e.handle == handle:
            return e
    return None


def _is_http(conn: Any) -> bool:
    return getattr(conn.frontend, "mode", "tcp") == "http" and hasattr(conn, "resp_started")


def _back_transport(conn: Any) -> Any:
    back = getattr(conn, "back", None) or getattr(conn, "leg", None)
    return getattr(back, "transport", None) if back is not None else None


@dataclass(slots=True)
class _Flags:
    """The buffer/analyser/stream-connector values HAProxy shows for one phase."""

    rqf: int = 0x808000
    rqan: int = 0
    rpf: int = 0x80008000
    rpan: int = 0
    rpi: int = 0
    scbf: int = 0x1
    rq_rx: bool = True
    rp_rx: bool = True
    rp_wx: bool = False
    flags: int = 0x4A
    rsp_st: str = "MSG_RPBEFORE"
    rsp_f: int = 0


def _flags(conn: Any) -> _Flags:
    if not _is_http(conn):
        return _Flags()
    phase = conn.phase
    f = _Flags(0x49C40080, 0x8000, 0x80400000, 0x1400000, 0, 0x11, False, True, False, 0xC4A)
    if phase in (_P_QUEUE, _P_CONNECT):
        f.rpf, f.rpan, f.scbf, f.rp_rx = 0x80000000, 0x1400000, 0x10, False
    elif phase in (_P_RESP, _P_TUNNEL):
        f.rsp_st, f.rsp_f = "MSG_DATA", 0x05
        if getattr(conn, "writing_paused", False):
            f.rpf, f.rpan, f.rpi, f.scbf = 0x80070202, 0x4000000, 1912, 0x211
            f.rp_rx, f.rp_wx = False, True
        else:
            f.rpf, f.rpan, f.scbf = 0x80040202, 0x4000000, 0x11
    return f


def _conn_line(e: Entry, now: float) -> str:
    conn, st = e.conn, e.stream
    fe = conn.frontend
    be = st.backend
    srv = getattr(conn, "server", None)
    f = _flags(conn)
    exp = _remaining(getattr(conn, "expire", 0.0), now)
    rq_rx = exp if f.rq_rx else ""
    rp_rx = exp if f.rp_rx else ""
    rp_wx = exp if f.rp_wx else ""
    back_fd = _fd_of(_back_transport(conn))
    return (
        f"0x{e.handle:x}: proto={_proto_of(conn.client_ip)} "
        f"src={conn.client_ip}:{conn.client_port} fe={fe.name} "
        f"be={be.name if be is not None else '<NONE>'} "
        f"srv={srv.name if srv is not None else '<none>'} ts=00 epoch={_epoch(st.epoch)} "
        f"age={human_time(now - st.m_start)} calls=2 rate=0 cpu=0 lat=0 "
        f"rq[f={f.rqf:x}h,i=0,an={f.rqan:02x}h,rx={rq_rx},wx=,ax=] "
        f"rp[f={f.rpf:x}h,i={f.rpi},an={f.rpan:02x}h,rx={rp_rx},wx={rp_wx},ax=] "
        f"scf=[8,{0x80 if _is_http(conn) else 0:x}h,fd={_fd_of(conn.transport)}] "
        f"scb=[8,{f.scbf:x}h,fd={back_fd}] exp={exp} rc=0 c_exp=\n"
    )


def _cli_line(e: Entry, state: Any, now: float) -> str:
    c = e.cli
    assert c is not None
    session = getattr(c.proto, "_session", None)
    timeout_ms = getattr(session, "timeout_ms", 0) or getattr(
        state.cfg.global_, "stats_timeout", 10_000
    )
    rx = human_time(timeout_ms / 1000)
    return (
        f"0x{e.handle:x}: proto={c.proto_name} src={c.src} fe=GLOBAL be=<NONE> srv=<none> "
        f"ts=00 epoch={_epoch(c.epoch)} age={human_time(now - c.m_accept)} calls=1 rate=1 "
        f"cpu=0 lat=0 rq[f=c08002h,i=0,an=00h,rx={rx},wx=,ax=] "
        f"rp[f=80008002h,i=0,an=00h,rx=,wx=,ax=] scf=[8,0h,fd={c.fd}] scb=[8,1h,fd=-1] "
        f"exp={rx} rc=0 c_exp=\n"
    )


def short_line(e: Entry, state: Any, now: float) -> str:
    return _cli_line(e, state, now) if e.cli is not None else _conn_line(e, now)


# ---------------------------------------------------------------- detailed dump


def _listener_id(conn: Any) -> int:
    lst = getattr(conn, "listener", None)
    listeners = getattr(conn.frontend, "listeners", [])
    for i, known in enumerate(listeners):
        if known is lst:
            return i + 1
    return 1


def _conn_detail(e: Entry, now: float) -> str:
    conn, st = e.conn, e.stream
    fe = conn.frontend
    be = st.backend
    srv = getattr(conn, "server", None)
    http = _is_http(conn)
    f = _flags(conn)
    exp = _remaining(getattr(conn, "expire", 0.0), now)
    bt = _back_transport(conn)
    ft = conn.transport
    proto = _proto_of(conn.client_ip)
    mux = "H1" if http else "PASS"
    lines = [
        f"0x{e.handle:x}: [{_date(st.request_time)}] id={st.sid} proto={proto} "
        f"source={conn.client_ip}:{conn.client_port}\n",
        f"  flags=0x{f.flags:x}, conn_retries={getattr(conn, 'tries', 0)}, conn_exp=<NEVER> "
        f"conn_et=0x000 srv_conn={_ptr(srv) if srv is not None else '(nil)'}, "
        f"pend_pos={_ptr(conn.queued) if getattr(conn, 'queued', None) else '(nil)'} "
        f"waiting=0 epoch={_epoch(st.epoch)}\n",
        f"  frontend={fe.name} (id={fe.puid} mode={fe.mode}), listener=? "
        f"(id={_listener_id(conn)}) addr={conn.frontend_ip}:{conn.frontend_port}\n",
    ]
    if be is not None:
        addr = _sockname(bt)
        lines.append(
            f"  backend={be.name} (id={be.puid} mode={be.mode})"
            + (f" addr={addr}" if addr else "")
            + "\n"
        )
    else:
        lines.append("  backend=<NONE> (id=-1 mode=-)\n")
    if srv is not None:
        lines.append(f"  server={srv.name} (id={srv.puid}) addr={srv.host}:{srv.port}\n")
    else:
        lines.append("  server=<NONE> (id=-1)\n")
    lines.append(
        f"  task={_ptr(st, 0x40)} (state=0x00 nice=0 calls=2 rate=0 exp={exp} tmask=0x1 "
        f"age={human_time(now - st.m_start)})\n"
    )
    if http:
        status = st.status if st.status > 0 else -1
        req_st = "MSG_DONE" if getattr(conn, "req_done", True) else "MSG_DATA"
        lines.append(
            f"  txn={_ptr(st, 0x80)} flags=0x3000 meth={_METHODS.get(st.method, 8)} "
            f"status={status} req.st={req_st} rsp.st={f.rsp_st} req.f=0x4c "
            f"rsp.f=0x{f.rsp_f:02x}\n"
        )
    scf_flags = 0x80 if http else 0
    lines += [
        f"  scf={_ptr(conn, 0x10)} flags=0x{scf_flags:08x} state=EST "
        f"endp=CONN,{_ptr(conn, 0x20)},0x02804001 sub=1\n",
        f"      co0={_ptr(ft)} ctrl={proto} xprt=RAW mux={mux} data=STRM "
        f"target=LISTENER:{_ptr(conn.listener)}\n",
        f"      flags=0x80000300 fd={_fd_of(ft)} fd.state=120 updt=0 fd.tmask=0x1\n",
    ]
    if bt is not None:
        lines += [
            f"  scb={_ptr(conn, 0x30)} flags=0x{f.scbf:08x} state=EST "
            f"endp=CONN,{_ptr(bt, 0x10)},0x02800001 sub=1\n",
            f"      co1={_ptr(bt)} ctrl={proto} xprt=RAW mux={mux} data=STRM "
            f"target=SERVER:{_ptr(srv) if srv is not None else '(nil)'}\n",
            f"      flags=0x{0x300 if http else 0x10000300:08x} fd={_fd_of(bt)} fd.state=10421 "
            "updt=0 fd.tmask=0x1\n",
        ]
    else:
        lines.append(
            f"  scb={_ptr(conn, 0x30)} flags=0x{f.scbf:08x} state=INI endp=CONN,(nil),0x0 sub=0\n"
        )
    for name, off, flags, an, total, rx, wx in (
        ("req", 0x20, f.rqf, f.rqan, st.bytes_in, exp if f.rq_rx else "", ""),
        (
            "res",
            0x80,
            f.rpf,
            f.rpan,
            st.bytes_out,
            exp if f.rp_rx else "",
            exp if f.rp_wx else "",
        ),
    ):
        tofwd = 0 if http and name == "req" else -1
        lines += [
            f"  {name}={_ptr(st, off)} (f=0x{flags:x} an=0x{an:x} pipe=0 tofwd={tofwd} "
            f"total={total})\n",
            f"      an_exp=<NEVER> rex={rx or '<NEVER>'} wex={wx or '<NEVER>'}\n",
            f"      buf={_ptr(st, off + 8)} data=(nil) o=0 p=0 i=0 size=0\n",
        ]
        if http:
            lines.append("      htx=0x0 flags=0x0 size=0 data=0 used=0 wrap=NO extra=0\n")
    return "".join(lines)


def _cli_detail(e: Entry, state: Any, now: float) -> str:
    c = e.cli
    assert c is not None
    session = getattr(c.proto, "_session", None)
    timeout_ms = getattr(session, "timeout_ms", 0) or 10_000
    rx = human_time(timeout_ms / 1000)
    addr = c.src if c.proto_name == "unix_stream" else _sockname(c.transport)
    return (
        f"0x{e.handle:x}: [{_date(c.accept_time)}] id={c.uniq_id} proto={c.proto_name} "
        f"source={c.src}\n"
        f"  flags=0x8, conn_retries=0, conn_exp=<NEVER> conn_et=0x000 srv_conn=(nil), "
        f"pend_pos=(nil) waiting=0 epoch={_epoch(c.epoch)}\n"
        f"  frontend=GLOBAL (id=0 mode=tcp), listener=? (id={c.listener_id}) addr={addr}\n"
        "  backend=<NONE> (id=-1 mode=-)\n"
        "  server=<NONE> (id=-1)\n"
        f"  task={_ptr(c, 0x40)} (state=0x00 nice=-64 calls=1 rate=1 exp={rx} tmask=0x1 "
        f"age={human_time(now - c.m_accept)})\n"
        f"  scf={_ptr(c, 0x10)} flags=0x00000000 state=EST endp=CONN,{_ptr(c, 0x20)},"
        "0x028c0001 sub=1\n"
        f"      co0={_ptr(c.transport)} ctrl={c.proto_name} xprt=RAW mux=PASS data=STRM "
        f"target=LISTENER:{_ptr(c.proto)}\n"
        f"      flags=0x00000300 fd={c.fd} fd.state=121 updt=0 fd.tmask=0x1\n"
        f"  scb={_ptr(c, 0x30)} flags=0x00000001 state=EST endp=APPCTX,{_ptr(c, 0x50)},"
        "0x02800002 sub=0\n"
        f"      app1={_ptr(c, 0x50)} st0=9 st1=0 st2=0 applet=<CLI> tmask=0x1 nice=-64 "
        "calls=2 rate=0 cpu=0 lat=0\n"
        f"  req={_ptr(c, 0x60)} (f=0xc08002 an=0x0 pipe=0 tofwd=-1 total=0)\n"
        f"      an_exp=<NEVER> rex={rx} wex=<NEVER>\n"
        f"      buf={_ptr(c, 0x68)} data=(nil) o=0 p=0 i=0 size=0\n"
        f"  res={_ptr(c, 0xC0)} (f=0x80008002 an=0x0 pipe=0 tofwd=-1 total=0)\n"
        "      an_exp=<NEVER> rex=<NEVER> wex=<NEVER>\n"
        f"      buf={_ptr(c, 0xC8)} data=(nil) o=0 p=0 i=0 size=0\n"
    )


def detail(e: Entry, state: Any, now: float) -> str:
    return _cli_detail(e, state, now) if e.cli is not None else _conn_detail(e, now)


# ---------------------------------------------------------------- killing


def _kill_term(conn: Any) -> str:
    """The termination flags of a stream killed by the admin: ``K`` + where it was."""
    phase = getattr(conn, "phase", None)
    if _is_http(conn):
        second = {
            _P_HEAD: "R",
            _P_BODY: "R",
            _P_QUEUE: "Q",
            _P_CONNECT: "C",
            _P_WAIT_RESP: "H",
        }.get(phase, "D")
    else:
        second = {_T_WAIT: "R", _T_QUEUE: "Q", _T_CONNECT: "C"}.get(phase, "D")
    return "K" + second


def kill_conn(conn: Any) -> None:
    """Close a client connection and its server side at once; its log line says ``K?``.

    Also what ``shutdown sessions server`` should call for each of a server's streams.
    """
    st = getattr(conn, "stream", None)
    term = _kill_term(conn)
    bt = _back_transport(conn)
    for transport in (bt, getattr(conn, "transport", None)):
        _reset_on_close(transport)
    if bt is not None:
        bt.abort()
    if st is not None:
        st.term_state = term
    if _is_http(conn) and hasattr(conn, "_abort_both"):
        conn._abort_both(term)
    elif hasattr(conn, "_fail"):
        conn._fail(term)
    elif getattr(conn, "transport", None) is not None:
        conn.transport.abort()


def _reset_on_close(transport: Any) -> None:
    """Linger 0: closing resets the connection instead of flushing what is still queued
    in the kernel, so a killed download stops at once rather than after its buffers."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def kill_server_sessions(state: Any, server: Any) -> int:
    """``shutdown sessions server``: kill every stream using ``server``; returns the count."""
    n = 0
    for conn in list(getattr(state, "conns", ())):
        if getattr(conn, "server", None) is server and getattr(conn, "stream", None) is not None:
            kill_conn(conn)
            n += 1
    return n


# ---------------------------------------------------------------- commands


def _dump(ctx: CommandContext, args: list[str]) -> Iterator[str]:
    state = ctx.state
    which = arg(args, 2)
    IDS.epoch += 1
    now = time.monotonic()
    listed = entries(state)
    if not which:
        for e in listed:
            yield short_line(e, state, now)
        return
    if which == "all":
        for e in listed:
            yield detail(e, state, now)
        return
    target = find(state, which)
    if target is None:
        yield "Session not found.\n"
        return
    yield detail(target, state, now)


@command("show sess")
def cmd_show_sess(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    """``show sess`` (one line per stream), ``show sess <id>``, ``show sess all``."""
    return "".join(_dump(ctx, args))


@command("shutdown session")
def cmd_shutdown_session(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    which = arg(args, 2)
    if not which:
        raise CliError("Session pointer expected (use 'show sess').")
    target = find(ctx.state, which)
    if target is None:
        raise CliError("No such session (use 'show sess').")
    if target.cli is not None:
        target.cli.transport.abort()
        return
    kill_conn(target.conn)
