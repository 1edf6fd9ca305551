"""`http-request use-service prometheus-exporter`: HAProxy's metrics in the Prometheus
text format (`haproxy_process_*`, `haproxy_frontend_*`, `haproxy_backend_*`,
`haproxy_server_*`), with the `scope=` and `no-maint` scrape filters.

Values are read from the same stat rows as `show stat` and `show info`, so a scrape
and the socket agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from lb.http.h1 import request_keeps_alive
from lb.rules import Rule, action

CONTENT_TYPE = "text/plain; version=0.0.4"
SCOPES = ("global", "frontend", "backend", "server")

# (metric, stat field, type, help, applies to: F/B/S)
_PROXY_METRICS: tuple[tuple[str, str, str, str, str], ...] = (
    ("current_queue", "qcur", "gauge", "Current number of queued requests.", "BS"),
    ("max_queue", "qmax", "gauge", "Maximum observed number of queued requests.", "BS"),
    ("current_sessions", "scur", "gauge", "Current number of active sessions.", "FBS"),
    ("max_sessions", "smax", "gauge", "Maximum observed number of active sessions.", "FBS"),
    ("limit_sessions", "slim", "gauge", "Configured session limit.", "FBS"),
    ("sessions_total", "stot", "counter", "Total number of sessions.", "FBS"),
    ("bytes_in_total", "bin", "counter", "Current total of incoming bytes.", "FBS"),
    ("bytes_out_total", "bout", "counter", "Current total of outgoing bytes.", "FBS"),
    (
        "requests_denied_total",
        "dreq",
        "counter",
        "Total number of denied requests.",
        "FB",
    ),
    (
        "responses_denied_total",
        "dresp",
        "counter",
        "Total number of denied responses.",
        "FBS",
    ),
    ("request_errors_total", "ereq", "counter", "Total number of request errors.", "F"),
    (
        "connection_errors_total",
        "econ",
        "counter",
        "Total number of connection errors.",
        "BS",
    ),
    (
        "response_errors_total",
        "eresp",
        "counter",
        "Total number of response errors.",
        "BS",
    ),
    (
        "retry_warnings_total",
        "wretr",
        "counter",
        "Total number of retry warnings.",
        "BS",
    ),
    (
        "redispatch_warnings_total",
        "wredis",
        "counter",
        "Total number of redispatch warnings.",
        "BS",
    ),
    ("weight", "weight", "gauge", "Service weight.", "BS"),
    ("active_servers", "act", "gauge", "Current number of active servers.", "B"),
    ("backup_servers", "bck", "gauge", "Current number of backup servers.", "B"),
    (
        "check_failures_total",
        "chkfail",
        "counter",
        "Total number of failed individual health checks.",
        "S",
    ),
    (
        "check_up_down_total",
        "chkdown",
        "counter",
        "Total number of failed checks causing UP to DOWN server transitions.",
        "BS",
    ),
    (
        "downtime_seconds_total",
        "downtime",
        "counter",
        "Total time spent in DOWN state, for server or backend.",
        "BS",
    ),
    (
        "loadbalanced_total",
        "lbtot",
        "counter",
        "Total number of requests routed by load balancing since the server was selected.",
        "BS",
    ),
    (
        "http_requests_total",
        "req_tot",
        "counter",
        "Total number of HTTP requests received.",
        "FB",
    ),
    (
        "client_aborts_total",
        "cli_abrt",
        "counter",
        "Total number of data transfers aborted by the client.",
        "BS",
    ),
    (
        "server_aborts_total",
        "srv_abrt",
        "counter",
        "Total number of data transfers aborted by the server.",
        "BS",
    ),
    (
        "connections_total",
        "conn_tot",
        "counter",
        "Total number of connections.",
        "F",
    ),
    (
        "connection_attempts_total",
        "connect",
        "counter",
        "Total number of connection establishment attempts.",
        "BS",
    ),
    (
        "connection_reuses_total",
        "reuse",
        "counter",
        "Total number of connection reuses.",
        "BS",
    ),
    (
        "queue_time_average_seconds",
        "qtime",
        "gauge",
        "Avg. queue time for last 1024 successful connections.",
        "BS",
    ),
    (
        "connect_time_average_seconds",
        "ctime",
        "gauge",
        "Avg. connect time for last 1024 successful connections.",
        "BS",
    ),
    (
        "response_time_average_seconds",
        "rtime",
        "gauge",
        "Avg. response time for last 1024 successful connections.",
        "BS",
    ),
    (
        "total_time_average_seconds",
        "ttime",
        "gauge",
        "Avg. total time for last 1024 successful connections.",
        "BS",
    ),
)
_MS_FIELDS = frozenset({"qtime", "ctime", "rtime", "ttime"})
_CODES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
_SERVER_STATES = ("DOWN", "UP", "MAINT", "DRAIN", "NOLB")
_INFO_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("nbthread", "Nbthread", "gauge", "Number of started threads (global.nbthread)"),
    ("nbproc", "Nbproc", "gauge", "Number of started worker processes (historical, always 1)"),
    ("relative_process_id", "Process_num", "gauge", "Relative worker process number (1)"),
    (
        "uptime_seconds",
        "Uptime_sec",
        "gauge",
        "How long ago this worker process was started (seconds)",
    ),
    (
        "max_connections",
        "Maxconn",
        "gauge",
        "Maximum number of concurrent connections (global.maxconn)",
    ),
    ("current_connections", "CurrConns", "gauge", "Number of active sessions"),
    ("connections_total", "CumConns", "counter", "Total number of created sessions"),
    ("requests_total", "CumReq", "counter", "Total number of requests (TCP or HTTP)"),
    (
        "current_connection_rate",
        "ConnRate",
        "gauge",
        "Number of front connections created on the last second",
    ),
    ("current_session_rate", "SessRate", "gauge", "Number of sessions created on the last second"),
    ("stopping", "Stopping", "gauge", "Non-zero means stopping is in progress"),
    ("jobs", "Jobs", "gauge", "Current number of active jobs on the current worker process"),
    (
        "listeners",
        "Listeners",
        "gauge",
        "Current number of active listeners on the current worker process",
    ),
)


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, mtype: str, help_text: str) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} {mtype}\n"


def _process(state: Any) -> Iterator[str]:
    from runtime_api.stats_rows import info_values

    try:
        info = dict(info_values(state))
    except Exception:  # the info table is another door's; never break a scrape
        info = {}
    for suffix, key, mtype, help_text in _INFO_METRICS:
        v = _num(info.get(key))
        if v is None:
            continue
        name = f"haproxy_process_{suffix}"
        yield _family(name, mtype, help_text) + f"{name} {_fmt(v)}\n"


def _server_state(status: str) -> str:
    """The state label of a `show stat` server status (`no check` and `UP 1/3` are UP)."""
    for prefix in ("MAINT", "DRAIN", "NOLB", "DOWN"):
        if status.startswith(prefix):
            return prefix
    return "UP"


def _status_value(obj: str, status: str) -> float:
    if obj == "F":
        return 1.0 if status == "OPEN" else 0.0
    return 1.0 if status.startswith("UP") else 0.0


def _proxies(state: Any, obj: str, no_maint: bool) -> Iterator[str]:
    from runtime_api.stats_rows import StatFilter, proxy_rows

    kind = {"F": "frontend", "B": "backend", "S": "server"}[obj]
    names = {p.puid: p.name for p in state.proxies}
    rows = [r for r in proxy_rows(state, StatFilter(hide_maint=no_maint)) if r.obj_type == obj]

    def labels(r: Any, extra: str = "") -> str:
        text = f'proxy="{_label(names.get(r.iid, ""))}"'
        if obj == "S":
            text += f',server="{_label(str(r.get("svname")))}"'
        return "{" + text + extra + "}"

    name = f"haproxy_{kind}_status"
    if obj == "S":
        out = [_family(name, "gauge", "Current status of the service, per state label value.")]
        for r in rows:
            status = str(r.get("status") or "")
            for s in _SERVER_STATES:
                on = _server_state(status) == s
                extra = f',state="{s}"'
                out.append(f"{name}{labels(r, extra)} {1 if on else 0}\n")
        yield "".join(out)
    else:
        out = [_family(name, "gauge", "Current status of the service.")]
        out += [
            f"{name}{labels(r)} {_fmt(_status_value(obj, str(r.get('status'))))}\n" for r in rows
        ]
        yield "".join(out)
    for suffix, fld, mtype, help_text, applies in _PROXY_METRICS:
        if obj not in applies:
            continue
        name = f"haproxy_{kind}_{suffix}"
        lines = []
        for r in rows:
            v = _num(r.get(fld))
            if v is None:
                continue
            if fld in _MS_FIELDS:
                v = v / 1000.0
            lines.append(f"{name}{labels(r)} {_fmt(v)}\n")
        if lines:
            yield _family(name, mtype, help_text) + "".join(lines)
    if obj in "FB":
        name = f"haproxy_{kind}_http_responses_total"
        lines = []
        for r in rows:
            for code in _CODES:
                v = _num(r.get(f"hrsp_{code}"))
                if v is not None:
                    extra = f',code="{code}"'
                    lines.append(f"{name}{labels(r, extra)} {_fmt(v)}\n")
        if lines:
            yield _family(name, "counter", "Total number of HTTP responses.") + "".join(lines)


def render(state: Any, scopes: set[str] | None = None, no_maint: bool = False) -> str:
    """The exposition text for the selected scopes (all when `scopes` is empty)."""
    want = scopes or set(SCOPES)
    out: list[str] = []
    if "global" in want:
        out.extend(_process(state))
    for scope, obj in (("frontend", "F"), ("backend", "B"), ("server", "S")):
        if scope in want:
            out.extend(_proxies(state, obj, no_maint))
    return "".join(out)


def parse_query(uri: bytes) -> tuple[set[str], bool]:
    """`scope=` values (``*`` or empty = all) and the `no-maint` flag of a scrape URI."""
    _, _, query = uri.decode("latin-1").partition("?")
    scopes: set[str] = set()
    no_maint = False
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "scope":
            scopes.update(SCOPES if value in ("*", "") else (value,))
        elif key == "no-maint":
            no_maint = True
    return scopes, no_maint


@action("use-service")
def _use_service(args: list[str], rule: Rule, proxy: Any) -> tuple[Any, list[str]]:
    if not args or args[0] != "prometheus-exporter":
        name = args[0] if args else ""
        raise ValueError(f"'use-service' : unknown service '{name}'")
    state = proxy.state

    def run(st: Any, head: Any) -> tuple[int, bytes, bool]:
        scopes, no_maint = parse_query(head.uri)
        body = render(state, scopes, no_maint).encode()
        resp = (
            f"HTTP/1.1 200 OK\r\ncontent-type: {CONTENT_TYPE}\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode() + body
        return 200, resp, not request_keeps_alive(head)

    return run, args[1:]
