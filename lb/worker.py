"""The worker: the process that holds the live state and carries traffic."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lb.config.errors import ConfigError
from lb.daemon import daemonize
from lb.listener import IN_FLIGHT
from lb.pidfile import open_pidfile_dir, remove_pidfile, write_pidfile
from lb.state import State

if TYPE_CHECKING:
    from lb.cli import Options
    from lb.config.model import Config


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1}


def run_worker(
    opts: Options,
    cfg: Config,
    inherited: dict[str, Any] | None = None,
    on_started: Callable[[State, asyncio.AbstractEventLoop], None] | None = None,
    before_serving: Callable[[State], None] | None = None,
) -> int:
    """Build, bind, serve until told to stop; returns the exit code.

    ``on_started`` runs once the listeners and stats sockets serve (the master-worker
    child uses it to report readiness and to serve the master's CLI channel);
    ``before_serving`` runs once the state is started, before the loop accepts anything
    (the master-worker child applies the state carried over a reload there).
    """
    from lb.cli import _say

    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        state = State(cfg, loop)
        state.quiet = opts.quiet or cfg.global_.quiet
        socks = state.open_sockets(inherited)
    except ConfigError as exc:
        _say("ALERT", f"{exc}")
        return 1
    pidfile = opts.pidfile or cfg.global_.pidfile
    if (opts.daemon or cfg.global_.daemon) and not opts.debug:
        daemonize()
    # Stop signals wait (blocked) until their handlers are installed in _serve, so a
    # SIGTERM right after start-up still stops cleanly and removes the pid file.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    pid_dir = None
    if pidfile:
        write_pidfile(pidfile, os.getpid())
        if cfg.global_.chroot:
            pid_dir = open_pidfile_dir(pidfile)
    try:
        return loop.run_until_complete(_serve(state, loop, socks, opts, on_started, before_serving))
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        if pidfile:
            remove_pidfile(pidfile, os.getpid(), pid_dir)
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _serve(
    state: State,
    loop: asyncio.AbstractEventLoop,
    socks: list[Any],
    opts: Options,
    on_started: Callable[[State, asyncio.AbstractEventLoop], None] | None = None,
    before_serving: Callable[[State], None] | None = None,
) -> int:
    from lb.cli import signal_pids
    from lb.clisetup import start_stats_sockets

    state.start(loop, socks)
    if before_serving is not None:
        before_serving(state)
    # Configuration, pattern files and carried state are loaded and live for good: move
    # them out of the cyclic GC's reach, so a full collection walks what traffic
    # allocates, not 600k objects of a 100k-entry ACL list (~100 ms vs ~8 ms a pass).
    gc.collect()
    gc.freeze()
    try:
        await start_stats_sockets(state, loop)
        if state.cfg.global_.chroot:
            enter_chroot(state.cfg.global_.chroot)
        _drop_privileges(state.cfg.global_)
    except (ConfigError, OSError, ValueError) as exc:
        from lb.cli import _say

        _say("ALERT", f"{exc}")
        state.shutdown()
        return 1
    done = asyncio.Event()

    def hard_stop() -> None:
        state.shutdown()
        done.set()

    def soft_stop() -> None:
        if state.stopping:
            return
        state.stop_listening()
        state.close_listeners()
        state.stop_checks()
        state.close_cli()
        for p in state.proxies:
            if p.is_frontend:
                state.notify(
                    "notice",
                    f"Proxy {p.name} stopped (cumulated conns: FE: "
                    f"{p.fe_counters.cum_conn}, BE: {p.be_counters.cum_conn}).",
                    p,
                )
        state.on_empty = hard_stop
        for c in list(state.conns):
            if getattr(c, "phase", None) == 0:  # idle keep-alive connection
                c.transport.close()
        if not state.conns and not IN_FLIGHT.n:
            hard_stop()
            return
        hsa = state.cfg.global_.hard_stop_after
        if hsa:
            loop.call_later(hsa / 1000.0, hard_stop)

    loop.add_signal_handler(signal.SIGTERM, hard_stop)
    loop.add_signal_handler(signal.SIGINT, hard_stop)
    loop.add_signal_handler(signal.SIGUSR1, soft_stop)
    loop.add_signal_handler(signal.SIGTTOU, lambda: [p.pause() for p in state.proxies])
    loop.add_signal_handler(signal.SIGTTIN, lambda: [p.resume() for p in state.proxies])
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    state.soft_stop = soft_stop
    signal_pids(opts.soft_stop_pids, signal.SIGUSR1)
    signal_pids(opts.hard_stop_pids, signal.SIGTERM)
    if on_started is not None:
        on_started(state, loop)
    await done.wait()
    state.close_cli()
    return 0


def enter_chroot(path: str) -> None:
    """`chroot`: once every socket is bound, the worker confines itself to `path`
    (before it drops privileges, as haproxy's workers do; the master stays out).

    Nothing outside the jail can be read from then on, so what would be read later
    is read now: every module of the project (some are imported on first use), the
    codecs a host name needs, and the local time zone."""
    import encodings.idna  # noqa: F401
    import importlib
    import pkgutil
    import time

    import lb
    import runtime_api
    import stick

    for pkg in (lb, runtime_api, stick):
        for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if not mod.name.endswith(".__main__"):
                with contextlib.suppress(ImportError):
                    importlib.import_module(mod.name)
    time.localtime()
    try:
        os.chroot(path)
        os.chdir("/")
    except OSError:
        raise ValueError(f"[haproxy.main()] Cannot chroot({path}).") from None


def _drop_privileges(g: Any) -> None:
    """`group`/`user` (`gid`/`uid`): once every socket is bound, the worker goes on as
    that group and user, as haproxy's workers do (the master, if any, stays)."""
    if g.gid is not None and os.getegid() != g.gid:
        try:
            if os.geteuid() == 0:
                os.setgroups([])
            os.setgid(g.gid)
        except OSError:
            raise ValueError(f"[haproxy.main()] Cannot set gid {g.gid}.") from None
    if g.uid is not None and os.geteuid() != g.uid:
        try:
            os.setuid(g.uid)
        except OSError:
            raise ValueError(f"[haproxy.main()] Cannot set uid {g.uid}.") from None
