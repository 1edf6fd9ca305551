"""Round-trip the HAProxy 2.6 `show stat` / `show info` transcripts through stats_format.

Each transcript is parsed back into values, re-rendered, and compared byte for byte. The CLI
appends one terminator newline after every command, so transcript == output + "\\n".
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from runtime_api.stats_format import (
    StatRow,
    StatValue,
    format_info_json,
    format_info_plain,
    format_info_typed,
    format_schema_json,
    format_stat_csv,
    format_stat_json,
    format_stat_typed,
    stat_row_from_csv_line,
)
from runtime_api.stats_schema import (
    INFO_FIELDS,
    INFO_INDEX,
    OBJ_TYPE_NAMES,
    STAT_FIELDS,
    STAT_INDEX,
    decode_tags,
)

TRANSCRIPTS = Path(
    os.environ.get(
        "LB_HAPROXY_TRANSCRIPTS",
        Path(__file__).resolve().parents[2].parent
        / "shared"
        / "reference"
        / "haproxy-2.6"
        / "transcripts",
    )
)

pytestmark = pytest.mark.skipif(not TRANSCRIPTS.is_dir(), reason="reference transcripts absent")

_KIND_BY_NAME = {v: k for k, v in OBJ_TYPE_NAMES.items()}


def transcript(prefix: str) -> str:
    (path,) = TRANSCRIPTS.glob(f"{prefix}_*.txt")
    return path.read_text()


def output_of(prefix: str) -> str:
    """The command output: the transcript without the CLI's terminator newline."""
    text = transcript(prefix)
    assert text.endswith("\n")
    return text[:-1]


def convert(raw: str, typ: str) -> StatValue:
    if typ == "str":
        return raw
    if typ == "flt":
        return float(raw)
    return int(raw)


# ------------------------------------------------------------------ parsers (test only)

_TYPED_STAT = re.compile(r"^([FBSL])\.(\d+)\.(\d+)\.(\d+)\.([^.]+)\.1:(\w{3}):(\w+):(.*)$")


def parse_stat_typed(text: str, desc: bool) -> list[StatRow]:
    rows: list[StatRow] = []
    for line in text.splitlines():
        m = _TYPED_STAT.match(line)
        assert m, line
        kind, iid, sid, pos, name, tags, typ, rest = m.groups()
        f = STAT_FIELDS[int(pos)]
        assert f.name == name and f.type == typ and f.tags_for(kind) == tags, line
        if desc:
            suffix = f':"{f.desc}"'
            assert rest.endswith(suffix), line
            rest = rest[: -len(suffix)]
        key = (kind, int(iid), int(sid))
        if not rows or (rows[-1].obj_type, rows[-1].iid, rows[-1].sid) != key:
            rows.append(StatRow(*key))
        rows[-1].values[int(pos)] = convert(rest, typ)
    return rows


def parse_stat_json(text: str) -> list[StatRow]:
    rows = []
    for obj in json.loads(text):
        first = obj[0]
        row = StatRow(_KIND_BY_NAME[first["objType"]], first["proxyId"], first["id"])
        for item in obj:
            row.values[item["field"]["pos"]] = item["value"]["value"]
        rows.append(row)
    return rows


def parse_stat_csv(text: str) -> list[StatRow]:
    lines = text.splitlines()
    assert lines[0].startswith("# ")
    return [stat_row_from_csv_line(line) for line in lines[1:]]


def parse_info_plain(text: str, desc: bool) -> dict[str, StatValue]:
    values: dict[str, StatValue] = {}
    for line in text.splitlines():
        name, raw = line.split(": ", 1)
        f = INFO_FIELDS[INFO_INDEX[name]]
        if desc:
            raw = raw.removesuffix(f':"{f.desc}"')
        typ = "flt" if f.type == "u32" and "." in raw else f.type
        values[name] = convert(raw, typ)
    return values


def parse_info_typed(text: str) -> dict[str, StatValue]:
    values: dict[str, StatValue] = {}
    for line in text.splitlines():
        head, tags, typ, raw = line.split(":", 3)
        pos, name, proc = head.split(".")
        f = INFO_FIELDS[int(pos)]
        assert (f.name, f.tags, f.type, proc) == (name, tags, typ, "1"), line
        values[name] = convert(raw, typ)
    return values


def parse_info_json(text: str) -> dict[str, StatValue]:
    return {item["field"]["name"]: item["value"]["value"] for item in json.loads(text)}


# ------------------------------------------------------------------ show stat


@pytest.mark.parametrize("prefix", ["010", "013", "014", "141", "321", "322", "481"])
def test_stat_csv_roundtrip(prefix: str) -> None:
    out = output_of(prefix)
    assert "".join(format_stat_csv(parse_stat_csv(out))) == out


def test_stat_csv_from_typed_rows_matches_header_and_shape() -> None:
    rows = parse_stat_typed(output_of("012"), desc=False)
    lines = "".join(format_stat_csv(rows)).splitlines()
    assert lines[0] == output_of("010").splitlines()[0]
    assert [ln.split(",")[:2] for ln in lines[1:]] == [
        ln.split(",")[:2] for ln in output_of("010").splitlines()[1:]
    ]
    assert all(len(ln.split(",")) == 129 for ln in lines)


@pytest.mark.parametrize(("prefix", "desc"), [("012", False), ("015", True), ("326", False)])
def test_stat_typed_roundtrip(prefix: str, desc: bool) -> None:
    out = output_of(prefix)
    assert "".join(format_stat_typed(parse_stat_typed(out, desc), desc=desc)) == out


def test_stat_json_roundtrip() -> None:
    out = output_of("011")
    assert format_stat_json(parse_stat_json(out)) == out


def test_stat_json_tags_agree_with_typed_letters() -> None:
    """The words in `show stat json` decode the letters of `show stat typed`."""
    seen: set[tuple[str, int]] = set()
    for obj in json.loads(output_of("011")):
        for item in obj:
            kind = _KIND_BY_NAME[item["objType"]]
            f = STAT_FIELDS[item["field"]["pos"]]
            tags = item["tags"]
            assert decode_tags(f.tags_for(kind)) == (tags["origin"], tags["nature"], tags["scope"])
            assert item["value"]["type"] == f.type
            seen.add((kind, f.pos))
    assert len(seen) > 200


def test_stat_module_positions() -> None:
    assert len(STAT_FIELDS) == 127
    assert STAT_FIELDS[102].name == "agg_check_status"
    assert STAT_FIELDS[103].name == "ssl_sess" and STAT_FIELDS[103].module == "ssl"
    assert [f.module for f in STAT_FIELDS[103:]].count("h2") == 13
    assert [f.module for f in STAT_FIELDS[103:]].count("h1") == 8


def test_stat_csv_quoting_and_empty_string() -> None:
    row = StatRow.from_mapping("S", 3, 1, {"pxname": "a,b", "svname": 'x"y', "last_chk": ""})
    line = list(format_stat_csv([row]))[1]
    assert line.startswith('"a,b","x""y",')
    typed = "".join(format_stat_typed([row]))
    assert "S.3.1.56.last_chk.1:MOP:str:\n" in typed
    assert "S.3.1.0.pxname.1:KNS:str:a,b\n" in typed


def test_stat_backend_specific_tags() -> None:
    row = StatRow.from_mapping("B", 3, 0, {"act": 3, "rate": 0})
    assert (
        "".join(format_stat_typed([row])) == "B.3.0.19.act.1:MGP:u32:3\nB.3.0.33.rate.1:MGP:u32:0\n"
    )
    row = StatRow.from_mapping("S", 3, 1, {"act": 1, "rate": 0})
    assert (
        "".join(format_stat_typed([row])) == "S.3.1.19.act.1:SGP:u32:1\nS.3.1.33.rate.1:MRP:u32:0\n"
    )


def test_stat_json_empty() -> None:
    assert format_stat_json([]) == "[]\n"
    assert "".join(format_stat_csv([])) == list(format_stat_csv([]))[0]


# ------------------------------------------------------------------ show info


@pytest.mark.parametrize(("prefix", "desc"), [("004", False), ("007", True), ("325", False)])
def test_info_plain_roundtrip(prefix: str, desc: bool) -> None:
    out = output_of(prefix)
    assert format_info_plain(parse_info_plain(out, desc), desc=desc) == out


def test_info_typed_roundtrip() -> None:
    out = output_of("006")
    assert format_info_typed(parse_info_typed(out)) == out


def test_info_json_roundtrip() -> None:
    out = output_of("005")
    assert format_info_json(parse_info_json(out)) == out


def test_info_float_renders_flt_in_every_format() -> None:
    values = parse_info_plain(output_of("325"), desc=False)
    assert values["Uptime_sec"] == 185.034929
    assert "8.Uptime_sec.1:MDP:flt:185.034929\n" in format_info_typed(values)
    assert '"value":{"type":"flt","value":185.034929}' in format_info_json(values)


def test_info_typed_desc_and_sequence_input() -> None:
    seq: list[StatValue] = [None] * len(INFO_FIELDS)
    seq[0] = "HAProxy"
    assert format_info_typed(seq, desc=True) == '0.Name.1:POS:str:HAProxy:"Product name"\n'
    with pytest.raises(ValueError):
        format_info_plain([None])


def test_info_fields_shape() -> None:
    assert len(INFO_FIELDS) == 72
    assert INFO_FIELDS[-1].name == "Tainted"
    assert [f.name for f in INFO_FIELDS[45:47]] == ["ZlibMemUsage", "MaxZlibMemUsage"]
    assert len(parse_info_plain(output_of("004"), desc=False)) == 69


# ------------------------------------------------------------------ show schema json


def test_schema_json() -> None:
    assert format_schema_json() == output_of("016")


def test_stat_index_is_consistent() -> None:
    assert all(STAT_INDEX[f.name] == f.pos for f in STAT_FIELDS)
