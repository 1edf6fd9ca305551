"""Command line, with HAProxy's flags: `lb -f haproxy.cfg` runs it, `lb -c` checks it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from dataclasses import dataclass, field

from lb import __version__
from lb.config.keywords import remark_level
from lb.config.model import Config
from lb.config.parser import ConfigErrors, parse_files

VERSION_LINE = f"LB version {__version__} - HAProxy 2.6 compatible"
FEATURES = {"HTTP", "TCP", "UVLOOP", "HTTPTOOLS", "OPENSSL", "STATS", "MWORKER", "PYTHON"}
COMPAT_VERSION = "2.6.12"


@dataclass
class Options:
    files: list[str] = field(default_factory=list)
    check: bool = False
    cc_expr: str | None = None
    debug: bool = False
    daemon: bool = False
    pidfile: str = ""
    quiet: bool = False
    master_worker: bool = False
    systemd: bool = False
    master_sockets: list[str] = field(default_factory=list)
    local_peer: str = ""
    soft_stop_pids: list[int] = field(default_factory=list)
    hard_stop_pids: list[int] = field(default_factory=list)
    socket_from: str = ""
    version: int = 0


class UsageError(Exception):
    pass


USAGE = """Usage : lb [-f <cfgfile|cfgdir>]* [ -vdV ] [ -D ] [ -W ] [ -Ws ] [ -q ] [ -c ]
        [ -cc <expr> ] [ -p <pidfile> ] [ -S <master-socket> ] [ -L <name> ]
        [ -sf <pidlist>* ] [ -st <pidlist>* ]
        -v displays version ; -vv shows known build options.
        -d enters debug mode ; -q quiet mode.
        -D goes daemon ; -W master-worker mode ; -Ws master-worker with systemd notify.
        -c check mode : only check config files and exit
        -cc check condition : evaluate a condition and exit
        -p writes pids of all children to this file
        -S <bind>[,<bind options>...] new master CLI
        -L set local peer name
        -sf/-st [pid ]* finishes/terminates old pids.
"""


def parse_args(argv: list[str]) -> Options:
    o = Options()
    i = 0

    def value() -> str:
        nonlocal i
        if i + 1 >= len(argv):
            raise UsageError(f"option '{argv[i]}' requires an argument")
        i += 1
        return argv[i]

    while i < len(argv):
        a = argv[i]
        if a == "-f":
            o.files.append(value())
        elif a == "-c":
            o.check = True
        elif a == "-cc":
            o.cc_expr = value()
        elif a in ("-d", "-db", "-dV"):
            o.debug = True
        elif a.startswith("-dM") or a in ("-dr", "-dW", "-dS", "-dG", "-de", "-dp", "-dk"):
            pass
        elif a == "-D":
            o.daemon = True
        elif a == "-p":
            o.pidfile = value()
        elif a == "-q":
            o.quiet = True
        elif a == "-W":
            o.master_worker = True
        elif a == "-Ws":
            o.master_worker = True
            o.systemd = True
        elif a == "-S":
            o.master_sockets.append(value())
        elif a == "-L":
            o.local_peer = value()
        elif a == "-x":
            o.socket_from = value()
        elif a == "-v":
            o.version = 1
        elif a == "-vv":
            o.version = 2
        elif a in ("-sf", "-st"):
            pids = o.soft_stop_pids if a == "-sf" else o.hard_stop_pids
            while i + 1 < len(argv) and argv[i + 1].isdigit():
                i += 1
                pids.append(int(argv[i]))
        elif a == "--":
            o.files.extend(argv[i + 1 :])
            break
        elif not a.startswith("-"):
            o.files.append(a)
        else:
            raise UsageError(f"unknown option '{a}'")
        i += 1
    return o


def _say(level: str, msg: str, quiet: bool = False) -> None:
    from lb.log import format_notice

    if quiet and level != "ALERT":
        return
    sys.stderr.write(format_notice(level, os.getpid(), msg) + "\n")


def set_open_files_limit(n: int) -> bool:
    """`ulimit-n`: both limits on open files become `n` (workers inherit them)."""
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    except (OSError, ValueError):
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        _say("ALERT", f"[haproxy.main()] Cannot raise FD limit to {n}, limit is {soft}.")
        return False
    return True


def print_version(verbose: bool) -> None:
    print(VERSION_LINE)
    print(f"Compatible with: HAProxy version {COMPAT_VERSION} configuration and runtime API")
    print(f"Running on: Python {sys.version.split()[0]}")
    if verbose:
        import httptools
        import uvloop

        print("Build options :")
        print(f"  uvloop {uvloop.__version__}, httptools {httptools.__version__}")
        print("Feature list : " + " ".join("+" + f for f in sorted(FEATURES)))
        from lb.balance import ALGORITHMS

        print("Available balance algorithms : " + " ".join(sorted(ALGORITHMS)))


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    try:
        opts = parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"[ALERT]    ({os.getpid()}) : {exc}\n{USAGE}")
        return 1
    if opts.version:
        print_version(opts.version > 1)
        return 0
    if opts.cc_expr is not None:
        return _check_condition(opts.cc_expr)
    if not opts.files:
        sys.stderr.write(USAGE)
        return 1
    try:
        cfg = parse_files(opts.files)
    except ConfigErrors as exc:
        for line in exc.lines:
            _say("ALERT", f"config : {line}")
        for f in exc.files:
            if any(f"[{f}:" in ln for ln in exc.lines):
                _say("ALERT", f"config : Error(s) found in configuration file : {f}")
        _say("ALERT", "config : Fatal errors found in configuration.")
        return 1
    for w in cfg.warnings:
        _say(remark_level(w), f"config : {w}", opts.quiet)
    listening = _has_listener(cfg, opts.local_peer)
    if opts.check:
        try:
            _build_only(cfg)
        except Exception as exc:  # a problem found while building: report as HAProxy does
            _say("ALERT", f"config : {exc}")
            _say("ALERT", "config : Fatal errors found in configuration.")
            return 1
        if not opts.quiet and any(remark_level(w) == "WARNING" for w in cfg.warnings):
            print("Warnings were found.")
        if not listening:
            if not opts.quiet:
                print(
                    "Configuration file has no error but will not start (no listener) => exit(2)."
                )
            return 2
        if not opts.quiet:
            print("Configuration file is valid")
        return 0
    if not listening:
        _say(
            "ALERT",
            "[haproxy.main()] No enabled listener found (check for 'bind' directives) ! Exiting.",
        )
        return 1
    if cfg.global_.ulimit_n and not set_open_files_limit(cfg.global_.ulimit_n):
        return 1
    if opts.master_worker or cfg.global_.master_worker:
        from lb.mworker.master import run_master

        return run_master(opts, cfg)
    from lb.worker import run_worker

    return run_worker(opts, cfg)


def _has_listener(cfg: Config, local_peer: str) -> bool:
    """Whether the process would listen anywhere, as HAProxy counts it: an enabled
    frontend's `bind`, a `stats socket`, or this host's line in a `peers` section."""
    if cfg.global_.stats_sockets:
        return True
    if any(p.is_frontend and p.binds and not p.disabled for p in cfg.proxies):
        return True
    me = local_peer or socket.gethostname()
    return any(name == me for sec in cfg.peers for name, *_ in sec.peers)


def _build_only(cfg: object) -> None:
    from lb.state import State

    State(cfg)  # type: ignore[arg-type]


def _check_condition(expr: str) -> int:
    from lb.cc_expr import evaluate_cc_arg

    try:
        ok = evaluate_cc_arg(expr, COMPAT_VERSION, FEATURES, lambda name: name in os.environ)
    except ValueError as exc:
        sys.stderr.write(f"[ALERT]    ({os.getpid()}) : Failed to evaluate condition: {exc}\n")
        return 2
    return 0 if ok else 1


def signal_pids(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
