"""Command registry: help table, lookup, registration rules, HAProxy's suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

import runtime_api.commands.basic  # noqa: F401  (registers help/prompt/quit/...)
from runtime_api.registry import (
    HAPROXY_26_HELP,
    REGISTRY,
    CliError,
    CliMessage,
    Level,
    Registry,
    SeverityOutput,
    arg,
    render,
)

REF = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "haproxy-2.6"
TRANSCRIPTS = REF / "transcripts"

BASIC = ("runtime_api.commands.basic", "runtime_api.registry")


def transcript(number: str) -> str:
    (path,) = TRANSCRIPTS.glob(f"{number}_*.txt")
    return path.read_bytes().decode()


def suggested(message: str) -> list[str]:
    """The usage column of the suggestion lines (without the fixed help/prompt/quit)."""
    lines = message.split("\n")[1:]
    return [line[2:42].rstrip() for line in lines if line][:-3]


def test_help_is_byte_identical() -> None:
    assert REGISTRY.help_text() + "\n" == transcript("001")


def test_help_table_has_every_line_once() -> None:
    assert len(HAPROXY_26_HELP) == 100
    assert len({words for words, _, _ in HAPROXY_26_HELP}) == 100


def test_help_with_words_filters() -> None:
    assert REGISTRY.usage_message(["show"], is_help=True) + "\n" == transcript("003")


@pytest.mark.parametrize(
    ("number", "args"),
    [
        ("260", ["foobar"]),
        ("261", ["show", "foo"]),
        ("262", ["set", "foo", "bar"]),
        ("263", ["SHOW", "INFO"]),
        ("187", ["set", "maxconn"]),
        ("264", []),
    ],
)
def test_usage_messages_match_transcripts(number: str, args: list[str]) -> None:
    assert REGISTRY.usage_message(args) + "\n" == transcript(number)


# Suggestions observed on the real HAProxy 2.6.12 where several candidates are equally
# distant: they pin down the keyword walk order used to break ties.
TIES = [
    (
        ["set", "a-gxdb"],
        [
            "set map <map> [<key>|#<ref>] <value>",
            "set server <bk>/<srv> [opts]",
            "set ssl ca-file <cafile> <payload>",
            "set table <table> key <k> [data.* <v>]*",
            "set weight <bk>/<srv>  (DEPRECATED)",
        ],
    ),
    (
        ["bibeff"],
        [
            "del acl <acl> [<key>|#<ref>]",
            "set table <table> key <k> [data.* <v>]*",
            "show libs",
            "trace [<module>|0] [cmd [args...]]",
            "user",
        ],
    ),
    (
        ["show", "mhw"],
        [
            "show acl [@<ver>] <acl>]",
            "show env [var]",
            "show map [@ver] [map]",
            "show sess [id]",
            "show stat [desc|json|no-maint|typed|up]*",
        ],
    ),
    (
        ["qwou"],
        [
            "show fd [num]",
            "show sess [id]",
            "show stat [desc|json|no-maint|typed|up]*",
            "trace [<module>|0] [cmd [args...]]",
            "user",
        ],
    ),
    (
        ["set", "koiqoa", "t"],
        [
            "set map <map> [<key>|#<ref>] <value>",
            "set ssl tls-key [id|file] <key>",
            "set table <table> key <k> [data.* <v>]*",
            "set timeout [cli] <delay>",
            "set weight <bk>/<srv>  (DEPRECATED)",
        ],
    ),
]


@pytest.mark.parametrize(("args", "expected"), TIES)
def test_suggestion_ties_follow_haproxy(args: list[str], expected: list[str]) -> None:
    assert suggested(REGISTRY.usage_message(args)) == expected


def test_help_with_unknown_word_keeps_help_header() -> None:
    message = REGISTRY.usage_message(["foo"], is_help=True)
    assert message.startswith("The following commands are valid at this level:\n")
    assert suggested(message) == [
        "add acl [@<ver>] <acl> <pattern>",
        "show fd [num]",
        "show info [desc|json|typed|float]*",
        "trace [<module>|0] [cmd [args...]]",
        "user",
    ]


def test_lookup_longest_match() -> None:
    reg = Registry([("show servers state", "show servers state [<backend>]", "x")])
    reg.register("show servers", lambda ctx, args, payload: "short", usage=None)
    cmd = reg.lookup(["show", "servers", "state", "be"])
    assert cmd is not None and cmd.words == ("show", "servers", "state")
    short = reg.lookup(["show", "servers", "conn"])
    assert short is not None and short.words == ("show", "servers")
    assert reg.lookup(["show"]) is None


def test_registration_rules() -> None:
    reg = REGISTRY.clone(handlers_from=BASIC)

    def handler(ctx, args, payload):  # type: ignore[no-untyped-def]
        return "ok\n"

    reg.register("show backend", handler, level=Level.USER)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("show backend", handler)
    with pytest.raises(ValueError, match="differ"):
        reg.register("show version", handler, usage="show version [x]")
    reg.register(
        "show version", handler, usage="show version", help="show version of the current process"
    )
    with pytest.raises(ValueError, match="differ"):
        reg.clone().register("show info", handler, help="nope")
    # an extra without usage is hidden from help
    reg.register("show extra", handler)
    assert "show extra" not in reg.help_text()
    # an extra with usage is listed in sorted position
    reg.register("show zzz", handler, usage="show zzz", help="an extra")
    assert "  show zzz                                : an extra\n" in reg.help_text()
    # the clone did not touch the shared registry
    cmd = REGISTRY.lookup(["show", "backend"])
    assert cmd is not None and cmd.handler is not handler


def test_cli_error_rendering() -> None:
    assert CliError("No such server.").text == "No such server.\n"
    assert CliError("Permission denied\n").text == "Permission denied\n"
    bare = CliError("provided port is not an integer", newline=False)
    assert bare.text == "provided port is not an integer"
    assert CliError("x").render(SeverityOutput.NUMBER) == "[3]: x\n"
    assert CliError("x").render(SeverityOutput.STRING) == "[err]: x\n"
    assert render(CliMessage("admin\n"), 6, SeverityOutput.STRING) == "[info]: admin\n"
    assert render("raw\n", 6, SeverityOutput.NONE) == "raw\n"


def test_arg_helper() -> None:
    assert arg(["set", "timeout"], 1) == "timeout"
    assert arg(["set", "timeout"], 3) == ""
