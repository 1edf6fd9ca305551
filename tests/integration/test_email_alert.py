"""`mailers` sections and `email-alert`: the mail lb sends when a server changes
state, recorded by a small SMTP server in the test and compared with what
HAProxy 2.6 sends for the same configuration; `lb -c` against `haproxy -c`."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from itest import (
    HOST,
    Backend,
    free_port,
    get,
    haproxy_serving,
    run_haproxy_check,
    run_lb,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)

DATE_RX = re.compile(r"^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4} \(\w+\)$")


class FakeSmtp:
    """An SMTP server on a thread that records what each client sends.

    mode "ok" answers every step; "silent" accepts and never says a word."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.sessions: list[list[str]] = []  # lines received, per connection
        self.done: list[list[str]] = []  # sessions that ended with QUIT
        self.conns: list[socket.socket] = []
        self._stop = False
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket) -> None:
        lines: list[str] = []
        with self._lock:
            self.sessions.append(lines)
        if self.mode == "silent":
            return  # kept open until close()
        with contextlib.suppress(OSError), c:
            c.settimeout(10)
            f = c.makefile("rb")
            c.sendall(b"220 fake ESMTP\r\n")
            in_data = False
            for raw in f:
                line = raw.decode().rstrip("\r\n")
                assert raw.endswith(b"\r\n"), raw
                lines.append(line)
                if in_data:
                    if line == ".":
                        in_data = False
                        c.sendall(b"250 2.0.0 queued\r\n")
                    continue
                verb = line[:4].upper()
                if verb in ("HELO", "EHLO"):
                    c.sendall(b"250-fake\r\n250 8BITMIME\r\n")
                elif verb == "DATA":
                    in_data = True
                    c.sendall(b"354 go ahead\r\n")
                elif verb == "QUIT":
                    c.sendall(b"221 bye\r\n")
                    with self._lock:
                        self.done.append(lines)
                    return
                else:
                    c.sendall(b"250 ok\r\n")

    def wait_done(self, n: int, timeout: float = 10.0) -> list[list[str]]:
        assert wait_until(lambda: len(self.done) >= n, timeout), (self.sessions, self.done)
        return self.done

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        with self._lock:
            for c in self.conns:
                with contextlib.suppress(OSError):
                    c.close()


@pytest.fixture
def smtp() -> Iterator[type[FakeSmtp]]:
    made: list[FakeSmtp] = []

    def make(mode: str = "ok") -> FakeSmtp:
        s = FakeSmtp(mode)
        made.append(s)
        return s

    yield make  # type: ignore[misc]
    for s in made:
        s.close()


def _cfg(fe: int, mailers: list[int], srv: int, extra: str = "", timeout_mail: str = "") -> str:
    lines = "".join(f"    mailer m{i} {HOST}:{p}\n" for i, p in enumerate(mailers, 1))
    tmo = f"    timeout mail {timeout_mail}\n" if timeout_mail else ""
    return f"""\
mailers mx
{lines}{tmo}
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind {HOST}:{fe}
    default_backend be

backend be
    email-alert mailers mx
    email-alert from lb@example.com
    email-alert to ops@example.com
{extra}    server srv {HOST}:{srv} check inter 100 fall 1 rise 1
"""


def _expected(helo: str, msg: str) -> list[str]:
    return [
        f"HELO {helo}",
        "MAIL FROM:<lb@example.com>",
        "RCPT TO:<ops@example.com>",
        "DATA",
        "From: lb@example.com",
        "To: ops@example.com",
        "DATE",
        f"Subject: [HAProxy Alert] {msg}",
        "",
        msg,
        "",
        ".",
        "QUIT",
    ]


def _masked(lines: list[str]) -> list[str]:
    out = []
    for ln in lines:
        if ln.startswith("Date: "):
            assert DATE_RX.match(ln), ln
            ln = "DATE"
        out.append(re.sub(r"check duration: \d+ms", "check duration: Nms", ln))
    return out


def test_down_mail_to_every_mailer(lb, smtp) -> None:
    m1, m2 = smtp(), smtp()
    fe, dead = free_port(), free_port()
    inst = lb(_cfg(fe, [m1.port, m2.port], dead))
    inst.wait_stderr("Server be/srv is DOWN")
    msg = (
        'Server be/srv is DOWN, reason: Layer4 connection problem, info: "Connection refused", '
        "check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, "
        "0 requeued, 0 remaining in queue"
    )
    for m in (m1, m2):
        (got,) = m.wait_done(1)
        assert _masked(got) == _expected(socket.gethostname(), msg)
    assert "lb/mailers.py" not in inst.stderr and "Task exception" not in inst.stderr


def test_level_notice_mails_up_and_myhostname(lb, smtp) -> None:
    m = smtp()
    fe, port = free_port(), free_port()
    extra = "    email-alert level notice\n    email-alert myhostname mail.example.org\n"
    inst = lb(_cfg(fe, [m.port], port, extra))
    inst.wait_stderr("Server be/srv is DOWN")
    m.wait_done(1)
    b = Backend("srv", port)
    try:
        inst.wait_stderr("Server be/srv is UP")
        down, up = m.wait_done(2)
    finally:
        b.close()
    assert down[0] == up[0] == "HELO mail.example.org"
    assert up[7].startswith("Subject: [HAProxy Alert] Server be/srv is UP, reason: Layer4 check")
    assert up[9] == up[7].removeprefix("Subject: [HAProxy Alert] ")


def test_level_alert_does_not_mail_up(lb, smtp) -> None:
    m = smtp()
    fe, port = free_port(), free_port()
    inst = lb(_cfg(fe, [m.port], port))
    inst.wait_stderr("Server be/srv is DOWN")
    m.wait_done(1)
    b = Backend("srv", port)
    try:
        inst.wait_stderr("Server be/srv is UP")
        time.sleep(0.5)
    finally:
        b.close()
    assert len(m.sessions) == 1


def test_mailer_down_logged_once_traffic_flows(lb, backend) -> None:
    good = backend("good")
    fe, dead, closed = free_port(), free_port(), free_port()
    cfg = _cfg(fe, [closed], dead) + f"    server s2 {HOST}:{free_port()} check inter 100 fall 1\n"
    cfg += f"    server ok {HOST}:{good.port}\n"
    inst = lb(cfg)
    inst.wait_stderr(r"Server be/s2 is DOWN")
    inst.wait_stderr("not sent to mailer")
    time.sleep(0.3)
    errs = [ln for ln in inst.stderr.splitlines() if "not sent to mailer" in ln]
    assert errs == [
        f"[WARNING]  ({inst.pid}) : Email alert of proxy 'be' not sent to mailer mx/m1 "
        f"({HOST}:{closed}): Connection refused."
    ]
    assert get(fe, "/").status == 200
    assert "lb/mailers.py" not in inst.stderr and "Task exception" not in inst.stderr


def test_slow_mailer_times_out_without_blocking(lb, smtp, backend) -> None:
    m = smtp("silent")
    good = backend("good")
    fe, dead = free_port(), free_port()
    cfg = _cfg(fe, [m.port], dead, timeout_mail="500ms") + f"    server ok {HOST}:{good.port}\n"
    inst = lb(cfg)
    inst.wait_stderr("Server be/srv is DOWN")
    assert wait_until(lambda: m.sessions, 5)
    t0 = time.monotonic()
    assert get(fe, "/").status == 200  # the mail waiting for its greeting blocks nothing
    assert time.monotonic() - t0 < 0.4
    (line,) = inst.wait_stderr("not sent to mailer")
    assert line.endswith(f"mx/m1 ({HOST}:{m.port}): no answer within 0.5s.")
    assert "lb/mailers.py" not in inst.stderr and "Task exception" not in inst.stderr


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_same_dialogue_as_haproxy(lb, smtp, tmp_path: Path) -> None:
    extra = "    email-alert myhostname mx.example.net\n"
    runs = []
    for who in ("haproxy", "lb"):
        m = smtp()
        fe, dead = free_port(), free_port()
        cfg = _cfg(fe, [m.port], dead, extra)
        if who == "haproxy":
            path = tmp_path / "h.cfg"
            path.write_text(cfg)
            with haproxy_serving(path, [fe]):
                m.wait_done(1)
        else:
            lb(cfg)
            m.wait_done(1)
        runs.append([ln.replace(str(dead), "PORT") for ln in _masked(m.done[0])])
    assert runs[0] == runs[1]


# ---------------------------------------------------------------- lb -c / haproxy -c

CHECK_CFGS = {
    "keywords": """\
mailers mx
    mailer m1 127.0.0.1:2525
    mailer m1 localhost:2526
    timeout mail 0
mailers empty

backend b2
    email-alert
    email-alert foo
    email-alert mailers
    email-alert from
    email-alert to
    email-alert level
    email-alert level bogus
    email-alert myhostname
    email-alert mailers mx extra
    server s1 127.0.0.1:1
""",
    "references": """\
mailers mx
    mailer m1 127.0.0.1:2525
defaults
    email-alert level info
    timeout client 1s
    timeout server 1s
    timeout connect 1s
backend b1
    email-alert mailers
    email-alert from
    email-alert to
    server s1 127.0.0.1:1
backend b3
    email-alert mailers nosuch
    email-alert from a
    email-alert to b
    server s1 127.0.0.1:1
backend b4
    email-alert mailers mx
    email-alert from a
    email-alert to b
""",
    "ignored": """\
mailers unused
    mailer m1 127.0.0.1:2525
mailers used
    mailer m1 127.0.0.1:2525
mailers unused2
defaults
    email-alert level info
    timeout client 1s
    timeout server 1s
    timeout connect 1s
backend b1
    server s1 127.0.0.1:1
frontend f1
    bind 127.0.0.1:18081
    default_backend b1
listen l1
    bind 127.0.0.1:18082
defaults
    timeout client 1s
    timeout server 1s
    timeout connect 1s
backend b5
    email-alert to a
    email-alert mailers nosuch
backend b6
    email-alert to a
    email-alert from a
    email-alert mailers used
""",
    "mailer-lines": """\
mailers mx
    mailer a 1.2.3.4:+5
    mailer b 1.2.3.4:0
    mailer c :25
    mailer d [::1]:25
    mailer e ipv4@127.0.0.1:25
    mailer f 1.2.3.4:25-26
    mailer g 1.2.3.4:abc
    mailer h localhost:25
    mailer i abns@foo
    mailer j udp@1.2.3.4:25
    mailer k fd@3
    mailer l 1.2.3.4:25 extra
    mailer m/x 1.2.3.4:25
    mailer
    mailer n nosuchhost.invalid:25
    mailer o 127.0.0.1
    mailer p 127.0.0.1:99999
    mailer q unix@/tmp/x
    timeout mail
    timeout mail 5x
    timeout foo 5s
    timeout mail 5s extra
    timeout mail -1
    timeout mail 30d
    foo bar
mailers mx
    mailer m1 127.0.0.1:2525
""",
}


def _remarks(text: str) -> list[str]:
    """`LEVEL message` of each alert/warning line, without pid or blank lines."""
    out = []
    for ln in text.splitlines():
        m = re.match(r"\[(ALERT|WARNING)\]\s+\(\d+\) : (.*)", ln)
        if m:
            out.append(f"{m.group(1)} {m.group(2)}")
    return out


@pytest.mark.parametrize("name", sorted(CHECK_CFGS))
def test_check_messages_match_haproxy(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.cfg"
    path.write_text(CHECK_CFGS[name])
    ref = run_haproxy_check(path)
    if ref is None:
        pytest.skip("haproxy is not installed")
    got = run_lb("-c", "-f", str(path))
    assert got.returncode == (0 if ref.returncode == 0 else 1)
    assert _remarks(got.stderr) == _remarks(ref.stderr)


def test_check_valid_config_is_quiet(tmp_path: Path) -> None:
    path = tmp_path / "ok.cfg"
    path.write_text(_cfg(free_port(), [2525], 1, "    email-alert level debug\n"))
    got = run_lb("-c", "-f", str(path))
    assert got.returncode == 0, got.stderr
    assert "email-alert" not in got.stderr and "mailers" not in got.stderr
