"""Turns configuration text into the model, section by section.

Every keyword is a row in a registry (`lb.config.keywords`); the parser only
knows sections. Problems are collected, not raised one at a time, so that
`lb -c` reports all of them as HAProxy does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from lb.config.errors import ConfigError, LexError
from lb.config.keywords import KEYWORDS, SECTION_STARTERS, ParseContext
from lb.config.lexer import Line, tokenize
from lb.config.model import (
    Config,
    HttpErrorsConf,
    PeersConf,
    ProgramConf,
    ProxyConf,
    UserlistConf,
    Where,
)
from lb.config.validate import validate


class ConfigErrors(Exception):
    """All the alerts found in a configuration; `lines` are alert bodies."""

    def __init__(self, lines: list[str], files: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.files = files


def expand_paths(paths: list[str]) -> list[str]:
    """`-f DIR` loads the directory's `*.cfg` files in name order."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            out.extend(str(f) for f in sorted(Path(p).glob("*.cfg")) if f.is_file())
        else:
            out.append(p)
    return out


def parse_files(paths: list[str], env: MutableMapping[str, str] | None = None) -> Config:
    files = expand_paths(paths)
    cfg = Config(files=files)
    ctx = ParseContext(cfg)
    if env is None:
        env = os.environ
    for path in files:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            ctx.errors.append(f"Could not open configuration file {path} : {exc.strerror}")
            continue
        parse_text(ctx, text, path, env)
    if not ctx.errors:
        validate(cfg, ctx.errors)
        _validate_rings(cfg, ctx.errors)
    if ctx.errors:
        raise ConfigErrors(ctx.errors, files)
    cfg.warnings = ctx.warnings + cfg.warnings
    return cfg


def parse_string(text: str, filename: str = "<string>") -> Config:
    """Parse configuration text (tests and `-c` helpers)."""
    cfg = Config(files=[filename])
    ctx = ParseContext(cfg)
    parse_text(ctx, text, filename, os.environ)
    if not ctx.errors:
        validate(cfg, ctx.errors)
        _validate_rings(cfg, ctx.errors)
    if ctx.errors:
        raise ConfigErrors(ctx.errors, [filename])
    cfg.warnings = ctx.warnings + cfg.warnings
    return cfg


def _validate_rings(cfg: Config, errors: list[str]) -> None:
    if cfg.rings:
        from lb.config.ring import validate as validate_rings

        validate_rings(cfg, errors)


def parse_text(ctx: ParseContext, text: str, filename: str, env: MutableMapping[str, str]) -> None:
    ctx.env = env
    ctx.section = None
    ctx.section_kind = ""
    try:
        _parse_lines(ctx, tokenize(text, filename, env))
    except ConfigError as exc:  # the tokenizer's: HAProxy stops reading the file there
        ctx.errors.append(str(exc))


def _parse_lines(ctx: ParseContext, lines: Iterator[Line]) -> None:
    """Each line is cut into words only once the ones before it took effect: a
    `setenv` changes what a later `${NAME}` reads, as in HAProxy."""
    for line in lines:
        where = Where(line.file, line.lineno)
        words = list(line.words)
        if not words:
            continue
        kw = words[0]
        try:
            if kw in SECTION_STARTERS:
                _open_section(ctx, kw, words, where)
                continue
            if ctx.section_kind == "":
                raise where.error(f"unknown keyword '{kw}' out of section.")
            if ctx.section is None:
                continue  # inside a section whose header was refused
            handled = _dispatch(ctx, words, where)
            if not handled:
                raise where.error(
                    f"unknown keyword '{kw}' in '{ctx.section_kind}' section",
                )
        except ConfigError as exc:
            ctx.errors.append(str(exc))
        except ValueError as exc:
            ctx.errors.append(str(where.error(str(exc))))


def _dispatch(ctx: ParseContext, words: list[str], where: Where) -> bool:
    table = KEYWORDS[ctx.section_kind]
    kw = words[0]
    negate = False
    if kw in ("no", "default") and len(words) > 1 and words[1] in ("option", "log"):
        negate = kw == "no"
        words = words[1:]
        kw = words[0]
    handler = table.get(kw)
    if handler is None:
        return False
    handler(ctx, ctx.section, words, where, negate)
    return True


def _open_section(ctx: ParseContext, kw: str, words: list[str], where: Where) -> None:
    cfg = ctx.cfg
    ctx.section_kind = kw
    ctx.section = None  # until the header is known to be good: its lines are skipped
    if kw == "global":
        ctx.section = cfg.global_
        return
    if kw in ("frontend", "backend", "listen", "defaults"):
        name = words[1] if len(words) > 1 else ""
        base_name = None
        rest = words[2:]
        if len(rest) >= 2 and rest[0] == "from":
            base_name = rest[1]
            rest = rest[2:]
        if rest:
            raise where.error(
                f"unexpected argument '{rest[0]}' in '{kw}' section header.",
            )
        if kw != "defaults" and not name:
            raise where.error(f"'{kw}' expects <name> as an argument.")
        if base_name is not None:
            base = cfg.defaults.get(base_name)
            if base is None:
                raise where.error(f"defaults section '{base_name}' not found for {kw} '{name}'.")
        elif kw == "defaults":
            base = None  # a new defaults section starts afresh
        else:
            base = ctx.last_defaults
        if kw != "defaults":
            for other in cfg.proxies:
                if other.name == name and (
                    other.kind == kw
                    or "listen" in (kw, other.kind)
                    or (other.is_frontend and kw == "frontend")
                    or (other.is_backend and kw == "backend")
                ):
                    ctx.errors.append(
                        f"Parsing [{where}]: {kw} '{name}' has the same name as "
                        f"{other.kind} '{other.name}' declared at {other.where}."
                    )
                    break
        if base is None:
            proxy = ProxyConf(name=name, kind=kw, where=where)
        else:
            proxy = base.inherit(name, kw, where)
        if kw == "defaults":
            ctx.last_defaults = proxy
            if name:
                cfg.defaults[name] = proxy
        else:
            cfg.proxies.append(proxy)
        ctx.section = proxy
        return
    if kw == "program":
        if len(words) < 2:
            raise where.error("'program' expects <name> as an argument.")
        prog = ProgramConf(name=words[1], where=where)
        cfg.programs.append(prog)
        ctx.section = prog
        return
    if kw == "peers":
        if len(words) < 2:
            raise where.error("'peers' expects <name> as an argument.")
        peers = PeersConf(name=words[1], where=where)
        cfg.peers.append(peers)
        ctx.section = peers
        return
    if kw == "userlist":
        if len(words) < 2:
            raise where.error("'userlist' expects <name> as an argument.")
        ul = UserlistConf(name=words[1], where=where)
        cfg.userlists.append(ul)
        ctx.section = ul
        return
    if kw == "http-errors":
        if len(words) < 2:
            raise where.error("missing name for http-errors section.")
        old = cfg.http_errors.get(words[1])
        if old is not None:
            raise LexError(
                f"http-errors section '{words[1]}' already exists (declared at {old.where}).",
                where.file,
                where.line,
            )
        sec = HttpErrorsConf(name=words[1], where=where)
        cfg.http_errors[words[1]] = sec
        ctx.section = sec
        return
    if kw == "resolvers":
        from lb.dns.config import open_section

        open_section(ctx, words, where)
        return
    if kw == "ring":
        from lb.config.ring import open_section as open_ring

        open_ring(ctx, words, where)
        return
    if kw == "mailers":
        from lb.config.mailers import open_section as open_mailers

        open_mailers(ctx, words, where)
        return
    if kw == "cache":
        from lb.http.cache import open_section as open_cache

        open_cache(ctx, words, where)
        return
    ctx.section = None  # mailers, cache, ring: rejected below
    raise where.error(f"section '{kw}' is not supported.")
