"""``tcp-check`` rule sequences and the protocol checks built from them.

A sequence is a tuple of steps run by ``run_sequence``: ``TConnect``,
``TSend`` and ``TExpect``. ``option redis-check``, ``smtpchk``,
``pgsql-check``, ``mysql-check``, ``ldap-check`` and ``ssl-hello-chk`` are
built-in sequences (lb/checks/protocols.py), as in HAProxy 2.6, where they
are tcp-check rulesets too. Results carry HAProxy's words: a user sequence
that passes reports ``Layer7 check passed, code: 0, info: "(tcp-check)"``,
a failed expect ``TCPCHK did not match content 'X' at step N``, a timeout
``" at step N of tcp-check (expect string 'X')"``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lb.checks.params import CheckParams
from lb.checks.result import CheckResult
from lb.checks.runner import _CheckProtocol, _connect, _Fail, _strerror, tls_of

Verdict = tuple[str, int | None, str]  # status, code, info
# a custom expect returns None ("need more data"), or a verdict
CustomMatch = Callable[[bytes, bool], "Verdict | None"]


@dataclass(frozen=True, slots=True)
class TConnect:
    port: int | None = None
    send_proxy: bool = False
    implicit: bool = False
    comment: str = ""


@dataclass(frozen=True, slots=True)
class TSend:
    data: bytes = b""
    comment: str = ""
    make: Callable[[Any], bytes] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class TExpect:
    kind: str  # string | rstring | binary | rbinary | custom
    pattern: str = ""
    inverse: bool = False
    min_recv: int = -1
    ok_status: str = "L7OK"
    error_status: str = "L7RSP"
    tout_status: str = "L7TOUT"
    comment: str = ""
    on_success: str | None = None
    on_error: Callable[[bytes], str] | None = field(default=None, compare=False)
    custom: CustomMatch | None = field(default=None, compare=False)
    needle: bytes = field(default=b"", compare=False)
    regex: re.Pattern[bytes] | None = field(default=None, compare=False)

    def describe(self) -> str:
        if self.kind == "custom":
            return "expect custom function"
        return f"expect {'! ' if self.inverse else ''}{self.kind} '{self.pattern}'"

    def match(self, buf: bytes) -> bool:
        if self.kind in ("string", "binary"):
            return self.needle in buf
        assert self.regex is not None
        return self.regex.search(buf) is not None


@dataclass(frozen=True, slots=True)
class TNoop:
    """``tcp-check comment`` and ``set-var``/``unset-var``: rules that do
    nothing here but take a step number, as in HAProxy."""

    comment: str = ""


TStep = TConnect | TSend | TExpect | TNoop


@dataclass(frozen=True, slots=True)
class Sequence_:
    """A compiled sequence; ``proto`` marks built-in protocol rulesets, whose
    messages carry no step information."""

    steps: tuple[TStep, ...]
    proto: bool = False
    kind: str = "tcp-check"


class TcpCheckSyntaxError(ValueError):
    pass


def _unescape(text: str) -> bytes:
    """``tcp-check send`` strings: the config lexer already decoded escapes
    in quoted words; ``\\r``/``\\n`` left as text are decoded here."""
    return text.encode("latin-1", "replace").decode("unicode_escape").encode("latin-1", "replace")


def make_expect(kind: str, pattern: str, **kw: Any) -> TExpect:
    if kind == "string":
        return TExpect(kind, pattern, needle=_unescape(pattern), **kw)
    if kind == "binary":
        try:
            needle = bytes.fromhex(pattern)
        except ValueError:
            raise TcpCheckSyntaxError(f"invalid binary pattern '{pattern}'") from None
        return TExpect(kind, pattern, needle=needle, **kw)
    if kind == "rstring":
        return TExpect(kind, pattern, regex=re.compile(pattern.encode("latin-1")), **kw)
    if kind == "rbinary":
        return TExpect(kind, pattern, regex=re.compile(bytes.fromhex(pattern)), **kw)
    raise TcpCheckSyntaxError(
        "'tcp-check expect' expects 'string', 'rstring', 'binary', 'rbinary' or 'custom'"
    )


def parse_tcp_check_rules(rules: Sequence[Sequence[str]]) -> Sequence_:
    """The words of each ``tcp-check`` line (without the keyword)."""
    steps: list[TStep] = []
    pending_comment = ""
    for words in rules:
        if not words:
            continue
        kw, args = words[0], list(words[1:])
        if kw == "comment":
            pending_comment = args[0] if args else ""
            steps.append(TNoop(pending_comment))
            continue
        if kw.startswith(("set-var", "unset-var")):
            steps.append(TNoop())
            continue
        comment, args = _pop_opt(args, "comment", pending_comment)
        pending_comment = ""
        if kw == "connect":
            port = None
            send_proxy = False
            i = 0
            while i < len(args):
                if args[i] == "port" and i + 1 < len(args):
                    port = int(args[i + 1])
                    i += 2
                    continue
                if args[i] == "send-proxy":
                    send_proxy = True
                i += 1
            steps.append(TConnect(port, send_proxy, comment=comment))
        elif kw in ("send", "send-lf"):
            if not args:
                raise TcpCheckSyntaxError(f"'{kw}' expects a <data> as argument.")
            steps.append(TSend(_unescape(args[0]), comment))
        elif kw == "send-binary" or kw == "send-binary-lf":
            try:
                steps.append(TSend(bytes.fromhex(args[0]), comment))
            except (ValueError, IndexError):
                raise TcpCheckSyntaxError(
                    "'send-binary' expects a <hexstring> as argument."
                ) from None
        elif kw == "expect":
            steps.append(_parse_expect(args, comment))
        else:
            raise TcpCheckSyntaxError(
                f"'tcp-check' expects 'comment', 'connect', 'send', 'send-binary', 'expect', "
                f"'set-var' or 'unset-var' but got '{kw}' as argument."
            )
    first = next((st for st in steps if not isinstance(st, TNoop)), None)
    if not isinstance(first, TConnect):
        steps.insert(0, TConnect(implicit=True))
    return Sequence_(tuple(steps))


def _pop_opt(args: list[str], name: str, default: str) -> tuple[str, list[str]]:
    if name in args:
        i = args.index(name)
        if i + 1 < len(args):
            return args[i + 1], args[:i] + args[i + 2 :]
    return default, args


def _parse_expect(args: list[str], comment: str) -> TExpect:
    kw: dict[str, Any] = {"comment": comment}
    inverse = False
    i = 0
    while i < len(args):
        w = args[i]
        if w == "min-recv" and i + 1 < len(args):
            kw["min_recv"] = int(args[i + 1])
            i += 2
        elif w in ("ok-status", "error-status", "tout-status") and i + 1 < len(args):
            kw[w.replace("-", "_")] = args[i + 1]
            i += 2
        elif w in ("on-success", "on-error", "status-code") and i + 1 < len(args):
            if w == "on-success":
                kw["on_success"] = args[i + 1]
            i += 2
        elif w == "!":
            inverse = True
            i += 1
        elif w.lstrip("!") in ("string", "rstring", "binary", "rbinary"):
            if w.startswith("!"):
                inverse = True
            if i + 1 >= len(args):
                raise TcpCheckSyntaxError(f"'{w.lstrip('!')}' expects <pattern> as argument.")
            return make_expect(w.lstrip("!"), args[i + 1], inverse=inverse, **kw)
        else:
            raise TcpCheckSyntaxError(f"'tcp-check expect' : unknown keyword '{w}'.")
    raise TcpCheckSyntaxError("'tcp-check expect' expects a match pattern.")


# ---------------------------------------------------------------- the interpreter


async def run_sequence(
    seq: Sequence_,
    host: str,
    port: int,
    params: CheckParams,
    proxy_line: Callable[[tuple[str, int] | None, tuple[str, int] | None], bytes] | None = None,
) -> CheckResult:
    """Run a sequence once; every failure becomes a CheckResult."""
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    proto: _CheckProtocol | None = None
    connected = False
    step_no = 0
    current: TStep | None = None
    last_ok: Verdict = ("L4OK", None, "")
    outcome: Verdict
    try:
        async with asyncio.timeout(params.connect_timeout_ms() / 1000) as deadline:
            # HAProxy numbers its rules from 1; the connect it adds itself
            # before a ruleset that has none is step 0 (tcpcheck_get_step_id)
            first = seq.steps[0] if seq.steps else None
            base = 0 if isinstance(first, TConnect) and first.implicit else 1
            for step_no, step in enumerate(seq.steps, base):
                after_connect = isinstance(current, TConnect)
                current = step
                if isinstance(step, TNoop):
                    continue
                if isinstance(step, TConnect):
                    if proto is not None:
                        proto.close()
                    connected = False
                    try:
                        proto = await _connect(
                            loop, host, step.port or port, *tls_of(params, step.port)
                        )
                    except OSError as exc:
                        info = _strerror(exc) + _connect_where(seq, step, step_no)
                        raise _Fail("L4CON", info) from None
                    connected = True
                    if params.timeout_check:
                        deadline.reschedule(loop.time() + params.timeout_check / 1000)
                    if step.send_proxy and proxy_line is not None and proto.transport:
                        tr = proto.transport
                        proto.transport.write(
                            proxy_line(tr.get_extra_info("sockname"), tr.get_extra_info("peername"))
                        )
                    last_ok = ("L4OK", None, "")
                elif isinstance(step, TSend):
                    if proto is None or proto.transport is None or proto.error is not None:
                        raise _Fail("SOCKERR", "no connection")
                    # HAProxy empties its input buffer before each send; a
                    # send right after connect runs before anything can be
                    # read there, so a greeting that beat us here is kept
                    if not after_connect:
                        proto.buf.clear()
                    proto.transport.write(step.data)
                else:
                    assert proto is not None
                    last_ok = await _expect(proto, step, step_no, seq)
            if seq.proto or last_ok[0] != "L4OK":
                outcome = last_ok
            else:
                outcome = ("L7OK", 0, "(tcp-check)") if len(seq.steps) > 1 else last_ok
            if not seq.proto and outcome[0] == "L7OK" and outcome[2] == "":
                outcome = ("L7OK", 0, "(tcp-check)")
    except _Fail as fail:
        outcome = (fail.status, fail.code, fail.info)
    except TimeoutError:
        if not connected:
            where = _connect_where(seq, current, step_no) if isinstance(current, TConnect) else ""
            outcome = ("L4TOUT", None, where)
        else:
            status = current.tout_status if isinstance(current, TExpect) else "L7TOUT"
            info = ""
            if not seq.proto and current is not None:
                info = f" at step {step_no} of tcp-check ({_describe(current)})"
                if getattr(current, "comment", ""):
                    info += f" comment: '{current.comment}'"
            outcome = (status, None, info)
    except asyncio.CancelledError:
        raise
    except OSError as exc:
        outcome = ("SOCKERR", None, _strerror(exc))
    finally:
        if proto is not None:
            proto.close()
    duration = int((time.monotonic() - start) * 1000)
    status, code, info = outcome
    return CheckResult.make(status, code=code, duration_ms=duration, info=info)


def _connect_where(seq: Sequence_, step: TConnect, step_no: int) -> str:
    """Where a user sequence failed to connect (HAProxy's chk_report_conn_err)."""
    if seq.proto:
        return ""
    if step.implicit:
        where = " at initial connection step of tcp-check"
    else:
        where = f" at step {step_no} of tcp-check ({_describe(step)})"
    return where + (f" comment: '{step.comment}'" if step.comment else "")


def _describe(step: TStep) -> str:
    if isinstance(step, TConnect):
        return f"connect port {step.port}" if step.port else "connect"
    if isinstance(step, TSend):
        return "send data"
    if isinstance(step, TNoop):
        return "comment"
    return step.describe()


async def _expect(proto: _CheckProtocol, step: TExpect, step_no: int, seq: Sequence_) -> Verdict:
    while True:
        buf = bytes(proto.buf)
        eof = proto.eof or proto.error is not None
        if step.kind == "custom":
            assert step.custom is not None
            if eof and not buf:  # tcpcheck_eval_recv: before any expect function
                raise _Fail(step.error_status, _empty(step, step_no), 0)
            verdict = step.custom(buf, eof)
            if verdict is not None:
                if verdict[0] in ("L7OK", "L6OK", "L4OK", "L7OKC"):
                    return verdict
                raise _Fail(verdict[0], verdict[2], verdict[1])
        else:
            enough = step.min_recv < 0 or len(buf) >= step.min_recv
            if enough and buf:
                hit = step.match(buf)
                if hit != step.inverse:
                    info = step.on_success if step.on_success is not None else ""
                    return (step.ok_status, 0, info)
                if eof or step.min_recv >= 0 or step.inverse:
                    raise _Fail(step.error_status, _mismatch(step, step_no, buf, hit), 0)
            if eof:
                if not buf:
                    raise _Fail(step.error_status, _empty(step, step_no), 0)
                raise _Fail(step.error_status, _mismatch(step, step_no, buf, False), 0)
        await proto.wait()


def _mismatch(step: TExpect, step_no: int, buf: bytes, hit: bool) -> str:
    if step.on_error is not None:
        return step.on_error(buf)
    head = "TCPCHK matched unwanted content" if hit else "TCPCHK did not match content"
    if step.kind == "string":
        msg = f"{head} '{step.pattern}' at step {step_no}"
    elif step.kind == "binary":
        msg = f"{head} (binary) at step {step_no}"
    else:
        msg = f"{head} (regex) at step {step_no}"
    if step.comment:
        msg += f" comment: {step.comment}"  # unquoted here, as HAProxy words it
    return msg


def _empty(step: TExpect, step_no: int) -> str:
    msg = f"TCPCHK got an empty response at step {step_no}"
    return msg + (f" comment: '{step.comment}'" if step.comment else "")


def first_line(buf: bytes) -> str:
    """``res.payload(0,0),cut_crlf``: the response up to the first CR or LF."""
    return re.split(rb"[\r\n]", buf, maxsplit=1)[0].decode("latin-1")
