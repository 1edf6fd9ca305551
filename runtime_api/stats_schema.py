"""HAProxy 2.6.12 field tables for `show info`, `show stat` and `show schema json`.

Everything users can see (names, descriptions, types, tags, positions) was extracted once from
the reference transcripts (`show info typed/desc`, `show stat typed desc`). Fields that never
carry a value there (agent checks, `qlimit`, `cookie`, ZlibMemUsage, ...) were completed from the
2.6 documentation; listener rows (`option socket-stats`) were not captured, so the `L` kind
assignments are best effort.

Tags are the three letters printed by the typed outputs, one per axis:

* origin: ``M`` Metric, ``S`` Status, ``K`` Key, ``C`` Config, ``P`` Product
* nature: ``G`` Gauge, ``L`` Limit, ``m`` Min, ``M`` Max, ``R`` Rate, ``C`` Counter,
  ``D`` Duration, ``A`` Age, ``T`` Time, ``N`` Name, ``O`` Output, ``a`` Avg
* scope: ``P`` Process, ``S`` Service, ``s`` System, ``C`` Cluster

Object kinds for `show stat` are ``F`` frontend, ``B`` backend, ``S`` server, ``L`` listener.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ORIGINS: Final = {"M": "Metric", "S": "Status", "K": "Key", "C": "Config", "P": "Product"}
NATURES: Final = {
    "G": "Gauge",
    "L": "Limit",
    "m": "Min",
    "M": "Max",
    "R": "Rate",
    "C": "Counter",
    "D": "Duration",
    "A": "Age",
    "T": "Time",
    "N": "Name",
    "O": "Output",
    "a": "Avg",
}
SCOPES: Final = {"P": "Process", "S": "Service", "s": "System", "C": "Cluster"}

#: Object kind letter -> `objType` in `show stat json`.
OBJ_TYPE_NAMES: Final = {"F": "Frontend", "B": "Backend", "S": "Server", "L": "Listener"}
#: Object kind letter -> value of the `type` stat field.
OBJ_TYPE_CODES: Final = {"F": 0, "B": 1, "S": 2, "L": 3}

#: Value types, as printed by the typed and JSON outputs.
FIELD_TYPES: Final = ("s32", "s64", "u32", "u64", "flt", "str")


def decode_tags(tags: str) -> tuple[str, str, str]:
    """Spell out a 3-letter tag (``"MGP"``) as (origin, nature, scope) words."""
    return (
        ORIGINS.get(tags[0], "Unknown"),
        NATURES.get(tags[1], "Unknown"),
        SCOPES.get(tags[2], "Unknown"),
    )


@dataclass(frozen=True, slots=True)
class StatField:
    """One `show stat` column.

    `tags` is what frontends, servers and listeners print; `by_kind` lists the object kinds
    for which HAProxy prints other tags (only backends do, for act/bck/rate/rate_max).
    `kinds` is the set of object kinds that ever carry a value. `module` is None for the 103
    generic fields and "ssl"/"h2"/"h1" for the stats-module fields that follow the CSV `-`.
    """

    pos: int
    name: str
    type: str
    tags: str
    kinds: str
    desc: str
    by_kind: tuple[tuple[str, str], ...] = ()
    module: str | None = None

    def tags_for(self, kind: str) -> str:
        """Tags printed for this field on an object of kind `kind`."""
        for k, t in self.by_kind:
            if k == kind:
                return t
        return self.tags


@dataclass(frozen=True, slots=True)
class InfoField:
    """One `show info` line. Positions 45, 46 and 51 exist but are usually empty (omitted)."""

    pos: int
    name: str
    type: str
    tags: str
    desc: str


STAT_FIELDS: Final[tuple[StatField, ...]] = (
    StatField(0, "pxname", "str", "KNS", "LFBS", "Proxy name"),
    StatField(1, "svname", "str", "KNS", "LFBS", "Server name"),
    StatField(2, "qcur", "u32", "MGP", "BS", "Number of current queued connections"),
    StatField(
        3,
        "qmax",
        "u32",
        "MMP",
        "BS",
        "Highest value of queued connections encountered since process started",
    ),
    StatField(
        4,
        "scur",
        "u32",
        "MGP",
        "LFBS",
        "Number of current sessions on the frontend, backend or server",
    ),
    StatField(
        5,
        "smax",
        "u32",
        "MMP",
        "LFBS",
        "Highest value of current sessions encountered since process started",
    ),
    StatField(
        6, "slim", "u32", "CLP", "LFBS", "Frontend/listener/server's maxconn, backend's fullconn"
    ),
    StatField(7, "stot", "u64", "MCP", "LFBS", "Total number of sessions since process started"),
    StatField(
        8, "bin", "u64", "MCP", "LFBS", "Total number of request bytes since process started"
    ),
    StatField(
        9, "bout", "u64", "MCP", "LFBS", "Total number of response bytes since process started"
    ),
    StatField(
        10, "dreq", "u64", "MCP", "LFB", "Total number of denied requests since process started"
    ),
    StatField(
        11, "dresp", "u64", "MCP", "LFBS", "Total number of denied responses since process started"
    ),
    StatField(
        12, "ereq", "u64", "MCP", "LF", "Total number of invalid requests since process started"
    ),
    StatField(
        13,
        "econ",
        "u64",
        "MCP",
        "BS",
        "Total number of failed connections to server since the worker process started",
    ),
    StatField(
        14,
        "eresp",
        "u64",
        "MCP",
        "BS",
        "Total number of invalid responses since the worker process started",
    ),
    StatField(
        15,
        "wretr",
        "u64",
        "MCP",
        "BS",
        "Total number of server connection retries since the worker process started",
    ),
    StatField(
        16,
        "wredis",
        "u64",
        "MCP",
        "BS",
        (
            "Total number of server redispatches due to connection failures since the worker "
            "process started"
        ),
    ),
    StatField(
        17,
        "status",
        "str",
        "SGP",
        "LFBS",
        (
            "Frontend/listen status: OPEN/WAITING/FULL/STOP; backend: UP/DOWN; server: last "
            "check status"
        ),
    ),
    StatField(
        18,
        "weight",
        "u32",
        "MaP",
        "BS",
        "Server's effective weight, or sum of active servers' effective weights for a backend",
    ),
    StatField(
        19,
        "act",
        "u32",
        "SGP",
        "BS",
        "Total number of active UP servers with a non-zero weight",
        by_kind=(("B", "MGP"),),
    ),
    StatField(
        20,
        "bck",
        "u32",
        "SGP",
        "BS",
        "Total number of backup UP servers with a non-zero weight",
        by_kind=(("B", "MGP"),),
    ),
    StatField(
        21,
        "chkfail",
        "u64",
        "MCP",
        "S",
        (
            "Total number of failed individual health checks per server/backend, since the "
            "worker process started"
        ),
    ),
    StatField(
        22,
        "chkdown",
        "u64",
        "MCP",
        "BS",
        (
            "Total number of failed checks causing UP to DOWN server transitions, per "
            "server/backend, since the worker process started"
        ),
    ),
    StatField(
        23, "lastchg", "u32", "MAP", "BS", "How long ago the last server state changed, in seconds"
    ),
    StatField(
        24, "downtime", "u32", "MCP", "BS", "Total time spent in DOWN state, for server or backend"
    ),
    StatField(
        25,
        "qlimit",
        "u32",
        "CGS",
        "S",
        "Limit on the number of connections in queue, for servers only (maxqueue argument)",
    ),
    StatField(26, "pid", "u32", "KGP", "LFBS", "Relative worker process number (1)"),
    StatField(
        27, "iid", "u32", "KGS", "LFBS", "Frontend or Backend numeric identifier ('id' setting)"
    ),
    StatField(28, "sid", "u32", "KGS", "LFBS", "Server numeric identifier ('id' setting)"),
    StatField(
        29,
        "throttle",
        "u32",
        "MaP",
        "S",
        (
            "Throttling ratio applied to a server's maxconn and weight during the slowstart "
            "period (0 to 100%)"
        ),
    ),
    StatField(
        30,
        "lbtot",
        "u64",
        "MCP",
        "BS",
        (
            "Total number of requests routed by load balancing since the worker process "
            "started (ignores queue pop and stickiness)"
        ),
    ),
    StatField(
        31,
        "tracked",
        "str",
        "CNS",
        "S",
        "Name of the other server this server tracks for its state",
    ),
    StatField(
        32, "type", "u32", "CGS", "LFBS", "Type of the object (Listener, Frontend, Backend, Server)"
    ),
    StatField(
        33,
        "rate",
        "u32",
        "MRP",
        "FBS",
        (
            "Total number of sessions processed by this object over the last second (sessions "
            "for listeners/frontends, requests for backends/servers)"
        ),
        by_kind=(("B", "MGP"),),
    ),
    StatField(
        34,
        "rate_lim",
        "u32",
        "CLP",
        "F",
        (
            "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit "
            "sessions' setting)"
        ),
    ),
    StatField(
        35,
        "rate_max",
        "u32",
        "MMP",
        "FBS",
        "Highest value of sessions per second observed since the worker process started",
        by_kind=(("B", "MGP"),),
    ),
    StatField(
        36,
        "check_status",
        "str",
        "MOP",
        "S",
        (
            "Status report of the server's latest health check, prefixed with '*' if a check "
            "is currently in progress"
        ),
    ),
    StatField(
        37,
        "check_code",
        "u32",
        "MOP",
        "S",
        "HTTP/SMTP/LDAP status code reported by the latest server health check",
    ),
    StatField(
        38,
        "check_duration",
        "u64",
        "MDP",
        "S",
        "Total duration of the latest server health check, in milliseconds",
    ),
    StatField(
        39,
        "hrsp_1xx",
        "u64",
        "MCP",
        "FBS",
        (
            "Total number of HTTP responses with status 100-199 returned by this object since "
            "the worker process started"
        ),
    ),
    StatField(
        40,
        "hrsp_2xx",
        "u64",
        "MCP",
        "FBS",
        (
            "Total number of HTTP responses with status 200-299 returned by this object since "
            "the worker process started"
        ),
    ),
    StatField(
        41,
        "hrsp_3xx",
        "u64",
        "MCP",
        "FBS",
        (
            "Total number of HTTP responses with status 300-399 returned by this object since "
            "the worker process started"
        ),
    ),
    StatField(
        42,
        "hrsp_4xx",
        "u64",
        "MCP",
        "FBS",
        (
            "Total number of HTTP responses with status 400-499 returned by this object since "
            "the worker process started"
        ),
    ),
    StatField(
        43,
        "hrsp_5xx",
        "u64",
        "MCP",
        "FBS",
        (
            "Total number of HTTP responses with status 500-599 returned by this object since "
            "the worker process started"
        ),
    ),
    StatField(
        44,
        "hrsp_other",
        "u64",
        "MCP",
        "FBS",
        (
            "Total number of HTTP responses with status <100, >599 returned by this object "
            "since the worker process started (error -1 included)"
        ),
    ),
    StatField(
        45,
        "hanafail",
        "u64",
        "MCP",
        "S",
        (
            "Total number of failed checks caused by an 'on-error' directive after an "
            "'observe' condition matched"
        ),
    ),
    StatField(
        46,
        "req_rate",
        "u32",
        "MRP",
        "F",
        "Number of HTTP requests processed over the last second on this object",
    ),
    StatField(
        47,
        "req_rate_max",
        "u32",
        "MMP",
        "F",
        "Highest value of http requests observed since the worker process started",
    ),
    StatField(
        48,
        "req_tot",
        "u64",
        "MCP",
        "FBS",
        "Total number of HTTP requests processed by this object since the worker process started",
    ),
    StatField(
        49,
        "cli_abrt",
        "u64",
        "MCP",
        "BS",
        (
            "Total number of requests or connections aborted by the client since the worker "
            "process started"
        ),
    ),
    StatField(
        50,
        "srv_abrt",
        "u64",
        "MCP",
        "BS",
        (
            "Total number of requests or connections aborted by the server since the worker "
            "process started"
        ),
    ),
    StatField(
        51,
        "comp_in",
        "u64",
        "MCP",
        "FB",
        (
            "Total number of bytes submitted to the HTTP compressor for this object since the "
            "worker process started"
        ),
    ),
    StatField(
        52,
        "comp_out",
        "u64",
        "MCP",
        "FB",
        (
            "Total number of bytes emitted by the HTTP compressor for this object since the "
            "worker process started"
        ),
    ),
    StatField(
        53,
        "comp_byp",
        "u64",
        "MCP",
        "FB",
        (
            "Total number of bytes that bypassed HTTP compression for this object since the "
            "worker process started (CPU/memory/bandwidth limitation)"
        ),
    ),
    StatField(
        54,
        "comp_rsp",
        "u64",
        "MCP",
        "FB",
        (
            "Total number of HTTP responses that were compressed for this object since the "
            "worker process started"
        ),
    ),
    StatField(
        55,
        "lastsess",
        "s32",
        "MAP",
        "BS",
        "How long ago some traffic was seen on this object on this worker process, in seconds",
    ),
    StatField(
        56,
        "last_chk",
        "str",
        "MOP",
        "S",
        (
            "Short description of the latest health check report for this server (see also "
            "check_desc)"
        ),
    ),
    StatField(
        57,
        "last_agt",
        "str",
        "MOP",
        "S",
        "Short description of the latest agent check report for this server (see also agent_desc)",
    ),
    StatField(
        58,
        "qtime",
        "u32",
        "MaP",
        "BS",
        (
            "Time spent in the queue, in milliseconds, averaged over the 1024 last requests "
            "(backend/server)"
        ),
    ),
    StatField(
        59,
        "ctime",
        "u32",
        "MaP",
        "BS",
        (
            "Time spent waiting for a connection to complete, in milliseconds, averaged over "
            "the 1024 last requests (backend/server)"
        ),
    ),
    StatField(
        60,
        "rtime",
        "u32",
        "MaP",
        "BS",
        (
            "Time spent waiting for a server response, in milliseconds, averaged over the 1024 "
            "last requests (backend/server)"
        ),
    ),
    StatField(
        61,
        "ttime",
        "u32",
        "MaP",
        "BS",
        (
            "Total request+response time (request+queue+connect+response+processing), in "
            "milliseconds, averaged over the 1024 last requests (backend/server)"
        ),
    ),
    StatField(
        62,
        "agent_status",
        "str",
        "MOP",
        "S",
        (
            "Status report of the server's latest agent check, prefixed with '*' if a check is "
            "currently in progress"
        ),
    ),
    StatField(
        63, "agent_code", "u32", "MOP", "S", "Status code reported by the latest server agent check"
    ),
    StatField(
        64,
        "agent_duration",
        "u64",
        "MDP",
        "S",
        "Total duration of the latest server agent check, in milliseconds",
    ),
    StatField(
        65,
        "check_desc",
        "str",
        "MOP",
        "S",
        "Textual description of the latest health check report for this server",
    ),
    StatField(
        66,
        "agent_desc",
        "str",
        "MOP",
        "S",
        "Textual description of the latest agent check report for this server",
    ),
    StatField(
        67,
        "check_rise",
        "u32",
        "CGS",
        "S",
        "Number of successful health checks before declaring a server UP (server 'rise' setting)",
    ),
    StatField(
        68,
        "check_fall",
        "u32",
        "CGS",
        "S",
        "Number of failed health checks before declaring a server DOWN (server 'fall' setting)",
    ),
    StatField(
        69,
        "check_health",
        "u32",
        "CGS",
        "S",
        "Current server health check level (0..fall-1=DOWN, fall..rise-1=UP)",
    ),
    StatField(
        70,
        "agent_rise",
        "u32",
        "CGS",
        "S",
        "Number of successful agent checks before declaring a server UP (server 'rise' setting)",
    ),
    StatField(
        71,
        "agent_fall",
        "u32",
        "CGS",
        "S",
        "Number of failed agent checks before declaring a server DOWN (server 'fall' setting)",
    ),
    StatField(
        72,
        "agent_health",
        "u32",
        "CGS",
        "S",
        "Current server agent check level (0..fall-1=DOWN, fall..rise-1=UP)",
    ),
    StatField(
        73,
        "addr",
        "str",
        "CGS",
        "LS",
        (
            "Server's address:port, shown only if show-legends is set, or at levels oper/admin "
            "for the CLI"
        ),
    ),
    StatField(
        74,
        "cookie",
        "str",
        "CNS",
        "BS",
        (
            "Backend's cookie name or Server's cookie value, shown only if show-legends is "
            "set, or at levels oper/admin for the CLI"
        ),
    ),
    StatField(75, "mode", "str", "CGS", "FBS", "'mode' setting (tcp/http/health/cli)"),
    StatField(
        76,
        "algo",
        "str",
        "CGS",
        "B",
        (
            "Backend's load balancing algorithm, shown only if show-legends is set, or at "
            "levels oper/admin for the CLI"
        ),
    ),
    StatField(
        77,
        "conn_rate",
        "u32",
        "MRP",
        "F",
        (
            "Number of new connections accepted over the last second on the frontend for this "
            "worker process"
        ),
    ),
    StatField(
        78,
        "conn_rate_max",
        "u32",
        "MMP",
        "F",
        "Highest value of connections per second observed since the worker process started",
    ),
    StatField(
        79,
        "conn_tot",
        "u64",
        "MCP",
        "F",
        (
            "Total number of new connections accepted on this frontend since the worker "
            "process started"
        ),
    ),
    StatField(
        80,
        "intercepted",
        "u64",
        "MCP",
        "F",
        (
            "Total number of HTTP requests intercepted on the frontend "
            "(redirects/stats/services) since the worker process started"
        ),
    ),
    StatField(
        81,
        "dcon",
        "u64",
        "MCP",
        "LF",
        (
            "Total number of incoming connections blocked on a listener/frontend by a "
            "tcp-request connection rule since the worker process started"
        ),
    ),
    StatField(
        82,
        "dses",
        "u64",
        "MCP",
        "LF",
        (
            "Total number of incoming sessions blocked on a listener/frontend by a tcp-request "
            "connection rule since the worker process started"
        ),
    ),
    StatField(
        83,
        "wrew",
        "u64",
        "MCP",
        "LFBS",
        "Total number of failed HTTP header rewrites since the worker process started",
    ),
    StatField(
        84,
        "connect",
        "u64",
        "MCP",
        "BS",
        (
            "Total number of outgoing connection attempts on this backend/server since the "
            "worker process started"
        ),
    ),
    StatField(
        85,
        "reuse",
        "u64",
        "MCP",
        "BS",
        (
            "Total number of reused connection on this backend/server since the worker process "
            "started"
        ),
    ),
    StatField(
        86,
        "cache_lookups",
        "u64",
        "MCP",
        "FB",
        (
            "Total number of HTTP requests looked up in the cache on this frontend/backend "
            "since the worker process started"
        ),
    ),
    StatField(
        87,
        "cache_hits",
        "u64",
        "MCP",
        "FB",
        (
            "Total number of HTTP requests not found in the cache on this frontend/backend "
            "since the worker process started"
        ),
    ),
    StatField(
        88,
        "srv_icur",
        "u32",
        "MGP",
        "S",
        "Current number of idle connections available for reuse on this server",
    ),
    StatField(
        89,
        "src_ilim",
        "u32",
        "CLP",
        "S",
        (
            "Limit on the number of available idle connections on this server (server "
            "'pool_max_conn' directive)"
        ),
    ),
    StatField(
        90,
        "qtime_max",
        "u32",
        "MMP",
        "BS",
        "Maximum observed time spent in the queue, in milliseconds (backend/server)",
    ),
    StatField(
        91,
        "ctime_max",
        "u32",
        "MMP",
        "BS",
        (
            "Maximum observed time spent waiting for a connection to complete, in milliseconds "
            "(backend/server)"
        ),
    ),
    StatField(
        92,
        "rtime_max",
        "u32",
        "MMP",
        "BS",
        (
            "Maximum observed time spent waiting for a server response, in milliseconds "
            "(backend/server)"
        ),
    ),
    StatField(
        93,
        "ttime_max",
        "u32",
        "MMP",
        "BS",
        (
            "Maximum observed total request+response time "
            "(request+queue+connect+response+processing), in milliseconds (backend/server)"
        ),
    ),
    StatField(
        94, "eint", "u64", "MCP", "LFBS", "Total number of internal errors since process started"
    ),
    StatField(95, "idle_conn_cur", "u32", "MGP", "S", "Current number of unsafe idle connections"),
    StatField(96, "safe_conn_cur", "u32", "MGP", "S", "Current number of safe idle connections"),
    StatField(97, "used_conn_cur", "u32", "MGP", "S", "Current number of connections in use"),
    StatField(98, "need_conn_est", "u32", "MGP", "S", "Estimated needed number of connections"),
    StatField(
        99,
        "uweight",
        "u32",
        "MaP",
        "BS",
        "Server's user weight, or sum of active servers' user weights for a backend",
    ),
    StatField(
        100, "agg_server_status", "u32", "MGP", "B", "Backend's aggregated gauge of servers' status"
    ),
    StatField(
        101,
        "agg_server_check_status",
        "u32",
        "MGP",
        "B",
        "Backend's aggregated gauge of servers' state check status",
    ),
    StatField(
        102,
        "agg_check_status",
        "u32",
        "MGP",
        "B",
        "Backend's aggregated gauge of servers' state check status",
    ),
    StatField(
        103,
        "ssl_sess",
        "u64",
        "MCP",
        "LFBS",
        "Total number of ssl sessions established",
        module="ssl",
    ),
    StatField(
        104,
        "ssl_reused_sess",
        "u64",
        "MCP",
        "LFBS",
        "Total number of ssl sessions reused",
        module="ssl",
    ),
    StatField(
        105,
        "ssl_failed_handshake",
        "u64",
        "MCP",
        "LFBS",
        "Total number of failed handshake",
        module="ssl",
    ),
    StatField(
        106,
        "h2_headers_rcvd",
        "u64",
        "MCP",
        "FB",
        "Total number of received HEADERS frames",
        module="h2",
    ),
    StatField(
        107, "h2_data_rcvd", "u64", "MCP", "FB", "Total number of received DATA frames", module="h2"
    ),
    StatField(
        108,
        "h2_settings_rcvd",
        "u64",
        "MCP",
        "FB",
        "Total number of received SETTINGS frames",
        module="h2",
    ),
    StatField(
        109,
        "h2_rst_stream_rcvd",
        "u64",
        "MCP",
        "FB",
        "Total number of received RST_STREAM frames",
        module="h2",
    ),
    StatField(
        110,
        "h2_goaway_rcvd",
        "u64",
        "MCP",
        "FB",
        "Total number of received GOAWAY frames",
        module="h2",
    ),
    StatField(
        111,
        "h2_detected_conn_protocol_errors",
        "u64",
        "MCP",
        "FB",
        "Total number of connection protocol errors",
        module="h2",
    ),
    StatField(
        112,
        "h2_detected_strm_protocol_errors",
        "u64",
        "MCP",
        "FB",
        "Total number of stream protocol errors",
        module="h2",
    ),
    StatField(
        113,
        "h2_rst_stream_resp",
        "u64",
        "MCP",
        "FB",
        "Total number of RST_STREAM sent on detected error",
        module="h2",
    ),
    StatField(
        114,
        "h2_goaway_resp",
        "u64",
        "MCP",
        "FB",
        "Total number of GOAWAY sent on detected error",
        module="h2",
    ),
    StatField(
        115,
        "h2_open_connections",
        "u64",
        "MGP",
        "FB",
        "Count of currently open connections",
        module="h2",
    ),
    StatField(
        116,
        "h2_backend_open_streams",
        "u64",
        "MGP",
        "FB",
        "Count of currently open streams",
        module="h2",
    ),
    StatField(
        117, "h2_total_connections", "u64", "MCP", "FB", "Total number of connections", module="h2"
    ),
    StatField(
        118, "h2_backend_total_streams", "u64", "MCP", "FB", "Total number of streams", module="h2"
    ),
    StatField(
        119,
        "h1_open_connections",
        "u64",
        "MGP",
        "FB",
        "Count of currently open connections",
        module="h1",
    ),
    StatField(
        120, "h1_open_streams", "u64", "MGP", "FB", "Count of currently open streams", module="h1"
    ),
    StatField(
        121, "h1_total_connections", "u64", "MCP", "FB", "Total number of connections", module="h1"
    ),
    StatField(122, "h1_total_streams", "u64", "MCP", "FB", "Total number of streams", module="h1"),
    StatField(
        123, "h1_bytes_in", "u64", "MCP", "FB", "Total number of bytes received", module="h1"
    ),
    StatField(124, "h1_bytes_out", "u64", "MCP", "FB", "Total number of bytes send", module="h1"),
    StatField(
        125,
        "h1_spliced_bytes_in",
        "u64",
        "MCP",
        "FB",
        "Total number of bytes received using kernel splicing",
        module="h1",
    ),
    StatField(
        126,
        "h1_spliced_bytes_out",
        "u64",
        "MCP",
        "FB",
        "Total number of bytes sendusing kernel splicing",
        module="h1",
    ),
)

INFO_FIELDS: Final[tuple[InfoField, ...]] = (
    InfoField(0, "Name", "str", "POS", "Product name"),
    InfoField(1, "Version", "str", "POS", "Product version"),
    InfoField(2, "Release_date", "str", "POS", "Date of latest source code update"),
    InfoField(3, "Nbthread", "u32", "CGS", "Number of started threads (global.nbthread)"),
    InfoField(
        4, "Nbproc", "u32", "CGS", "Number of started worker processes (historical, always 1)"
    ),
    InfoField(5, "Process_num", "u32", "KGP", "Relative worker process number (1)"),
    InfoField(6, "Pid", "u32", "SGP", "This worker process identifier for the system"),
    InfoField(
        7,
        "Uptime",
        "str",
        "MDP",
        "How long ago this worker process was started (days+hours+minutes+seconds)",
    ),
    InfoField(
        8, "Uptime_sec", "u32", "MDP", "How long ago this worker process was started (seconds)"
    ),
    InfoField(
        9,
        "Memmax_MB",
        "u32",
        "CLP",
        "Worker process's hard limit on memory usage in MB (-m on command line)",
    ),
    InfoField(10, "PoolAlloc_MB", "u32", "MGP", "Amount of memory allocated in pools (in MB)"),
    InfoField(11, "PoolUsed_MB", "u32", "MGP", "Amount of pool memory currently used (in MB)"),
    InfoField(
        12,
        "PoolFailed",
        "u32",
        "MCP",
        "Number of failed pool allocations since this worker was started",
    ),
    InfoField(
        13, "Ulimit-n", "u32", "CLP", "Hard limit on the number of per-process file descriptors"
    ),
    InfoField(14, "Maxsock", "u32", "CLP", "Hard limit on the number of per-process sockets"),
    InfoField(
        15,
        "Maxconn",
        "u32",
        "CLP",
        "Hard limit on the number of per-process connections (configured or imposed by Ulimit-n)",
    ),
    InfoField(
        16,
        "Hard_maxconn",
        "u32",
        "CLP",
        "Hard limit on the number of per-process connections (imposed by Memmax_MB or Ulimit-n)",
    ),
    InfoField(
        17, "CurrConns", "u32", "MGP", "Current number of connections on this worker process"
    ),
    InfoField(
        18,
        "CumConns",
        "u32",
        "MCP",
        "Total number of connections on this worker process since started",
    ),
    InfoField(
        19, "CumReq", "u32", "MCP", "Total number of requests on this worker process since started"
    ),
    InfoField(
        20,
        "MaxSslConns",
        "u32",
        "MMP",
        "Hard limit on the number of per-process SSL endpoints (front+back), 0=unlimited",
    ),
    InfoField(
        21,
        "CurrSslConns",
        "u32",
        "MGP",
        "Current number of SSL endpoints on this worker process (front+back)",
    ),
    InfoField(
        22,
        "CumSslConns",
        "u32",
        "MCP",
        "Total number of SSL endpoints on this worker process since started (front+back)",
    ),
    InfoField(
        23, "Maxpipes", "u32", "CLP", "Hard limit on the number of pipes for splicing, 0=unlimited"
    ),
    InfoField(
        24, "PipesUsed", "u32", "MGP", "Current number of pipes in use in this worker process"
    ),
    InfoField(
        25,
        "PipesFree",
        "u32",
        "MGP",
        "Current number of allocated and available pipes in this worker process",
    ),
    InfoField(
        26,
        "ConnRate",
        "u32",
        "MRP",
        "Number of front connections created on this worker process over the last second",
    ),
    InfoField(27, "ConnRateLimit", "u32", "CLP", "Hard limit for ConnRate (global.maxconnrate)"),
    InfoField(
        28,
        "MaxConnRate",
        "u32",
        "MMP",
        (
            "Highest ConnRate reached on this worker process since started (in connections per "
            "second)"
        ),
    ),
    InfoField(
        29,
        "SessRate",
        "u32",
        "MRP",
        "Number of sessions created on this worker process over the last second",
    ),
    InfoField(30, "SessRateLimit", "u32", "CLP", "Hard limit for SessRate (global.maxsessrate)"),
    InfoField(
        31,
        "MaxSessRate",
        "u32",
        "MRP",
        "Highest SessRate reached on this worker process since started (in sessions per second)",
    ),
    InfoField(
        32,
        "SslRate",
        "u32",
        "MRP",
        "Number of SSL connections created on this worker process over the last second",
    ),
    InfoField(33, "SslRateLimit", "u32", "CLP", "Hard limit for SslRate (global.maxsslrate)"),
    InfoField(
        34,
        "MaxSslRate",
        "u32",
        "MMP",
        "Highest SslRate reached on this worker process since started (in connections per second)",
    ),
    InfoField(
        35,
        "SslFrontendKeyRate",
        "u32",
        "MGP",
        "Number of SSL keys created on frontends in this worker process over the last second",
    ),
    InfoField(
        36,
        "SslFrontendMaxKeyRate",
        "u32",
        "MMP",
        (
            "Highest SslFrontendKeyRate reached on this worker process since started (in SSL "
            "keys per second)"
        ),
    ),
    InfoField(
        37,
        "SslFrontendSessionReuse_pct",
        "u32",
        "MGP",
        "Percent of frontend SSL connections which did not require a new key",
    ),
    InfoField(
        38,
        "SslBackendKeyRate",
        "u32",
        "MRP",
        "Number of SSL keys created on backends in this worker process over the last second",
    ),
    InfoField(
        39,
        "SslBackendMaxKeyRate",
        "u32",
        "MMP",
        (
            "Highest SslBackendKeyRate reached on this worker process since started (in SSL "
            "keys per second)"
        ),
    ),
    InfoField(
        40,
        "SslCacheLookups",
        "u32",
        "MCP",
        (
            "Total number of SSL session ID lookups in the SSL session cache on this worker "
            "since started"
        ),
    ),
    InfoField(
        41,
        "SslCacheMisses",
        "u32",
        "MCP",
        (
            "Total number of SSL session ID lookups that didn't find a session in the SSL "
            "session cache on this worker since started"
        ),
    ),
    InfoField(
        42,
        "CompressBpsIn",
        "u32",
        "MRP",
        (
            "Number of bytes submitted to the HTTP compressor in this worker process over the "
            "last second"
        ),
    ),
    InfoField(
        43,
        "CompressBpsOut",
        "u32",
        "MRP",
        (
            "Number of bytes emitted by the HTTP compressor in this worker process over the "
            "last second"
        ),
    ),
    InfoField(
        44,
        "CompressBpsRateLim",
        "u32",
        "CLP",
        "Limit of CompressBpsOut beyond which HTTP compression is automatically disabled",
    ),
    InfoField(
        45,
        "ZlibMemUsage",
        "u32",
        "MGP",
        (
            "Amount of memory currently used by HTTP compression on the current worker process "
            "(in bytes)"
        ),
    ),
    InfoField(
        46,
        "MaxZlibMemUsage",
        "u32",
        "CLP",
        (
            "Limit on the amount of memory used by HTTP compression above which it is "
            "automatically disabled (in bytes, see global.maxzlibmem)"
        ),
    ),
    InfoField(
        47,
        "Tasks",
        "u32",
        "MGP",
        "Total number of tasks in the current worker process (active + sleeping)",
    ),
    InfoField(
        48,
        "Run_queue",
        "u32",
        "MGP",
        "Total number of active tasks+tasklets in the current worker process",
    ),
    InfoField(
        49,
        "Idle_pct",
        "u32",
        "MaP",
        "Percentage of last second spent waiting in the current worker thread",
    ),
    InfoField(50, "node", "str", "COS", "Node name (global.node)"),
    InfoField(51, "description", "str", "COS", "Node description (global.description)"),
    InfoField(
        52,
        "Stopping",
        "u32",
        "MGP",
        "1 if the worker process is currently stopping, otherwise zero",
    ),
    InfoField(
        53,
        "Jobs",
        "u32",
        "MGP",
        (
            "Current number of active jobs on the current worker process (frontend "
            "connections, master connections, listeners)"
        ),
    ),
    InfoField(
        54,
        "Unstoppable Jobs",
        "u32",
        "MGP",
        "Current number of unstoppable jobs on the current worker process (master connections)",
    ),
    InfoField(
        55,
        "Listeners",
        "u32",
        "MGP",
        "Current number of active listeners on the current worker process",
    ),
    InfoField(
        56,
        "ActivePeers",
        "u32",
        "MGP",
        "Current number of verified active peers connections on the current worker process",
    ),
    InfoField(
        57,
        "ConnectedPeers",
        "u32",
        "MGP",
        "Current number of peers having passed the connection step on the current worker process",
    ),
    InfoField(
        58,
        "DroppedLogs",
        "u32",
        "MGP",
        "Total number of dropped logs for current worker process since started",
    ),
    InfoField(
        59,
        "BusyPolling",
        "u32",
        "MGP",
        (
            "1 if busy-polling is currently in use on the worker process, otherwise zero "
            "(config.busy-polling)"
        ),
    ),
    InfoField(
        60,
        "FailedResolutions",
        "u32",
        "MGP",
        "Total number of failed DNS resolutions in current worker process since started",
    ),
    InfoField(
        61,
        "TotalBytesOut",
        "u64",
        "MGP",
        "Total number of bytes emitted by current worker process since started",
    ),
    InfoField(
        62,
        "TotalSplicdedBytesOut",
        "u64",
        "MGP",
        (
            "Total number of bytes emitted by current worker process through a kernel pipe "
            "since started"
        ),
    ),
    InfoField(
        63,
        "BytesOutRate",
        "u64",
        "MRP",
        "Number of bytes emitted by current worker process over the last second",
    ),
    InfoField(
        64,
        "DebugCommandsIssued",
        "u32",
        "MGP",
        "Number of debug commands issued on this process (anything > 0 is unsafe)",
    ),
    InfoField(
        65,
        "CumRecvLogs",
        "u32",
        "MCP",
        (
            "Total number of log messages received by log-forwarding listeners on this worker "
            "process since started"
        ),
    ),
    InfoField(66, "Build info", "str", "POS", "Build info"),
    InfoField(
        67,
        "Memmax_bytes",
        "u32",
        "CLP",
        "Worker process's hard limit on memory usage in byes (-m on command line)",
    ),
    InfoField(
        68, "PoolAlloc_bytes", "u64", "MGP", "Amount of memory allocated in pools (in bytes)"
    ),
    InfoField(
        69, "PoolUsed_bytes", "u64", "MGP", "Amount of pool memory currently used (in bytes)"
    ),
    InfoField(70, "Start_time_sec", "u32", "MDP", "Start time in seconds"),
    InfoField(71, "Tainted", "str", "SGP", "Experimental features used"),
)

#: Number of generic stat fields; stats-module fields start at this position.
GENERIC_STAT_COUNT: Final = 103
STAT_INDEX: Final = {f.name: f.pos for f in STAT_FIELDS}
INFO_INDEX: Final = {f.name: f.pos for f in INFO_FIELDS}
#: Fields that `show info float` prints as `flt` (with microseconds) instead of `u32`.
INFO_FLOAT_FIELDS: Final = ("Uptime_sec", "Start_time_sec")

#: The `show stat` CSV header line (with the `-` separator before the module fields).
STAT_CSV_HEADER: Final = (
    "# "
    + "".join(f.name + "," for f in STAT_FIELDS[:GENERIC_STAT_COUNT])
    + "-,"
    + "".join(f.name + "," for f in STAT_FIELDS[GENERIC_STAT_COUNT:])
    + "\n"
)

#: Output of `show schema json` (static, including its final newline).
SCHEMA_JSON: Final = (
    '{"$schema":"http://json-schema.org/draft-04/schema#","oneOf":[{"title":"Info","t'
    'ype":"array","items":{"title":"InfoItem","type":"object","properties":{"field":{'
    '"$ref":"#/definitions/field"},"processNum":{"$ref":"#/definitions/processNum"},"'
    'tags":{"$ref":"#/definitions/tags"},"value":{"$ref":"#/definitions/typedValue"}}'
    ',"required":["field","processNum","tags","value"]}},{"title":"Stat","type":"arra'
    'y","items":{"title":"InfoItem","type":"object","properties":{"objType":{"enum":['
    '"Frontend","Backend","Listener","Server","Unknown"]},"proxyId":{"type":"integer"'
    ',"minimum":0},"id":{"type":"integer","minimum":0},"field":{"$ref":"#/definitions'
    '/field"},"processNum":{"$ref":"#/definitions/processNum"},"tags":{"$ref":"#/defi'
    'nitions/tags"},"typedValue":{"$ref":"#/definitions/typedValue"}},"required":["ob'
    'jType","proxyId","id","field","processNum","tags","value"]}},{"title":"Error","t'
    'ype":"object","properties":{"errorStr":{"type":"string"}},"required":["errorStr"'
    ']}],"definitions":{"field":{"type":"object","pos":{"type":"integer","minimum":0}'
    ',"name":{"type":"string"},"required":["pos","name"]},"processNum":{"type":"integ'
    'er","minimum":1},"tags":{"type":"object","origin":{"type":"string","enum":["Metr'
    'ic","Status","Key","Config","Product","Unknown"]},"nature":{"type":"string","enu'
    'm":["Gauge","Limit","Min","Max","Rate","Counter","Duration","Age","Time","Name",'
    '"Output","Avg", "Unknown"]},"scope":{"type":"string","enum":["Cluster","Process"'
    ',"Service","System","Unknown"]},"required":["origin","nature","scope"]},"typedVa'
    'lue":{"type":"object","oneOf":[{"$ref":"#/definitions/typedValue/definitions/s32'
    'Value"},{"$ref":"#/definitions/typedValue/definitions/s64Value"},{"$ref":"#/defi'
    'nitions/typedValue/definitions/u32Value"},{"$ref":"#/definitions/typedValue/defi'
    'nitions/u64Value"},{"$ref":"#/definitions/typedValue/definitions/strValue"}],"de'
    'finitions":{"s32Value":{"properties":{"type":{"type":"string","enum":["s32"]},"v'
    'alue":{"type":"integer","minimum":-2147483648,"maximum":2147483647}},"required":'
    '["type","value"]},"s64Value":{"properties":{"type":{"type":"string","enum":["s64'
    '"]},"value":{"type":"integer","minimum":-9007199254740991,"maximum":900719925474'
    '0991}},"required":["type","value"]},"u32Value":{"properties":{"type":{"type":"st'
    'ring","enum":["u32"]},"value":{"type":"integer","minimum":0,"maximum":4294967295'
    '}},"required":["type","value"]},"u64Value":{"properties":{"type":{"type":"string'
    '","enum":["u64"]},"value":{"type":"integer","minimum":0,"maximum":90071992547409'
    '91}},"required":["type","value"]},"strValue":{"properties":{"type":{"type":"stri'
    'ng","enum":["str"]},"value":{"type":"string"}},"required":["type","value"]},"unk'
    'nownValue":{"properties":{"type":{"type":"integer","minimum":0},"value":{"type":'
    '"string","enum":["unknown"]}},"required":["type","value"]}}}}}\n'
)
