"""The ``.if`` / ``-cc`` condition language of HAProxy 2.6 (sans-IO).

Grammar (``||`` binds looser than ``&&``, no precedence surprises)::

    expr := and ('||' and)*
    and  := term ('&&' term)*
    term := '!' term | '(' expr ')' | number | predicate ['(' args ')']

Numbers follow C's ``strtol`` with base 0 (``0x10``, ``010``, ``-1``) and are
true when non-zero.  Predicates: ``defined(NAME)``, ``feature(NAME)``,
``streq(a,b)``, ``strneq(a,b)``, ``version_atleast(V)``, ``version_before(V)``.
Arguments are taken verbatim up to ``,`` or ``)`` (spaces included), with
``'...'``/``"..."`` protecting those characters.  The whole expression is
parsed before anything is evaluated, so a syntax error is reported even in a
branch that would not be evaluated.

Error messages are HAProxy's; `CondError.pos` is the 0-based offset HAProxy
points its caret at (``.if`` diagnostics show it as ``at position pos+1``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lb.config.lexer import split_line

_SPACE = " \t"
_PREDICATES: dict[str, tuple[int, int]] = {
    # name: (minimum, maximum) number of arguments
    "defined": (0, 1),
    "feature": (0, 1),
    "streq": (2, 2),
    "strneq": (2, 2),
    "version_atleast": (0, 1),
    "version_before": (0, 1),
}
_NUMBER = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_VERSION_STAGES = {"dev": 0, "pre": 1, "rc": 2}
_RELEASE = 3


class CondError(ValueError):
    """A syntax error in a condition; `message` is HAProxy's sentence."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(frozen=True)
class _Term:
    kind: str  # "num", "pred", "not", "sub"
    value: object


@dataclass(frozen=True)
class _Node:
    op: str  # "and" / "or"
    left: object
    right: object


class _Empty(Exception):
    """Internal: a term had nothing to parse (HAProxy reports it one level up)."""


def _strtol(text: str) -> int:
    """Value of a literal matched by `_NUMBER`, read like C's strtol(base 0)."""
    sign = -1 if text[0] == "-" else 1
    digits = text.lstrip("+-")
    if digits[:2] in ("0x", "0X"):
        return sign * int(digits[2:], 16)
    if len(digits) > 1 and digits[0] == "0":
        return sign * int(digits[1:], 8)
    return sign * int(digits)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)

    def skip(self, i: int) -> int:
        while i < self.n and self.text[i] in _SPACE:
            i += 1
        return i

    def fail(self, what: str, pos: int, shown: int | None = None) -> CondError:
        start = pos if shown is None else shown
        return CondError(f"{what} '{self.text[start:]}'", pos)

    def expr(self, i: int) -> tuple[object, int]:
        start = i
        node, i = self.and_(i)
        first_op: int | None = None
        while True:
            j = self.skip(i)
            if not self.text.startswith("||", j):
                return node, i
            first_op = j if first_op is None else first_op
            try:
                right, i = self.and_(self.skip(j + 2))
            except _Empty:
                # shown from the start of the whole '||' chain, caret on its first '||'
                raise self.fail("unparsable conditional expression", first_op, start) from None
            node = _Node("or", node, right)

    def and_(self, i: int) -> tuple[object, int]:
        node, i = self.term(i)
        first_op: int | None = None
        while True:
            j = self.skip(i)
            if not self.text.startswith("&&", j):
                return node, i
            first_op = j if first_op is None else first_op
            try:
                right, i = self.term(self.skip(j + 2))
            except _Empty:
                # HAProxy points at the first '&&' of the chain, not the last one
                raise self.fail("unparsable conditional expression", first_op) from None
            node = _Node("and", node, right)

    def term(self, i: int) -> tuple[object, int]:
        text = self.text
        # errors inside a term are shown from where it starts, leading blanks and
        # '!'s included (operators skip the blanks that follow them)
        start, negations = i, 0
        i = self.skip(i)
        if i >= self.n:
            raise _Empty
        while i < self.n and text[i] == "!":
            negations += 1
            i = self.skip(i + 1)
        node, j = self.operand(start, i)
        for _ in range(negations):
            node = _Term("not", node)
        return node, j

    def operand(self, start: int, i: int) -> tuple[object, int]:
        text = self.text
        if i >= self.n:
            raise self.fail("unparsable conditional expression", start)
        if text[i] == "(":
            try:
                inner, j = self.expr(self.skip(i + 1))
            except _Empty:
                raise self.fail("unparsable conditional expression", start) from None
            j = self.skip(j)
            if j >= self.n or text[j] != ")":
                raise CondError(
                    f"expected ')' after conditional expression '{text[start:]}'", start
                )
            return _Term("sub", inner), j + 1
        m = _NUMBER.match(text, i)
        if m:
            return _Term("num", _strtol(m.group(0))), m.end()
        # the predicate name runs up to '(' or a blank: "defined&&1" is an unknown name
        j = i
        while j < self.n and text[j] not in "( \t":
            j += 1
        name = text[i:j]
        if name not in _PREDICATES:
            raise self.fail("unparsable conditional expression", start)
        args, j = self.args(name, j)
        return _Term("pred", (name, tuple(args))), j

    def args(self, name: str, i: int) -> tuple[list[str], int]:
        text = self.text
        lo, hi = _PREDICATES[name]
        suffix = f" of predicate '{name}' used in conditional expression"
        missing = "missing arguments (got 1/2), type 'string' expected in argument 1" + suffix
        args: list[str] = []
        if i < self.n and text[i] == "(":
            i += 1
            cur: list[str] = []
            while True:
                if i >= self.n:
                    if len(args) + 1 < lo:
                        raise CondError(missing, i)
                    raise CondError(f"expected ')' in argument 1{suffix}", i)
                c = text[i]
                if c in "'\"":
                    close = text.find(c, i + 1)
                    if close < 0:
                        if len(args) + 1 < lo:
                            raise CondError(missing, self.n)
                        raise CondError(f"expected ')' in argument 1{suffix}", self.n)
                    cur.append(text[i + 1 : close])
                    i = close + 1
                    continue
                if c in ",)":
                    args.append("".join(cur))
                    cur = []
                    if c == ")":
                        i += 1
                        break
                    if len(args) >= hi:
                        raise CondError(
                            f"expected ')' before '{text[i:]}' in argument 1{suffix}", i
                        )
                    i += 1
                    continue
                cur.append(c)
                i += 1
        if len(args) < lo:
            raise CondError(missing, i - 1 if args else i)
        return args, i


def parse_version(text: str) -> tuple[int, ...]:
    """Turn ``2.6.12``, ``2.7-dev3``, ``2.6.12-2`` into a comparable tuple.

    Up to four dotted numbers, then an optional ``-devN``/``-preN``/``-rcN``
    stage (a release sorts after its rc), then an optional ``-N`` build
    number.  Parsing stops quietly at anything else, as HAProxy does:
    ``abc`` is 0.0.0.0 and the ``+deb12u4`` of a distro version is ignored.
    """
    nums = [0, 0, 0, 0]
    stage, stage_num, build = _RELEASE, 0, 0
    m = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?", text)
    if not m:
        return (*nums, stage, stage_num, build)
    for k, part in enumerate(m.groups()):
        if part is not None:
            nums[k] = int(part)
    rest = text[m.end() :]
    sm = re.match(r"-(dev|pre|rc)(\d*)", rest)
    if sm:
        stage = _VERSION_STAGES[sm.group(1)]
        stage_num = int(sm.group(2) or 0)
        rest = rest[sm.end() :]
    bm = re.match(r"-(\d+)(?=$|-)", rest)
    if bm:
        build = int(bm.group(1))
    return (*nums, stage, stage_num, build)


def _default_defined(name: str) -> bool:
    return name in os.environ


def _eval(
    node: object, version: tuple[int, ...], features: set[str], defined: Callable[[str], bool]
) -> bool:
    if isinstance(node, _Node):
        left = _eval(node.left, version, features, defined)
        if node.op == "and":
            return left and _eval(node.right, version, features, defined)
        return left or _eval(node.right, version, features, defined)
    assert isinstance(node, _Term)
    if node.kind == "num":
        return node.value != 0
    if node.kind == "not":
        return not _eval(node.value, version, features, defined)
    if node.kind == "sub":
        return _eval(node.value, version, features, defined)
    name, args = node.value  # type: ignore[misc]
    arg = args[0] if args else ""
    if name == "defined":
        return bool(arg) and defined(arg)
    if name == "feature":
        return arg == "" or arg in features
    if name == "streq":
        return args[0] == args[1]
    if name == "strneq":
        return args[0] != args[1]
    if name == "version_atleast":
        return version >= parse_version(arg)
    return version < parse_version(arg)


def parse(expr: str) -> object:
    """Parse `expr` into an opaque tree (None for the empty expression); raise CondError."""
    if expr == "":
        return None
    parser = _Parser(expr)
    try:
        node, i = parser.expr(0)
    except _Empty:
        raise CondError(f"unparsable conditional sub-expression '{expr}'", 0) from None
    i = parser.skip(i)
    if i < len(expr):
        raise CondError(
            f"unexpected character '{expr[i]}' at the end of conditional expression '{expr}'", i
        )
    return node


def evaluate(
    expr: str,
    version: str,
    features: set[str],
    defined: Callable[[str], bool] | None = None,
) -> bool:
    """Evaluate a condition. The empty expression is false.

    `version` is the version to compare with (e.g. ``"2.6.12"``), `features`
    the names HAProxy lists with a ``+`` in ``-vv``, `defined` tells whether
    an environment variable exists (defaults to `os.environ`).  Raise
    `CondError` (a ValueError) on syntax errors.
    """
    node = parse(expr)
    if node is None:
        return False
    return _eval(node, parse_version(version), features, defined or _default_defined)


def merge_words(words: Sequence[str], trailing_space: bool = False) -> str:
    """Rebuild the expression HAProxy evaluates from tokenized words.

    HAProxy joins the words of a ``.if`` line (after the keyword) or of the
    ``-cc`` argument with single spaces; trailing whitespace on the line
    survives as one space.
    """
    return " ".join(words) + (" " if trailing_space else "")


def expression_from_cc_arg(arg: str) -> str:
    """Turn the raw ``-cc`` argument into the expression HAProxy evaluates.

    The argument goes through the configuration tokenizer first (quotes,
    escapes, environment), then its words are joined with single spaces;
    leading or trailing whitespace becomes one space.  Raise LexError.
    """
    words = split_line(arg)
    if not words:
        return " " if arg else ""
    lead = " " if arg[0] in " \t" else ""
    trail = " " if arg[-1] in " \t" else ""
    return lead + merge_words(words) + trail


def evaluate_cc_arg(
    arg: str,
    version: str,
    features: set[str],
    defined: Callable[[str], bool] | None = None,
) -> bool:
    """`evaluate` for the raw argument of ``lb -cc``.

    Callers print failures as ``Failed to evaluate condition: <message>`` and
    exit with status 2; a false condition exits with 1, a true one with 0.
    """
    return evaluate(expression_from_cc_arg(arg), version, features, defined)
