"""`balance` and `hash-type` lines: accepted forms and HAProxy's error sentences."""

from __future__ import annotations

import pytest

from lb.balance import ALGORITHMS, HashType, parse_balance, parse_hash_type, stat_name


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([], ("roundrobin", [])),
        (["roundrobin"], ("roundrobin", [])),
        (["roundrobin", "extra"], ("roundrobin", [])),
        (["static-rr"], ("static-rr", [])),
        (["leastconn"], ("leastconn", [])),
        (["first"], ("first", [])),
        (["source"], ("source", [])),
        (["uri"], ("uri", [])),
        (
            ["uri", "whole", "len", "10", "depth", "3"],
            ("uri", ["whole", "len", "10", "depth", "3"]),
        ),
        (["uri", "path-only"], ("uri", ["path-only"])),
        (["url_param", "uid"], ("url_param", ["uid"])),
        (["url_param", "uid", "check_post"], ("url_param", ["uid", "check_post"])),
        (["hdr(Host)"], ("hdr", ["Host"])),
        (["hdr(host)", "use_domain_only"], ("hdr", ["host", "use_domain_only"])),
        (["random"], ("random", ["2"])),
        (["random()"], ("random", ["2"])),
        (["random(5)"], ("random", ["5"])),
        (["random(0x10)"], ("random", ["16"])),
    ],
)
def test_accepted(words: list[str], expected: tuple[str, list[str]]) -> None:
    assert parse_balance(words) == expected
    assert expected[0] in ALGORITHMS


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (
            ["foo"],
            "balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', "
            "'url_param', 'hdr(name)' and 'rdp-cookie(name)' options.",
        ),
        (
            ["uri", "bar"],
            "balance uri only accepts parameters 'len', 'depth', 'path-only', and 'whole' "
            "(got 'bar').",
        ),
        (["uri", "len"], "balance uri : 'len' expects a positive integer (got '')."),
        (["uri", "len", "0"], "balance uri : 'len' expects a positive integer (got '0')."),
        (["uri", "depth", "x"], "balance uri : 'depth' expects a positive integer (got 'x')."),
        (["url_param"], "balance url_param requires an URL parameter name."),
        (
            ["url_param", "a", "b"],
            "balance url_param only accepts 'check_post' modifier (got 'b').",
        ),
        (["hdr()"], "balance hdr requires an http header field name."),
        (["hdr("], "balance hdr requires an http header field name."),
        (
            ["hdr(host)", "x"],
            "balance hdr(host) only accepts 'use_domain_only' modifier (got 'x').",
        ),
        (["random(0)"], "balance random : number of draws must be at least 1."),
        (["random(2"], "balance random : missing closing parenthesis."),
        (["random(2x)"], "balance random : unexpected character 'x' after argument."),
        (["random(abc)"], "balance random : unexpected character 'a' after argument."),
        (["rdp-cookie("], "balance rdp-cookie : missing cookie name."),
        (["rdp-cookiex"], "balance rdp-cookie : missing cookie name."),
        (["hash"], "balance hash requires a sample expression."),
    ],
)
def test_errors_match_haproxy(words: list[str], message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_balance(words)
    assert str(exc.value) == message


@pytest.mark.parametrize("words", [["rdp-cookie"], ["rdp-cookie(mstshash)"], ["hash", "src"]])
def test_unsupported_algorithms_are_rejected(words: list[str]) -> None:
    with pytest.raises(ValueError, match="not supported"):
        parse_balance(words)


def test_stat_names() -> None:
    # what HAProxy 2.6 prints in show stat's algo column
    assert stat_name("roundrobin") == "roundrobin"
    assert stat_name("static-rr") == "static-rr"
    assert stat_name("url_param") == "url_param"
    assert stat_name("hdr") == "hdr"
    assert stat_name("random") == "unknown"
    assert set(ALGORITHMS) == {
        "roundrobin",
        "static-rr",
        "leastconn",
        "first",
        "source",
        "uri",
        "url_param",
        "hdr",
        "random",
    }


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([], HashType(False, "sdbm", False)),
        (["map-based"], HashType(False, "sdbm", False)),
        (["consistent"], HashType(True, "sdbm", True)),
        (["consistent", "sdbm"], HashType(True, "sdbm", False)),
        (["consistent", "djb2", "avalanche"], HashType(True, "djb2", True)),
        (["map-based", "wt6"], HashType(False, "wt6", False)),
        (["map-based", "crc32", "avalanche"], HashType(False, "crc32", True)),
    ],
)
def test_hash_type(words: list[str], expected: HashType) -> None:
    assert parse_hash_type(words) == expected


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["foo"], "'hash-type' only supports 'consistent' and 'map-based'."),
        (
            ["consistent", "foo"],
            "'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions.",
        ),
        (
            ["map-based", "avalanche"],
            "'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions.",
        ),
        (
            ["consistent", "sdbm", "foo"],
            "'hash-type' only supports 'avalanche' as a modifier for hash functions.",
        ),
        (
            ["avalanche"],
            "experimental feature 'hash-type avalanche' is not supported anymore, "
            "please use 'hash-type map-based sdbm avalanche' instead.",
        ),
    ],
)
def test_hash_type_errors(words: list[str], message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_hash_type(words)
    assert str(exc.value) == message
