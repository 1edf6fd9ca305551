"""The configuration model: what a parsed file says, with file:line for each item.

The parser fills these objects section by section; `validate` then checks the
cross references and the result is treated as read-only. Building live objects
from it is `lb.state`'s job: nothing here opens a socket.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from lb.config.addr import BindAddr
from lb.config.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Where:
    """Where an item was written: used in every alert that concerns it."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def error(self, message: str) -> ConfigError:
        """A `parsing [file:line] : message` alert for this place."""
        return ConfigError(message, self.file, self.line)


@dataclass(slots=True)
class Rule:
    """A rule line kept as words (`http-request deny if x`), compiled at build time."""

    keyword: str
    words: tuple[str, ...]
    where: Where


@dataclass(slots=True)
class BindConf:
    addrs: list[BindAddr]
    where: Where
    text: str = ""  # the address as written, for messages
    name: str = ""
    maxconn: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ServerConf:
    name: str
    host: str
    port: int
    where: Where
    family: str = "ipv4"
    weight: int = 1
    backup: bool = False
    disabled: bool = False
    maxconn: int = 0
    maxqueue: int = 0
    puid: int = 0
    check: bool = False
    inter: int = 2000
    fastinter: int = 0
    downinter: int = 0
    rise: int = 2
    fall: int = 3
    check_port: int = 0
    check_addr: str = ""
    slowstart: int = 0  # ms, as written; the server ramps up in whole seconds
    cookie: str = ""
    track: str = ""  # `track [<proxy>/]<server>`
    observe: int = 0  # `observe`: 0 none, 4 layer4, 7 layer7
    error_limit: int = 10  # `error-limit`
    on_error: str = "fail-check"  # fastinter | fail-check | sudden-death | mark-down
    on_marked_down: str = ""  # "shutdown-sessions" or ""
    on_marked_up: str = ""  # "shutdown-backup-sessions" or ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class LogConf:
    """A `log` line of a section, or the `log global` marker (target None)."""

    words: tuple[str, ...]
    where: Where
    is_global: bool = False


@dataclass(slots=True)
class ProxyConf:
    """A frontend, backend, listen or defaults section."""

    name: str
    kind: str  # "frontend" | "backend" | "listen" | "defaults"
    where: Where
    mode: str = "tcp"
    puid: int = 0
    disabled: bool = False
    binds: list[BindConf] = field(default_factory=list)
    servers: list[ServerConf] = field(default_factory=list)
    default_backend: tuple[str, Where] | None = None
    use_backends: list[Rule] = field(default_factory=list)
    # capture slots in the order written: `capture request|response header NAME len N`
    # as (lower-case name, length); `declare capture` and `http-request|tcp-request
    # content capture … len N` as ("", length) (lb.captures)
    capture_request: list[tuple[str, int]] = field(default_factory=list)
    capture_response: list[tuple[str, int]] = field(default_factory=list)
    # the request slot of each `… capture … len N` rule, by its "file:line"
    capture_rule_slots: dict[str, int] = field(default_factory=dict)
    capture_cookie: tuple[str, int] | None = None  # `capture cookie NAME len N`
    timeouts: dict[str, int] = field(default_factory=dict)
    maxconn: int = 0
    fullconn: int = 0
    backlog: int = 0  # listen queue of the binds that set none (0: the frontend's maxconn)
    rate_limit_sessions: int = 0  # new sessions per second the frontend accepts
    retries: int = 3
    balance: tuple[str, list[str]] = ("roundrobin", [])
    hash_type: list[str] = field(default_factory=lambda: ["map-based"])
    options: dict[str, Any] = field(default_factory=dict)
    http_check: list[Rule] = field(default_factory=list)
    http_reuse: str = "safe"
    max_ka_queue: int = -1  # max-keep-alive-queue (-1: no limit)
    # `filter compression` / `filter cache NAME` lines: (kind, cache name or "", where)
    filters: list[tuple[str, str, Where]] = field(default_factory=list)
    logs: list[LogConf] = field(default_factory=list)
    log_format: str | None = None
    log_format_where: Where | None = None
    # `errorfile CODE FILE` (CODE: path) and `errorfiles NAME [CODE…]` (a ("errorfiles",
    # n) key: (NAME, codes, where)) in the order written, the later winning;
    # lb.config.validate resolves them into CODE: path only
    errorfiles: dict[Any, Any] = field(default_factory=dict)
    acls: list[Rule] = field(default_factory=list)
    http_request: list[Rule] = field(default_factory=list)
    http_response: list[Rule] = field(default_factory=list)
    http_after_response: list[Rule] = field(default_factory=list)
    tcp_request: list[Rule] = field(default_factory=list)
    tcp_response: list[Rule] = field(default_factory=list)
    stick_table: Rule | None = None
    stick_rules: list[Rule] = field(default_factory=list)
    stats: list[Rule] = field(default_factory=list)
    monitor_uri: str | None = None
    unique_id_format: str | None = None
    unique_id_header: str | None = None
    default_server: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    extra: dict[str, list[Rule]] = field(default_factory=dict)
    # `email-alert mailers|from|to|level|myhostname` as written (lb.config.mailers);
    # any of them present adds "set": True
    email_alert: dict[str, Any] = field(default_factory=dict)
    balance_set: bool = False  # a `balance` line applies (here or in the defaults)
    dispatch: tuple[str, int, Where] | None = None  # `dispatch ADDR:PORT`
    ext_check_command: str = ""  # `external-check command`
    ext_check_path: str | None = None  # `external-check path`

    @property
    def is_frontend(self) -> bool:
        return self.kind in ("frontend", "listen")

    @property
    def is_backend(self) -> bool:
        return self.kind in ("backend", "listen")

    def inherit(self, name: str, kind: str, where: Where) -> ProxyConf:
        """A new proxy that starts from this defaults section's settings."""
        new = copy.deepcopy(self)
        new.name, new.kind, new.where = name, kind, where
        new.binds, new.servers, new.use_backends, new.acls = [], [], [], []
        new.http_request, new.http_response, new.http_after_response = [], [], []
        new.tcp_request, new.tcp_response, new.stick_rules = [], [], []
        new.stick_table, new.puid = None, 0
        if kind == "backend":
            new.binds = []
        return new


@dataclass(slots=True)
class ProgramConf:
    name: str
    where: Where
    command: tuple[str, ...] = ()
    user: str = ""
    group: str = ""
    start_on_reload: bool = True


@dataclass(slots=True)
class PeersConf:
    name: str
    where: Where
    peers: list[tuple[str, str, Where]] = field(default_factory=list)
    lines: list[Rule] = field(default_factory=list)


@dataclass(slots=True)
class UserlistConf:
    name: str
    where: Where
    users: dict[str, tuple[str, ...]] = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(slots=True)
class GlobalConf:
    maxconn: int = 0
    uid: int | None = None  # `user`/`uid`: the worker drops to it once it has bound
    gid: int | None = None  # `group`/`gid`
    daemon: bool = False
    master_worker: bool = False
    master_worker_no_exit_on_failure: bool = False
    keep_state_on_reload: bool = False  # `lb-keep-state-on-reload` (not in HAProxy 2.6)
    pidfile: str = ""
    nbthread: int = 1
    stats_sockets: list[Rule] = field(default_factory=list)
    stats_timeout: int = 10000
    stats_maxconn: int = 10  # connections served at once over all stats sockets
    stats_maxconn: int = 10
    logs: list[LogConf] = field(default_factory=list)
    log_tag: str = ""
    log_send_hostname: str | None = None
    node: str = ""
    description: str = ""
    hard_stop_after: int = 0
    tune: dict[str, Any] = field(default_factory=dict)
    ssl: dict[str, Any] = field(default_factory=dict)
    server_state_file: str = ""
    server_state_base: str = ""
    user: str = ""
    group: str = ""
    chroot: str = ""
    quiet: bool = False
    rate_limit_sessions: int = 0
    rate_limit_connections: int = 0
    spread_checks: int = -1  # -1: not set (0 is a setting: no jitter)
    ulimit_n: int = 0
    setenv: list[tuple[str, str]] = field(default_factory=list)

    @property
    def bufsize(self) -> int:
        return int(self.tune.get("bufsize", 16384))


@dataclass(slots=True)
class HttpErrorsConf:
    """An `http-errors` section: named `errorfile` lines for proxies' `errorfiles`."""

    name: str
    where: Where
    errorfiles: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class ResolversConf:
    """A `resolvers` section: name servers and how run-time resolution behaves."""

    name: str
    where: Where
    nameservers: list[tuple[str, str, int, Where]] = field(default_factory=list)  # id, ip, port
    resolve_retries: int = 3
    timeout_resolve: int = 1000  # ms between two resolutions of a name
    timeout_retry: int = 1000  # ms before a query without answer is sent again
    hold: dict[str, int] = field(
        default_factory=lambda: {
            "nx": 30000,
            "other": 30000,
            "refused": 30000,
            "timeout": 30000,
            "valid": 10000,
            "obsolete": 0,
        }
    )
    accepted_payload_size: int = 512
    implicit: bool = False  # the `default` section made from /etc/resolv.conf


@dataclass(slots=True)
class CacheConf:
    """A `cache` section: HAProxy's small-object HTTP cache (`lb.http.cache`)."""

    name: str
    where: Where
    max_blocks: int = 0  # total-max-size, in 1 kB blocks (0: not given, an error)
    max_object_size: int = 0  # bytes; 0: a 256th of the total size
    max_age: int = 60  # seconds
    process_vary: bool = False
    max_secondary_entries: int = 10


@dataclass(slots=True)
class MailersConf:
    """A `mailers` section: SMTP servers that email alerts are sent to."""

    name: str
    where: Where
    mailers: list[tuple[str, str, int, Where]] = field(default_factory=list)  # id, ip, port
    timeout_mail: int = 10000  # ms for one whole mail (connect and dialogue)


@dataclass(slots=True)
class RingServerConf:
    """A `server` line of a `ring` section: a TCP syslog server fed from the ring."""

    name: str
    where: Where
    host: str = ""
    port: int = 0
    path: str = ""  # unix@ addresses
    log_proto: str = "legacy"  # "legacy" (newline-ended) or "octet-count"


@dataclass(slots=True)
class RingConf:
    """A `ring` section: an in-memory buffer of log lines (lb.logging_.ring)."""

    name: str
    where: Where
    description: str = ""  # "": the name
    format: str = "raw"
    maxlen: int = 16384
    size: int = 16384
    timeout_connect: int | None = None  # ms
    timeout_server: int | None = None  # ms
    servers: list[RingServerConf] = field(default_factory=list)


@dataclass(slots=True)
class Config:
    """A whole parsed configuration (one or several files)."""

    files: list[str]
    global_: GlobalConf = field(default_factory=GlobalConf)
    proxies: list[ProxyConf] = field(default_factory=list)
    defaults: dict[str, ProxyConf] = field(default_factory=dict)
    programs: list[ProgramConf] = field(default_factory=list)
    peers: list[PeersConf] = field(default_factory=list)
    userlists: list[UserlistConf] = field(default_factory=list)
    http_errors: dict[str, HttpErrorsConf] = field(default_factory=dict)
    resolvers: dict[str, ResolversConf] = field(default_factory=dict)
    rings: dict[str, RingConf] = field(default_factory=dict)
    mailers: dict[str, MailersConf] = field(default_factory=dict)
    caches: dict[str, CacheConf] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def proxy(self, name: str) -> ProxyConf | None:
        for p in self.proxies:
            if p.name == name:
                return p
        return None

    def backend(self, name: str) -> ProxyConf | None:
        for p in self.proxies:
            if p.name == name and p.is_backend:
                return p
        return None
