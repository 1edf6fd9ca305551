"""`http-request` actions compiled into one callable per proxy.

The compiled callable takes `(stream, head)` and returns None to let the
request go on, or `(status, response_bytes, close)` when an action answers
by itself (return, deny). Actions register in `HTTP_REQUEST_ACTIONS`; a rule
that does not apply costs one condition call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lb.acl import AclError, AclSet, compile_condition
from lb.config.model import Rule
from lb.http import errors as http_errors
from lb.http.h1 import Head, request_keeps_alive

Verdict = tuple[Any, ...] | None  # (status, bytes, close[, term[, tarpit delay]])
Action = Callable[[Any, Head], Verdict | bool]
ActionBuilder = Callable[[list[str], Rule, Any], tuple[Action, list[str]]]

HTTP_REQUEST_ACTIONS: dict[str, ActionBuilder] = {}
STOP = True  # an action result meaning "stop evaluating, let the request go"


def action(name: str) -> Callable[[ActionBuilder], ActionBuilder]:
    def deco(fn: ActionBuilder) -> ActionBuilder:
        HTTP_REQUEST_ACTIONS[name] = fn
        return fn

    return deco


def _split_cond(words: list[str]) -> tuple[list[str], list[str]]:
    for i, w in enumerate(words):
        if w in ("if", "unless"):
            return words[:i], words[i:]
    return words, []


@action("return")
def _return(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    from lb.rules_extra import fmt_fn

    status = 200
    ctype: str | None = None
    body = b""
    body_fmt: str | None = None  # lf-string / lf-file: a log-format evaluated per request
    hdrs: list[tuple[bytes, str]] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "status":
            status = int(args[i + 1])
            i += 2
        elif a == "content-type":
            ctype = args[i + 1]
            i += 2
        elif a == "string":
            body, body_fmt = args[i + 1].encode(), None
            i += 2
        elif a == "lf-string":
            body, body_fmt = b"", args[i + 1]
            i += 2
        elif a in ("file", "lf-file"):
            try:
                data = Path(args[i + 1]).read_bytes()
            except OSError as exc:
                raise ValueError(f"failed to open file '{args[i + 1]}' : {exc.strerror}") from None
            if a == "file":
                body, body_fmt = data, None
            else:
                body, body_fmt = b"", data.decode("latin-1")
            i += 2
        elif a == "errorfile":
            body, body_fmt = b"", None
            i += 2
        elif a == "hdr":
            hdrs.append((args[i + 1].encode(), args[i + 2]))
            i += 3
        elif a == "default-errorfiles":
            i += 1
        else:
            break
    if (body or body_fmt is not None) and ctype is None:
        raise ValueError(
            "'http-request return' : a content-type must be set when a payload is used"
        )
    rest = args[i:]
    render_body = fmt_fn(body_fmt, proxy, rule) if body_fmt is not None else None
    if body_fmt is not None and render_body is None:
        body = body_fmt.encode("latin-1")
    hdr_fns = [(n, fmt_fn(v, proxy, rule), v.encode("latin-1")) for n, v in hdrs]
    if render_body is not None or any(f is not None for _, f, _ in hdr_fns):
        # something to evaluate per request: the response is made each time
        def run_lf(st: Any, head: Head) -> Verdict:
            b = render_body(st) if render_body is not None else body
            hs = [(n, f(st) if f is not None else v) for n, f, v in hdr_fns]
            if not request_keeps_alive(head) or not proxy.http_keepalive:
                return (  # (logged LR all the same, as haproxy)
                    status,
                    http_errors.build_return_response(status, ctype, b, hs, close=True),
                    True,
                    "LR",
                )
            raw = http_errors.build_return_response(status, ctype, b, hs, http10=head.http10)
            return (status, raw, False)

        return run_lf, rest
    const_hdrs = [(n, v) for n, _, v in hdr_fns]
    keep = http_errors.build_return_response(status, ctype, body, const_hdrs)
    keep10 = http_errors.build_return_response(status, ctype, body, const_hdrs, http10=True)
    close = http_errors.build_return_response(status, ctype, body, const_hdrs, close=True)

    def run(st: Any, head: Head) -> Verdict:
        if not request_keeps_alive(head) or not proxy.http_keepalive:
            return (status, close, True, "LR")
        return (status, keep10 if head.http10 else keep, False)

    return run, rest


@action("deny")
def _deny(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    status = 403
    rest = args
    if len(args) >= 2 and args[0] == "deny_status":
        status = int(args[1])
        rest = args[2:]

    def run(st: Any, head: Head) -> Verdict:
        # logged PR; the connection stays open when the request allows it (as HAProxy)
        proxy.fe_counters.denied_req += 1
        return (status, proxy.error_page(status), False, "PR")

    return run, rest


@action("allow")
def _allow(args: list[str], rule: Rule, proxy: Any) -> tuple[Action, list[str]]:
    return (lambda st, head: STOP), args


def compile_rule_steps(
    rules: list[Rule],
    acls: AclSet,
    proxy: Any,
    registry: dict[str, ActionBuilder],
    keyword: str,
) -> list[tuple[Callable[[Any], bool] | None, Action]]:
    """Each rule line as (condition or None, action), through an action registry.

    Shared by every rule family (`http-request`, `http-response`, `tcp-request` …):
    `keyword` is only used in the alerts.
    """
    steps: list[tuple[Callable[[Any], bool] | None, Action]] = []
    for r in rules:
        words = list(r.words)
        name = words[0]
        # `set-var(txn.x)`-style actions register by their prefix `set-var(`
        builder = registry.get(name) or registry.get(name.split("(")[0] + "(")
        if builder is None:
            raise r.where.error(f"'{keyword} {name}' : unknown or unsupported action '{name}'.")
        try:
            act, rest = builder(words[1:], r, proxy)
            _, cond_words = _split_cond(rest)
            extra = rest[: len(rest) - len(cond_words)]
            if extra:
                raise ValueError(f"'{keyword} {name}' : unexpected argument '{extra[0]}'.")
            acls.where = r.where  # the place of inline `{ }` ACLs
            cond = compile_condition(cond_words, acls) if cond_words else None
        except (AclError, ValueError, IndexError) as exc:
            raise r.where.error(
                f"error detected in {_proxy_label(proxy)} while parsing "
                + ("redirect rule" if r.keyword == "redirect" else f"'{keyword} {name}' rule")
                + f" : {exc}",
            ) from None
        steps.append((cond, act))
    return steps


def _proxy_label(proxy: Any) -> str:
    """`frontend 'fe'`, `backend 'be'`, or `proxy 'px'` for a listen section."""
    conf = getattr(proxy, "conf", None)
    kind = getattr(conf, "kind", "") or "proxy"
    return f"{'proxy' if kind == 'listen' else kind} '{getattr(proxy, 'name', '')}'"


def compile_http_request(rules: list[Rule], acls: AclSet, proxy: Any) -> Callable | None:
    """`redirect` lines run after every `http-request` rule, wherever they stand."""
    if not rules:
        return None
    rules = sorted(rules, key=lambda r: r.keyword == "redirect")
    return run_steps(compile_rule_steps(rules, acls, proxy, HTTP_REQUEST_ACTIONS, "http-request"))


def run_steps(steps: list[tuple[Callable[[Any], bool] | None, Action]]) -> Callable:
    """`run(stream, head)` evaluating the steps in order, generated as straight-line
    code (no loop, no tuple unpacking per rule): None to go on, or the first verdict."""
    if len(steps) > 200:  # keep the generated function reasonable

        def run(st: Any, head: Head) -> Verdict:
            for cond, act in steps:
                if cond is None or cond(st):
                    v = act(st, head)
                    if v is None:
                        continue
                    if v is STOP:
                        return None
                    return v  # type: ignore[return-value]
            return None

        return run
    g: dict[str, Any] = {"STOP": STOP}
    lines = ["def run(st, head):"]
    for i, (cond, act) in enumerate(steps):
        g[f"a{i}"] = act
        ind = "    "
        if cond is not None:
            g[f"c{i}"] = cond
            lines.append(f"    if c{i}(st):")
            ind = "        "
        lines += [
            f"{ind}v = a{i}(st, head)",
            f"{ind}if v is not None:",
            f"{ind}    return None if v is STOP else v",
        ]
    lines.append("    return None")
    exec("\n".join(lines) + "\n", g)  # noqa: S102 - code built from indexes only
    return g["run"]
