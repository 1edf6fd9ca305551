"""TLS Runtime API replies against HAProxy 2.6.12 transcripts 110-138 and 455.

`lb` runs the reference's TLS frontend on copies of the reference files (site.pem,
its .issuer and .ocsp, tls-ticket-keys.txt) in a temporary directory; replies are
compared byte for byte after writing that directory back as `/etc/lb`. The
commands run in the reference's order, since they change the key ring and the staple.
"""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REF = Path(
    os.environ.get("LB_REFERENCE_DIR")
    or Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "haproxy-2.6"
)
TRANSCRIPTS = REF / "transcripts"
FILES = ("site.pem", "site.pem.issuer", "site.pem.ocsp", "tls-ticket-keys.txt")

pytestmark = pytest.mark.skipif(not REF.is_dir(), reason="reference transcripts not available")


def _manifest() -> dict[str, str]:
    out = {}
    for line in (TRANSCRIPTS / "MANIFEST.tsv").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            out[parts[0]] = parts[2]
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lb:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.sock = tmp / "admin.sock"
        self.port = _free_port()
        cfg = f"""global
    stats socket {self.sock} mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe_main
    bind 127.0.0.1:{self.port} ssl crt {tmp}/site.pem tls-ticket-keys {tmp}/tls-ticket-keys.txt
    default_backend be_app
backend be_app
    server app1 127.0.0.1:{_free_port()}
"""
        (tmp / "lb.cfg").write_text(cfg)
        self.sock.unlink(missing_ok=True)
        self.err = open(tmp / "lb.err", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lb", "-f", str(tmp / "lb.cfg")],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=self.err,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError((tmp / "lb.err").read_text())
            time.sleep(0.05)

    def cmd(self, line: str) -> bytes:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.sock))
            s.sendall(line.replace("/etc/lb", str(self.tmp)).encode() + b"\n")
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).replace(str(self.tmp).encode(), b"/etc/lb")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


def _copy_reference(tmp: Path) -> None:
    for name in FILES:
        shutil.copy(REF / name, tmp / name)


@pytest.fixture
def lb(tmp_path: Path) -> Iterator[Lb]:
    _copy_reference(tmp_path)
    proc = Lb(tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


def _ocsp_still_valid() -> bool:
    from cryptography.x509 import ocsp

    resp = ocsp.load_der_ocsp_response((REF / "site.pem.ocsp").read_bytes())
    nxt = resp.next_update_utc
    return nxt is None or nxt > datetime.datetime.now(datetime.UTC)


def _replay(lb: Lb, names: list[str]) -> None:
    manifest = _manifest()
    for name in names:
        expected = (TRANSCRIPTS / name).read_bytes()
        got = lb.cmd(manifest[name])
        assert got == expected, f"{name}: {manifest[name][:60]!r}"


def test_tls_keys_transcripts_110_124(lb: Lb) -> None:
    names = sorted(n for n in _manifest() if "110" <= n[:3] <= "124")
    assert len(names) == 15
    _replay(lb, names)


def test_ocsp_and_cert_transcripts_130_138(lb: Lb) -> None:
    if not _ocsp_still_valid():
        pytest.skip("the reference OCSP response has expired: HAProxy would not staple it either")
    names = sorted(n for n in _manifest() if "130" <= n[:3] <= "138")
    assert len(names) == 9
    _replay(lb, names)


def test_tls_keys_after_restart_455(lb: Lb) -> None:
    """A reload re-reads the key file: the pushed keys are gone (455 equals 114)."""
    lb.cmd("set ssl tls-key #0 " + (REF / "newkey.b64").read_text().strip())
    lb.stop()
    again = Lb(lb.tmp)
    try:
        _replay(again, ["455_show_tls_keys_after_reload.txt"])
    finally:
        again.stop()
