"""A live server: address, weights, admin and operational state, counters, idle pool.

Every change of state goes through a method here, used alike by health checks
and the Runtime API, so the balancer, the queues and the logs stay in step.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from lb.counters import Counters

if TYPE_CHECKING:
    from lb.config.model import ServerConf
    from lb.proxy import Proxy

# Operational states, as HAProxy numbers them.
SRV_ST_STOPPED = 0
SRV_ST_STARTING = 1
SRV_ST_RUNNING = 2
SRV_ST_STOPPING = 3

# Admin flags.
ADMIN_FMAINT = 0x01  # forced maintenance (CLI)
ADMIN_IMAINT = 0x02  # inherited (track)
ADMIN_CMAINT = 0x04  # configured `disabled`
ADMIN_FDRAIN = 0x08  # forced drain (CLI)
ADMIN_RMAINT = 0x20  # no address from DNS resolution (lb/dns/)
ADMIN_MAINT = ADMIN_FMAINT | ADMIN_IMAINT | ADMIN_CMAINT | ADMIN_RMAINT


class Server:
    __slots__ = (
        "name",
        "proxy",
        "puid",
        "host",
        "port",
        "family",
        "iweight",
        "uweight",
        "eweight",
        "backup",
        "admin",
        "op_state",
        "maxconn",
        "maxqueue",
        "served",
        "queue",
        "counters",
        "check",
        "check_enabled",
        "check_conf",
        "check_host",
        "check_port",
        "last_change",
        "down_time",
        "down_since",
        "down_trans",
        "idle",
        "pool_purge",
        "pool_max",
        "max_reuse",
        "conf",
        "usable",
        "cookie",
        "last_check",
        "lb_node",
        "options",
        "agent",  # lb/checks/agent.py AgentCheck, or None
        "track",  # the Server whose state this one follows (`track`), once resolved
        "track_ref",  # `track` as written: "[<proxy>/]<server>", or ""
        "slowstart",  # seconds (HAProxy rounds the configured ms up)
        "_ss_start",
        "_ss_timer",
        "_ss_dyn",  # the algorithm takes weight changes (slowstart ramps the weight)
        "_ss_ring",  # ... on a hash ring, whose points need whole weights
        "observe",  # 0, 4 or 7 (`observe`); 0 too when the server has no check
        "error_limit",
        "on_error",
        "consecutive_errors",
        "failed_hana",
        "redir",  # `redir PREFIX` as bytes (lb/server_redir.py), or None
    )

    #: number of servers built with `track`: without any, no tracker lookups happen
    tracking = 0

    def __init__(self, proxy: Proxy, conf: ServerConf) -> None:
        self.name = conf.name
        self.proxy = proxy
        self.conf = conf
        self.puid = conf.puid
        self.host = conf.host
        self.port = conf.port
        self.family = conf.family
        self.iweight = conf.weight
        self.uweight = conf.weight
        self.eweight = conf.weight
        self.backup = conf.backup
        self.admin = ADMIN_CMAINT if conf.disabled else 0
        if conf.options.get("no-addr"):  # `init-addr none`: waits for a resolution
            self.admin |= ADMIN_RMAINT
        self.op_state = SRV_ST_RUNNING
        self.maxconn = conf.maxconn
        self.maxqueue = conf.maxqueue
        self.served = 0
        self.queue: deque[Any] = deque()
        self.counters = Counters()
        self.check: Any = None
        self.check_enabled = conf.check
        self.check_conf = conf
        self.check_host = conf.check_addr or conf.host
        self.check_port = conf.check_port or conf.port
        self.last_change = time.monotonic()
        self.down_time = 0.0
        self.down_since = time.monotonic() if self.admin else 0.0
        self.down_trans = 0
        self.idle: list[Any] = []
        # the idle pool's limits: pool-purge-delay (s, 0: never purged), pool-max-conn
        # and max-reuse (-1: no limit)
        opts = conf.options
        self.pool_purge = opts.get("pool-purge-delay", 5000) / 1000.0
        self.pool_max = opts.get("pool-max-conn", -1)
        self.max_reuse = opts.get("max-reuse", -1)
        self.cookie = conf.cookie
        self.last_check: Any = None
        self.lb_node: Any = None
        self.options = conf.options
        self.agent: Any = None
        self.usable = True
        self.track: Server | None = None
        self.track_ref = conf.track
        if conf.track:
            Server.tracking += 1
            if conf.where.file != "CLI":  # `add server` checks its own `track`
                _check_track(proxy, conf)
        self.slowstart = (conf.slowstart + 999) // 1000
        self._ss_start = 0.0
        self._ss_timer: Any = None
        self._ss_dyn, self._ss_ring = _weight_kind(proxy)
        self.observe = 0  # set from conf.observe when the check starts (checksetup)
        self.error_limit = conf.error_limit
        self.on_error = conf.on_error
        self.consecutive_errors = 0
        self.failed_hana = 0
        redir = conf.options.get("redir")
        self.redir = redir.encode() if isinstance(redir, str) else None
        self._refresh()

    # ------------------------------------------------------------ derived state

    def _refresh(self) -> None:
        """Recompute what the balancer reads: `usable` and `eweight`."""
        self.usable = not (self.admin & ADMIN_MAINT) and self.op_state in (
            SRV_ST_RUNNING,
            SRV_ST_STARTING,
        )
        if self.admin & ADMIN_FDRAIN or self.op_state == SRV_ST_STOPPING:
            self.eweight = 0
        elif self.op_state == SRV_ST_STARTING and self._ss_dyn and self.uweight:
            w = self._ramp()
            if self._ss_ring:  # whole weights: the ring has weight * 16 points
                self.eweight = -(-self.uweight * w // 16)
            else:  # HAProxy's eweight is uweight * w / 16 with w from 1 to 16
                self.eweight = self.uweight * w / 16  # type: ignore[assignment]
        else:
            self.eweight = self.uweight

    def _ramp(self) -> int:
        """HAProxy's slowstart step (server_recalc_eweight): 1 to 16 as whole seconds
        pass since the server came up."""
        t = int(time.monotonic() - self._ss_start)
        return min(16, (16 * t + self.slowstart) // self.slowstart)

    @property
    def stat_weight(self) -> int:
        """The `weight` column of show stat: the effective weight in user units."""
        if self.op_state == SRV_ST_STARTING and self._ss_dyn and self.uweight:
            return -(-self.uweight * self._ramp() // 16)
        return self.uweight

    @property
    def throttle(self) -> int | None:
        """The `throttle` column of show stat (percent), only during a slow start."""
        if self.op_state != SRV_ST_STARTING or self.admin & ADMIN_FDRAIN:
            return None
        if not self.uweight or not self._ss_dyn:
            return 100
        return 100 * self._ramp() // 16  # (rounded down: 6 for a first step, as haproxy)

    @property
    def tracked_name(self) -> str:
        """The `tracked` column of show stat: "<proxy>/<server>", or ""."""
        t = self.track_target()
        return f"{t.proxy.name}/{t.name}" if t is not None else ""

    @property
    def in_maint(self) -> bool:
        return bool(self.admin & ADMIN_MAINT)

    @property
    def is_full(self) -> bool:
        return bool(self.maxconn) and self.served >= self.maxconn

    @property
    def eligible(self) -> bool:
        return self.usable and self.eweight > 0

    def addr_text(self) -> str:
        if self.family == "ipv6":
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    # ------------------------------------------------------------ transitions

    def _changed(self) -> None:
        self.last_change = time.monotonic()
        self._refresh()
        self.proxy.servers_changed()

    def _who(self) -> str:
        return f"{'Backup ' if self.backup else ''}Server {self.proxy.name}/{self.name}"

    def _counts(self) -> tuple[int, int]:
        act = sum(1 for s in self.proxy.servers if s.eligible and not s.backup)
        bck = sum(1 for s in self.proxy.servers if s.eligible and s.backup)
        return act, bck

    def _left_msg(self) -> str:
        act, bck = self._counts()
        on_backup = " Running on backup." if bck and not act else ""
        return (
            f"{act} active and {bck} backup servers left.{on_backup} "
            f"{self.served} sessions active, "
            f"0 requeued, {len(self.queue)} remaining in queue."
        )

    def _online_msg(self) -> str:
        act, bck = self._counts()
        return (
            f"{act} active and {bck} backup servers online. 0 sessions requeued, "
            f"{len(self.queue)} total in queue."
        )

    def _notice(self, msg: str) -> None:
        self.proxy.state.notify("warning", msg, self.proxy)
        self.proxy.check_no_server_left()

    def set_maint(self) -> None:
        if self.admin & ADMIN_FMAINT:
            return
        was = self.in_maint
        self.admin = (self.admin | ADMIN_FMAINT) & ~ADMIN_FDRAIN
        self._enter_maint(was, "")

    def set_rmaint(self, reason: str) -> None:
        """Resolution gave no usable address: maintenance until one comes."""
        if self.admin & ADMIN_RMAINT:
            return
        was = self.in_maint
        self.admin |= ADMIN_RMAINT
        self._enter_maint(was, f" ({reason})")

    def clear_rmaint(self, fqdn: str) -> None:
        """A resolution gave an address again: leave the resolution maintenance."""
        if not self.admin & ADMIN_RMAINT:
            return
        self.admin &= ~ADMIN_RMAINT
        if self.in_maint:
            self._changed()
            return
        if self.check is not None and self.check_enabled:
            self.check.leave_maintenance()
        self._leave_maint()
        self._notice(f"{self._who()} ('{fqdn}') is UP/READY (resolves again).")
        for t in self._trackers():
            t._inherit_maint(False, self)
        self.proxy.dequeue(self)

    def _enter_maint(self, was: bool, via: str) -> None:
        """FMAINT or IMAINT was just set: stop the checks, report, tell the trackers."""
        if self.check is not None:
            self.check.enter_maintenance()
        if was:
            return
        self._stop_warmup()
        stopped = self.op_state == SRV_ST_STOPPED
        self._went_down()
        if not stopped:
            self.down_since = 0.0  # maintenance is not counted as downtime
        self._changed()
        if stopped:
            self._notice(f"{self._who()} was DOWN and now enters maintenance.")
        else:
            self._notice(f"{self._who()} is going DOWN for maintenance{via}. " + self._left_msg())
        for t in self._trackers():
            t._inherit_maint(True, self)

    def _inherit_maint(self, on: bool, ref: Server) -> None:
        """The tracked server entered or left maintenance (HAProxy's IMAINT)."""
        if on:
            if self.admin & ADMIN_IMAINT:
                return
            was = self.in_maint
            self.admin |= ADMIN_IMAINT
            self._enter_maint(was, f" via {ref.proxy.name}/{ref.name}")
            return
        if not self.admin & ADMIN_IMAINT:
            return
        self.admin &= ~ADMIN_IMAINT
        if self.in_maint:
            return
        self.op_state = SRV_ST_STOPPED if ref.op_state == SRV_ST_STOPPED else SRV_ST_RUNNING
        self._leave_maint()
        state = "DOWN" if self.op_state == SRV_ST_STOPPED else "UP"
        self._notice(f"{self._who()} is {state}/READY (leaving maintenance).")
        self.proxy.dequeue(self)
        for t in self._trackers():
            t._inherit_maint(False, self)

    def _leave_maint(self) -> None:
        """Maintenance is over: count the downtime, start a slow start if due."""
        self._came_up()
        if self.op_state != SRV_ST_STOPPED:
            self._start_warmup()
        self._changed()

    def set_drain(self) -> None:
        if self.admin & ADMIN_FDRAIN:
            return
        if self.admin & ADMIN_FMAINT:
            # drain from maintenance: the server comes back, but only for persistent traffic
            self.admin &= ~ADMIN_FMAINT
            self._came_up()
            if self.check is not None and self.check_enabled:
                self.check.leave_maintenance()
        self.admin |= ADMIN_FDRAIN
        self._changed()
        if not self.in_maint:
            self._notice(f"{self._who()} enters drain state. " + self._online_msg())

    def set_ready(self) -> None:
        if self.admin & (ADMIN_FMAINT | ADMIN_CMAINT):
            self.admin &= ~(ADMIN_FMAINT | ADMIN_FDRAIN | ADMIN_CMAINT)
            if self.check is not None and self.check_enabled:
                self.check.leave_maintenance()
            if self.in_maint:  # still inherits maintenance from the tracked server
                self._changed()
            else:
                self._leave_maint()
                self._notice(f"{self._who()} is UP/READY (leaving forced maintenance).")
                for t in self._trackers():
                    t._inherit_maint(False, self)
        elif self.admin & ADMIN_FDRAIN:
            self.admin &= ~ADMIN_FDRAIN
            self._changed()
            self._notice(f"{self._who()} is UP (leaving forced drain).")
        self.proxy.dequeue(self)

    def set_weight(self, weight: int) -> None:
        self.uweight = weight
        self._changed()
        self.proxy.dequeue(self)

    def set_maxconn(self, maxconn: int) -> None:
        self.maxconn = maxconn
        self.proxy.dequeue(self)

    def set_addr(self, host: str, port: int | None) -> None:
        self.host = host
        if port is not None:
            if not self.conf.check_port:
                self.check_port = port
            self.port = port
        if not self.conf.check_addr:
            self.check_host = host
        self.drop_idle()

    def on_health_change(self, up: bool, reason: str) -> None:
        """Called by the health check when rise/fall flips the state."""
        if up:
            self._set_running(_reason(reason))
        else:
            self._set_stopped(_reason(reason))

    def _set_running(self, why: str) -> None:
        if self.op_state in (SRV_ST_RUNNING, SRV_ST_STARTING):
            return
        self.op_state = SRV_ST_RUNNING
        self._came_up()
        if not self.in_maint:
            self._start_warmup()
        self._changed()
        if not self.in_maint:
            self._notice(f"{self._who()} is UP{why}. " + self._online_msg())
            if self.conf.on_marked_up and not self.backup and self.eweight:
                from lb.observe import shutdown_streams

                backups = [s for s in self.proxy.servers if s.backup]
                shutdown_streams(self.proxy.state, backups, "U")
            self.proxy.dequeue(self)
        for t in self._trackers():
            t._set_running(f" via {self.proxy.name}/{self.name}")

    def _set_stopped(self, why: str) -> None:
        if self.op_state == SRV_ST_STOPPED:
            return
        self._stop_warmup()
        self.op_state = SRV_ST_STOPPED
        self._went_down()
        self._changed()
        if not self.in_maint:
            self._notice(f"{self._who()} is DOWN{why}. " + self._left_msg())
            if self.conf.on_marked_down:
                from lb.observe import shutdown_streams

                shutdown_streams(self.proxy.state, (self,), "D")
        for t in self._trackers():
            t._set_stopped(f" via {self.proxy.name}/{self.name}")

    def set_health_stopping(self) -> None:
        self._stop_warmup()
        self.op_state = SRV_ST_STOPPING
        self._changed()
        self._notice(f"{self._who()} is stopping, changed from CLI. " + self._online_msg())

    # ------------------------------------------------------------ slowstart

    def _start_warmup(self) -> None:
        """After DOWN or maintenance: STARTING, the weight grows each second to full."""
        loop = getattr(self.proxy.state, "loop", None)
        if self.slowstart <= 0 or loop is None:
            return
        self.op_state = SRV_ST_STARTING
        self._ss_start = time.monotonic()
        self._stop_warmup()
        self._ss_timer = loop.call_later(1.0, self._warmup)

    def _stop_warmup(self) -> None:
        if self._ss_timer is not None:
            self._ss_timer.cancel()
            self._ss_timer = None

    def _warmup(self) -> None:
        """HAProxy's server_warmup task: recompute the weight, end the slow start."""
        self._ss_timer = None
        if self.op_state != SRV_ST_STARTING or self.in_maint:
            return
        if time.monotonic() - self._ss_start >= self.slowstart:
            self.op_state = SRV_ST_RUNNING
            self._refresh()
            self.proxy.servers_changed()
            self._notice(f"{self._who()} is UP. " + self._online_msg())
        else:
            self._refresh()
            self.proxy.servers_changed()
            self._ss_timer = self.proxy.state.loop.call_later(1.0, self._warmup)
        self.proxy.dequeue(self)

    # ------------------------------------------------------------ track

    def track_target(self) -> Server | None:
        """The server this one tracks (resolved on first use), or None."""
        if self.track is None and self.track_ref:
            pname, slash, sname = self.track_ref.rpartition("/")
            for p in self.proxy.state.proxies:
                if (p.name == pname if slash else p is self.proxy) and p.is_backend:
                    self.track = p.server(sname)
                    break
        return self.track

    def _trackers(self) -> list[Server]:
        """The servers that track this one, in configuration order."""
        if not Server.tracking:
            return []
        return [
            s
            for p in self.proxy.state.proxies
            for s in p.servers
            if s.track_ref and s.track_target() is self
        ]

    def sync_trackers(self) -> None:
        """At start: trackers take the state of the server they follow, silently."""
        for t in self._trackers():
            if self.in_maint and not t.admin & ADMIN_IMAINT:
                t.admin |= ADMIN_IMAINT
                t._refresh()
            if self.op_state == SRV_ST_STOPPED and t.op_state != SRV_ST_STOPPED:
                t.op_state = SRV_ST_STOPPED
                t._refresh()
            t.proxy.servers_changed()
            t.sync_trackers()

    # ------------------------------------------------------------ observe

    def observe_result(self, ok: bool, layer: int, why: str = "") -> None:
        """Passive health from live traffic: a connection (layer 4) or a response
        (layer 7) that went well or not. `why` for a layer 7 failure is the front
        side's termination code (PH, SH, sH) or a description."""
        mode = self.observe
        if ok:
            if layer == mode:
                self.consecutive_errors = 0
            return
        if layer == 7 and mode != 7:
            return
        self.consecutive_errors += 1
        if self.consecutive_errors < self.error_limit:
            return
        from lb.observe import error_text

        text = error_text(self.consecutive_errors, layer, why)
        self.consecutive_errors = 0
        self.failed_hana += 1
        chk = self.check
        if chk is not None:
            chk.health_analyze(self.on_error, text)

    def observe_status(self, status: int) -> None:
        """`observe layer7`: an HTTP status from the server."""
        self.observe_result(100 <= status < 500 or status in (501, 505), 7)

    def _went_down(self) -> None:
        self.down_trans += 1
        if not self.down_since:
            self.down_since = time.monotonic()
        self.drop_idle()

    def _came_up(self) -> None:
        if self.down_since and not self.in_maint and self.op_state != SRV_ST_STOPPED:
            self.down_time += time.monotonic() - self.down_since
            self.down_since = 0.0

    def total_down_time(self) -> float:
        """Seconds spent DOWN or in maintenance so far (`downtime` in show stat)."""
        cur = time.monotonic() - self.down_since if self.down_since else 0.0
        return self.down_time + cur

    def drop_idle(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()

    def on_check_result(self, result: Any) -> None:
        self.last_check = result

    def on_check_log(self, message: str) -> None:
        if self.proxy.options.get("log-health-checks"):
            self.proxy.state.notify("notice", message, self.proxy)

    @property
    def proxy_name(self) -> str:
        return self.proxy.name

    def set_health_from_cli(self, up: bool) -> None:
        """`set server … health up|down`: force the check counter to its top or to zero."""
        health = getattr(self.check, "_health", None)
        if health is not None:
            health.health = health.top if up else 0
            health.up = up
        self.on_health_change(up, "changed from CLI")


def _weight_kind(proxy: Any) -> tuple[bool, bool]:
    """(dynamic, ring) of the backend's algorithm: slowstart ramps weights only when
    they are dynamic (HAProxy's BE_LB_PROP_DYN); ring algorithms need whole weights."""
    conf = getattr(proxy, "conf", None)
    if conf is None:
        return True, False
    algo = str(conf.balance[0])
    consistent = "consistent" in (conf.hash_type or ())
    if algo in ("roundrobin", "leastconn", "first"):
        return True, False
    if algo == "random":
        return True, True
    if algo == "static-rr":
        return False, False
    return consistent, consistent


def _check_track(proxy: Any, conf: ServerConf) -> None:
    """`track` checked against the configuration, with HAProxy's alerts."""
    from lb.config.errors import ConfigError

    cfg = proxy.state.cfg
    head = f"[{conf.where}] : 'server {proxy.name}/{conf.name}' : "

    def resolve(owner: Any, ref: str) -> tuple[Any, Any]:
        pname, slash, sname = ref.rpartition("/")
        if slash:
            owner = next((p for p in cfg.proxies if p.name == pname and p.is_backend), None)
            if owner is None:
                raise ConfigError(head + f"unable to find required proxy '{pname}' for tracking.")
        target = next((s for s in owner.servers if s.name == sname), None)
        if target is None:
            raise ConfigError(head + f"unable to find required server '{sname}' for tracking.")
        return owner, target

    owner, target = resolve(proxy.conf, conf.track)
    if not (target.check or target.options.get("agent-check") or target.track):
        raise ConfigError(
            head + f"unable to use {owner.name}/{target.name} for tracking as it does "
            "not have any check nor agent enabled."
        )
    first = owner, target
    seen = {(proxy.conf.name, conf.name)}
    while True:
        if (owner.name, target.name) in seen:
            raise ConfigError(
                head + f"unable to track {first[0].name}/{first[1].name} as it belongs to a "
                f"tracking chain looping back to {proxy.name}/{conf.name}."
            )
        if not target.track:
            return
        seen.add((owner.name, target.name))
        try:
            owner, target = resolve(owner, target.track)
        except ConfigError:
            return  # the next server's own line reports it


def _reason(reason: str) -> str:
    """With `option log-health-checks` the check line already gave the reason."""
    return f", {reason}" if reason else ""
