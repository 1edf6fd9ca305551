"""Condition evaluator; expected results and messages are haproxy 2.6.12's (`haproxy -cc`)."""

from __future__ import annotations

import pytest

from lb.cc_expr import (
    CondError,
    evaluate,
    evaluate_cc_arg,
    expression_from_cc_arg,
    merge_words,
    parse_version,
)

# What the real binary reports: 2.6.12-1+deb12u4 behaves as 2.6.12.
VERSION = "2.6.12-1+deb12u4"
FEATURES = {"EPOLL", "OPENSSL", "LUA", "PCRE2", "POLL", "THREAD"}
ENV = {"HOME"}


def ev(expr: str) -> bool:
    return evaluate(expr, VERSION, FEATURES, ENV.__contains__)


@pytest.mark.parametrize(
    ("expr", "result"),
    [
        ("", False),
        ("1", True),
        ("0", False),
        ("2", True),
        ("-1", True),
        ("-0", False),
        ("+1", True),
        ("01", True),
        ("010", True),
        ("0x10", True),
        ("0x0", False),
        ("99999999999999999999", True),
        (" 1 ", True),
        ("!0", True),
        ("!1", False),
        ("! 1", False),
        ("!!1", True),
        ("!!!0", True),
        ("1 && 0", False),
        ("1&&1", True),
        ("1 || 0", True),
        ("0 || 0", False),
        ("(0)", False),
        ("((((1))))", True),
        (" (1)", True),
        ("( 1 )", True),
        ("!(0)", True),
        ("(1 || 0) && !0", True),
        ("0 || 0 || 1 && 0", False),
        ("1 && 0 || 1", True),
        ("0 && 1 || 1", True),
        ("1 || 1 && 0", True),
        ("defined(HOME)", True),
        ("defined(NOPE)", False),
        ("defined()", False),
        ("defined", False),
        ("defined( HOME )", False),
        ("!defined(NOPE)", True),
        ("defined(HOME)&&defined(HOME)", True),
        ("feature(OPENSSL)", True),
        ("feature(NOPE)", False),
        ("feature(openssl)", False),
        ("feature(OPENS)", False),
        ("feature(SSL)", False),
        ("feature(+LUA)", False),
        ("feature(LUA )", False),
        ("feature()", True),
        ("feature", True),
        ("streq(a,a)", True),
        ("streq(a,b)", False),
        ("strneq(a,b)", True),
        ("strneq(a,a)", False),
        ("streq( a , a )", True),
        ("streq( a ,a)", False),
        ("streq(a ,a)", False),
        ("streq(,)", True),
        ("streq(a,)", False),
        ("streq(,a)", False),
        ('streq("a,b","a,b")', True),
        ("streq('a)b','a)b')", True),
        ("streq(a,a) &&1", True),
        ("feature(OPENSSL) && version_atleast(2.5) || 0", True),
        ("version_atleast(2.4)", True),
        ("version_atleast(2.7)", False),
        ("version_before(2.7)", True),
        ("version_atleast(2.6.12)", True),
        ("version_atleast(2.6.13)", False),
        ("version_atleast(2.6.12.1)", False),
        ("version_atleast(2.6.12.0)", True),
        ("version_before(2.6.12.0)", False),
        ("version_before(2.6.12)", False),
        ("version_atleast(2.6.12-1)", False),
        ("version_atleast(2.6.12-2)", False),
        ("version_atleast(2.6.12-rc1)", True),
        ("version_before(2.6.12-rc1)", False),
        ("version_atleast(2.6.13-dev1)", False),
        ("version_atleast(2.6.12-dev99)", True),
        ("version_atleast(2.6.12-1+deb12u4)", True),
        ("version_atleast(2.6.12-1+deb12u5)", True),
        ("version_atleast(2.6.12+x)", True),
        ("version_atleast(2.6-dev1)", True),
        ("version_atleast(2)", True),
        ("version_atleast(3)", False),
        ("version_atleast()", True),
        ("version_atleast", True),
        ("version_atleast(abc)", True),
        ("version_before(abc)", False),
        ("version_before()", False),
    ],
)
def test_evaluate(expr: str, result: bool) -> None:
    assert ev(expr) is result


@pytest.mark.parametrize(
    ("expr", "message", "pos"),
    [
        ("1 &&", "unparsable conditional expression '&&'", 2),
        ("1 && ", "unparsable conditional expression '&& '", 2),
        ("1 || 0 &&", "unparsable conditional expression '&&'", 7),
        ("0 || 1 && ", "unparsable conditional expression '&& '", 7),
        ("1 || ", "unparsable conditional expression '1 || '", 2),
        ("1 || 0 || ", "unparsable conditional expression '1 || 0 || '", 2),
        ("0 && 1 ||", "unparsable conditional expression '0 && 1 ||'", 7),
        ("1 && x", "unparsable conditional expression 'x'", 5),
        ("x", "unparsable conditional expression 'x'", 0),
        ("x && 1", "unparsable conditional expression 'x && 1'", 0),
        ("1 || x", "unparsable conditional expression 'x'", 5),
        ("0 && x", "unparsable conditional expression 'x'", 5),
        ("true", "unparsable conditional expression 'true'", 0),
        ("foo(1)", "unparsable conditional expression 'foo(1)'", 0),
        ("1 || foo(", "unparsable conditional expression 'foo('", 5),
        ("enabled(POLL)", "unparsable conditional expression 'enabled(POLL)'", 0),
        ("definedx(HOME)", "unparsable conditional expression 'definedx(HOME)'", 0),
        ("&&", "unparsable conditional expression '&&'", 0),
        ("1 &&& 1", "unparsable conditional expression '& 1'", 4),
        ("1 &&&1", "unparsable conditional expression '&1'", 4),
        ("1 ||| 1", "unparsable conditional expression '| 1'", 4),
        ("!", "unparsable conditional expression '!'", 0),
        ("! ", "unparsable conditional expression '! '", 0),
        ("!!", "unparsable conditional expression '!!'", 0),
        ("1 && !", "unparsable conditional expression '!'", 5),
        ("0 || !", "unparsable conditional expression '!'", 5),
        ("-", "unparsable conditional expression '-'", 0),
        ("- 1", "unparsable conditional expression '- 1'", 0),
        ("(", "unparsable conditional expression '('", 0),
        ("()", "unparsable conditional expression ')'", 1),
        (")", "unparsable conditional expression ')'", 0),
        ("(1 ||)", "unparsable conditional expression ')'", 5),
        ("(1 || )", "unparsable conditional expression ')'", 6),
        ("(0 && )", "unparsable conditional expression ')'", 6),
        (" ", "unparsable conditional sub-expression ' '", 0),
        ("(1", "expected ')' after conditional expression '(1'", 0),
        ("((1)", "expected ')' after conditional expression '((1)'", 0),
        ("(1 1)", "expected ')' after conditional expression '(1 1)'", 0),
        ("1)", "unexpected character ')' at the end of conditional expression '1)'", 1),
        ("1 1", "unexpected character '1' at the end of conditional expression '1 1'", 2),
        ("1x", "unexpected character 'x' at the end of conditional expression '1x'", 1),
        ("0x", "unexpected character 'x' at the end of conditional expression '0x'", 1),
        ("08", "unexpected character '8' at the end of conditional expression '08'", 1),
        ("1 & 1", "unexpected character '&' at the end of conditional expression '1 & 1'", 2),
        ("1 | 1", "unexpected character '|' at the end of conditional expression '1 | 1'", 2),
        ("(1)(1)", "unexpected character '(' at the end of conditional expression '(1)(1)'", 3),
        (
            "defined(HOME)x",
            "unexpected character 'x' at the end of conditional expression 'defined(HOME)x'",
            13,
        ),
        (
            "defined (HOME)",
            "unexpected character '(' at the end of conditional expression 'defined (HOME)'",
            8,
        ),
        (
            "streq(a)",
            "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate "
            "'streq' used in conditional expression",
            7,
        ),
        (
            "streq()",
            "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate "
            "'streq' used in conditional expression",
            6,
        ),
        (
            "streq",
            "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate "
            "'streq' used in conditional expression",
            5,
        ),
        (
            "streq (a,a)",
            "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate "
            "'streq' used in conditional expression",
            5,
        ),
        (
            "streq(a,b,c)",
            "expected ')' before ',c)' in argument 1 of predicate 'streq' used in conditional "
            "expression",
            9,
        ),
        (
            "strneq(a,b,c)",
            "expected ')' before ',c)' in argument 1 of predicate 'strneq' used in conditional "
            "expression",
            10,
        ),
        (
            "defined(HOME,X)",
            "expected ')' before ',X)' in argument 1 of predicate 'defined' used in conditional "
            "expression",
            12,
        ),
        (
            "version_atleast(1,2,3)",
            "expected ')' before ',2,3)' in argument 1 of predicate 'version_atleast' used in "
            "conditional expression",
            17,
        ),
        (
            "streq(a\\,b,a\\,b)",
            "expected ')' before ',a\\,b)' in argument 1 of predicate 'streq' used in "
            "conditional expression",
            10,
        ),
        (
            "defined(HOME",
            "expected ')' in argument 1 of predicate 'defined' used in conditional expression",
            12,
        ),
        (
            "streq(a,a",
            "expected ')' in argument 1 of predicate 'streq' used in conditional expression",
            9,
        ),
        (
            "version_atleast(2.6",
            "expected ')' in argument 1 of predicate 'version_atleast' used in conditional "
            "expression",
            19,
        ),
    ],
)
def test_errors(expr: str, message: str, pos: int) -> None:
    with pytest.raises(CondError) as exc:
        ev(expr)
    assert exc.value.message == message
    assert str(exc.value) == message
    assert exc.value.pos == pos
    assert isinstance(exc.value, ValueError)


def test_parse_errors_before_evaluation() -> None:
    # HAProxy parses everything first: short-circuit does not hide errors.
    for expr in ("1 || x", "0 && x", "0 && foo("):
        with pytest.raises(CondError):
            ev(expr)


def test_parse_version() -> None:
    assert parse_version("2.6.12") == (2, 6, 12, 0, 3, 0, 0)
    assert parse_version("2.6") == (2, 6, 0, 0, 3, 0, 0)
    assert parse_version("2.7-dev3") == (2, 7, 0, 0, 0, 3, 0)
    assert parse_version("2.6.12-rc1") == (2, 6, 12, 0, 2, 1, 0)
    assert parse_version("2.6.12-pre2") == (2, 6, 12, 0, 1, 2, 0)
    assert parse_version("2.6.12-2") == (2, 6, 12, 0, 3, 0, 2)
    assert parse_version("2.6.12-1+deb12u4") == (2, 6, 12, 0, 3, 0, 0)
    assert parse_version("abc") == (0, 0, 0, 0, 3, 0, 0)
    assert parse_version("") == parse_version("abc")
    assert parse_version("2.6.12") < parse_version("2.6.13-dev1") < parse_version("2.6.13")


def test_default_defined_uses_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LB_CC_TEST", "1")
    monkeypatch.delenv("LB_CC_NOPE", raising=False)
    assert evaluate("defined(LB_CC_TEST)", "2.6.12", set()) is True
    assert evaluate("defined(LB_CC_NOPE)", "2.6.12", set()) is False


def test_cc_argument_is_tokenized_first() -> None:
    assert expression_from_cc_arg('streq("a b","a b")') == "streq(a b,a b)"
    assert expression_from_cc_arg("1 &&  ") == "1 && "
    assert expression_from_cc_arg("  1") == " 1"
    assert expression_from_cc_arg(" ") == " "
    assert expression_from_cc_arg("") == ""
    assert expression_from_cc_arg('"1"') == "1"
    assert evaluate_cc_arg('streq("a b","a b")', VERSION, FEATURES) is True
    assert evaluate_cc_arg('"1"', VERSION, FEATURES) is True
    assert evaluate_cc_arg('streq(\\"a,b\\",\\"a,b\\")', VERSION, FEATURES) is True
    with pytest.raises(CondError) as exc:
        evaluate_cc_arg("1 &&  ", VERSION, FEATURES)
    assert exc.value.message == "unparsable conditional expression '&& '"
    with pytest.raises(CondError) as exc:
        evaluate_cc_arg(" ", VERSION, FEATURES)
    assert exc.value.message == "unparsable conditional sub-expression ' '"


def test_merge_words() -> None:
    assert merge_words(["1", "&&", "0"]) == "1 && 0"
    assert merge_words(["1", "||"], trailing_space=True) == "1 || "


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("!!x", "unparsable conditional expression '!!x'"),
        ("! x", "unparsable conditional expression '! x'"),
        ("!xstreq(a,a)", "unparsable conditional expression '!xstreq(a,a)'"),
        ("!(", "unparsable conditional expression '!('"),
        ("!(1", "expected ')' after conditional expression '!(1'"),
        ("!||", "unparsable conditional expression '!||'"),
        (" && 1", "unparsable conditional expression ' && 1'"),
        ("( && 1)", "unparsable conditional expression '&& 1)'"),
        ("( ( 1", "expected ')' after conditional expression '( 1'"),
        ("1 && 1 && ", "unparsable conditional expression '&& 1 && '"),
        ("(1) && (1) && ", "unparsable conditional expression '&& (1) && '"),
        ("(1) || ", "unparsable conditional expression '(1) || '"),
        ("1 || (1) || ", "unparsable conditional expression '1 || (1) || '"),
        ("!1&&defined&&!strneq(a,b)", "unparsable conditional expression 'defined&&!strneq(a,b)'"),
        ("(defined) && ", "unparsable conditional expression 'defined) && '"),
        (
            "streq(a",
            "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate "
            "'streq' used in conditional expression",
        ),
        (
            "streq(a || 2",
            "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate "
            "'streq' used in conditional expression",
        ),
    ],
)
def test_error_reporting_corner_cases(expr: str, message: str) -> None:
    """Checked against `haproxy -cc` along with 1600 random expressions (all identical)."""
    with pytest.raises(CondError) as exc:
        ev(expr)
    assert exc.value.message == message


def test_bare_predicate_followed_by_blank() -> None:
    assert ev("defined && 1") is False
    assert ev("feature || 0") is True
