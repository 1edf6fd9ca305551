"""Issue 8: the stats web page (auth, HTML, `;csv`/`;json` exports equal to `show stat`,
the admin form POST changing a server's state) and the Prometheus exporter (parsed by
the real `prometheus-client` text parser, values equal to `show stat`)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from itest import GLOBAL, HOST, free_port, request, wait_until

pytestmark = pytest.mark.timeout(60)

DEFAULTS = """\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
"""
AUTH = "Basic " + base64.b64encode(b"admin:secret").decode()


def cli(sock: Path, command: str) -> str:
    socat = shutil.which("socat")
    assert socat
    return subprocess.run(
        [socat, "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(command + "\n").encode(),
        capture_output=True,
        timeout=10,
    ).stdout.decode()


@pytest.fixture
def setup(lb, backend, tmp_path):  # type: ignore[no-untyped-def]
    a, b = backend("A"), backend("B")
    stats_port, prom_port, fe_port = free_port(), free_port(), free_port()
    sock = tmp_path / "admin.sock"
    cfg = (
        f"{GLOBAL}    stats socket {sock} level admin\n\n{DEFAULTS}\n"
        f"listen stats\n    bind {HOST}:{stats_port}\n    stats enable\n"
        "    stats uri /stats\n    stats refresh 5s\n    stats auth admin:secret\n"
        "    stats realm LB\\ stats\n    stats admin if TRUE\n    stats show-legends\n\n"
        f"frontend prom\n    bind {HOST}:{prom_port}\n"
        "    http-request use-service prometheus-exporter if { path /metrics }\n"
        "    default_backend be\n\n"
        f"frontend fe\n    bind {HOST}:{fe_port}\n    default_backend be\n\n"
        f"backend be\n    server a {HOST}:{a.port}\n    server b {HOST}:{b.port} weight 5\n"
    )
    lb(cfg)
    assert wait_until(sock.exists)
    return stats_port, prom_port, fe_port, sock


def _get(port: int, path: str, auth: str | None = AUTH, method: str = "GET", body: bytes = b""):  # type: ignore[no-untyped-def]
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    if auth:
        head += f"Authorization: {auth}\r\n"
    if body:
        head += (
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        )
    return request(port, head.encode() + b"\r\n" + body, method=method)


def _rows_without(text: str, proxy: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln and not ln.startswith(proxy + ",")]


def test_auth_html_and_refresh(setup) -> None:  # type: ignore[no-untyped-def]
    stats_port, _, _, _ = setup
    r = _get(stats_port, "/stats", auth=None)
    assert r.status == 401
    assert r.header("www-authenticate") == 'Basic realm="LB stats"'
    assert (
        _get(stats_port, "/stats", auth="Basic " + base64.b64encode(b"a:b").decode()).status == 401
    )
    r = _get(stats_port, "/stats")
    assert r.status == 200 and r.header("content-type") == "text/html"
    page = r.body.decode()
    assert '<meta http-equiv="refresh" content="5">' in page
    assert 'id="px-be"' in page and 'data-name="a"' in page and 'class="legend"' in page
    assert '<form method="post" action="/stats">' in page
    page = _get(stats_port, "/stats;norefresh").body.decode()
    assert 'http-equiv="refresh"' not in page
    assert '<form method="post" action="/stats;norefresh">' in page  # kept after a POST


def test_exports_equal_show_stat(setup) -> None:  # type: ignore[no-untyped-def]
    stats_port, _, fe_port, sock = setup
    request(fe_port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    csv = _get(stats_port, "/stats;csv")
    assert csv.status == 200 and csv.header("content-type") == "text/plain"

    # Rates and "seconds since" columns move with the clock between two reads: take
    # the first of a few back-to-back pairs taken within the same second that agree.
    def same_csv() -> bool:
        page = _get(stats_port, "/stats;csv").body.decode()
        # the stats proxy counts the export request itself while it runs: compare the others
        return _rows_without(page, "stats") == _rows_without(cli(sock, "show stat"), "stats")

    def same_json() -> bool:
        js = json.loads(_get(stats_port, "/stats;json").body)
        ref = json.loads(cli(sock, "show stat json"))
        return [o for o in js if o[0]["value"]["value"] != "stats"] == [
            o for o in ref if o[0]["value"]["value"] != "stats"
        ]

    assert any(same_csv() for _ in range(5))
    assert any(same_json() for _ in range(5))


def test_admin_post_changes_state(setup) -> None:  # type: ignore[no-untyped-def]
    stats_port, _, _, sock = setup
    r = _get(stats_port, "/stats", method="POST", body=b"s=a&action=drain&b=be")
    assert r.status == 303 and r.header("location") == "/stats;st=DONE"
    assert ",DRAIN," in next(
        ln for ln in cli(sock, "show stat").splitlines() if ln.startswith("be,a,")
    )
    r = _get(stats_port, "/stats", method="POST", body=b"s=a&s=b&action=maint&b=be")
    assert r.header("location") == "/stats;st=DONE"
    states = {
        ln.split(",")[1]: ln.split(",")[17]
        for ln in cli(sock, "show stat").splitlines()
        if ln.startswith("be,")
    }
    assert states["a"] == "MAINT" and states["b"] == "MAINT"
    _get(stats_port, "/stats", method="POST", body=b"s=a&s=b&action=ready&b=be")
    r = _get(stats_port, "/stats", method="POST", body=b"s=b&action=weight&w=7&b=be")
    assert r.header("location") == "/stats;st=DONE"
    assert cli(sock, "get weight be/b") == "7 (initial 5)\n\n"
    r = _get(stats_port, "/stats", method="POST", body=b"s=zz&action=drain&b=be")
    assert r.header("location") == "/stats;st=ERRP"
    r = _get(stats_port, "/stats;up;norefresh", method="POST", body=b"s=a&action=ready&b=be")
    assert r.header("location") == "/stats;st=DONE;up;norefresh"
    page = _get(stats_port, "/stats;st=DONE").body.decode()
    assert "Action processed successfully." in page


def test_prometheus_exporter(setup) -> None:  # type: ignore[no-untyped-def]
    parser = pytest.importorskip("prometheus_client.parser")
    _, prom_port, fe_port, sock = setup
    for _ in range(3):
        request(fe_port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    r = request(prom_port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert r.status == 200 and r.header(
        "content-type",
    ).startswith("text/plain")
    families = {f.name: f for f in parser.text_string_to_metric_families(r.body.decode())}
    stat = {
        (ln.split(",")[0], ln.split(",")[1]): ln.split(",")
        for ln in cli(sock, "show stat").splitlines()
        if ln and not ln.startswith("#")
    }
    idx = cli(sock, "show stat").splitlines()[0][2:].split(",")

    def value(name: str, **labels: str) -> float:
        fam = families[name]
        for s in fam.samples:
            if all(s.labels.get(k) == v for k, v in labels.items()) and s.name.startswith(name):
                return s.value
        raise KeyError((name, labels))

    assert value("haproxy_frontend_sessions", proxy="fe") == float(
        stat[("fe", "FRONTEND")][idx.index("stot")]
    )
    assert value("haproxy_backend_bytes_out", proxy="be") == float(
        stat[("be", "BACKEND")][idx.index("bout")]
    )
    assert value("haproxy_server_weight", proxy="be", server="b") == 5
    assert value("haproxy_server_status", proxy="be", server="a", state="UP") == 1
    assert value("haproxy_frontend_http_responses", proxy="fe", code="2xx") == 3
    assert "haproxy_process_nbthread" in families
    r = request(
        prom_port, b"GET /metrics?scope=server HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    names = {f.name for f in parser.text_string_to_metric_families(r.body.decode())}
    assert names and all(n.startswith("haproxy_server_") for n in names)
    cli(sock, "set server be/a state maint")
    r = request(
        prom_port,
        b"GET /metrics?scope=server&no-maint HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert 'server="a"' not in r.body.decode() and 'server="b"' in r.body.decode()
