"""The statistics web page: `stats enable|uri|refresh|realm|auth|admin|hide-version|
scope|show-legends|show-node` on a proxy.

A request whose URI starts with the stats URI is answered by the proxy itself: the
HTML page (one table per proxy, servers coloured by state), or the `;csv` / `;json`
exports, which are the very bytes `show stat` / `show stat json` print, since both read
the same rows from the live state. With `stats admin if COND` true, the page carries a
form whose POST applies actions to servers through the same Server methods the CLI
uses, then redirects to `<uri>;st=DONE` (or another status), as HAProxy does.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from lb.acl import AclError, AclSet, compile_condition
from lb.http.h1 import request_keeps_alive

DEFAULT_URI = "/haproxy?stats"
DEFAULT_REALM = "HAProxy Statistics"
VERSION = "2.6.12-1+deb12u4"
_ST_MESSAGES = {
    "DONE": "Action processed successfully.",
    "NONE": "Nothing has changed.",
    "PART": "Action not processed for some servers.",
    "ERRP": "Action not processed because of invalid parameters.",
    "EXCD": "Action not processed: the buffer couldn't store all the data.",
    "DENY": "Action denied.",
}


@dataclass(slots=True)
class StatsConf:
    """The `stats` lines of one proxy."""

    uri: str = DEFAULT_URI
    realm: str = DEFAULT_REALM
    refresh: int = 0
    auth: list[str] = field(default_factory=list)
    admin: Any = None  # compiled condition, None = never
    hide_version: bool = False
    scope: list[str] = field(default_factory=list)
    show_legends: bool = False
    show_node: str | None = None
    show_desc: str | None = None


def _seconds(text: str) -> int:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(digits) :] or "s"
    try:
        return max(0, int(int(digits) * units.get(unit, 1)))
    except ValueError:
        return 0


def parse_stats_conf(pconf: Any) -> StatsConf | None:
    """The proxy's stats settings, or None when it has no `stats` line (page disabled)."""
    rules = [r for r in pconf.stats if r.words and r.words[0] != "socket"]
    if not rules:
        return None
    sc = StatsConf()
    enabled = False
    for r in rules:
        w = list(r.words)
        kw = w[0]
        enabled = True
        if kw == "uri" and len(w) > 1:
            sc.uri = w[1]
        elif kw == "realm" and len(w) > 1:
            sc.realm = " ".join(w[1:]).replace("\\", "")
        elif kw == "refresh" and len(w) > 1:
            sc.refresh = _seconds(w[1])
        elif kw == "auth" and len(w) > 1:
            sc.auth.append(w[1])
        elif kw == "admin":
            try:
                sc.admin = compile_condition(w[1:], AclSet(pconf.acls, None))
            except AclError as exc:
                raise r.where.error(f"'stats admin' : {exc}") from None
        elif kw == "hide-version":
            sc.hide_version = True
        elif kw == "scope" and len(w) > 1:
            sc.scope.append(w[1])
        elif kw == "show-legends":
            sc.show_legends = True
        elif kw == "show-node":
            sc.show_node = w[1] if len(w) > 1 else ""
        elif kw == "show-desc":
            sc.show_desc = " ".join(w[1:])
        elif kw == "disable":
            enabled = False
    return sc if enabled else None


# ---------------------------------------------------------------- installation


def install(state: Any) -> None:
    """Put the stats handler in front of the http-request rules of proxies that have it."""
    for p in state.proxies:
        if p.mode != "http":
            continue
        sc = parse_stats_conf(p.conf)
        if sc is None:
            continue
        p.http_req_rules = _wrap(state, p, sc, p.http_req_rules)


def _wrap(state: Any, proxy: Any, sc: StatsConf, rules: Any) -> Any:
    prefix = sc.uri.encode()

    def run(st: Any, head: Any) -> Any:
        if rules is not None:
            v = rules(st, head)
            if v is not None:
                return v
        if not head.uri.startswith(prefix):
            return None
        return serve(state, proxy, sc, st, head)

    return run


# ---------------------------------------------------------------- serving


def _response(status: int, reason: str, ctype: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncache-control: no-cache\r\n"
        f"content-type: {ctype}\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


def _authorized(sc: StatsConf, head: Any) -> bool:
    if not sc.auth:
        return True
    value = head.get(b"authorization") or b""
    scheme, _, token = value.partition(b" ")
    if scheme.lower() != b"basic":
        return False
    try:
        creds = base64.b64decode(token.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return False
    return creds in sc.auth


def _find_conn(state: Any, st: Any) -> Any:
    for conn in state.conns:
        if getattr(conn, "stream", None) is st:
            return conn
    return None


def serve(state: Any, proxy: Any, sc: StatsConf, st: Any, head: Any) -> tuple[int, bytes, bool]:
    """Answer one stats request: (status, response bytes, close)."""
    close = not request_keeps_alive(head)
    if not _authorized(sc, head):
        body = (
            b"<html><body><h1>401 Unauthorized</h1>\n"
            b"You need a valid user and password to access this content.\n</body></html>\n"
        )
        extra = f'www-authenticate: Basic realm="{sc.realm}"\r\n'
        return 401, _response(401, "Unauthorized", "text/html", body, extra), close
    rest = head.uri[len(sc.uri) :].decode("latin-1")
    opts = {part.split("=")[0]: part for part in rest.split(";")[1:]}
    admin = sc.admin is not None and bool(sc.admin(st))
    if head.method == b"POST":
        status = "DENY"
        if admin:
            conn = _find_conn(state, st)
            body = bytes(conn.buf[: head.content_length or 0]) if conn is not None else b""
            status = apply_admin_form(state, body.decode("latin-1"))
        location = f"{sc.uri};st={status}{_keep_flags(opts)}"
        return (
            303,
            _response(303, "See Other", "text/plain", b"", f"location: {location}\r\n"),
            close,
        )
    flt_up = "up" in opts
    flt_nomaint = "no-maint" in opts
    if "csv" in opts:
        body = export_csv(state, sc, flt_up, flt_nomaint).encode()
        return 200, _response(200, "OK", "text/plain", body), close
    if "json" in opts:
        body = export_json(state, sc, flt_up, flt_nomaint).encode()
        return 200, _response(200, "OK", "application/json", body), close
    st_code = opts.get("st", "").partition("=")[2]
    page = render_html(
        state, sc, admin, "norefresh" not in opts, st_code, flt_up, flt_nomaint, _keep_flags(opts)
    )
    return 200, _response(200, "OK", "text/html", page.encode()), close


def _keep_flags(opts: dict[str, str]) -> str:
    """The display flags (`;up`, `;no-maint`, `;norefresh`) the form action and the
    redirect after a POST carry on, as HAProxy's do, so the page stays as it was."""
    return "".join(f";{flag}" for flag in ("up", "no-maint", "norefresh") if flag in opts)


# ---------------------------------------------------------------- exports


def _rows(state: Any, sc: StatsConf, up: bool = False, no_maint: bool = False) -> list[Any]:
    from runtime_api.stats_rows import StatFilter, proxy_rows

    flt = StatFilter(hide_down=up, hide_maint=no_maint)
    names = {p.puid: p.name for p in state.proxies}
    return [r for r in proxy_rows(state, flt) if not sc.scope or names.get(r.iid) in sc.scope]


def export_csv(state: Any, sc: StatsConf, up: bool = False, no_maint: bool = False) -> str:
    from runtime_api.stats_format import format_stat_csv

    return "".join(format_stat_csv(_rows(state, sc, up, no_maint)))


def export_json(state: Any, sc: StatsConf, up: bool = False, no_maint: bool = False) -> str:
    from runtime_api.stats_format import format_stat_json

    return format_stat_json(_rows(state, sc, up, no_maint))


# ---------------------------------------------------------------- admin actions

_ACTIONS = ("ready", "drain", "maint", "dhlth", "ehlth", "hrunn", "hnolb", "hmaint", "shutdown")


def apply_admin_form(state: Any, body: str) -> str:
    """Apply ``b=<backend>&s=<server>...&action=<act>[&w=<weight>]``; returns the st code."""
    fields = parse_qsl(body, keep_blank_values=True)
    backend = next((v for k, v in fields if k == "b"), "")
    action = next((v for k, v in fields if k == "action"), "")
    names = [v for k, v in fields if k == "s"]
    weight = next((v for k, v in fields if k == "w"), "")
    if backend.startswith("#"):
        p = next((x for x in state.proxies if str(x.puid) == backend[1:]), None)
    else:
        p = state.by_name.get(backend)
    if p is None or not p.is_backend or (action not in _ACTIONS and action != "weight"):
        return "ERRP"
    if not names:
        return "NONE"
    done = failed = 0
    for name in names:
        srv = p.server(name)
        if srv is None or not _apply(state, srv, action, weight):
            failed += 1
        else:
            done += 1
    if failed:
        return "PART" if done else "ERRP"
    return "DONE"


def _apply(state: Any, srv: Any, action: str, weight: str) -> bool:
    if action == "ready":
        srv.set_ready()
    elif action == "drain":
        srv.set_drain()
    elif action == "maint":
        srv.set_maint()
    elif action == "weight":
        if not weight.isdigit() or int(weight) > 256:
            return False
        srv.set_weight(int(weight))
    elif action in ("hrunn", "hnolb", "hmaint", "dhlth", "ehlth"):
        if action == "hrunn":
            srv.set_health_from_cli(True)
        elif action == "hmaint":
            srv.set_health_from_cli(False)
        elif action == "hnolb":
            srv.set_health_stopping()
        elif srv.check is not None:
            enable = getattr(srv.check, "enable" if action == "ehlth" else "disable", None)
            if enable is None:
                return False
            enable()
    elif action == "shutdown":
        from runtime_api.commands.sessions import kill_server_sessions

        kill_server_sessions(state, srv)
    return True


# ---------------------------------------------------------------- HTML

_CSS = """body{font-family:arial,helvetica,sans-serif;font-size:12px;color:#000;background:#fff}
table.tbl{border-collapse:collapse;border:1px solid #999;margin-bottom:10px}
table.tbl td,table.tbl th{border:1px solid #999;padding:1px 4px;text-align:right}
table.tbl th.pxname{background:#b00040;color:#ffff40;font-weight:bold;text-align:left}
tr.titre{background:#20D0D0;color:#000}
tr.frontend{background:#e8e8d0}tr.backend{background:#e8e8d0}
tr.active_up{background:#c0ffc0}tr.active_down{background:#ff9090}
tr.active_going_up{background:#ffffa0}tr.active_going_down{background:#ffd020}
tr.active_nolb{background:#20a0ff}tr.active_draining{background:#20a0FF}
tr.maintain{background:#c07820}tr.active_no_check{background:#e0e0e0}
td.ac{text-align:left}
"""
_SERVER_CLASSES = (
    ("MAINT", "maintain"),
    ("DRAIN", "active_draining"),
    ("NOLB", "active_nolb"),
    ("no check", "active_no_check"),
    ("DOWN", "active_down"),
    ("UP", "active_up"),
)
_TRANSITION = re.compile(r"(UP|DOWN) \d+/\d+")
_COLUMNS = (
    ("Queue cur", "qcur"),
    ("Queue max", "qmax"),
    ("Sessions cur", "scur"),
    ("Sessions max", "smax"),
    ("Sessions limit", "slim"),
    ("Sessions total", "stot"),
    ("Bytes in", "bin"),
    ("Bytes out", "bout"),
    ("Denied req", "dreq"),
    ("Errors req", "ereq"),
    ("Errors conn", "econ"),
    ("Errors resp", "eresp"),
    ("Status", "status"),
    ("LastChk", "check_status"),
    ("Wght", "weight"),
    ("Act", "act"),
    ("Bck", "bck"),
)


def _row_class(row: Any) -> str:
    if row.obj_type == "F":
        return "frontend"
    if row.obj_type == "B":
        return "backend"
    status = str(row.get("status") or "")
    moving = _TRANSITION.match(status)  # `UP 1/3` is going down, `DOWN 1/2` going up
    if moving:
        return "active_going_down" if moving.group(1) == "UP" else "active_going_up"
    for prefix, cls in _SERVER_CLASSES:
        if status.startswith(prefix):
            return cls
    return "active_up"


def render_html(
    state: Any,
    sc: StatsConf,
    admin: bool,
    refresh: bool = True,
    st_code: str = "",
    up: bool = False,
    no_maint: bool = False,
    flags: str = "",
) -> str:
    """The stats page: a summary, then one table per proxy with its servers; `flags`
    (`;up;norefresh`...) is kept on the admin form's action."""
    rows = _rows(state, sc, up, no_maint)
    by_proxy: dict[int, list[Any]] = {}
    for r in rows:
        by_proxy.setdefault(r.iid, []).append(r)
    e = html.escape
    out = ["<!DOCTYPE html>\n<html><head><title>Statistics Report for HAProxy"]
    if sc.show_node is not None:
        out.append(f" on {e(sc.show_node or _hostname())}")
    out.append("</title>\n")
    if sc.refresh and refresh:
        out.append(f'<meta http-equiv="refresh" content="{sc.refresh}">\n')
    out.append(f"<style>{_CSS}</style></head>\n<body>\n<h1>HAProxy")
    if not sc.hide_version:
        out.append(f' version <span id="version">{VERSION}</span>')
    out.append("</h1>\n")
    out.append(f"<h2>Statistics Report for pid {state.pid}")
    if sc.show_node is not None:
        out.append(f' on <span id="node">{e(sc.show_node or _hostname())}</span>')
    out.append("</h2>\n")
    if sc.show_desc:
        out.append(f"<p>{e(sc.show_desc)}</p>\n")
    uptime = int(time.time() - state.start_time)
    out.append(
        f'<p id="info">pid = {state.pid}; uptime = {uptime}s; '
        f"current conns = {state.actconn}; maxconn = {state.maxconn}</p>\n"
    )
    if st_code in _ST_MESSAGES:
        out.append(f'<p id="st" class="st_{st_code}">{e(_ST_MESSAGES[st_code])}</p>\n')
    if sc.show_legends:
        out.append(
            '<p class="legend">active UP, going down, DOWN, going up, NOLB, DRAIN, '
            "MAINT, no check</p>\n"
        )
    for p in state.proxies:
        prows = by_proxy.get(p.puid)
        if not prows:
            continue
        can_admin = admin and p.is_backend and any(r.obj_type == "S" for r in prows)
        out.append(f'<table class="tbl" id="px-{e(p.name)}">\n')
        if can_admin:
            out.append(f'<form method="post" action="{e(sc.uri + flags)}">\n')
        ncols = len(_COLUMNS) + 1 + (1 if can_admin else 0)
        out.append(
            f'<tr><th class="pxname" colspan="{ncols}"><a name="{e(p.name)}">{e(p.name)}</a>'
            '</th></tr>\n<tr class="titre">'
        )
        if can_admin:
            out.append("<th></th>")
        out.append("<th>Name</th>" + "".join(f"<th>{t}</th>" for t, _ in _COLUMNS) + "</tr>\n")
        for r in prows:
            name = {"F": "Frontend", "B": "Backend"}.get(r.obj_type) or str(r.get("svname"))
            out.append(f'<tr class="{_row_class(r)}" data-name="{e(name)}">')
            if can_admin:
                box = (
                    f'<input type="checkbox" name="s" value="{e(name)}">'
                    if r.obj_type == "S"
                    else ""
                )
                out.append(f"<td>{box}</td>")
            out.append(f'<td class="ac">{e(name)}</td>')
            for _, fld in _COLUMNS:
                v = r.get(fld)
                out.append(f"<td>{'' if v is None else e(str(v))}</td>")
            out.append("</tr>\n")
        if can_admin:
            options = "".join(
                f'<option value="{a}">{label}</option>'
                for a, label in (
                    ("", "Choose an action"),
                    ("ready", "Set state to READY"),
                    ("drain", "Set state to DRAIN"),
                    ("maint", "Set state to MAINT"),
                    ("hrunn", "Health: force UP"),
                    ("hnolb", "Health: force NOLB"),
                    ("hmaint", "Health: force DOWN"),
                    ("weight", "Set weight"),
                    ("shutdown", "Kill Sessions"),
                )
            )
            out.append(
                f'<tr><td colspan="{ncols}" class="ac">Choose the action to perform on the '
                f'checked servers : <select name="action">{options}</select> '
                '<input type="text" name="w" size="4" placeholder="weight"> '
                f'<input type="hidden" name="b" value="#{p.puid}">'
                '<input type="submit" value="Apply"></td></tr>\n</form>\n'
            )
        out.append("</table>\n")
    out.append(
        f'<p class="exports"><a href="{e(sc.uri)};csv">CSV export</a> '
        f'<a href="{e(sc.uri)};json">JSON export</a></p>\n</body></html>\n'
    )
    return "".join(out)


def _hostname() -> str:
    import socket

    return socket.gethostname()
