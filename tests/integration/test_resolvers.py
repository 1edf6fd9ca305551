"""Run-time DNS resolution (`resolvers` sections, `server-template`, `init-addr`)
against a fake name server in the test process. The messages are the ones the
real haproxy 2.6 printed pointed at the same fake server."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from fakedns import FakeDns
from itest import HOST, free_port, run_lb, wait_until

pytestmark = pytest.mark.timeout(30)


class IpEcho:
    """TCP servers on several loopback addresses and one port: each answers with
    the address it listens on, then closes."""

    def __init__(self, ips: list[str]) -> None:
        self.socks: list[socket.socket] = []
        self.port = 0
        for _ in range(20):
            self.port = free_port()
            try:
                for ip in ips:
                    s = socket.socket()
                    self.socks.append(s)
                    s.bind((ip, self.port))
                    s.listen(16)
                break
            except OSError:
                for s in self.socks:
                    s.close()
                self.socks = []
        for s in self.socks:
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s: socket.socket) -> None:
        ip = s.getsockname()[0].encode()
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                c.sendall(ip + b"\n")
            c.close()

    def close(self) -> None:
        for s in self.socks:
            s.close()


@pytest.fixture
def dns():
    d = FakeDns()
    yield d
    d.close()


@pytest.fixture
def echo():
    e = IpEcho(["127.0.0.2", "127.0.0.3", "127.0.0.4"])
    yield e
    e.close()


def ask(port: int) -> str:
    try:
        with socket.create_connection((HOST, port), timeout=2) as c:
            c.settimeout(2)
            return c.recv(100).decode().strip()
    except OSError:
        return ""


def cli(path: Path, command: str) -> str:
    wait_until(path.exists, 5)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(path))
        s.sendall(command.encode() + b"\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


def config(dns_port: int, sock: Path, fe_port: int, servers: str, hold: str = "1s") -> str:
    return (
        f"global\n    stats socket {sock} level admin\n"
        "resolvers dns\n"
        f"    nameserver ns1 127.0.0.1:{dns_port}\n"
        "    timeout resolve 200ms\n    timeout retry 200ms\n    resolve_retries 2\n"
        f"    hold nx {hold}\n    hold timeout {hold}\n    hold valid 1s\n"
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 2s\n"
        "    timeout server 2s\n"
        f"frontend fe\n    bind {HOST}:{fe_port}\n    default_backend be\n"
        f"backend be\n{servers}"
    )


def state_line(sock: Path, srv: str) -> list[str]:
    for line in cli(sock, "show servers state be").splitlines():
        f = line.split()
        if len(f) > 3 and f[3] == srv:
            return f
    return []


def stat_status(sock: Path, srv: str) -> str:
    for line in cli(sock, "show stat").splitlines():
        f = line.split(",")
        if f[:2] == ["be", srv]:
            return f[17]
    return ""


def test_follows_the_answer_and_nx(lb, dns, echo, tmp_path: Path) -> None:  # noqa: ANN001
    dns.set("app.test", a=["127.0.0.2"])
    sock, port = tmp_path / "s.sock", free_port()
    srv = f"    server s1 app.test:{echo.port} resolvers dns init-addr none resolve-prefer ipv4\n"
    inst = lb(config(dns.port, sock, port, srv, hold="300ms"))
    assert wait_until(lambda: ask(port) == "127.0.0.2", 5)
    assert inst.wait_stderr(r"be/s1 changed its IP from \(none\) to 127\.0\.0\.2 by dns/ns1\.")
    assert inst.wait_stderr(r"Server be/s1 \('app\.test'\) is UP/READY \(resolves again\)\.")
    assert inst.wait_stderr(r"Server be/s1 administratively READY thanks to valid DNS answer\.")
    f = state_line(sock, "s1")
    assert f[4:7] == ["127.0.0.2", "2", "0"] and f[17:19] == ["app.test", str(echo.port)]

    dns.set("app.test", a=["127.0.0.3"])  # new connections go to the new address
    assert wait_until(lambda: ask(port) == "127.0.0.3", 5)
    assert inst.wait_stderr(r"be/s1 changed its IP from 127\.0\.0\.2 to 127\.0\.0\.3 by dns/ns1\.")

    dns.nx("app.test")  # after `hold nx`: maintenance, no address
    assert inst.wait_stderr(
        r"Server be/s1 is going DOWN for maintenance \(DNS NX status\)\. 0 active and 0 "
        r"backup servers left\. \d+ sessions active, 0 requeued, 0 remaining in queue\."
    ), inst.stderr
    assert wait_until(lambda: state_line(sock, "s1")[4:7] == ["-", "0", "32"], 3)
    assert stat_status(sock, "s1") == "MAINT (resolution)"
    assert ask(port) != "127.0.0.3"

    dns.set("app.test", a=["127.0.0.4"])
    assert wait_until(lambda: ask(port) == "127.0.0.4", 5)
    assert inst.wait_stderr(r"be/s1 changed its IP from \(none\) to 127\.0\.0\.4 by dns/ns1\.")
    assert stat_status(sock, "s1") == "no check"


def test_timeout_marks_down_after_hold(lb, dns, echo, tmp_path: Path) -> None:  # noqa: ANN001
    dns.set("app.test", aaaa=[], a=["127.0.0.2"])
    sock, port = tmp_path / "s.sock", free_port()
    srv = f"    server s1 app.test:{echo.port} resolvers dns init-addr none\n"
    inst = lb(config(dns.port, sock, port, srv, hold="300ms"))
    assert wait_until(lambda: ask(port) == "127.0.0.2", 5)
    # default resolve-prefer ipv6: AAAA first, then A when there is none
    assert ("app.test", 28) in dns.queries and ("app.test", 1) in dns.queries
    dns.drop("app.test")
    assert inst.wait_stderr(r"is going DOWN for maintenance \(DNS timeout status\)", 6)


def test_init_addr_none_starts_unresolved(lb, dns, echo, tmp_path: Path) -> None:  # noqa: ANN001
    dns.nx("late.test")
    sock, port = tmp_path / "s.sock", free_port()
    srv = f"    server s1 late.test:{echo.port} resolvers dns init-addr none\n"
    inst = lb(config(dns.port, sock, port, srv))
    assert wait_until(lambda: dns.count("late.test") >= 4, 5)
    assert stat_status(sock, "s1") == "MAINT (resolution)"
    assert state_line(sock, "s1")[4:7] == ["-", "0", "32"]
    assert ask(port) == ""
    assert "going DOWN" not in inst.stderr  # it never was up: nothing to report
    dns.set("late.test", a=["127.0.0.3"])
    assert wait_until(lambda: ask(port) == "127.0.0.3", 5)


def test_server_template_fills_servers(lb, dns, echo, tmp_path: Path) -> None:  # noqa: ANN001
    dns.set("tpl.test", a=["127.0.0.2", "127.0.0.3"])
    sock, port = tmp_path / "s.sock", free_port()
    srv = (
        "    balance roundrobin\n"
        f"    server-template web 1-3 tpl.test:{echo.port} resolvers dns init-addr none "
        "resolve-prefer ipv4\n"
    )
    inst = lb(config(dns.port, sock, port, srv))
    assert wait_until(lambda: stat_status(sock, "web2") == "no check", 5)
    assert inst.wait_stderr(r"be/web1 changed its IP from \(none\) to 127\.0\.0\.2 by dns/ns1\.")
    assert inst.wait_stderr(r"be/web2 changed its IP from \(none\) to 127\.0\.0\.3 by DNS cache\.")
    assert stat_status(sock, "web3") == "MAINT (resolution)"
    assert wait_until(lambda: {ask(port) for _ in range(6)} == {"127.0.0.2", "127.0.0.3"}, 5)

    dns.set("tpl.test", a=["127.0.0.3"])  # web1 loses its address
    assert inst.wait_stderr(
        r"Server be/web1 is going DOWN for maintenance \(No IP for server \)\. 1 active"
    )
    assert wait_until(lambda: {ask(port) for _ in range(4)} == {"127.0.0.3"}, 3)

    out = cli(sock, "show resolvers dns")
    lines = out.splitlines()
    assert lines[:3] == ["Resolvers section dns", " nameserver ns1:", lines[2]]
    assert lines[2].startswith("  sent:        ") and int(lines[2].split()[1]) > 0
    keys = [ln.split(":")[0].strip() for ln in lines[2:] if ln]
    assert keys == [
        "sent", "snd_error", "valid", "update", "cname", "cname_error", "any_err", "nx",
        "timeout", "refused", "other", "invalid", "too_big", "truncated", "outdated",
    ]  # fmt: skip
    assert cli(sock, "show resolvers nosuch") == "Can't find that resolvers section\n\n"


def test_cname_answer(lb, dns, echo, tmp_path: Path) -> None:  # noqa: ANN001
    dns.set("real.test", a=["127.0.0.4"])
    dns.set("alias.test", cname="real.test")
    sock, port = tmp_path / "s.sock", free_port()
    srv = f"    server s1 alias.test:{echo.port} resolvers dns init-addr none resolve-prefer ipv4\n"
    lb(config(dns.port, sock, port, srv))
    assert wait_until(lambda: ask(port) == "127.0.0.4", 5)
    assert "  cname:       0" not in cli(sock, "show resolvers dns")


# ---------------------------------------------------------------- configuration errors

_HEAD = (
    "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
    "    timeout connect 1s\n"
)
_RES = "resolvers mydns\n    nameserver ns1 127.0.0.1:53\n"

CASES = {
    "section": (
        "resolvers mydns\n    nameserver ns1 127.0.0.1:53\n    nameserver ns1 127.0.0.1:54\n"
        "    nameserver\n    nameserver ns4 foo.invalid:53\n    hold bogus 1s\n    hold nx\n"
        "    timeout foo 1s\n    timeout resolve\n    resolve_retries\n"
        "    accepted_payload_size 70000\n    frobnicate 1\n" + _HEAD,
        [
            "Parsing [{f}:3]: nameserver 'ns1' has same name as another nameserver "
            "(declared at {f}:2).",
            "parsing [{f}:4] : 'nameserver' expects <name> and <addr>[:<port>] as arguments.",
            "parsing [{f}:5] : 'nameserver ns4' : invalid address: 'foo.invalid' in "
            "'foo.invalid:53'",
            "parsing [{f}:6] : 'hold' unknown <event>: 'bogus', expects either 'nx', 'timeout', "
            "'valid', 'obsolete' or 'other'.",
            "parsing [{f}:7] : 'hold' expects an <event> and a <time> as arguments.",
            "<event> can be either 'valid', 'nx', 'refused', 'timeout', or 'other'",
            "parsing [{f}:8] : 'timeout' expects 'retry' or 'resolve' and <time> as arguments "
            "got 'foo'.",
            "parsing [{f}:9] : 'timeout resolve' expects <time> as argument.",
            "parsing [{f}:10] : 'resolve_retries' expects <nb> as argument.",
            "parsing [{f}:11] : 'accepted_payload_size' must be between 12 and 65535 inclusive "
            "(was 70000).",
            "parsing [{f}:12] : unknown keyword 'frobnicate' in 'resolvers' section",
        ],
    ),
    "server-options": (
        _RES + _HEAD + "backend be\n"
        "    server s3 app.invalid:80 init-addr bogus\n"
        "    server s4 app.invalid:80 init-addr none resolve-prefer ipv5\n"
        "    server s5 app.invalid:80 init-addr none resolve-net 10.0.0.0/33\n"
        "    server s6 app.invalid:80 init-addr 1.2.3.4,none,::1\n"
        "    server s7 app.invalid:80 resolve-opts allow-dup-ip,foo\n",
        [
            "[{f}:9] : 'server be/s3' : 'init-addr' : unknown init-addr method 'bogus', "
            "supported methods are 'libc', 'last', 'none'..",
            "[{f}:10] : 'server be/s4' : 'resolve-prefer' expects either ipv4 or ipv6 as "
            "argument..",
            "[{f}:11] : 'server be/s5' : 'resolve-net' invalid network '10.0.0.0/33'..",
            "[{f}:12] : 'server be/s6' : 'init-addr' : initial address already specified, "
            "cannot add '::1'..",
            "[{f}:13] : 'server be/s7' : 'resolve-opts' : unknown resolve-opts option 'foo', "
            "supported methods are 'allow-dup-ip', 'ignore-weight', and 'prevent-dup-ip'..",
        ],
    ),
    "init-addr-fails": (
        _RES + _HEAD + "backend be\n    server s1 app.invalid:80 init-addr last\n",
        [
            "[{f}:9] : 'server be/s1' : no method found to resolve address 'app.invalid'.",
            "Failed to initialize server(s) addr.",
        ],
    ),
    "libc-fails": (
        _RES + _HEAD + "backend be\n    server s1 app.invalid:80 init-addr libc\n",
        [
            "[{f}:9] : 'server be/s1' : could not resolve address 'app.invalid'.",
            "Failed to initialize server(s) addr.",
        ],
    ),
    "unknown-resolvers": (
        _RES + _HEAD + "backend be\n    server s1 app.invalid:80 resolvers nosuch\n",
        ["backend 'be', server 's1': unable to find required resolvers 'nosuch'"],
    ),
    "template": (
        _RES + _HEAD + "backend be\n    server-template t 0 app.invalid:81\n"
        "    server-template t 3-1 app.invalid:81\n    server-template t 2\n",
        [
            "[{f}:9] : Wrong server-template number or range arg '0'.",
            "[{f}:10] : Wrong server-template number or range arg '3-1'.",
            "[{f}:11] : 'server-template' expects <prefix> <nb | range> <addr>[:<port>] as "
            "arguments.",
        ],
    ),
    "section-header": (
        "resolvers\n" + _HEAD,
        ["parsing [{f}:1] : missing name for resolvers section."],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_errors(tmp_path: Path, case: str) -> None:
    text, alerts = CASES[case]
    cfg = tmp_path / "r.cfg"
    cfg.write_text(text)
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode != 0
    for a in alerts:
        assert a.format(f=cfg) in r.stderr, r.stderr
    if shutil.which("haproxy"):  # the reference says the same
        h = subprocess.run(
            ["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=10
        )
        for a in alerts:
            assert a.format(f=cfg) in h.stderr + h.stdout, h.stderr


def test_resolvers_failure_only_disables_the_server(tmp_path: Path) -> None:
    cfg = tmp_path / "r.cfg"
    cfg.write_text(
        _RES + _HEAD + "backend be\n    server s1 app.invalid:80 resolvers mydns\n"
        "    server-template t 2 127.0.0.1:81 init-addr none\n"
        "resolvers empty\n"
    )
    r = run_lb("-c", "-f", str(cfg))
    assert (
        f"[{cfg}:9] : 'server be/s1' : could not resolve address 'app.invalid', disabling "
        "server." in r.stderr
    ), r.stderr
    assert f"resolvers 'empty' [{cfg}:11] has no nameservers configured!" in r.stderr
    assert "ALERT" not in r.stderr
