"""Tokenizer tests; expected words and messages come from haproxy 2.6.12 (`.notice` probes)."""

from __future__ import annotations

import pytest

from lb.config.errors import ConfigError, ConfigWarning, LexError
from lb.config.lexer import Line, split_line, tokenize, tokenize_all

ENV = {"HOME": "/root", "_U": "under", "V": "p  q", "EMPTY": ""}


def words(raw: str) -> list[str]:
    return split_line(raw, ENV)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a b\tc", ["a", "b", "c"]),
        ("   indented    words  ", ["indented", "words"]),
        ('a"b c"d', ["ab cd"]),
        ("'e f'g\\ h", ["e fg h"]),
        ("\\#x", ["#x"]),
        ("\\\\", ["\\"]),
        ('\\"', ['"']),
        ("\\'", ["'"]),
        ("\\$", ["\\$"]),
        ("\\x41", ["A"]),
        ("[\\r]", ["[\r]"]),
        ("[\\n]", ["[\n]"]),
        ("[\\t]", ["[\t]"]),
        ("\\q", ["\\q"]),
        ('"\\q"', ["\\q"]),
        ('"a\\"b"', ['a"b']),
        ("'\\n'", ["\\n"]),
        ('"[\\n]"', ["[\n]"]),
        ('"\\x41"', ["A"]),
        ("'\\x41'", ["\\x41"]),
        ('"\\#"', ["#"]),
        ('"\\$HOME"', ["$HOME"]),
        ('"\\\\"', ["\\"]),
        ('"\\\'"', ["'"]),
        ('"a\\ b"', ["a b"]),
        ("'a\\'", ["a\\"]),
        ("x\\", ["x\\"]),
        ('"#"', ["#"]),
        ("'#'", ["#"]),
        ("a#b c", ["a"]),
        ("end # comment", ["end"]),
        ('x "" y', ["x", "", "y"]),
        ("''", [""]),
    ],
)
def test_quoting_and_escapes(raw: str, expected: list[str]) -> None:
    assert words(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("$HOME", ["$HOME"]),
        ("${HOME}", ["${HOME}"]),
        ('"$HOME"', ["/root"]),
        ("'$HOME'", ["$HOME"]),
        ('"${HOME}x"', ["/rootx"]),
        ('"$HOME.x"', ["/root.x"]),
        ('"$HOMEx"', [""]),
        ('"${NOPE-def}"', ["def"]),
        ('"${NOPE-d e f}"', ["d e f"]),
        ('"${HOME-d}"', ["/root"]),
        ('"${EMPTY-def}"', [""]),
        ('"[$UNSET]"', ["[]"]),
        ('"[${UNSET}]"', ["[]"]),
        ('"$_U"', ["under"]),
        ('"${NOPE-${V}}"', ["${V}"]),
        ('"${NOPE-a}b}"', ["ab}"]),
        ('"${V-}"', ["p  q"]),
        ('"${V[*]}" after', ["p", "q", "after"]),
        ('"a${V[*]}b" after', ["ap", "qb", "after"]),
        ('"${V[*]-x}"', ["p", "q"]),
        ('"${V[*]}${V[*]}" after', ["p", "qp", "q", "after"]),
        ('"${NOPE[*]}" after more', ["", "after", "more"]),
        ('"${EMPTY[*]}" after more', ["", "after", "more"]),
        ('"x${HOME[*]}y"', ["x/rooty"]),
        ('"a$V[*]b"', ["ap  q[*]b"]),
    ],
)
def test_environment(raw: str, expected: list[str]) -> None:
    assert words(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            '    log "stdout format raw local0',
            'unmatched quote at position 9:\n  log "stdout format raw local0\n      ^',
        ),
        (
            "    log 'stdout format raw local0",
            "unmatched quote at position 9:\n  log 'stdout format raw local0\n      ^",
        ),
        (
            "  foo \\x4",
            "truncated or invalid hexadecimal sequence at position 7:\n  foo \\x4\n      ^",
        ),
        (
            '.notice "${BAR"',
            "unmatched brace in environment variable name at position 11:\n"
            '  .notice "${BAR"\n            ^',
        ),
        (
            '.notice "$"',
            "forbidden first char in environment variable name at position 11:\n"
            '  .notice "$"\n            ^',
        ),
        (
            '.notice "a$"',
            "forbidden first char in environment variable name at position 12:\n"
            '  .notice "a$"\n             ^',
        ),
        (
            '.notice "$1"',
            "forbidden first char in environment variable name at position 11:\n"
            '  .notice "$1"\n            ^',
        ),
        (
            '.notice "${}"',
            "forbidden first char in environment variable name at position 12:\n"
            '  .notice "${}"\n             ^',
        ),
        (
            '.notice "${V[x]}"',
            "truncated or invalid word expansion sequence at position 13:\n"
            '  .notice "${V[x]}"\n              ^',
        ),
    ],
)
def test_syntax_errors(raw: str, message: str) -> None:
    with pytest.raises(LexError) as exc:
        words(raw)
    assert exc.value.message == message


def test_too_many_words() -> None:
    ok = ".notice " + " ".join(str(i) for i in range(63))
    assert len(words(ok)) == 64
    bad = ".notice " + " ".join(str(i) for i in range(64))
    with pytest.raises(LexError) as exc:
        words(bad)
    assert exc.value.message == "too many words, truncating after word 64, position 185: <62>."


def test_tokenize_lines_and_locations() -> None:
    text = '# comment\n\nglobal\n    maxconn 100   # trailing\n  \t\n"" ignored\nfrontend f\r\n'
    got = list(tokenize(text, "x.cfg", ENV))
    assert got == [
        Line("x.cfg", 3, ("global",)),
        Line("x.cfg", 4, ("maxconn", "100")),
        Line("x.cfg", 7, ("frontend", "f")),
    ]
    assert got[1].raw == "    maxconn 100   # trailing"


def test_tokenize_error_has_location() -> None:
    text = 'global\n    log "stdout format raw local0\n'
    with pytest.raises(ConfigError) as exc:
        list(tokenize(text, "a.cfg", ENV))
    assert exc.value.file == "a.cfg"
    assert exc.value.line == 2
    assert str(exc.value) == (
        'parsing [a.cfg:2]: unmatched quote at position 9:\n  log "stdout format raw local0\n'
        "      ^"
    )


def test_tokenize_all_keeps_going() -> None:
    text = 'a "b\nc d\ne \\xZZ\nf\n'
    lines, errors = tokenize_all(text, "t.cfg", ENV)
    assert [line.words for line in lines] == [("c", "d"), ("f",)]
    assert [(e.line, e.message.split(" at ")[0]) for e in errors] == [
        (1, "unmatched quote"),
        (3, "truncated or invalid hexadecimal sequence"),
    ]


def test_default_env_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LB_LEXER_TEST", "v1")
    assert list(tokenize('x "$LB_LEXER_TEST"', "t.cfg")) == [Line("t.cfg", 1, ("x", "v1"))]


def test_config_error_formats() -> None:
    err = ConfigError("unknown keyword 'foo' in 'frontend' section", "conf/x.cfg", 12)
    assert str(err) == "parsing [conf/x.cfg:12] : unknown keyword 'foo' in 'frontend' section"
    assert str(ConfigError("Fatal errors found in configuration.")) == (
        "Fatal errors found in configuration."
    )


def test_config_warning_format() -> None:
    warn = ConfigWarning("something odd", "x.cfg", 3)
    assert str(warn) == "parsing [x.cfg:3] : something odd"
    assert warn.file == "x.cfg" and warn.line == 3 and warn.message == "something odd"
