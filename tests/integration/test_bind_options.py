"""`bind` line options: the socket options really reach the listening socket, the
rest is refused as HAProxy 2.6 refuses an unknown bind keyword, and bad values get
HAProxy's sentences (checked against haproxy 2.6.12 `-c`)."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from itest import HOST, free_port, get, http_cfg, peer_socket, run_lb, wait_until

from lb.tls import devpki

pytestmark = pytest.mark.timeout(30)


def _peer_listener(pid: int, port: int, family: int = socket.AF_INET) -> socket.socket:
    """A duplicate of process `pid`'s listening socket on `port` (pidfd_getfd(2))."""
    s = peer_socket(
        pid,
        lambda s: (
            bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
            and s.getsockname()[1] == port
        ),
        family,
    )
    if s is None:
        raise AssertionError(f"no listening socket on port {port} in process {pid}")
    return s


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not hasattr(os, "pidfd_open"),
    reason="reading another process's socket needs root and pidfd_open",
)


def _backlog(port: int) -> int | None:
    """The accept-queue limit `ss` shows for a listening socket (Send-Q)."""
    if not shutil.which("ss"):
        return None
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, timeout=5
    ).stdout
    fields = out.split()
    return int(fields[2]) if len(fields) > 2 else None


def _cfg(port: int, bind_opts: str, servers: str = "    server s1 127.0.0.1:9\n") -> str:
    opts = f" {bind_opts}" if bind_opts else ""
    return http_cfg(port, servers).replace(f"bind {HOST}:{port}\n", f"bind {HOST}:{port}{opts}\n")


# ---------------------------------------------------------------- socket options


@needs_root
def test_socket_options_reach_the_listening_socket(lb, backend):
    b = backend("s1")
    port = free_port()
    opts = "mss 1000 defer-accept tcp-ut 30s backlog 7 tfo transparent interface lo"
    inst = lb(_cfg(port, opts, f"    server s1 {HOST}:{b.port}\n"))
    with _peer_listener(inst.pid, port) as s:
        tcp = socket.IPPROTO_TCP
        assert s.getsockopt(tcp, socket.TCP_MAXSEG) == 1000
        assert s.getsockopt(tcp, socket.TCP_DEFER_ACCEPT) == 1  # one second, as HAProxy
        assert s.getsockopt(tcp, socket.TCP_USER_TIMEOUT) == 30000
        assert s.getsockopt(tcp, socket.TCP_FASTOPEN) == 7  # the queue is the backlog
        assert s.getsockopt(socket.IPPROTO_IP, 19) == 1  # IP_TRANSPARENT
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\0") == b"lo"
    if (n := _backlog(port)) is not None:
        assert n == 7
    # what a client sees: the MSS the listener announces, and traffic still flows
    with socket.create_connection((HOST, port), timeout=5) as c:
        assert c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) <= 1000
    assert get(port, "/").status == 200


@needs_root
def test_defaults_leave_the_socket_alone(lb):
    port = free_port()
    inst = lb(_cfg(port, ""))
    with _peer_listener(inst.pid, port) as s:
        tcp = socket.IPPROTO_TCP
        assert s.getsockopt(tcp, socket.TCP_DEFER_ACCEPT) == 0
        assert s.getsockopt(tcp, socket.TCP_USER_TIMEOUT) == 0
        assert s.getsockopt(tcp, socket.TCP_FASTOPEN) == 0
        assert s.getsockopt(socket.IPPROTO_IP, 19) == 0
        default_mss = s.getsockopt(tcp, socket.TCP_MAXSEG)
    # a negative MSS only lowers a larger one: 536 (an unconnected socket's) stays
    port2 = free_port()
    inst2 = lb(_cfg(port2, "mss -1000"))
    with _peer_listener(inst2.pid, port2) as s:
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) == default_mss


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _reaches(family: int, host: str, port: int) -> bool:
    with socket.socket(family) as c:
        c.settimeout(2)
        try:
            c.connect((host, port))
            return True
        except OSError:
            return False


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback")
@pytest.mark.parametrize(("opt", "v4"), [("v6only", False), ("v4v6", True), ("v4v6 v6only", False)])
def test_v6only_and_v4v6(lb, opt, v4):
    """`:::port` takes IPv4 too unless `v6only` (the last of the two written wins)."""
    port = free_port()
    cfg = _cfg(port, "").replace(f"bind {HOST}:{port}\n", f"bind :::{port} {opt}\n")
    inst = lb(cfg, ports=[])
    assert wait_until(lambda: _reaches(socket.AF_INET6, "::1", port)), inst.stderr
    assert _reaches(socket.AF_INET, HOST, port) is v4


def test_unknown_interface_warns_and_still_listens(lb):
    port = free_port()
    inst = lb(_cfg(port, "interface nosuch0"))
    assert _reaches(socket.AF_INET, HOST, port)
    line = inst.cfg_path.read_text().splitlines().index(f"    bind {HOST}:{port} interface nosuch0")
    warning = (
        f"Binding [{inst.cfg_path}:{line + 1}] for frontend fe: cannot bind receiver to device "
        f"'nosuch0' (No such device) for [{HOST}:{port}]"
    )
    assert warning in inst.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_unix_socket_mode_and_owner(lb, tmp_path):
    path = tmp_path / "fe.sock"
    port = free_port()
    cfg = _cfg(port, "").replace(
        f"bind {HOST}:{port}\n",
        f"bind {HOST}:{port}\n    bind {path} mode 640 user nobody gid 4321\n",
    )
    lb(cfg)
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (__import__("pwd").getpwnam("nobody").pw_uid, 4321)
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(5)
        c.connect(str(path))
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert c.recv(64).startswith(b"HTTP/1.1 503")  # no server up: lb answered


def test_ecdhe_restricts_the_key_exchange_curve(lb, tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("no openssl client")
    ca = devpki.CA()
    crt = devpki.write_site(tmp_path, "site.pem", ca, ca.issue("localhost"))
    port = free_port()
    lb(_cfg(port, f"ssl crt {crt} ecdhe secp384r1"))

    def handshake(group: str) -> bool:
        r = subprocess.run(
            ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-groups", group, "-brief"],
            input="",
            capture_output=True,
            text=True,
            timeout=10,
        )
        return "CONNECTION ESTABLISHED" in r.stderr

    assert handshake("secp384r1")
    assert not handshake("prime256v1")


# ---------------------------------------------------------------- lb -c


def _check(tmp_path: Path, bind_opts: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    cfg = tmp_path / "b.cfg"
    cfg.write_text(
        "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
        "    timeout connect 1s\nfrontend fe\n"
        f"    bind 127.0.0.1:8080 {bind_opts}\n    default_backend be\n"
        "backend be\n    server s1 127.0.0.1:9\n"
    )
    return cfg, run_lb("-c", "-f", str(cfg))


# kept as haproxy 2.6 knows them, but nothing here would act on them
_REFUSED = [
    "nice 10",
    "level admin",
    "severity-output number",
    "expose-fd listeners",
    "proto h2",
    "npn http/1.1",
    "crl-file /x.pem",
    "accept-netscaler-cip 1234",
    "namespace foo",
]


@pytest.mark.parametrize("opt", _REFUSED)
def test_options_nothing_acts_on_are_refused(tmp_path, opt):
    cfg, r = _check(tmp_path, opt)
    assert r.returncode == 1, r.stdout
    kw = opt.split()[0]
    want = (
        f"parsing [{cfg}:7] : 'bind 127.0.0.1:8080' in section 'frontend': unknown keyword '{kw}'"
    )
    assert want in r.stderr, r.stderr


def test_unknown_option_gets_haproxys_hint(tmp_path):
    cfg, r = _check(tmp_path, "defer-acept")
    assert (
        f"parsing [{cfg}:7] : 'bind 127.0.0.1:8080' in section 'frontend': unknown keyword "
        "'defer-acept'; did you mean 'defer-accept' maybe ?"
    ) in r.stderr


# option with a bad value -> the sentence haproxy 2.6.12 prints after the bind prefix
_BAD_VALUES = {
    "mss abc": "'mss' : expects an MSS with and absolute value between 1 and 65535",
    "mss 70000": "'mss' : expects an MSS with and absolute value between 1 and 65535",
    "mss": "'mss' : missing MSS value",
    "backlog -1": "'backlog' : invalid value -1, must be > 0",
    "backlog": "'backlog' : missing value",
    "maxconn -1": "'maxconn' : invalid value -1, must be >= 0",
    "tcp-ut 30x": "'tcp-ut' : expects a positive delay in milliseconds",
    "tcp-ut": "'tcp-ut' : missing TCP User Timeout value",
    "interface": "'interface' : missing interface name",
    "id abc": "'id' : expects an integer argument, found 'abc'",
    "id 0": "'id' : custom id has to be > 0",
    "mode abc": "'mode' : missing or invalid mode 'abc' (octal integer expected)",
    "user nosuchuser": "'user' : unknown user name 'nosuchuser'",
    "group nosuchgroup": "'group' : unknown group name 'nosuchgroup'",
    "process 2": "'process' : '2' is not a valid number/range. It supports numbers from 1 to 1.",
    "thread 65": "'65' : '65' is not a valid number/range. It supports numbers from 1 to 64.",
    "thread abc": "'abc' : 'abc' is not a valid number/range.",
    "thread 2/1": "'2/1' thread-group number must be between 1 and 1 (was 2)",
    "ecdhe": "'ecdhe' : missing named curve",
}


@pytest.mark.parametrize("opt", sorted(_BAD_VALUES))
def test_bad_values_get_haproxys_sentence(tmp_path, opt):
    cfg, r = _check(tmp_path, opt)
    assert r.returncode == 1, r.stdout
    want = f"parsing [{cfg}:7] : 'bind 127.0.0.1:8080' in section 'frontend' : {_BAD_VALUES[opt]}"
    assert want in r.stderr, r.stderr


def test_duplicate_id_and_id_on_several_sockets(tmp_path):
    cfg, r = _check(tmp_path, "id 5\n    bind 127.0.0.1:8081 id 5")
    assert (
        f"parsing [{cfg}:8] : 'bind 127.0.0.1:8081' in section 'frontend' : 'id' : custom id 5 "
        f"already used at {cfg}:7 ('bind 127.0.0.1:8080')"
    ) in r.stderr
    cfg, r = _check(tmp_path, "\n    bind 127.0.0.1:8081-8082 id 4")
    assert "'bind 127.0.0.1:8081-8082' in section 'frontend' : 'id' can only be used " in r.stderr


@pytest.mark.parametrize(
    ("opt", "what"),
    [
        ("thread 2", "contains threads that belong to no group"),
        ("thread even", "contains threads that belong to no group"),
        ("thread 1/2", "only references threads not belonging to the group"),
    ],
)
def test_threads_that_do_not_exist_are_refused(tmp_path, opt, what):
    """One thread runs here: as haproxy with `nbthread 1`."""
    cfg, r = _check(tmp_path, opt)
    assert r.returncode == 1, r.stdout
    assert (
        f"Proxy 'fe': 'thread' directive {what} in 'bind 127.0.0.1:8080' at [{cfg}:7]."
    ) in r.stderr


@pytest.mark.parametrize(
    "opt",
    [
        "thread 1",
        "thread all",
        "thread odd",
        "thread 1-2",
        "thread 1/1",
        "thread 1/all",
        "maxconn abc",  # atol, as haproxy: no limit
        "backlog 0",
        "mss -5",
        "tcp-ut 0",
        "id 3 name web",
        "v6only v4v6",
        "uid 0 gid 0 mode 0600",
    ],
)
def test_values_haproxy_accepts(tmp_path, opt):
    _cfg_path, r = _check(tmp_path, opt)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Configuration file is valid\n"


@pytest.mark.parametrize(
    ("opt", "hint"), [("process 1", ""), ("process all/1", " Please use 'thread 1' instead.")]
)
def test_process_is_deprecated(tmp_path, opt, hint):
    cfg, r = _check(tmp_path, opt)
    assert r.returncode == 0, r.stderr
    assert (
        f"[{cfg}:7] : 'bind 127.0.0.1:8080' in section 'frontend' : '{opt}' on 'bind' lines "
        f"is deprecated and will be removed in 2.7.{hint}"
    ) in r.stderr
