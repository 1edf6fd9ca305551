"""`http-errors` sections and `errorfiles NAME [CODE…]`: the pages are taken from
the section, `errorfile` and `errorfiles` lines apply in the order written (the
later wins); answers and alerts compared with HAProxy 2.6."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from itest import HOST, free_port, haproxy_serving, run_haproxy_check, run_lb

pytestmark = pytest.mark.timeout(30)


def page(tmp: Path, name: str, body: str) -> Path:
    f = tmp / f"{name}.http"
    f.write_bytes(
        b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
    )
    return f


def cfg_text(tmp: Path, port: int, lines: str) -> str:
    a = page(tmp, "a", "from the section\n")
    f = page(tmp, "f", "forbidden here\n")
    return f"""http-errors site
    errorfile 503 {a}
    errorfile 403 {f}
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen px
    bind {HOST}:{port}
{lines}    http-request deny if {{ path_beg /deny }}
"""


def answer(port: int, path: str = "/") -> bytes:
    with socket.create_connection((HOST, port), timeout=3) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data


ORDERS = [
    # (lines in the listen section, body of the 503)
    ("    errorfiles site\n", b"from the section\n"),
    ("    errorfile 503 {b}\n    errorfiles site\n", b"from the section\n"),
    ("    errorfiles site\n    errorfile 503 {b}\n", b"explicit\n"),
    ("    errorfiles site 403\n", b"No server is available"),  # only the listed codes
]


@pytest.mark.parametrize(("lines", "want"), ORDERS)
def test_errorfiles_in_order(lb, tmp_path: Path, lines: str, want: bytes) -> None:  # noqa: ANN001
    b = page(tmp_path, "b", "explicit\n")
    port = free_port()
    text = cfg_text(tmp_path, port, lines.format(b=b))
    lb(text)
    got = answer(port)
    assert want in got, got
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        return
    ref_port = free_port()
    cfg = tmp_path / "h.cfg"
    cfg.write_text(text.replace(f":{port}\n", f":{ref_port}\n"))
    with haproxy_serving(cfg, [ref_port]):
        assert answer(ref_port) == got
        if "403" in lines:
            assert answer(ref_port, "/deny") == answer(port, "/deny")


BAD = [
    ("http-errors\n", "parsing [{f}:1] : missing name for http-errors section."),
    (
        "http-errors a\nhttp-errors a\n",
        "parsing [{f}:2]: http-errors section 'a' already exists (declared at {f}:1).",
    ),
    (
        "http-errors a\n    errorfile 999 /x\n",
        "parsing [{f}:2] : errorfile : status code '999' not handled.",
    ),
    (
        "http-errors a\n    errorfile 503 /nonexistent\n",
        "parsing [{f}:2] : errorfile : error opening file '/nonexistent'.",
    ),
    (
        "http-errors a\n    errorfile\n",
        "parsing [{f}:2] : errorfile: expects <status_code> and <file> as arguments.",
    ),
    (
        "defaults\n    mode http\nbackend b\n    errorfiles\n",
        "parsing [{f}:4] : errorfiles : expects <name> as argument.",
    ),
    (
        "defaults\n    mode http\nbackend b\n    errorfiles nosuch\n",
        "proxy 'b': unknown http-errors section 'nosuch' (at {f}:4).",
    ),
    (
        "http-errors a\ndefaults\n    mode http\nbackend b\n    errorfiles a 999\n",
        "parsing [{f}:5] : errorfiles : status code '999' not handled.",
    ),
    (
        "defaults\n    mode http\nbackend b\n    errorfile 999 /x\n",
        "parsing [{f}:4] : errorfile : status code '999' not handled.",
    ),
    (
        "defaults\n    mode http\nbackend b\n    errorfile 503 /nonexistent\n",
        "parsing [{f}:4] : errorfile : error opening file '/nonexistent'.",
    ),
]


@pytest.mark.parametrize(("text", "alert"), BAD)
def test_alerts_as_haproxy(tmp_path: Path, text: str, alert: str) -> None:
    f = tmp_path / "e.cfg"
    f.write_text(text)
    want = alert.format(f=f)
    out = run_lb("-c", "-f", str(f))
    assert out.returncode == 1 and want in out.stderr, out.stderr
    if (ref := run_haproxy_check(f)) is not None:
        assert want in ref.stderr, ref.stderr
