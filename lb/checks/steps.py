"""A check is a compiled list of steps run by one interpreter (runner.py).

``option httpchk`` and the plain TCP connect check are two built-in lists;
``tcp-check``/``http-check`` sequences, agent and protocol checks add steps
or build other lists from the same pieces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lb.checks.http1 import HttpResponse

_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "TRACE", "CONNECT"})


@dataclass(frozen=True, slots=True)
class Connect:
    """Open the connection. ``port`` overrides the server's check port.
    ``implicit`` is the connect HAProxy adds itself: its success reports no
    info text."""

    port: int | None = None
    implicit: bool = True


@dataclass(frozen=True, slots=True)
class Send:
    """Write bytes; for HTTP, ``head_request`` tells the reader not to expect
    a body."""

    data: bytes
    http: bool = False
    head_request: bool = False


@dataclass(frozen=True, slots=True)
class ExpectOutcome:
    passed: bool
    status: str
    code: int | None
    info: str = ""


@dataclass(frozen=True, slots=True)
class ExpectHttp:
    """``http-check expect [!] <match> <pattern>``; ``match`` is one of
    ``status``, ``rstatus``, ``string``, ``rstring``, or ``default`` (the
    implicit rule: 2xx and 3xx pass)."""

    match: str = "default"
    pattern: str = ""
    inverse: bool = False
    ok_status: str = "L7OK"
    error_status: str | None = None
    tout_status: str = "L7TOUT"
    codes: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    regex: re.Pattern[str] | re.Pattern[bytes] | None = field(default=None, compare=False)

    @property
    def needs_body(self) -> bool:
        return self.match in ("string", "rstring")

    def evaluate(self, resp: HttpResponse) -> ExpectOutcome:
        code = resp.code
        if self.match in ("default", "status", "rstatus"):
            if self.match == "default":
                hit = 200 <= code < 400
            elif self.match == "status":
                hit = any(lo <= code <= hi for lo, hi in self.codes)
            else:
                assert isinstance(self.regex, re.Pattern)
                hit = self.regex.search(str(code)) is not None  # type: ignore[arg-type]
            if hit != self.inverse:
                return ExpectOutcome(True, self.ok_status, code)
            return ExpectOutcome(False, self.error_status or "L7STS", code, resp.reason)
        if self.match == "string":
            hit = self.pattern.encode("latin-1", "replace") in resp.body
        else:
            assert self.regex is not None
            hit = self.regex.search(resp.body) is not None  # type: ignore[arg-type]
        if hit != self.inverse:
            return ExpectOutcome(True, self.ok_status, code)
        info = (
            "HTTP check matched unwanted content"
            if self.inverse
            else "HTTP content check did not match"
        )
        return ExpectOutcome(False, self.error_status or "L7RSP", code, info)


Step = Connect | Send | ExpectHttp


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A compiled check: ``kind`` is ``tcp`` or ``http`` (later: agent, redis...)."""

    kind: str
    steps: tuple[Step, ...]


class ExpectSyntaxError(ValueError):
    pass


def parse_status_codes(text: str) -> tuple[tuple[int, int], ...]:
    """``200,201,300-310`` -> ((200, 200), (201, 201), (300, 310))."""
    out: list[tuple[int, int]] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise ExpectSyntaxError(f"invalid range of status codes '{text}'") from None
        out.append((a, b))
    if not out:
        raise ExpectSyntaxError(f"invalid range of status codes '{text}'")
    return tuple(out)


def make_expect(match: str, pattern: str = "", inverse: bool = False) -> ExpectHttp:
    """Compile one HTTP expect rule."""
    if match == "default":
        return ExpectHttp()
    if match == "status":
        return ExpectHttp(match, pattern, inverse, codes=parse_status_codes(pattern))
    if match == "rstatus":
        return ExpectHttp(match, pattern, inverse, regex=re.compile(pattern))
    if match == "string":
        return ExpectHttp(match, pattern, inverse)
    if match == "rstring":
        return ExpectHttp(
            match, pattern, inverse, regex=re.compile(pattern.encode("latin-1", "replace"))
        )
    raise ExpectSyntaxError(f"unsupported expect match '{match}'")


_EXPECT_STATUSES = {
    "ok-status": ("L7OK", "L7OKC", "L6OK", "L4OK"),
    "error-status": ("L7OKC", "L7RSP", "L7STS", "L6RSP", "L4CON"),
    "tout-status": ("L7TOUT", "L6TOUT", "L4TOUT"),
}


def parse_http_expect(args: Sequence[str]) -> ExpectHttp:
    """Parse the words after ``http-check expect``.

    Supports ``[ok-status S] [error-status S] [tout-status S] [!] <match>
    <pattern>`` for the status/rstatus/string/rstring matches.
    """
    inverse = False
    overrides: dict[str, str] = {}
    i = 0
    while i < len(args):
        word = args[i]
        if word in _EXPECT_STATUSES:
            if i + 1 >= len(args) or args[i + 1] not in _EXPECT_STATUSES[word]:
                raise ExpectSyntaxError(f"'{word}' expects one of {_EXPECT_STATUSES[word]}")
            overrides[word] = args[i + 1]
            i += 2
            continue
        if word == "!":
            inverse = True
            i += 1
            continue
        if word.startswith("!"):
            inverse = True
            word = word[1:]
        if word in ("status", "rstatus", "string", "rstring"):
            if i + 1 >= len(args):
                raise ExpectSyntaxError(f"'{word}' expects <pattern> as argument")
            rule = make_expect(word, args[i + 1], inverse)
            return ExpectHttp(
                rule.match,
                rule.pattern,
                rule.inverse,
                ok_status=overrides.get("ok-status", "L7OK"),
                error_status=overrides.get("error-status"),
                tout_status=overrides.get("tout-status", "L7TOUT"),
                codes=rule.codes,
                regex=rule.regex,
            )
        raise ExpectSyntaxError(f"unsupported expect argument '{word}'")
    raise ExpectSyntaxError("expects a match keyword and a pattern")


def parse_option_httpchk(args: Sequence[str]) -> tuple[str, str, str]:
    """Words after ``option httpchk`` -> (method, uri, version).

    None: OPTIONS / HTTP/1.0; one word: the URI; two: method and URI;
    three: method, URI and version.
    """
    method, uri, version = "OPTIONS", "/", "HTTP/1.0"
    if len(args) == 1:
        uri = args[0]
    elif len(args) == 2:
        method, uri = args
    elif len(args) >= 3:
        method, uri, version = args[0], args[1], args[2]
    return method, uri, version


@dataclass(slots=True)
class HttpSendArgs:
    method: str | None = None
    uri: str | None = None
    version: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None


def parse_http_check_send(args: Sequence[str]) -> HttpSendArgs:
    """Words after ``http-check send``: ``meth M uri U ver V hdr N V body S``."""
    out = HttpSendArgs()
    i = 0
    while i < len(args):
        word = args[i]
        if word == "hdr":
            if i + 2 >= len(args):
                raise ExpectSyntaxError("'hdr' expects <name> and <value> as arguments")
            out.headers.append((args[i + 1], args[i + 2]))
            i += 3
            continue
        if word not in ("meth", "uri", "ver", "body") or i + 1 >= len(args):
            raise ExpectSyntaxError(f"unsupported 'http-check send' argument '{word}'")
        value = args[i + 1]
        if word == "meth":
            out.method = value
        elif word == "uri":
            out.uri = value
        elif word == "ver":
            out.version = value
        else:
            out.body = value
        i += 2
    return out


def build_http_request(
    method: str,
    uri: str,
    version: str,
    headers: Iterable[tuple[str, str]] = (),
    body: str = "",
) -> bytes:
    """Serialize the check request as HAProxy 2.6 puts it on the wire: header
    names lower-cased, ``content-length`` when there is a body (or for methods
    that carry one), ``connection: close`` for HTTP/1.1.

    Headers or a body hidden after ``\\r\\n`` in the version (the deprecated
    ``option httpchk`` form) are honoured.
    """
    hdrs = list(headers)
    if "\r\n" in version or "\n" in version:
        version, _, hidden = version.replace("\r\n", "\n").partition("\n")
        head, sep, hidden_body = hidden.partition("\n\n")
        for line in head.split("\n"):
            name, colon, value = line.partition(":")
            if colon and name.strip():
                hdrs.append((name.strip(), value.strip()))
        if sep and hidden_body and not body:
            body = hidden_body
    method = method.upper()
    lines = [f"{method} {uri} {version}"]
    names = set()
    for name, value in hdrs:
        lname = name.lower()
        if lname == "content-length":
            continue
        names.add(lname)
        lines.append(f"{lname}: {value}")
    raw_body = body.encode("latin-1", "replace")
    if raw_body or method not in _BODYLESS_METHODS:
        lines.append(f"content-length: {len(raw_body)}")
    if version.upper() == "HTTP/1.1" and "connection" not in names:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + raw_body


def build_tcp_check() -> CheckSpec:
    """The plain TCP connect check."""
    return CheckSpec("tcp", (Connect(),))


def build_http_check(
    method: str | None = None,
    uri: str | None = None,
    version: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: str | None = None,
    expects: Iterable[ExpectHttp] = (),
) -> CheckSpec:
    """``option httpchk`` (+ ``http-check send`` / ``http-check expect``).

    With no expect rule, the implicit one (2xx/3xx pass) is used.
    """
    method = method or "OPTIONS"
    request = build_http_request(method, uri or "/", version or "HTTP/1.0", headers, body or "")
    rules = tuple(expects) or (ExpectHttp(),)
    send = Send(request, http=True, head_request=method.upper() == "HEAD")
    return CheckSpec("http", (Connect(), send, *rules))
