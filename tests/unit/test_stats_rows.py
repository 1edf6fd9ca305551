"""Sans-IO mapping from live objects to `show stat` rows and `show info` values."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lb.config.parser import parse_string
from lb.state import State
from runtime_api.stats_format import format_stat_csv
from runtime_api.stats_rows import (
    StatFilter,
    format_uptime,
    info_values,
    proxy_rows,
    server_status,
)

CFG = """
global
    maxconn 4096
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:1
    default_backend be
backend be
    balance roundrobin
    server a 127.0.0.1:2 weight 2
    server b 127.0.0.1:3
    server c 127.0.0.1:4 backup
listen tcpx
    mode tcp
    bind 127.0.0.1:5
    balance leastconn
    server t 127.0.0.1:6 maxconn 7
"""


@pytest.fixture
def state() -> State:
    return State(parse_string(CFG))


def rows(state: State, **kw: object) -> dict[tuple[str, str], dict[str, object]]:
    out = {}
    for row in proxy_rows(state, StatFilter(**kw), now=0.0):  # type: ignore[arg-type]
        from runtime_api.stats_schema import STAT_FIELDS

        out[(str(row.get("pxname")), str(row.get("svname")))] = {
            f.name: v for f, v in zip(STAT_FIELDS, row.values, strict=True)
        }
    return out


def test_order_and_ids(state: State) -> None:
    got = list(rows(state))
    assert got == [
        ("fe", "FRONTEND"),
        ("be", "a"),
        ("be", "b"),
        ("be", "c"),
        ("be", "BACKEND"),
        ("tcpx", "FRONTEND"),
        ("tcpx", "t"),
        ("tcpx", "BACKEND"),
    ]
    r = rows(state)
    assert (r[("fe", "FRONTEND")]["iid"], r[("be", "a")]["iid"]) == (2, 3)
    assert [r[("be", n)]["sid"] for n in "abc"] == [1, 2, 3]
    assert [r[k]["type"] for k in (("fe", "FRONTEND"), ("be", "BACKEND"), ("be", "a"))] == [
        0,
        1,
        2,
    ]


def test_frontend_and_backend_cells(state: State) -> None:
    r = rows(state)
    fe = r[("fe", "FRONTEND")]
    assert fe["status"] == "OPEN" and fe["slim"] == 4096 and fe["mode"] == "http"
    assert fe["hrsp_2xx"] == 0 and fe["qcur"] is None and fe["weight"] is None
    be = r[("be", "BACKEND")]
    assert be["status"] == "UP" and be["weight"] == 3 and be["act"] == 2 and be["bck"] == 1
    assert be["algo"] == "roundrobin" and be["slim"] == 410 and be["chkfail"] is None
    tcp_fe = r[("tcpx", "FRONTEND")]
    assert tcp_fe["hrsp_2xx"] is None and tcp_fe["req_tot"] == 0 and tcp_fe["mode"] == "tcp"
    assert r[("tcpx", "t")]["slim"] == 7 and r[("tcpx", "t")]["hrsp_2xx"] is None
    assert r[("tcpx", "BACKEND")]["algo"] == "leastconn"


def test_server_states(state: State) -> None:
    be = state.by_name["be"]
    a, b, c = be.servers
    assert server_status(a) == "no check"
    assert rows(state)[("be", "a")]["check_status"] is None
    a.set_drain()
    assert server_status(a) == "DRAIN"
    r = rows(state)
    assert r[("be", "a")]["weight"] == 2  # the user weight stays visible
    assert r[("be", "BACKEND")]["weight"] == 1 and r[("be", "BACKEND")]["act"] == 1
    a.set_ready()
    a.set_maint()
    assert server_status(a) == "MAINT"
    b.set_health_stopping()
    assert server_status(b) == "NOLB"
    r = rows(state)
    # only the backup is left
    assert r[("be", "BACKEND")]["act"] == 0 and r[("be", "BACKEND")]["bck"] == 1
    assert r[("be", "c")]["bck"] == 1


def test_filters(state: State) -> None:
    be = state.by_name["be"]
    assert list(rows(state, iid=3, types=4, sid=2)) == [("be", "b")]
    assert list(rows(state, iid=2, types=1)) == [("fe", "FRONTEND")]
    be.servers[0].set_maint()
    got = rows(state, hide_maint=True)
    assert ("be", "a") not in got and got[("be", "BACKEND")]["status"] == "UP (2/3)"
    assert ("be", "a") not in rows(state, hide_down=True)


def test_frontend_paused(state: State) -> None:
    state.by_name["fe"].pause()
    assert rows(state)[("fe", "FRONTEND")]["status"] == "PAUSED"


def test_csv_renders(state: State) -> None:
    text = "".join(format_stat_csv(proxy_rows(state)))
    assert text.startswith("# pxname,svname,") and text.count("\n") == 9


def test_info_values(state: State) -> None:
    v = info_values(state)
    assert v["Name"] == "HAProxy" and v["Maxconn"] == 4096 and v["Tainted"] == "0"
    assert isinstance(v["Uptime_sec"], int)
    assert isinstance(info_values(state, use_float=True)["Uptime_sec"], float)
    assert v["description"] is None


def test_format_uptime() -> None:
    assert format_uptime(22) == "0d 0h00m22s"
    assert format_uptime(90061) == "1d 1h01m01s"


def test_check_fields_from_a_check_object(state: State) -> None:
    from lb.checks import CheckResult

    s = state.by_name["be"].servers[1]
    res = CheckResult.make("L7OK", code=200, duration_ms=3)
    s.check = SimpleNamespace(
        enabled=True,
        status="L7OK",
        last_result=res,
        rise=2,
        fall=3,
        health=4,
        failed_checks=0,
        progress=lambda running=None: None,
    )
    s.check_enabled = True
    r = rows(state)[("be", "b")]
    assert r["status"] == "UP" and r["check_status"] == "L7OK" and r["check_code"] == 200
    assert r["check_desc"] == "Layer7 check passed" and r["last_chk"] == ""
    assert (r["check_rise"], r["check_fall"], r["check_health"]) == (2, 3, 4)
    assert r["chkfail"] == 0 and r["chkdown"] == 0
