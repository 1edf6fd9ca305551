"""ACL conditions: `if|unless` followed by ACL names, `!`, `||` and `{ inline }`.

Conditions compile once into a plain callable `cond(stream) -> bool`. The
named ACLs of a proxy are compiled lazily from their `acl` lines through the
sample-fetch and matcher registries (`lb.sample`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lb.config.model import Rule

Cond = Callable[[Any], bool]

# HAProxy's predefined ACLs that need no fetch.
PREDEFINED: dict[str, Cond] = {
    "TRUE": lambda s: True,
    "FALSE": lambda s: False,
    "HTTP": lambda s: s.head is not None,
    "HTTP_1.0": lambda s: s.head is not None and s.head.version == b"HTTP/1.0",
    "HTTP_1.1": lambda s: s.head is not None and s.head.version == b"HTTP/1.1",
    "METH_GET": lambda s: s.method in (b"GET", b"HEAD"),
    "METH_HEAD": lambda s: s.method == b"HEAD",
    "METH_POST": lambda s: s.method == b"POST",
    "METH_PUT": lambda s: s.method == b"PUT",
    "METH_OPTIONS": lambda s: s.method == b"OPTIONS",
    "METH_CONNECT": lambda s: s.method == b"CONNECT",
    "METH_DELETE": lambda s: s.method == b"DELETE",
    "METH_TRACE": lambda s: s.method == b"TRACE",
    "LOCALHOST": lambda s: s.client_ip in ("127.0.0.1", "::1"),
}


class AclError(ValueError):
    pass


class AclSet:
    """The named ACLs of one proxy, compiled on first reference."""

    def __init__(self, rules: list[Rule], compile_acl: Callable[[Rule], Cond] | None) -> None:
        self.lines: dict[str, list[Rule]] = {}
        for r in rules:
            if not r.words:
                continue
            self.lines.setdefault(r.words[0], []).append(r)
        self.compiled: dict[str, Cond] = {}
        self.compile_acl = compile_acl
        # `{ … }` compiler and the place of the rule being compiled (set by lb.acl_setup)
        self.inline: Callable[[list[str]], Cond] | None = None
        self.where: Any = None

    def get(self, name: str) -> Cond:
        c = self.compiled.get(name)
        if c is not None:
            return c
        lines = self.lines.get(name)
        if lines is None:
            pre = PREDEFINED.get(name)
            if pre is None:
                raise AclError(f"no such ACL : '{name}'")
            return pre
        if self.compile_acl is None:
            raise AclError(f"ACL '{name}' : sample fetches are not available")
        parts = [self.compile_acl(r) for r in lines]
        if len(parts) == 1:
            c = parts[0]
        else:
            c = lambda s, parts=parts: any(p(s) for p in parts)  # noqa: E731
        self.compiled[name] = c
        return c


def compile_condition(
    words: list[str] | tuple[str, ...],
    acls: AclSet,
    inline: Callable[[list[str]], Cond] | None = None,
) -> Cond:
    """Compile `if|unless TERMS…`; terms are ANDed, `||` separates OR groups."""
    if inline is None:
        inline = acls.inline
    if not words:
        raise AclError("missing condition")
    kw = words[0]
    if kw not in ("if", "unless"):
        raise AclError(f"expects 'if' or 'unless' followed by a condition but found '{kw}'")
    terms = list(words[1:])
    if not terms:
        raise AclError(f"missing condition after '{kw}'")
    groups: list[list[tuple[Cond, bool]]] = [[]]
    i = 0
    while i < len(terms):
        t = terms[i]
        if t in ("||", "or"):
            groups.append([])
            i += 1
            continue
        neg = False
        while t.startswith("!"):
            neg = not neg
            t = t[1:]
            if not t:
                i += 1
                if i >= len(terms):
                    raise AclError("missing ACL after '!'")
                t = terms[i]
        if t == "{":
            j = terms.index("}", i) if "}" in terms[i:] else -1
            if j < 0:
                raise AclError("missing closing '}' in condition")
            if inline is None:
                raise AclError("anonymous ACLs are not available")
            c = inline(terms[i + 1 : j])
            i = j + 1
        else:
            c = acls.get(t)
            i += 1
        groups[-1].append((c, neg))
    if any(not g for g in groups):
        raise AclError("empty group in condition")
    if len(groups) == 1 and len(groups[0]) == 1 and not groups[0][0][1] and kw == "if":
        return groups[0][0][0]
    return _straight_line(groups, kw == "unless")


def _straight_line(groups: list[list[tuple[Cond, bool]]], negate: bool) -> Cond:
    """One function for a whole condition: `a(s) and not b(s) or c(s)`, evaluated
    left to right with short-circuits as HAProxy does, without a call per term."""
    ns: dict[str, Cond] = {}
    ors = []
    for gi, group in enumerate(groups):
        ands = []
        for ci, (c, neg) in enumerate(group):
            name = f"c{gi}_{ci}"
            ns[name] = c
            ands.append(f"{'not ' if neg else ''}{name}(s)")
        ors.append(" and ".join(ands))
    expr = " or ".join(f"({a})" for a in ors) if len(ors) > 1 else ors[0]
    return eval(f"lambda s: {'not' if negate else 'bool'}({expr})", ns)  # noqa: S307
