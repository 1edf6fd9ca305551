"""ACL and map commands: show/get/add/del/clear acl, show/get/add/set/del/clear map.

They work on the state's `PatternStore` through `PatRef` methods, which
update every index using a list, so a change acts on the next request.
Messages are HAProxy 2.6's; these commands have no level check there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lb.patterns import F_ACL, F_MAP, PatRef
from lb.sample_types import to_int
from runtime_api.registry import CliError, CommandContext, Level, arg, command

UNKNOWN = {
    F_ACL: "Unknown ACL identifier. Please use #<id> or <file>.",
    F_MAP: "Unknown map identifier. Please use #<id> or <file>.",
}
WORD = {F_ACL: "ACL", F_MAP: "map"}


def _store(ctx: CommandContext) -> Any:
    store = getattr(ctx.state, "patterns", None)
    if store is None:
        raise CliError("No pattern store.")
    return store


def _words(args: list[str], start: int) -> list[str]:
    """Arguments after the keywords, without an `@<version>` (only version 0 exists)."""
    rest = args[start:]
    if rest and rest[0].startswith("@"):
        if rest[0] not in ("@0",):
            raise CliError("Version number in the future, please use 'prepare acl' before.")
        rest = rest[1:]
    return rest


def _ref(ctx: CommandContext, ident: str, flag: int) -> PatRef:
    ref = _store(ctx).find(ident, flag)
    if ref is None:
        raise CliError(UNKNOWN[flag])
    return ref


def _ptr(text: str) -> int | None:
    if not text.startswith("#"):
        return None
    try:
        return int(text[1:], 16)
    except ValueError:
        return None


# ------------------------------------------------------------------ show


def _show(ctx: CommandContext, args: list[str], flag: int) -> Iterator[str] | str:
    rest = _words(args, 2)
    store = _store(ctx)
    if not rest:
        refs = store.listed(flag)

        def listing() -> Iterator[str]:
            yield "# id (file) description\n"
            for r in refs:
                yield r.listing()

        return listing()
    ref = _ref(ctx, rest[0], flag)

    def dump() -> Iterator[str]:
        chunk: list[str] = []
        for e in ref:
            if flag == F_MAP:
                chunk.append(f"0x{e.ptr:x} {e.text} {e.value}\n")
            else:
                chunk.append(f"0x{e.ptr:x} {e.text}\n")
            if len(chunk) >= 256:
                yield "".join(chunk)
                chunk = []
        yield "".join(chunk)

    return dump()


@command("show acl", level=Level.USER)
def cmd_show_acl(ctx: CommandContext, args: list[str], payload: str | None) -> Any:
    """`show acl [[@ver] <acl>]`: the lists, or one list's entries."""
    return _show(ctx, args, F_ACL)


@command("show map", level=Level.USER)
def cmd_show_map(ctx: CommandContext, args: list[str], payload: str | None) -> Any:
    return _show(ctx, args, F_MAP)


# ------------------------------------------------------------------ get


def _get(ctx: CommandContext, args: list[str], flag: int) -> str:
    ident, value = arg(args, 2), arg(args, 3)
    if not ident or not value:
        raise CliError(f"Missing {WORD[flag]} identifier and/or key.")
    ref = _ref(ctx, ident, flag)
    out: list[str] = []
    for x in ref.exprs:
        cast = x.kind.cast
        v: Any = value
        if cast in ("int", "len"):
            v = to_int(value) if cast == "int" else len(value)
        e = x.index.match(v) if v is not None else None
        line = f"type={x.kind.name}, case={'insensitive' if x.icase else 'sensitive'}"
        found = "found" if flag == F_MAP else "match"
        if e is None:
            line += f", {found}=no"
        else:
            line += f", {found}=yes, idx={'tree' if x.index.tree else 'list'}"
            if flag == F_MAP:
                line += f', key="{e.text}", value="{e.value}", type="{x.out_type}"'
            else:
                line += f', pattern="{e.text}"'
        out.append(line + "\n")
    return "".join(out)


@command("get acl", level=Level.USER)
def cmd_get_acl(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    """`get acl <acl> <value>`: what each expression using the list matches."""
    return _get(ctx, args, F_ACL)


@command("get map", level=Level.USER)
def cmd_get_map(ctx: CommandContext, args: list[str], payload: str | None) -> str:
    return _get(ctx, args, F_MAP)


# ------------------------------------------------------------------ add


def _load(ref: PatRef, text: str, value: str | None) -> None:
    try:
        ref.load(text, value)
    except ValueError as exc:
        raise CliError(str(exc)) from None


@command("add acl", level=Level.USER)
def cmd_add_acl(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    rest = _words(args, 2)
    if len(rest) < 2:
        raise CliError("'add acl' expects two parameters: ACL identifier and pattern.")
    _load(_ref(ctx, rest[0], F_ACL), rest[1], None)


@command("add map", level=Level.USER)
def cmd_add_map(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    """`add map <map> <key> <value>` or `add map <map> <<` with `key value` lines."""
    rest = _words(args, 2)
    if not (len(rest) >= 3 or (len(rest) == 1 and payload is not None)):
        raise CliError(
            "'add map' expects three parameters (map identifier, key and value) or one "
            "parameter (map identifier) and a payload"
        )
    ref = _ref(ctx, rest[0], F_MAP)
    if payload is None:
        _load(ref, rest[1], rest[2])
        return
    for line in payload.split("\n"):
        line = line.strip()
        if not line:
            continue
        parts = line.split(None, 1)
        if len(parts) < 2:
            raise CliError(f"Missing value for key '{parts[0]}'.")
        _load(ref, parts[0], parts[1].strip())


# ------------------------------------------------------------------ del / set / clear


def _del(ctx: CommandContext, args: list[str], flag: int) -> None:
    rest = _words(args, 2)
    if len(rest) < 2:
        raise CliError(f"This command expects two parameters: {WORD[flag]} identifier and key.")
    ref = _ref(ctx, rest[0], flag)
    ptr = _ptr(rest[1])
    ok = ref.delete_ptr(ptr) if ptr is not None else ref.delete(rest[1])
    if not ok:
        raise CliError("Key not found.")


@command("del acl", level=Level.USER)
def cmd_del_acl(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    _del(ctx, args, F_ACL)


@command("del map", level=Level.USER)
def cmd_del_map(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    _del(ctx, args, F_MAP)


@command("set map", level=Level.USER)
def cmd_set_map(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    """`set map <map> <key>|#<ref> <value>`: every entry with that key (or that one entry)."""
    rest = args[2:]
    if len(rest) < 3:
        raise CliError("'set map' expects three parameters: map identifier, key and value.")
    ref = _ref(ctx, rest[0], F_MAP)
    ptr = _ptr(rest[1])
    if ptr is not None:
        if not ref.set_value_ptr(ptr, rest[2]):
            raise CliError("key or pattern not found.")
    elif not ref.set_value(rest[1], rest[2]):
        raise CliError("entry not found.")


def _clear(ctx: CommandContext, args: list[str], flag: int) -> None:
    rest = _words(args, 2)
    if not rest:
        raise CliError(f"Missing {WORD[flag]} identifier.")
    _ref(ctx, rest[0], flag).clear()


@command("clear acl", level=Level.USER)
def cmd_clear_acl(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    _clear(ctx, args, F_ACL)


@command("clear map", level=Level.USER)
def cmd_clear_map(ctx: CommandContext, args: list[str], payload: str | None) -> None:
    _clear(ctx, args, F_MAP)
