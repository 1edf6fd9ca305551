"""Email alerts without sockets: which notices are mailed at which level, the
SMTP reply reader, the dialogue's bytes, and the `mailers` / `email-alert`
configuration (messages as `haproxy -c` prints them)."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import pytest

from lb.config.model import MailersConf, Where
from lb.config.parser import ConfigErrors, parse_string
from lb.mailers import (
    LOG_ALERT,
    LOG_INFO,
    LOG_NOTICE,
    ProxyAlerts,
    ReplyReader,
    SmtpError,
    classify,
    date_header,
    dialogue,
    mail_body,
)

LEFT = "0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
ONLINE = "1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."


def _alerts(level: int = LOG_ALERT) -> ProxyAlerts:
    sec = MailersConf("mx", Where("f", 1), [("m1", "127.0.0.1", 25, Where("f", 2))])
    conf = {"set": True, "mailers": "mx", "from": "a@x", "to": "b@y", "level": level}
    return ProxyAlerts(SimpleNamespace(name="be"), conf, sec, "host")


@pytest.mark.parametrize(
    ("msg", "level"),
    [
        (f"Server be/srv is DOWN, reason: Layer4 timeout, check duration: 1ms. {LEFT}", LOG_ALERT),
        (f"Backup Server be/b1 is DOWN. {LEFT}", LOG_ALERT),
        (f"Server be/srv is DOWN via other/s1. {LEFT}", LOG_ALERT),
        (f"Server be/srv is DOWN, changed from CLI. {LEFT}", LOG_ALERT),
        (f"Server be/srv is UP, reason: Layer4 check passed, check duration: 0ms. {ONLINE}", 5),
        (f"Server be/srv is UP. {ONLINE}", LOG_NOTICE),
        (f"Server be/srv is UP via other/s1. {ONLINE}", LOG_NOTICE),
        (f"Server be/srv enters drain state. {ONLINE}", LOG_NOTICE),
        ("Health check for server be/srv failed, reason: x, status: 0/2 DOWN.", LOG_INFO),
        ("Health check for backup server be/b succeeded, reason: x, status: 2/2 UP.", LOG_INFO),
        ("Agent check for server be/srv failed, reason: x, status: 0/1 DOWN.", LOG_INFO),
        (f"Server be/srv is going DOWN for maintenance. {LEFT}", None),
        ("Server be/srv was DOWN and now enters maintenance.", None),
        ("Server be/srv is UP/READY (leaving forced maintenance).", None),
        ("Server be/srv is UP (leaving forced drain).", None),
        (f"Server be/srv is stopping, changed from CLI. {ONLINE}", None),
        ("backend 'be' has no server available!", None),
        ("CLI : Server deleted.", None),
    ],
)
def test_mail_level_of_each_notice(msg: str, level: int | None) -> None:
    assert _alerts().level_of(msg) == level


def test_down_after_stopping_is_notice() -> None:
    a = _alerts()
    assert a.level_of(f"Server be/srv is stopping, changed from CLI. {ONLINE}") is None
    assert a.level_of(f"Server be/other is DOWN. {LEFT}") == LOG_ALERT
    assert a.level_of(f"Server be/srv is DOWN. {LEFT}") == LOG_NOTICE
    assert a.level_of(f"Server be/srv is DOWN. {LEFT}") == LOG_ALERT  # no longer stopping


def test_classify_needs_a_server_message() -> None:
    assert classify("Server be/srv is DOWNLOADING") == ("maint", "srv")
    assert classify("Proxy be started.") == ("", "")


def test_submit_filters_by_level() -> None:
    loop = asyncio.new_event_loop()
    try:
        a = _alerts(LOG_ALERT)
        logged: list[str] = []
        a.submit(f"Server be/srv is UP. {ONLINE}", loop, logged.append)
        assert not a.mailers[0].queue and a.mailers[0].task is None
        a.submit(f"Server be/srv is DOWN. {LEFT}", loop, logged.append)
        assert len(a.mailers[0].queue) == 1 and a.mailers[0].task is not None
        a.cancel()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()


def test_mail_body_drops_the_log_period() -> None:
    assert mail_body("Server a/b is UP. 1 active.") == "Server a/b is UP. 1 active"
    assert mail_body("no period") == "no period"


def test_reply_reader_multiline_and_split() -> None:
    r = ReplyReader()
    assert r.feed(b"220 hi\r") == []
    assert r.feed(b"\n250-first\r\n250-sec") == [220]
    assert r.feed(b"ond\r\n250 last\r\n354 go\r\n") == [250, 354]
    assert r.feed(b"221\r\n") == [221]


@pytest.mark.parametrize("data", [b"hello\r\n", b"25 x\r\n", b"250x\r\n", b"x" * 20000])
def test_reply_reader_refuses_garbage(data: bytes) -> None:
    with pytest.raises(SmtpError):
        ReplyReader().feed(data)


def test_dialogue_bytes() -> None:
    steps = dialogue("me.example", "a@x", "b@y", "Server be/s is DOWN. 0 left.", now=0)
    sent = [s for s, _ in steps]
    assert [code for _, code in steps] == [220, 250, 250, 250, 354, 250, 221]
    assert sent[:5] == [
        b"",
        b"HELO me.example\r\n",
        b"MAIL FROM:<a@x>\r\n",
        b"RCPT TO:<b@y>\r\n",
        b"DATA\r\n",
    ]
    assert sent[6] == b"QUIT\r\n"
    lines = sent[5].decode().split("\r\n")
    assert lines[:2] == ["From: a@x", "To: b@y"]
    assert lines[2] == f"Date: {date_header(0)}"
    assert lines[3:] == [
        "Subject: [HAProxy Alert] Server be/s is DOWN. 0 left",
        "",
        "Server be/s is DOWN. 0 left",
        "",
        ".",
        "",
    ]


def test_date_header_format() -> None:
    assert re.fullmatch(
        r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
        r"\d{4} \d\d:\d\d:\d\d [+-]\d{4} \(\w+\)",
        date_header(),
    )


# ---------------------------------------------------------------- configuration

GOOD = """\
mailers mx
    mailer m1 127.0.0.1:2525
    mailer m2 [::1]:25
    timeout mail 20s
defaults
    email-alert mailers mx
    email-alert from a@x
    email-alert level notice
    timeout client 1s
    timeout server 1s
    timeout connect 1s
backend be
    email-alert to b@y
    email-alert myhostname me
    server s1 127.0.0.1:1
"""


def test_parse_good_config() -> None:
    cfg = parse_string(GOOD)
    sec = cfg.mailers["mx"]
    assert [(n, h, p) for n, h, p, _w in sec.mailers] == [
        ("m1", "127.0.0.1", 2525),
        ("m2", "::1", 25),
    ]
    assert sec.timeout_mail == 20000
    ea = cfg.proxies[0].email_alert
    assert ea == {
        "set": True,
        "mailers": "mx",
        "from": "a@x",
        "to": "b@y",
        "level": 5,
        "myhostname": "me",
    }
    assert not [w for w in cfg.warnings if "mail" in w]


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as ei:
        parse_string(text, "t.cfg")
    return ei.value.lines


def test_mailer_line_errors() -> None:
    errs = _errors(
        "mailers mx\n"
        "    mailer m1\n"
        "    mailer m2 127.0.0.1\n"
        "    mailer m3 127.0.0.1:0\n"
        "    mailer m4 unix@/tmp/s\n"
        "    mailer m/5 127.0.0.1:25\n"
        "    timeout mail 5x\n"
        "    timeout client 5s\n"
        "    timeout mail\n"
        "mailers mx\n"
        "mailers\n"
    )
    assert errs == [
        "parsing [t.cfg:2] : 'mailer' expects <name> and <addr>[:<port>] as arguments.",
        "parsing [t.cfg:3] : 'mailer m2' : missing port specification in '127.0.0.1'",
        "parsing [t.cfg:4] : 'mailer m3' : invalid port '0'",
        "parsing [t.cfg:5] : 'mailer m4' : TCP not supported for this address family.",
        "parsing [t.cfg:6] : character '/' is not permitted in server name 'm/5'.",
        "parsing [t.cfg:7]: unexpected character 'x' in argument to <timeout mail>.",
        "parsing [t.cfg:8] : 'timeout' expects 'mail' and <time> as arguments got 'client'.",
        "parsing [t.cfg:9] : 'timeout mail' expects <time> as argument.",
        "Parsing [t.cfg:10]: mailers section 'mx' has the same name as another mailers "
        "section declared at t.cfg:1.",
        "parsing [t.cfg:11] : missing name for mailers section.",
    ]


def test_email_alert_keyword_errors() -> None:
    errs = _errors(
        "backend be\n    email-alert\n    email-alert subject x\n    email-alert level loud\n"
    )
    assert errs == [
        "parsing [t.cfg:2] : missing argument after 'email-alert'.",
        "parsing [t.cfg:3] : email-alert: unknown argument 'subject'.",
        "parsing [t.cfg:4] : unknown log level 'level' after 'loud'",
    ]


def test_incomplete_email_alert_is_ignored_and_section_removed() -> None:
    cfg = parse_string(
        "mailers mx\n    mailer m1 127.0.0.1:25\n"
        "listen l\n    bind 127.0.0.1:1\n    email-alert mailers mx\n    email-alert to b@y\n"
    )
    assert cfg.proxies[0].email_alert == {}
    assert cfg.warnings[0].startswith("'email-alert' will be ignored for proxy 'l' (")
    assert "Removing incomplete section 'mailers mx'." in cfg.warnings
    assert "mx" not in cfg.mailers


def test_unknown_mailers_section() -> None:
    errs = _errors(
        "backend be\n    email-alert mailers nope\n    email-alert from a\n    email-alert to b\n"
    )
    assert errs == ["Proxy 'be': unable to find mailers 'nope'."]
