"""ACL and map pattern stores: the lists `show acl` / `show map` number and edit.

A `PatRef` is one list of patterns: a file (`-f`, a map converter's file)
or the values written on one `acl` line. Each expression that uses the list
(an ACL with its match method, a map converter) subscribes an index
(`lb.matchers`); adding, deleting or setting an entry goes through the
`PatRef` methods, which update every index at once, so a change made on the
stats socket acts on the next request.

One numbering covers ACLs and maps, as in HAProxy: the lists of `acl` lines
and conditions in file order, then the two lists of HAProxy's internal
`httpclient` proxy (kept so that ids match a real HAProxy's), then the maps
in the order their converters were compiled.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
from collections.abc import Iterator
from typing import Any

from lb.matchers import Index, MatchKind

F_ACL = 1
F_MAP = 2

# Fake but stable "pointers" for `show acl` and `set map #<ref>`.
_ptrs = itertools.count(0x5600_0F55_0000, 0x50)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic collection while a list is loaded or indexed.

    Every entry survives, so the collector finds nothing, yet with 100k entries it
    ran dozens of times, each pass walking everything loaded so far (quadratic:
    ~0.5 s of a 100k-entry start-up). Left as it was when nested.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class PatEntry:
    """One pattern line: its text, a map's value, and its reference pointer."""

    __slots__ = ("ptr", "text", "value")

    def __init__(self, text: str, value: str | None = None) -> None:
        self.ptr = next(_ptrs)
        self.text = text
        self.value = value


class Expr:
    """One user of a list: its index and how `get acl|map` describes it."""

    __slots__ = ("kind", "index", "icase", "out_type")

    def __init__(self, kind: MatchKind, index: Index, icase: bool, out_type: str = "str") -> None:
        self.kind = kind
        self.index = index
        self.icase = icase
        self.out_type = out_type


class PatRef:
    def __init__(self, file: str, desc: str, flags: int, order: tuple[Any, ...]) -> None:
        self.id = -1
        self.file = file
        self.desc = desc
        self.flags = flags
        self.order = order
        self.entries: dict[int, PatEntry] = {}
        self.entry_cnt = 0
        self.exprs: list[Expr] = []

    # ------------------------------------------------------------ expressions

    def subscribe(self, expr: Expr) -> None:
        """Index every current entry for a new user (ValueError on a bad pattern)."""
        with _gc_paused():
            for e in self.entries.values():
                expr.index.add(e)
        self.exprs.append(expr)

    # ------------------------------------------------------------ changes

    def load(self, text: str, value: str | None = None) -> PatEntry:
        """Add one entry (file loading, `add acl|map`); ValueError leaves nothing behind."""
        e = PatEntry(text, value)
        done: list[Expr] = []
        try:
            for x in self.exprs:
                x.index.add(e)
                done.append(x)
        except ValueError:
            for x in done:
                x.index.remove(e)
            # HAProxy 2.6 counts a refused entry out of entry_cnt: the drift
            # seen in `show acl` after a bad `add acl` (reference 320/328).
            self.entry_cnt -= 1
            raise
        self.entries[e.ptr] = e
        self.entry_cnt += 1
        return e

    def _drop(self, e: PatEntry) -> None:
        for x in self.exprs:
            x.index.remove(e)
        del self.entries[e.ptr]
        self.entry_cnt -= 1

    def delete(self, key: str) -> bool:
        """Delete every entry written `key` (duplicates too)."""
        victims = [e for e in self.entries.values() if e.text == key]
        for e in victims:
            self._drop(e)
        return bool(victims)

    def delete_ptr(self, ptr: int) -> bool:
        e = self.entries.get(ptr)
        if e is None:
            return False
        self._drop(e)
        return True

    def set_value(self, key: str, value: str) -> bool:
        found = False
        for e in self.entries.values():
            if e.text == key:
                e.value = value
                found = True
        return found

    def set_value_ptr(self, ptr: int, value: str) -> bool:
        e = self.entries.get(ptr)
        if e is None:
            return False
        e.value = value
        return True

    def clear(self) -> None:
        for x in self.exprs:
            x.index.clear()
        self.entries.clear()
        self.entry_cnt = 0

    def __iter__(self) -> Iterator[PatEntry]:
        return iter(list(self.entries.values()))

    def listing(self) -> str:
        """The `show acl|map` line describing this list."""
        return (
            f"{self.id} ({self.file}) {self.desc}. curr_ver=0 next_ver=0 "
            f"entry_cnt={self.entry_cnt}\n"
        )


def read_pattern_file(path: str, is_map: bool) -> list[tuple[str, str | None]]:
    """Lines of an ACL or map file: comments and blank lines skipped, spaces trimmed."""
    out: list[tuple[str, str | None]] = []
    with open(path, encoding="latin-1") as f:
        for line in f:
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            if is_map:
                parts = s.split(None, 1)
                out.append((parts[0], parts[1].strip() if len(parts) > 1 else ""))
            else:
                out.append((s, None))
    return out


class PatternStore:
    """Every pattern list of one live state, with the shared id numbering."""

    def __init__(self) -> None:
        self.refs: list[PatRef] = []
        self.by_file: dict[str, PatRef] = {}
        self._seq = itertools.count()

    def new_inline(self, desc: str, order: tuple[Any, ...]) -> PatRef:
        ref = PatRef("", desc, F_ACL, (*order, next(self._seq)))
        self.refs.append(ref)
        return ref

    def file_ref(self, path: str, flags: int, desc: str, order: tuple[Any, ...]) -> PatRef:
        """The list of `path`, loaded on first use and shared afterwards."""
        ref = self.by_file.get(path)
        if ref is not None:
            ref.flags |= flags
            return ref
        with _gc_paused():
            rows = read_pattern_file(path, bool(flags & F_MAP))
            ref = PatRef(path, desc, flags, (*order, next(self._seq)))
            for text, value in rows:
                e = PatEntry(text, value)
                ref.entries[e.ptr] = e
        ref.entry_cnt = len(ref.entries)
        self.refs.append(ref)
        self.by_file[path] = ref
        return ref

    def number(self) -> None:
        """Give ids: ACL lists by place in the files, HAProxy's two internal ones, maps."""
        acl_refs = sorted((r for r in self.refs if r.flags & F_ACL), key=lambda r: r.order)
        maps = [r for r in self.refs if not r.flags & F_ACL]
        maps.sort(key=lambda r: r.order[-1])
        internal = []
        for _ in range(2):
            r = PatRef("", "acl 'var' file 'httpclient' line 0", F_ACL, ())
            r.entries = {(e := PatEntry("0.0.0.0")).ptr: e}
            r.entry_cnt = 1
            internal.append(r)
        self.refs = [*acl_refs, *internal, *maps]
        for i, r in enumerate(self.refs):
            r.id = i

    def find(self, ident: str, flag: int) -> PatRef | None:
        """`#<id>` or a file name, among the lists flagged `flag`."""
        if ident.startswith("#"):
            try:
                n = int(ident[1:])
            except ValueError:
                return None
            for r in self.refs:
                if r.id == n and r.flags & flag:
                    return r
            return None
        r = self.by_file.get(ident)
        return r if r is not None and r.flags & flag else None

    def listed(self, flag: int) -> list[PatRef]:
        return [r for r in self.refs if r.flags & flag]
