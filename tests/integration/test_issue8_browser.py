"""Issue 8: the stats page in a real browser (headless Chromium driven through
chromedriver's W3C WebDriver HTTP API, spoken with urllib: no extra dependency).

Shows the page renders (one table per proxy, server rows), that `stats refresh 1s`
reloads it by itself with a changed counter, and that the admin form (tick a server,
choose drain or maint, Apply) changes the server's state as the stats socket shows.
The CSV export is compared with `show stat` too. A screenshot is saved in the test's
tmp_path (never in the repository); the test skips when chromium or chromedriver is
missing (Debian: `apt-get install chromium chromium-driver`).

Everything listens on 127.0.0.1; chromedriver, and the browser it starts, are stopped
by pid in the fixture's finalizer.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from itest import GLOBAL, HOST, free_port, get, wait_port, wait_until

pytestmark = pytest.mark.timeout(120)

CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1024",
]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C web element key
DEFAULTS = """\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
"""


def _find_chrome() -> tuple[str, str] | None:
    driver = shutil.which("chromedriver") or (
        "/usr/lib/chromium/chromedriver"
        if os.access("/usr/lib/chromium/chromedriver", os.X_OK)
        else None
    )
    browser = next(
        (
            p
            for p in (
                "/usr/lib/chromium/chromium",  # Debian's real binary (the wrapper is a script)
                shutil.which("chromium"),
                shutil.which("chromium-browser"),
                shutil.which("google-chrome"),
            )
            if p and os.access(p, os.X_OK)
        ),
        None,
    )
    return (driver, browser) if driver and browser else None


def _children(pid: int) -> list[int]:
    """Every descendant pid of `pid` (read from /proc), deepest last."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class WebDriverError(AssertionError):
    pass


class Browser:
    """The few WebDriver commands the test needs, over HTTP to chromedriver."""

    def __init__(self, port: int, browser: str, profile: Path) -> None:
        self.base = f"http://{HOST}:{port}"
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": {
                        "binary": browser,
                        "args": [*CHROME_ARGS, f"--user-data-dir={profile}"],
                    },
                }
            }
        }
        self.session = self._call("POST", "/session", caps, timeout=60)["sessionId"]

    def _call(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = json.dumps({} if body is None and method == "POST" else body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data if method == "POST" else None,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as exc:
            raise WebDriverError(f"{method} {path}: {exc.read()[:500]!r}") from None

    def cmd(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def go(self, url: str) -> None:
        self.cmd("POST", "/url", {"url": url})

    def url(self) -> str:
        return self.cmd("GET", "/url")

    def title(self) -> str:
        return self.cmd("GET", "/title")

    def js(self, script: str, *args: Any) -> Any:
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css: str) -> str:
        found = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        assert isinstance(found, dict) and ELEMENT in found, (css, found)
        return found[ELEMENT]

    def find_all(self, css: str) -> list[str]:
        found = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [e[ELEMENT] for e in found]

    def click(self, element: str) -> None:
        self.cmd("POST", f"/element/{element}/click")

    def text(self, element: str) -> str:
        return self.cmd("GET", f"/element/{element}/text")

    def type(self, element: str, text: str) -> None:
        self.cmd("POST", f"/element/{element}/value", {"text": text})

    def selected(self, element: str) -> bool:
        return self.cmd("GET", f"/element/{element}/selected")

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.cmd("GET", "/screenshot")))

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self._call("DELETE", f"/session/{self.session}", timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    found = _find_chrome()
    if found is None:
        pytest.skip(
            "headless browser test needs chromium and chromedriver "
            "(Debian: apt-get install -y chromium chromium-driver)"
        )
    driver, chrome = found
    port = free_port()
    log = open(tmp_path / "chromedriver.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [driver, f"--port={port}", "--allowed-ips=127.0.0.1", "--log-level=WARNING"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    b: Browser | None = None
    try:
        assert wait_port(port, 10), "chromedriver did not listen"
        profile = tmp_path / "chrome-profile"
        profile.mkdir()
        b = Browser(port, chrome, profile)
        b.cmd("POST", "/timeouts", {"pageLoad": 20000, "script": 10000, "implicit": 0})
        yield b
    finally:
        leftovers = _children(proc.pid)
        if b is not None:
            b.quit()
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
        # the browser processes chromedriver started, should any outlive it
        for pid in reversed(leftovers):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def cli(sock: Path, command: str) -> str:
    socat = shutil.which("socat")
    assert socat
    return subprocess.run(
        [socat, "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(command + "\n").encode(),
        capture_output=True,
        timeout=10,
    ).stdout.decode()


def _server_status(sock: Path, backend: str, server: str) -> str:
    text = cli(sock, "show stat")
    header = text.splitlines()[0][2:].split(",")
    for line in text.splitlines()[1:]:
        cols = line.split(",")
        if cols[:2] == [backend, server]:
            return cols[header.index("status")]
    raise KeyError((backend, server))


@pytest.fixture
def stats(lb, backend, tmp_path):  # type: ignore[no-untyped-def]
    a, b = backend("A"), backend("B")
    stats_port, fe_port = free_port(), free_port()
    sock = tmp_path / "admin.sock"
    cfg = (
        f"{GLOBAL}    stats socket {sock} level admin\n\n{DEFAULTS}\n"
        f"listen stats\n    bind {HOST}:{stats_port}\n    stats enable\n"
        "    stats uri /stats\n    stats refresh 1s\n    stats auth admin:secret\n"
        "    stats admin if TRUE\n    stats show-legends\n\n"
        f"frontend fe\n    bind {HOST}:{fe_port}\n    default_backend be\n\n"
        f"backend be\n    server a {HOST}:{a.port} check inter 1s\n"
        f"    server b {HOST}:{b.port} weight 5 check inter 1s\n"
    )
    lb(cfg)
    assert wait_until(sock.exists)
    # both servers past their first check (`UP 1/3` until then)
    assert wait_until(lambda: all(_server_status(sock, "be", n) == "UP" for n in "ab"), 10)
    return stats_port, fe_port, sock


def _cell(b: Browser, proxy: str, row: str, column: str) -> str:
    """The text of one cell of a proxy's table, found by row name and column title."""
    return b.js(
        """
        const [proxy, row, column] = arguments;
        const table = document.getElementById('px-' + proxy);
        const titles = [...table.querySelectorAll('tr.titre th')].map(t => t.textContent);
        const tr = table.querySelector(`tr[data-name="${row}"]`);
        return tr.children[titles.indexOf(column)].textContent;
        """,
        proxy,
        row,
        column,
    )


def _admin(b: Browser, server: str, action: str, weight: str = "") -> None:
    """Tick `server` in backend be's table, choose `action`, press Apply."""
    box = b.find(f'#px-be input[type="checkbox"][name="s"][value="{server}"]')
    b.click(box)
    assert b.selected(box)
    b.click(b.find("#px-be select[name='action']"))
    option = b.find(f"#px-be select[name='action'] option[value='{action}']")
    b.click(option)
    assert b.selected(option)
    if weight:
        b.type(b.find("#px-be input[name='w']"), weight)
    b.js("window.__before_submit = true")
    b.click(b.find("#px-be input[type='submit']"))

    def answered() -> bool:  # the redirected page has replaced this one
        with contextlib.suppress(WebDriverError):
            return b.js(
                "return window.__before_submit === undefined && document.readyState === 'complete'"
            )
        return False

    assert wait_until(answered, 10, 0.05), b.url()
    assert ";st=" in b.url()


def test_stats_page_in_browser(browser: Browser, stats, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stats_port, fe_port, sock = stats
    b = browser
    base = f"http://admin:secret@{HOST}:{stats_port}/stats"

    # -- the page renders: one table per proxy, the servers' rows coloured by state
    b.go(base)
    assert b.title().startswith("Statistics Report for HAProxy")
    tables = b.js("return [...document.querySelectorAll('table.tbl')].map(t => t.id)")
    assert tables == ["px-stats", "px-fe", "px-be"]
    rows = b.js(
        "return [...document.querySelectorAll('#px-be tr[data-name]')]"
        ".map(r => [r.dataset.name, r.className])"
    )
    assert rows == [["a", "active_up"], ["b", "active_up"], ["Backend", "backend"]]
    assert _cell(b, "be", "b", "Wght") == "5"
    colour = b.js(
        "return getComputedStyle(document.querySelector('#px-be tr[data-name=\"a\"]'))"
        ".backgroundColor"
    )
    assert colour == "rgb(192, 255, 192)"  # HAProxy's "active UP" green
    b.screenshot(tmp_path / "stats_page.png")

    # -- `stats refresh 1s`: the page reloads by itself and shows the new counter
    before = int(_cell(b, "fe", "Frontend", "Sessions total"))  # the fixture's port probe
    served = int(_cell(b, "be", "Backend", "Sessions total"))
    b.js("window.__before_refresh = true")
    for _ in range(3):
        assert get(fe_port).status == 200

    def refreshed() -> bool:
        with contextlib.suppress(WebDriverError):
            return b.js("return window.__before_refresh === undefined") and _cell(
                b, "fe", "Frontend", "Sessions total"
            ) == str(before + 3)
        return False

    assert wait_until(refreshed, 10, 0.2), "the page did not reload with the new counter"
    assert _cell(b, "be", "Backend", "Sessions total") == str(served + 3)

    # -- the admin form (on the page without auto refresh, so the ticks stay put)
    b.go(base + ";norefresh")
    _admin(b, "a", "drain")
    assert b.url().endswith("/stats;st=DONE;norefresh")
    assert "Action processed successfully." in b.text(b.find("#st"))
    assert _server_status(sock, "be", "a") == "DRAIN"
    assert "be 1 a " in cli(sock, "show servers state be")
    classes = b.js(
        "return Object.fromEntries([...document.querySelectorAll('#px-be tr[data-name]')]"
        ".map(r => [r.dataset.name, r.className]))"
    )
    assert classes["a"] == "active_draining" and classes["b"] == "active_up"
    assert _cell(b, "be", "a", "Status") == "DRAIN"

    _admin(b, "b", "maint")
    assert _server_status(sock, "be", "b") == "MAINT"
    assert _cell(b, "be", "b", "Status") == "MAINT"
    _admin(b, "a", "weight", "3")  # lb's extra action (README: Differences)
    assert cli(sock, "get weight be/a") == "3 (initial 1)\n\n"
    assert _cell(b, "be", "a", "Wght") == "3" and _cell(b, "be", "a", "Status") == "DRAIN"
    b.screenshot(tmp_path / "stats_page_admin.png")
    assert (tmp_path / "stats_page_admin.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # -- the CSV export, fetched by the browser, equals `show stat` (bar the stats proxy,
    # which counts the export request itself while it runs). Seconds-since-change columns
    # and the 1s health checks may tick between the two reads: take the first of a few
    # back-to-back pairs that were read within the same state.
    def others(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if ln and not ln.startswith("stats,")]

    pairs = []
    for _ in range(5):
        b.go(base + ";csv")
        pairs.append(
            (others(b.js("return document.body.innerText")), others(cli(sock, "show stat")))
        )
        if pairs[-1][0] == pairs[-1][1]:
            break
    csv, ref = pairs[-1]
    assert csv == ref
    assert csv[0].startswith("# pxname,svname,") and len(csv) == 5  # header, fe, a, b, be
