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
ADMIN_MAINT = ADMIN_FMAINT | ADMIN_IMAINT | ADMIN_CMAINT


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
        "conf",
        "usable",
        "cookie",
        "last_check",
        "lb_node",
        "options",
        "agent",  # lb/checks/agent.py AgentCheck, or None
    )

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
        self.down_since = time.monotonic() if conf.disabled else 0.0
        self.down_trans = 0
        self.idle: list[Any] = []
        self.cookie = conf.cookie
        self.last_check: Any = None
        self.lb_node: Any = None
        self.options = conf.options
        self.agent: Any = None
        self.usable = True
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
        else:
            self.eweight = self.uweight

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

    def _counts(self) -> tuple[int, int]:
        act = sum(1 for s in self.proxy.servers if s.eligible and not s.backup)
        bck = sum(1 for s in self.proxy.servers if s.eligible and s.backup)
        return act, bck

    def _left_msg(self) -> str:
        act, bck = self._counts()
        return (
            f"{act} active and {bck} backup servers left. {self.served} sessions active, "
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
        if self.check is not None:
            self.check.enter_maintenance()
        if not was:
            self._went_down()
            if self.op_state != SRV_ST_STOPPED:
                self.down_since = 0.0  # maintenance is not counted as downtime
            self._changed()
            self._notice(
                f"Server {self.proxy.name}/{self.name} is going DOWN for maintenance. "
                + self._left_msg()
            )

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
            self._notice(
                f"Server {self.proxy.name}/{self.name} enters drain state. " + self._online_msg()
            )

    def set_ready(self) -> None:
        if self.admin & ADMIN_FMAINT:
            self.admin &= ~(ADMIN_FMAINT | ADMIN_FDRAIN | ADMIN_CMAINT)
            self._came_up()
            if self.check is not None and self.check_enabled:
                self.check.leave_maintenance()
            self._changed()
            self._notice(
                f"Server {self.proxy.name}/{self.name} is UP/READY (leaving forced maintenance)."
            )
        elif self.admin & ADMIN_FDRAIN:
            self.admin &= ~ADMIN_FDRAIN
            self._changed()
            self._notice(f"Server {self.proxy.name}/{self.name} is UP (leaving forced drain).")
        elif self.admin & ADMIN_CMAINT:
            self.admin &= ~ADMIN_CMAINT
            self._came_up()
            self._changed()
            self._notice(
                f"Server {self.proxy.name}/{self.name} is UP/READY (leaving forced maintenance)."
            )
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
            if self.op_state == SRV_ST_RUNNING:
                return
            self.op_state = SRV_ST_RUNNING
            self._came_up()
            self._changed()
            if self.in_maint:
                return
            self._notice(
                f"Server {self.proxy.name}/{self.name} is UP{_reason(reason)}. "
                + self._online_msg()
            )
            self.proxy.dequeue(self)
        else:
            if self.op_state == SRV_ST_STOPPED:
                return
            self.op_state = SRV_ST_STOPPED
            self._went_down()
            self._changed()
            if self.in_maint:
                return
            self._notice(
                f"Server {self.proxy.name}/{self.name} is DOWN{_reason(reason)}. "
                + self._left_msg()
            )

    def set_health_stopping(self) -> None:
        self.op_state = SRV_ST_STOPPING
        self._changed()
        self._notice(
            f"Server {self.proxy.name}/{self.name} is stopping, changed from CLI. "
            + self._online_msg()
        )

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


def _reason(reason: str) -> str:
    """With `option log-health-checks` the check line already gave the reason."""
    return f", {reason}" if reason else ""
