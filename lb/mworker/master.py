"""The master of master-worker mode (``-W``, ``-Ws``, ``master-worker``).

The master parses the configuration, binds every listener once, and starts each worker
as a child process (``python -m lb`` with the listening sockets passed by fd, see
``lb.mworker.child``), so a reload starts the new worker on the very same sockets while
the old one finishes its connections: no connection is refused.  It runs the
``program`` sections, serves the Master CLI (``-S``) and supervises everything.

Unlike HAProxy, the master does not re-execute itself on reload: it re-reads the
configuration in place (there is no ``Reexecuting Master process`` notice), keeps its
pid, Master CLI sockets and counters, and answers on the Master CLI during the reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lb.config.errors import ConfigError
from lb.config.keywords import remark_level
from lb.config.parser import ConfigErrors, parse_files
from lb.daemon import daemonize
from lb.log import format_notice
from lb.mworker import carry, child
from lb.mworker.cli_server import parse_master_socket, start_master_cli, unlink_master_socket
from lb.mworker.master_cli import UNKNOWN_TARGET, make_registry
from lb.mworker.notify import sd_notify
from lb.mworker.procs import MASTER, PROGRAM, WORKER, Proc, describe_status, format_show_proc
from lb.mworker.programs import ProgramError, same_program, start_program, stop_leftovers
from lb.pidfile import remove_pidfile, write_pidfile

if TYPE_CHECKING:
    from lb.cli import Options
    from lb.config.model import Config, ProgramConf

READY_TIMEOUT = 30.0  # a new worker that is not serving by then counts as failed
KILL_AFTER = 10.0  # children still alive this long after SIGTERM get SIGKILL
FORWARD_TIMEOUT = float(os.environ.get("LB_MWORKER_FORWARD_TIMEOUT", "10"))
FORWARD_TIMEOUT_TEXT = "Timeout while waiting for process {} to answer.\n"
NORMAL_EXITS = (0, 130, 143)  # exit, SIGINT, SIGTERM: not a failure
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def run_master(opts: Options, cfg: Config) -> int:
    """Entry point from ``lb.cli``; a worker started by a master lands here too."""
    if child.is_child():
        return child.run_child(opts, cfg)
    if (opts.daemon or cfg.global_.daemon) and not opts.debug:
        daemonize()
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    master = Master(opts, cfg, loop)
    try:
        return loop.run_until_complete(master.run())
    finally:
        master.cleanup()
        loop.close()


class Master:
    """The master's state: its children, listening sockets and counters."""

    def __init__(self, opts: Options, cfg: Config, loop: asyncio.AbstractEventLoop) -> None:
        from lb.cli import COMPAT_VERSION

        self.opts = opts
        self.cfg = cfg
        self.loop = loop
        self.version = COMPAT_VERSION
        self.me = Proc(os.getpid(), MASTER, version=COMPAT_VERSION)
        self.failed = 0
        self.children: dict[int, Proc] = {}
        self.popens: dict[int, subprocess.Popen[bytes]] = {}
        self.ctrl: dict[int, socket.socket] = {}
        self.ready: dict[int, asyncio.Future[bool]] = {}
        self.pidfds: dict[int, int] = {}
        self.pending: set[int] = set()  # workers started but not serving yet
        self.program_confs: dict[int, ProgramConf] = {}
        self.listen: dict[str, socket.socket] = {}
        self.pattern_base: carry.Snapshot = {}  # the running worker's lists when built
        self._built: carry.Snapshot = {}  # those of the configuration _bind last built
        self.stopping = False
        self.exit_code = 0
        self.done = asyncio.Event()
        self.reload_lock = asyncio.Lock()
        self.registry = make_registry()
        self.cli_servers: list[tuple[Any, Any]] = []
        self.pidfile = opts.pidfile or cfg.global_.pidfile
        self.no_exit = cfg.global_.master_worker_no_exit_on_failure
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- notices ----------------------------------------------------------------------

    def say(self, level: str, msg: str) -> None:
        if self.opts.quiet and level not in ("ALERT",):
            return
        sys.stderr.write(format_notice(level, self.me.pid, msg) + "\n")
        sys.stderr.flush()

    # -- start and run ----------------------------------------------------------------

    async def run(self) -> int:
        try:
            self.listen = self._bind(self.cfg, {})[0]
        except ConfigError as exc:
            self.say("ALERT", str(exc))
            return 1
        self.pattern_base = self._built
        for spec_text in self.opts.master_sockets:
            try:
                spec = parse_master_socket(spec_text)
                server = await start_master_cli(self.loop, spec, self, self.registry, self.forward)
            except (ValueError, OSError) as exc:
                self.say("ALERT", f"Can't create the master CLI socket '{spec_text}': {exc}")
                self._close_listeners(self.listen)
                return 1
            self.cli_servers.append((spec, server))
        if self.pidfile:
            write_pidfile(self.pidfile, self.me.pid)
        self.loop.add_signal_handler(signal.SIGUSR2, self.request_reload)
        self.loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        self.loop.add_signal_handler(signal.SIGTERM, self.stop)
        self.loop.add_signal_handler(signal.SIGINT, self.stop)
        self._start_programs(self.cfg.programs)
        pid = self._spawn_worker()
        if pid is None or not await self._wait_ready(pid):
            self.say("ALERT", "Failed to start the worker, exiting.")
            if not self.stopping:
                self.exit_code = self.exit_code or 1
                self._stop_children()
        else:
            self.say("NOTICE", "Loading success.")
            if self.opts.systemd:
                sd_notify(ready=1, mainpid=self.me.pid, status="Ready.")
        await self.done.wait()
        return self.exit_code

    def cleanup(self) -> None:
        for spec, server in self.cli_servers:
            unlink_master_socket(spec, server)
        self.cli_servers = []
        self._close_listeners(self.listen)
        for sock in self.ctrl.values():
            sock.close()
        if self.pidfile:
            remove_pidfile(self.pidfile, self.me.pid)

    # -- listening sockets ------------------------------------------------------------

    def _bind(
        self, cfg: Config, current: dict[str, socket.socket]
    ) -> tuple[dict[str, socket.socket], dict[str, socket.socket]]:
        """Sockets for ``cfg``: reuse ``current`` ones, bind the new addresses.

        Building the state also validates the configuration the way ``-c`` does.
        Returns (sockets of ``cfg``, sockets of ``current`` that ``cfg`` dropped).
        """
        from lb.state import State, _sock_key

        state = State(cfg)
        left = dict(current)
        fresh: dict[str, socket.socket] = {}
        try:
            for _p, _b, addr, sock in state.open_sockets(left):
                fresh[_sock_key(addr)] = sock
        except ConfigError:
            self._close_listeners({k: s for k, s in fresh.items() if k not in current})
            raise
        keep = cfg.global_.keep_state_on_reload  # the base of ACL/map edits, kept only then
        self._built = carry.pattern_snapshot(state) if keep else {}
        return fresh, left

    @staticmethod
    def _close_listeners(socks: dict[str, socket.socket]) -> None:
        for sock in socks.values():
            sock.close()

    # -- workers ----------------------------------------------------------------------

    def _spawn_worker(self, carried: bytes | None = None) -> int | None:
        fds = {key: sock.fileno() for key, sock in self.listen.items()}
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(os.environ)
        env[child.ENV_CHILD] = "1"
        env[child.ENV_FDS] = json.dumps(fds)
        env[child.ENV_CTRL] = str(theirs.fileno())
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p
        )
        extra: list[int] = []
        state_file = None
        if carried is not None:  # an unlinked file: nothing is left behind on disk
            state_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
            state_file.write(carried)
            state_file.flush()
            state_file.seek(0)
            env[carry.ENV_STATE] = str(state_file.fileno())
            extra.append(state_file.fileno())
        try:
            popen = subprocess.Popen(
                [sys.executable, "-m", "lb", *self._worker_args()],
                pass_fds=[*fds.values(), theirs.fileno(), *extra],
                env=env,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            self.say("ALERT", f"Cannot fork the worker: {exc}")
            mine.close()
            return None
        finally:
            theirs.close()
            if state_file is not None:
                state_file.close()
        pid = popen.pid
        self.popens[pid] = popen
        self.children[pid] = Proc(pid, WORKER, version=self.version)
        self._watch(pid)
        self.pending.add(pid)
        mine.setblocking(False)
        self.ctrl[pid] = mine
        self.ready[pid] = self.loop.create_future()
        self.loop.add_reader(mine.fileno(), self._ctrl_readable, pid)
        self.say("NOTICE", f"New worker ({pid}) forked")
        return pid

    def _worker_args(self) -> list[str]:
        args = ["-W"]  # routes the child through run_master, which sees it is a child
        for f in self.opts.files:
            args += ["-f", f]
        if self.opts.quiet:
            args.append("-q")
        if self.opts.debug:
            args.append("-d")
        if self.opts.local_peer:
            args += ["-L", self.opts.local_peer]
        return args

    def _ctrl_readable(self, pid: int) -> None:
        sock = self.ctrl.get(pid)
        if sock is None:
            return
        try:
            data = sock.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if child.READY in data:
            self._set_ready(pid, True)
        if not data:
            self.loop.remove_reader(sock.fileno())
            self._set_ready(pid, False)

    def _set_ready(self, pid: int, ok: bool) -> None:
        fut = self.ready.get(pid)
        if fut is not None and not fut.done():
            fut.set_result(ok)
        if ok:
            self.pending.discard(pid)

    async def _wait_ready(self, pid: int) -> bool:
        fut = self.ready.get(pid)
        if fut is None:
            return False
        try:
            return await asyncio.wait_for(asyncio.shield(fut), READY_TIMEOUT)
        except TimeoutError:
            return False

    def _drop_ctrl(self, pid: int) -> None:
        sock = self.ctrl.pop(pid, None)
        if sock is not None:
            with contextlib.suppress(ValueError, OSError):
                self.loop.remove_reader(sock.fileno())
            sock.close()
        self._set_ready(pid, False)
        self.ready.pop(pid, None)
        self.pending.discard(pid)

    def current_workers(self) -> list[Proc]:
        return [
            p
            for p in self.children.values()
            if p.kind == WORKER and not p.leaving and p.pid not in self.pending
        ]

    # -- programs ---------------------------------------------------------------------

    def _start_programs(self, confs: list[ProgramConf]) -> None:
        for conf in confs:
            try:
                proc, popen = start_program(conf)
            except ProgramError as exc:
                self.say("ALERT", str(exc))
                continue
            self.children[proc.pid] = proc
            self.popens[proc.pid] = popen
            self.program_confs[proc.pid] = conf
            self._watch(proc.pid)
            self.say("NOTICE", f"New program '{conf.name}' ({proc.pid}) forked")

    def _reload_programs(self, confs: list[ProgramConf]) -> None:
        """Stop the programs to restart, keep the unchanged ``no option start-on-reload``."""
        by_name = {c.name: c for c in confs}
        kept: set[str] = set()
        for pid, old in list(self.program_confs.items()):
            proc = self.children.get(pid)
            if proc is None or proc.leaving:
                continue
            new = by_name.get(old.name)
            if new is not None and not new.start_on_reload and same_program(old, new):
                proc.reloads += 1
                kept.add(old.name)
                continue
            proc.leaving = True  # HAProxy stops programs with SIGUSR1 at a reload
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
        self._start_programs([c for c in confs if c.name not in kept])

    # -- reload -----------------------------------------------------------------------

    def request_reload(self) -> None:
        """SIGUSR2, SIGHUP or the Master CLI's ``reload``: reload in the background."""
        if self.stopping:
            return
        task = self.loop.create_task(self.reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reload(self) -> bool:
        async with self.reload_lock:
            if self.stopping:
                return False
            self.say("NOTICE", "Reloading HAProxy")
            if self.opts.systemd:
                sd_notify(reloading=1, status="Reloading Configuration.")
            self.me.reloads += 1
            ok = await self._reload()
            if self.opts.systemd:
                sd_notify(ready=1, status="Ready." if ok else "Reload failed!")
            return ok

    async def _reload(self) -> bool:
        try:
            cfg = parse_files(self.opts.files)
        except ConfigErrors as exc:
            for line in exc.lines:
                self.say("ALERT", f"config : {line}")
            for f in exc.files:
                if any(f"[{f}:" in ln for ln in exc.lines):
                    self.say("ALERT", f"config : Error(s) found in configuration file : {f}")
            self.say("ALERT", "config : Fatal errors found in configuration.")
            return self._reload_failed()
        except OSError as exc:
            self.say("ALERT", f"config : {exc}")
            return self._reload_failed()
        for w in cfg.warnings:
            self.say(remark_level(w), f"config : {w}")
        try:
            fresh, dropped = self._bind(cfg, self.listen)
        except ConfigError as exc:
            self.say("ALERT", f"{exc}")
            return self._reload_failed()
        except Exception as exc:  # a problem found while building, as `-c` reports it
            self.say("ALERT", f"config : {exc}")
            return self._reload_failed()
        new_base = self._built
        previous = self.current_workers()
        carried = None
        if cfg.global_.keep_state_on_reload and previous:
            carried, why = await carry.collect_or_none(
                self.forward, previous[-1].pid, self.pattern_base, self.cfg, cfg
            )
            if carried is None:
                self.say("WARNING", f"Runtime state not carried over: {why}.")
        handover = _has_tcp_stats_socket(self.cfg)
        if handover:
            self._tell(previous, child.CLOSE_STATS)
        old_listen, self.listen = self.listen, fresh
        self._reload_programs(cfg.programs)
        pid = self._spawn_worker(carried)
        if pid is None or not await self._wait_ready(pid):
            if handover:
                self._tell(previous, child.REOPEN_STATS)
            if pid is not None and pid in self.children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            self._close_listeners({k: s for k, s in fresh.items() if k not in old_listen})
            self.listen = old_listen
            self.say("ALERT", "The new worker did not start, keeping the previous one.")
            return self._reload_failed()
        self.cfg = cfg
        self.pattern_base = new_base
        self.no_exit = cfg.global_.master_worker_no_exit_on_failure
        self.failed = 0
        self.say("NOTICE", "Loading success.")
        for proc in previous:
            proc.leaving = True
            proc.reloads += 1
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGUSR1)
        self._close_listeners(dropped)
        return True

    def _tell(self, procs: list[Proc], message: bytes) -> None:
        for proc in procs:
            sock = self.ctrl.get(proc.pid)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.send(message)

    def _reload_failed(self) -> bool:
        self.failed += 1
        for proc in self.children.values():
            if not proc.leaving and proc.pid not in self.pending:
                proc.reloads += 1
        self.say("WARNING", "Loading failure!")
        return False

    # -- children exits ---------------------------------------------------------------

    def _watch(self, pid: int) -> None:
        """Learn of the child's exit through a pidfd (uvloop keeps SIGCHLD for itself)."""
        try:
            fd = os.pidfd_open(pid)
        except OSError:  # no pidfd support: poll
            self.loop.call_later(0.1, self._poll, pid)
            return
        self.pidfds[pid] = fd
        self.loop.add_reader(fd, self._reap, pid)

    def _poll(self, pid: int) -> None:
        if pid in self.popens and not self._reap(pid):
            self.loop.call_later(0.1, self._poll, pid)

    def _reap(self, pid: int) -> bool:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            got, status = pid, 0
        if got == 0:
            return False
        fd = self.pidfds.pop(pid, None)
        if fd is not None:
            self.loop.remove_reader(fd)
            os.close(fd)
        self._child_exited(pid, status)
        return True

    def _child_exited(self, pid: int, status: int) -> None:
        code, reason = describe_status(status)
        popen = self.popens.pop(pid, None)
        if popen is not None:
            popen.returncode = code  # reaped here: keep subprocess from waiting again
        proc = self.children.pop(pid, None)
        conf = self.program_confs.pop(pid, None)
        was_pending = pid in self.pending
        self._drop_ctrl(pid)
        if proc is None:
            return
        if proc.kind == PROGRAM:
            stop_leftovers(pid)  # its own children do not outlive it
        what = "worker" if proc.kind == WORKER else "program"
        label = f"{what} ({pid})" if conf is None else f"{what} '{conf.name}' ({pid})"
        if proc.leaving:
            self.say("WARNING", f"Former {label} exited with code {code} ({reason})")
        else:
            level = "WARNING" if code < 128 and not self.stopping else "ALERT"
            self.say(level, f"Current {label} exited with code {code} ({reason})")
            failure = code not in NORMAL_EXITS
            if failure and not self.stopping and not was_pending and not self.no_exit:
                self.say("ALERT", "exit-on-failure: killing every processes with SIGTERM")
                self.exit_code = code
                self._stop_children()
            elif code not in (0, 143) and not self.stopping and not was_pending:
                self.exit_code = code
        last_worker = proc.kind == WORKER and not was_pending and not self._any_worker()
        if last_worker and not self.stopping and not self.no_exit:
            self._stop_children()  # the last worker is gone: so is the master
        if self.stopping and not self.children:
            self.say("WARNING", f"All workers exited. Exiting... ({self.exit_code})")
            self.done.set()

    def _any_worker(self) -> bool:
        return any(p.kind == WORKER for p in self.children.values())

    # -- stopping ---------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM/SIGINT: stop every child; the master exits once they are all gone."""
        if self.stopping:
            return
        self.say("WARNING", "Exiting Master process...")
        if self.opts.systemd:
            sd_notify(stopping=1, status="Stopping.")
        self._stop_children()

    def _stop_children(self) -> None:
        self.stopping = True
        for sock_spec, server in self.cli_servers:
            unlink_master_socket(sock_spec, server)
        self.cli_servers = []
        if not self.children:
            self.say("WARNING", f"All workers exited. Exiting... ({self.exit_code})")
            self.done.set()
            return
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self.loop.call_later(KILL_AFTER, self._kill_remaining)

    def _kill_remaining(self) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    # -- Master CLI hooks -------------------------------------------------------------

    def resolve_target(self, prefix: str) -> int | None:
        name = prefix[1:]
        if name in ("", "0", "master"):
            return 0
        if name.isdigit():
            current = self.current_workers()
            return current[-1].pid if int(name) == 1 and current else None
        if name.startswith("!") and name[1:].isdigit():
            pid = int(name[1:])
            proc = self.children.get(pid)
            if proc is not None and proc.kind == WORKER and pid in self.ctrl:
                return pid
        return None

    def show_proc(self) -> str:
        kids = [p for p in self.children.values() if p.pid not in self.pending]
        workers = sorted((p for p in kids if p.kind == WORKER), key=lambda p: -p.started)
        order = {c.name: i for i, c in enumerate(self.cfg.programs)}
        programs = sorted(
            (p for p in kids if p.kind == PROGRAM), key=lambda p: order.get(p.name, len(order))
        )
        return format_show_proc(self.me, self.failed, workers + programs)

    async def forward(self, pid: int, command: bytes) -> bytes:
        """Run ``command`` on worker ``pid``'s CLI and return its reply unchanged."""
        ctrl = self.ctrl.get(pid)
        if ctrl is None:
            return UNKNOWN_TARGET.format(f"@!{pid}").encode()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(ctrl, [b"C"], [theirs.fileno()])
        except OSError:
            mine.close()
            return FORWARD_TIMEOUT_TEXT.format(pid).encode()
        finally:
            theirs.close()
        mine.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=mine)
        chunks: list[bytes] = []
        try:
            writer.write(command)
            writer.write_eof()
            while True:
                chunk = await asyncio.wait_for(reader.read(65536), FORWARD_TIMEOUT)
                if not chunk:
                    break
                chunks.append(chunk)
        except TimeoutError:
            chunks.append(FORWARD_TIMEOUT_TEXT.format(pid).encode())
        except OSError:
            pass
        finally:
            writer.close()
        return b"".join(chunks)


def _has_tcp_stats_socket(cfg: Config) -> bool:
    """Whether a ``stats socket`` listens on TCP (it must be freed for the next worker)."""
    from runtime_api.server import parse_stats_socket_line

    for rule in cfg.global_.stats_sockets:
        with contextlib.suppress(ValueError):
            if parse_stats_socket_line(list(rule.words)).family in ("ipv4", "ipv6"):
                return True
    return False
