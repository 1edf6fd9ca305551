"""Checks that need the whole configuration: references between sections, ids."""

from __future__ import annotations

from lb.config.mailers import check_proxy as check_email_alert
from lb.config.mailers import check_sections as check_mailers_used
from lb.config.model import Config, ProxyConf

# HAProxy numbers proxies from 2 (1 is its internal CLI proxy) in file order.
FIRST_PROXY_ID = 2


def validate(cfg: Config, errors: list[str]) -> None:
    _assign_ids(cfg, errors)
    for p in cfg.proxies:
        if p.is_frontend:
            _check_backend_refs(cfg, p, errors)
            _check_captures(cfg, p, errors)
        if p.is_backend:
            _assign_server_ids(p, errors)
            if p.options.get("external-check"):
                _external_check(cfg, p, errors)
            if p.dispatch is not None and p.balance_set:
                cfg.warnings.append(
                    f"dispatch address of backend '{p.name}' will be ignored in balance mode."
                )
        if p.kind == "frontend" and not p.binds:
            pass  # HAProxy accepts a frontend without bind (it just never receives traffic)
        check_email_alert(cfg, p, errors)  # before the timeouts remark, as in HAProxy
        if p.filters:
            _check_filters(cfg, p, errors)
        _timeouts_warning(cfg, p)
    check_mailers_used(cfg)
    for p in [*cfg.defaults.values(), *cfg.proxies]:
        _resolve_errorfiles(cfg, p, errors)
    from lb.dns.config import validate as validate_resolvers

    validate_resolvers(cfg, errors)
    if cfg.caches:
        from lb.http.cache import validate as validate_caches

        validate_caches(cfg, errors)


def _check_filters(cfg: Config, p: ProxyConf, errors: list[str]) -> None:
    """`filter cache NAME` must name a cache section, and no cache may come after a
    declared compression filter (the caches the rules use and no line declares come
    last, as in HAProxy)."""
    kind = "proxy" if p.kind == "listen" else p.kind
    order = [(k, name) for k, name, _ in p.filters]
    for k, name in order:
        if k == "cache" and name not in cfg.caches:
            errors.append(
                f"config: {kind} '{p.name}': unable to find the cache '{name}' "
                "referenced by the filter 'cache'."
            )
    for rule in [*p.http_request, *p.http_response]:
        words = rule.words
        used = words[0] in ("cache-use", "cache-store") and words[1:2]
        if used and ("cache", words[1]) not in order:
            order.append(("cache", words[1]))
    if ("compression", "") not in order:
        return
    after = order[order.index(("compression", "")) :]
    late = next((name for k, name in after if k == "cache"), None)
    if late is not None:
        errors.append(
            f"config: {kind} '{p.name}': unable to enable the compression filter "
            f"before the cache '{late}'."
        )


def _resolve_errorfiles(cfg: Config, p: ProxyConf, errors: list[str]) -> None:
    """`errorfile` and `errorfiles` lines in the order written, the later winning:
    what is left is CODE: path."""
    final: dict[int, str] = {}
    for key, value in p.errorfiles.items():
        if isinstance(key, int):
            final[key] = value
            continue
        name, codes, where = value
        sec = cfg.http_errors.get(name)
        if sec is None:
            kind = "proxy" if p.kind != "defaults" else "defaults"
            errors.append(f"{kind} '{p.name}': unknown http-errors section '{name}' (at {where}).")
            continue
        for code, path in sec.errorfiles.items():
            if not codes or code in codes:
                final[code] = path
    p.errorfiles = final


def _assign_ids(cfg: Config, errors: list[str]) -> None:
    used = {p.puid for p in cfg.proxies if p.puid}
    next_id = FIRST_PROXY_ID
    for p in cfg.proxies:
        if p.puid:
            continue
        while next_id in used:
            next_id += 1
        p.puid = next_id
        used.add(next_id)


def _assign_server_ids(p: ProxyConf, errors: list[str]) -> None:
    used: dict[int, str] = {}
    for s in p.servers:
        if s.puid:
            if s.puid in used:
                errors.append(
                    f"parsing [{s.where}] : {p.kind} {p.name}, server {s.name} has the same "
                    f"ID as server {used[s.puid]}."
                )
            used[s.puid] = s.name
    nxt = 1
    seen: set[str] = set()
    for s in p.servers:
        if s.name in seen:
            errors.append(
                f"parsing [{s.where}] : backend '{p.name}' : server name '{s.name}' "
                "is already used."
            )
        seen.add(s.name)
        if not s.puid:
            while nxt in used:
                nxt += 1
            s.puid = nxt
            used[nxt] = s.name


def _check_backend_refs(cfg: Config, p: ProxyConf, errors: list[str]) -> None:
    if p.default_backend is not None:
        name, where = p.default_backend
        be = cfg.backend(name)
        if be is None:
            errors.append(f"Proxy '{p.name}': unable to find required default_backend: '{name}'.")
        elif be.mode != p.mode and p.mode == "http" and be.mode == "tcp":
            errors.append(
                f"{p.kind} '{p.name}' : unable to use {be.kind} '{be.name}' in HTTP mode as "
                "it is in TCP mode."
            )
    for rule in p.use_backends:
        name = rule.words[0]
        if "%[" in name:
            continue
        if cfg.backend(name) is None:
            errors.append(f"Proxy '{p.name}': unable to find required use_backend: '{name}'.")


def _check_captures(cfg: Config, p: ProxyConf, errors: list[str]) -> None:
    """`… capture … id N` rules of a frontend need slot N."""
    for rules, slots, kw in (
        (p.http_request, p.capture_request, "http-request"),
        (p.http_response, p.capture_response, "http-response"),
    ):
        for r in rules:
            w = r.words
            if not (len(w) >= 4 and w[0] == "capture" and w[2] == "id" and w[3].isdigit()):
                continue
            if int(w[3]) >= len(slots):
                errors.append(
                    f"Proxy '{p.name}': unable to find capture id '{w[3]}' "
                    f"referenced by {kw} capture rule."
                )


def _external_check(cfg: Config, p: ProxyConf, errors: list[str]) -> None:
    """`option external-check` needs the global `external-check` and a command."""
    tune = cfg.global_.tune
    opt = "'option external-check'"
    if "external-check" not in tune:
        errors.append(f"Proxy '{p.name}' : {opt} unable to find required 'global.external-check'.")
    if not p.ext_check_command:
        errors.append(f"Proxy '{p.name}' : {opt} unable to find required 'external-check command'.")
    if "insecure-fork-wanted" not in tune:
        cfg.warnings.append(
            f"Proxy '{p.name}' : 'insecure-fork-wanted' not enabled in the global section, "
            f"{opt} will likely fail."
        )
    if p.ext_check_command and not p.ext_check_command.startswith("/") and not p.ext_check_path:
        errors.append(
            f"Proxy '{p.name}': 'external-check command' does not have a leading '/' and "
            "'external-check path' is not set."
        )


def _timeouts_warning(cfg: Config, p: ProxyConf) -> None:
    missing = []
    if p.is_frontend and "client" not in p.timeouts:
        missing.append("client")
    if p.is_backend and ("connect" not in p.timeouts or "server" not in p.timeouts):
        missing.append("server")
    if missing:
        cfg.warnings.append(
            f"missing timeouts for {p.kind} '{p.name}'.\n"
            "   | While not properly invalid, you will certainly encounter various problems\n"
            "   | with such a configuration. To fix this, please ensure that all following\n"
            "   | timeouts are set to a non-zero value: 'client', 'connect', 'server'."
        )
