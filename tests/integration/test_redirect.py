"""`redirect` (the target taken as written, after every `http-request` rule) and
`http-request redirect` (a log-format target): answers compared byte for byte with
HAProxy 2.6 serving the same file."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from itest import HOST, free_port, haproxy_serving, run_haproxy_check, run_lb

pytestmark = pytest.mark.timeout(30)

DEFAULTS = """\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
"""


def cfg_text(port: int) -> str:
    return f"""{DEFAULTS}
frontend f
    bind {HOST}:{port}
    http-request set-header X-A 1
    redirect prefix /pre%41 code 301 set-cookie SEEN=1 if {{ path_beg /p }}
    redirect location /loc%20x clear-cookie OLD= if {{ path_beg /l }}
    redirect scheme https drop-query append-slash if {{ path_beg /s }}
    redirect location /first if {{ path_beg /o }}
    http-request redirect location /second if {{ path_beg /o }}
    http-request redirect location /x code 308 set-cookie A if {{ path_beg /h308 }}
    http-request redirect location /y code 303 clear-cookie B if {{ path_beg /h303 }}
    http-request redirect prefix /%[str(dyn)] if {{ path_beg /d }}
    http-request redirect location %[req.hdr(x-to)] ignore-empty if {{ path_beg /e }}
    redirect location /fallback if {{ path_beg /e }}
"""


PATHS = ["/px?q=1", "/l", "/s/a?b=1", "/o", "/s/b/", "/h308", "/h303", "/d/1", "/e"]
WANT = [
    "HTTP/1.1 301 Moved Permanently|content-length: 0|location: /pre%41/px?q=1|"
    "set-cookie: SEEN=1; path=/;||",
    "HTTP/1.1 302 Found|content-length: 0|location: /loc%20x|cache-control: no-cache|"
    "set-cookie: OLD=; path=/; Max-Age=0;||",
    "HTTP/1.1 302 Found|content-length: 0|location: https://h.example/s/a/|"
    "cache-control: no-cache||",
    # every http-request rule runs before the first redirect line
    "HTTP/1.1 302 Found|content-length: 0|location: /second|cache-control: no-cache||",
    "HTTP/1.1 302 Found|content-length: 0|location: https://h.example/s/b/|"
    "cache-control: no-cache||",
    "HTTP/1.1 308 Permanent Redirect|content-length: 0|location: /x|set-cookie: A; path=/;||",
    "HTTP/1.1 303 See Other|content-length: 0|location: /y|cache-control: no-cache|"
    "set-cookie: B; path=/; Max-Age=0;||",
    "HTTP/1.1 302 Found|content-length: 0|location: /dyn/d/1|cache-control: no-cache||",
    # an empty log-format target with ignore-empty: the rule is skipped
    "HTTP/1.1 302 Found|content-length: 0|location: /fallback|cache-control: no-cache||",
]


def heads(port: int) -> list[str]:
    """Each path on one keep-alive connection: the redirects keep it open."""
    out = []
    with socket.create_connection((HOST, port), timeout=3) as s:
        for path in PATHS:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: h.example\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                assert chunk, (path, data)
                data += chunk
            out.append(data.decode().replace("\r\n", "|"))
    return out


def test_redirects_as_haproxy(lb, tmp_path: Path) -> None:  # noqa: ANN001
    port = free_port()
    inst = lb(cfg_text(port))
    assert heads(port) == WANT
    assert (
        "a 'http-request' rule placed after a 'redirect' rule will still be processed before."
        in inst.stderr
    )
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        return
    ref_port = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(cfg_text(ref_port))
    with haproxy_serving(cfg, [ref_port]):
        assert heads(ref_port) == WANT


BAD = [
    ("redirect", "redirection type expected ('prefix', 'location', or 'scheme')."),
    (
        "redirect location /x bogus",
        "expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', "
        "'drop-query', 'ignore-empty' or 'append-slash' (was 'bogus').",
    ),
    ("redirect location", "missing argument for 'location'."),
    (
        "redirect location /x code 404",
        "'code': unsupported HTTP code '404' (must be one of 301, 302, 303, 307 or 308).",
    ),
    ("redirect code 301 location /x set-cookie", "missing argument for 'set-cookie'."),
]


@pytest.mark.parametrize(("line", "msg"), BAD)
@pytest.mark.parametrize("form", ["redirect", "http-request redirect"])
def test_redirect_errors_as_haproxy(tmp_path: Path, line: str, msg: str, form: str) -> None:
    f = tmp_path / "r.cfg"
    line = line.replace("redirect", form, 1)
    f.write_text(f"{DEFAULTS}frontend f\n    bind {HOST}:1\n    {line}\n")
    rule = "redirect rule" if form == "redirect" else "'http-request redirect' rule"
    want = f"parsing [{f}:8] : error detected in frontend 'f' while parsing {rule} : {msg}"
    out = run_lb("-c", "-f", str(f))
    assert out.returncode == 1 and want in out.stderr, out.stderr
    if (ref := run_haproxy_check(f)) is not None:
        assert want in ref.stderr, ref.stderr


def test_redirect_not_in_defaults(tmp_path: Path) -> None:
    f = tmp_path / "r.cfg"
    f.write_text(f"{DEFAULTS}    redirect location /x\n")
    out = run_lb("-c", "-f", str(f))
    assert out.returncode == 1
    assert f"parsing [{f}:6] : 'redirect' not allowed in 'defaults' section." in out.stderr
