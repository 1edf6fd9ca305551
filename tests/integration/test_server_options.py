"""`track`, `slowstart`, `on-marked-down`/`on-marked-up` and `observe`/`error-limit`/
`on-error` through a running `lb`, with HAProxy 2.6's notices (checked against the
real binary) and the `lb -c` alerts for bad values."""

from __future__ import annotations

import collections
import socket
import time
from pathlib import Path

import pytest
from itest import HOST, free_port, get, run_lb, wait_until

from tests.integration.test_issue7_persist import cli as _cli

pytestmark = pytest.mark.timeout(60)

DEFAULTS = (
    "defaults\n    mode {mode}\n    timeout connect 1s\n    timeout client 5s\n"
    "    timeout server 5s\n"
)


def _cfg(sock: Path, mode: str, body: str) -> str:
    return f"global\n    stats socket {sock} level admin\n" + DEFAULTS.format(mode=mode) + body


def cli(sock: Path, command: str) -> str:
    assert wait_until(sock.exists), "no stats socket"
    return _cli(sock, command)


def _dead_port() -> int:
    return free_port()  # nothing listens there: connections are refused


def _closed_by_peer(s: socket.socket, timeout: float = 3.0) -> bool:
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, OSError):
        return True


def test_track_follows_tracked_server(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    a = backend("a")
    sock = tmp_path / "lb.sock"
    port = free_port()
    inst = lb(
        _cfg(
            sock,
            "http",
            f"listen px\n    bind {HOST}:{port}\n"
            f"    server s1 {HOST}:{a.port} check inter 100 rise 1 fall 1\n"
            f"    server s2 {HOST}:{a.port} track s1\n"
            f"    server s3 {HOST}:{a.port} track px/s2\n",
        )
    )
    cli(sock, "set server px/s1 health down")
    assert inst.wait_stderr(r"Server px/s3 is DOWN via px/s2\.")
    err = inst.stderr
    assert (
        "Server px/s2 is DOWN via px/s1. 1 active and 0 backup servers left. "
        "0 sessions active, 0 requeued, 0 remaining in queue." in err
    )
    assert "Server px/s3 is DOWN via px/s2. 0 active and 0 backup servers left." in err
    assert err.index("px/s1 is DOWN") < err.index("px/s2 is DOWN") < err.index("px/s3 is DOWN")
    assert inst.wait_stderr(r"Server px/s3 is UP via px/s2\.")  # the next check passes
    assert "Server px/s2 is UP via px/s1. 2 active and 0 backup servers online." in inst.stderr
    # maintenance is inherited, and so is leaving it
    cli(sock, "disable server px/s1")
    assert inst.wait_stderr(r"Server px/s3 is going DOWN for maintenance via px/s2\.")
    assert "Server px/s2 is going DOWN for maintenance via px/s1. 1 active" in inst.stderr
    assert get(port).status == 503
    cli(sock, "enable server px/s1")
    assert inst.wait_stderr(r"Server px/s3 is UP/READY \(leaving maintenance\)\.")
    assert "Server px/s1 is UP/READY (leaving forced maintenance)." in inst.stderr
    assert get(port).status == 200


def test_track_config_errors(tmp_path: Path) -> None:
    cases = {
        "track nope": "unable to find required server 'nope' for tracking.",
        "track nobe/s1": "unable to find required proxy 'nobe' for tracking.",
        "track s5": "unable to use px/s5 for tracking as it does not have any check nor "
        "agent enabled.",
        "track s1 check": "unable to enable checks and tracking at the same time!",
        "track": "'track' expects [<proxy>/]<server> as argument..",
        "observe": "'observe' expects <mode> as argument..",
        "observe layer9": "'observe' expects one of 'none', 'layer4', 'layer7' but got 'layer9'.",
        "error-limit x": "error-limit has to be > 0..",
        "error-limit": "'error-limit' expects an integer argument..",
        "on-error foo": "'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' "
        "or 'mark-down' but got 'foo'.",
        "on-marked-down foo": "'on-marked-down' expects 'shutdown-sessions' but got 'foo'.",
        "on-marked-up foo": "'on-marked-up' expects 'shutdown-backup-sessions' but got 'foo'.",
        "slowstart 10x": "unexpected character 'x' in 'slowstart' argument of server s2..",
    }
    for opt, msg in cases.items():
        path = tmp_path / "c.cfg"
        path.write_text(
            DEFAULTS.format(mode="tcp") + f"listen px\n    bind {HOST}:{free_port()}\n"
            f"    server s1 {HOST}:1 check\n    server s2 {HOST}:1 {opt}\n"
            f"    server s5 {HOST}:1\n"
        )
        r = run_lb("-c", "-f", str(path))
        assert r.returncode == 1, (opt, r.stderr)
        assert f"config : [{path}:9] : 'server px/s2' : {msg}\n" in r.stderr, (opt, r.stderr)
    # `observe layer7` outside HTTP: HAProxy alerts but the configuration stays valid
    path.write_text(
        DEFAULTS.format(mode="tcp") + f"listen px\n    bind {HOST}:{free_port()}\n"
        f"    server s1 {HOST}:1 check observe layer7 slowstart 2s on-error sudden-death\n"
    )
    r = run_lb("-c", "-f", str(path))
    assert r.returncode == 0, r.stderr
    assert "'server px/s1' : 'layer7' can only be used in http proxies." in r.stderr


def test_slowstart_ramps_weight(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    a = backend("a")
    b = backend("b")
    b_port = b.port
    sock = tmp_path / "lb.sock"
    port = free_port()
    inst = lb(
        _cfg(
            sock,
            "http",
            f"listen px\n    bind {HOST}:{port}\n    balance roundrobin\n"
            f"    server a {HOST}:{a.port} weight 16\n"
            f"    server b {HOST}:{b_port} weight 16 check inter 100 rise 1 fall 1 "
            "slowstart 3s\n",
        )
    )
    b.close()
    assert inst.wait_stderr(r"Server px/b is DOWN")
    b2 = backend("b", port=b_port)
    assert inst.wait_stderr(r"Server px/b is UP, reason: Layer4 check passed")
    # first second: b runs at 1/16 + 16/3... of its weight, well under a's share
    seen = collections.Counter(get(port).body for _ in range(60))
    assert seen[b"hello from a"] > 3 * seen[b"hello from b"], seen
    assert inst.wait_stderr(
        r"Server px/b is UP\. 2 active and 0 backup servers online\.", timeout=6
    )
    seen = collections.Counter(get(port).body for _ in range(40))
    assert abs(seen[b"hello from a"] - seen[b"hello from b"]) <= 2, seen
    b2.close()


def test_slowstart_after_maintenance(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    a, b = backend("a"), backend("b")
    sock = tmp_path / "lb.sock"
    port = free_port()
    inst = lb(
        _cfg(
            sock,
            "http",
            f"listen px\n    bind {HOST}:{port}\n    balance roundrobin\n"
            f"    server a {HOST}:{a.port} weight 100\n"
            f"    server b {HOST}:{b.port} weight 100 slowstart 2s\n",
        )
    )
    cli(sock, "disable server px/b")
    cli(sock, "enable server px/b")
    seen = collections.Counter(get(port).body for _ in range(40))
    assert seen[b"hello from a"] > 3 * seen[b"hello from b"], seen
    assert inst.wait_stderr(r"Server px/b is UP\. 2 active", timeout=5)


def test_on_marked_down_shutdown_sessions(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    a, b = backend("a"), backend("b")
    sock = tmp_path / "lb.sock"
    port = free_port()
    inst = lb(
        GLOBAL_LOG
        + _cfg(
            sock,
            "tcp",
            f"listen pt\n    bind {HOST}:{port}\n    log global\n    option tcplog\n"
            f"    server a {HOST}:{a.port} check inter 5s on-marked-down shutdown-sessions "
            "on-marked-up shutdown-backup-sessions\n"
            f"    server b {HOST}:{b.port} check inter 5s backup\n",
        ).replace("global\n", "", 1)
    )
    c1 = socket.create_connection((HOST, port), timeout=3)
    assert wait_until(lambda: a.open_conns() == 1)
    cli(sock, "set server pt/a health down")
    assert _closed_by_peer(c1)
    c1.close()
    assert inst.wait_stderr(r"pt/a \S+ \d+ D. ")
    assert (
        "Server pt/a is DOWN, changed from CLI. 0 active and 1 backup servers left. "
        "Running on backup. 1 sessions active, 0 requeued, 0 remaining in queue." in inst.stderr
    )
    c2 = socket.create_connection((HOST, port), timeout=3)
    assert wait_until(lambda: b.open_conns() == 1)
    cli(sock, "set server pt/a health up")
    assert _closed_by_peer(c2)
    c2.close()
    assert inst.wait_stderr(r"pt/b \S+ \d+ U. ")
    cli(sock, "set server pt/b health down")
    assert inst.wait_stderr(r"Backup Server pt/b is DOWN, changed from CLI\.")


GLOBAL_LOG = "global\n    log stderr format raw local0\n"


def test_observe_layer7_mark_down(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    a, b = backend("a"), backend("b")
    sock = tmp_path / "lb.sock"
    port = free_port()
    inst = lb(
        _cfg(
            sock,
            "http",
            f"listen px\n    bind {HOST}:{port}\n"
            f"    server a {HOST}:{a.port} check inter 10s fastinter 10s observe layer7 "
            "error-limit 3 on-error mark-down\n"
            f"    server b {HOST}:{b.port} backup\n",
        )
    )
    assert get(port, "/status?code=503").status == 503
    assert get(port, "/status?code=501").status == 501  # 501 is not a server error
    assert get(port, "/status?code=500").status == 500
    assert get(port, "/").status == 200  # a success resets the count
    for _ in range(2):
        assert get(port, "/status?code=502").status == 502
    assert not inst.wait_stderr("is DOWN", timeout=0.3)
    assert get(port, "/status?code=503").status == 503
    assert inst.wait_stderr("Server px/a is DOWN")
    assert (
        'Server px/a is DOWN, reason: Health analyze, info: "Detected 3 consecutive errors, '
        'last one was: Wrong http response". 0 active and 1 backup servers left. '
        "Running on backup." in inst.stderr
    )
    assert get(port).body == b"hello from b"
    row = _stat_row(sock, "px", "a")
    assert row["check_status"] == "HANA" and row["chkfail"] == "1"


def test_observe_layer4_fail_check(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    live = backend("live")
    sock = tmp_path / "lb.sock"
    port = free_port()
    dead = _dead_port()
    inst = lb(
        _cfg(
            sock,
            "tcp",
            f"listen pt\n    bind {HOST}:{port}\n    retries 0\n"
            f"    server a {HOST}:{dead} check port {live.port} inter 10s rise 2 fall 2 "
            "observe layer4 error-limit 2\n",
        )
    )
    for _ in range(2):
        with socket.create_connection((HOST, port), timeout=3) as c:
            _closed_by_peer(c)
    assert inst.wait_stderr("Server pt/a is DOWN")
    assert (
        'Server pt/a is DOWN, reason: Health analyze, info: "Detected 2 consecutive errors, '
        'last one was: L4 unsuccessful connection". 0 active and 0 backup servers left.'
        in inst.stderr
    )


def test_observe_sudden_death_and_fastinter(lb, backend, tmp_path: Path) -> None:  # noqa: ANN001
    a = backend("a")
    sock = tmp_path / "lb.sock"
    port = free_port()
    inst = lb(
        _cfg(
            sock,
            "http",
            f"listen px\n    bind {HOST}:{port}\n    option log-health-checks\n"
            f"    server a {HOST}:{a.port} check inter 2s fastinter 200 rise 1 fall 3 "
            "observe layer7 error-limit 1 on-error sudden-death\n",
        )
    )
    assert inst.wait_stderr(r"Health check for server px/a succeeded.*status: 3/3 UP", 4)
    assert get(port, "/status?code=500").status == 500
    # the health drops to one failure from DOWN, and fastinter brings the next check forward
    line = inst.wait_stderr(r"Health check for server px/a failed")
    assert line and "reason: Health analyze" in line[0] and "status: 1/3 UP." in line[0]
    t0 = time.monotonic()
    assert inst.wait_stderr(r"Health check for server px/a succeeded.*status: 3/3 UP", 3, 2)
    assert time.monotonic() - t0 < 1.0
    assert "is DOWN" not in inst.stderr


def _stat_row(sock: Path, px: str, sv: str) -> dict[str, str]:
    import csv
    import io

    out = cli(sock, "show stat")
    rows = list(csv.reader(io.StringIO(out.lstrip("# "))))
    head = rows[0]
    for r in rows[1:]:
        if r[:2] == [px, sv]:
            return dict(zip(head, r, strict=False))
    return {}
