"""Sans-IO rendering of `show stat`, `show info` and `show schema json` (HAProxy 2.6.12 bytes).

Values are plain Python objects; the type printed by the typed/JSON outputs comes from the
schema (`stats_schema`), except that a Python ``float`` is always printed as ``flt`` with six
decimals (C ``%f``), which is how `show info float` renders Uptime_sec/Start_time_sec.

Value contract (info and stat alike):

* ``None``  -> the field is empty: an empty CSV cell, no line in `show info`/typed, no JSON item.
* ``int``   -> printed in decimal with the schema type (u32/u64/s32/s64).
* ``str``   -> printed raw (typed, JSON: HAProxy 2.6 does not escape) or CSV-quoted when it
  holds ``,`` ``"`` CR or LF (CSV and plain `show info`). ``""`` is a present, empty string.
* ``float`` -> ``flt`` with ``%f`` formatting.

Every function returns the command's output without the CLI's extra terminator ``\\n``.
Lookup tables are precomputed per object kind at import so that a `show stat` on hundreds of
servers costs one pass over each row's list.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from runtime_api.stats_schema import (
    GENERIC_STAT_COUNT,
    INFO_FIELDS,
    INFO_INDEX,
    OBJ_TYPE_CODES,
    OBJ_TYPE_NAMES,
    SCHEMA_JSON,
    STAT_CSV_HEADER,
    STAT_FIELDS,
    STAT_INDEX,
    decode_tags,
)

StatValue = int | float | str | None
InfoValues = Mapping[str, StatValue] | Sequence[StatValue]

_NFIELDS = len(STAT_FIELDS)
_PROC = 1  # HAProxy 2.6 always prints relative process number 1


@dataclass(slots=True)
class StatRow:
    """One `show stat` object.

    `obj_type` is ``"F"``, ``"B"``, ``"S"`` or ``"L"``; `iid` the proxy uuid; `sid` the
    server id (listener id for ``L``, 0 for frontends/backends). `values` is a list aligned
    with `STAT_FIELDS` (127 items, module fields at 103+), ``None`` for empty cells.
    """

    obj_type: str
    iid: int
    sid: int
    values: list[StatValue] = field(default_factory=lambda: [None] * _NFIELDS)

    @classmethod
    def from_mapping(
        cls, obj_type: str, iid: int, sid: int, values: Mapping[str, StatValue]
    ) -> StatRow:
        """Build a row from ``{field name: value}``; unknown names raise KeyError."""
        row = cls(obj_type, iid, sid)
        for name, value in values.items():
            row.values[STAT_INDEX[name]] = value
        return row

    def get(self, name: str) -> StatValue:
        return self.values[STAT_INDEX[name]]

    def set(self, name: str, value: StatValue) -> None:
        self.values[STAT_INDEX[name]] = value


# ---------------------------------------------------------------- value rendering


def _csv_str(s: str) -> str:
    """HAProxy's automatic CSV quoting: quote only when needed, double inner quotes."""
    if "," in s or '"' in s or "\n" in s or "\r" in s:
        return '"' + s.replace('"', '""') + '"'
    return s


def _csv_cell(v: StatValue) -> str:
    if v is None:
        return ""
    if type(v) is int:
        return str(v)
    if type(v) is str:
        return _csv_str(v)
    if isinstance(v, float):
        return f"{v:f}"
    return str(v)


def _typed_value(v: int | float | str, typ: str) -> str:
    """``type:value`` as the typed outputs print it."""
    if type(v) is str:
        return f"{typ}:{v}"
    if isinstance(v, float):
        return f"flt:{v:f}"
    return f"{typ}:{v}"


def _json_value(v: int | float | str, typ: str) -> str:
    """The JSON ``"value":{...}`` object body."""
    if type(v) is str:
        return f'{{"type":"{typ}","value":"{v}"}}'
    if isinstance(v, float):
        return f'{{"type":"flt","value":{v:f}}}'
    return f'{{"type":"{typ}","value":{v}}}'


def _json_tags(tags: str) -> str:
    origin, nature, scope = decode_tags(tags)
    return f'"tags":{{"origin":"{origin}","nature":"{nature}","scope":"{scope}"}}'


# ---------------------------------------------------------------- show stat


def _build_typed_tables() -> dict[str, list[tuple[str, str, str]]]:
    """Per kind: for each field, (".pos.name.1:TAGS:", type, ':"desc"')."""
    return {
        kind: [
            (f".{f.pos}.{f.name}.{_PROC}:{f.tags_for(kind)}:", f.type, f':"{f.desc}"')
            for f in STAT_FIELDS
        ]
        for kind in OBJ_TYPE_NAMES
    }


def _build_json_tables() -> dict[str, list[tuple[str, str]]]:
    """Per kind: for each field, ('"field":{...},"processNum":1,"tags":{...},"value":', type)."""
    return {
        kind: [
            (
                f'"field":{{"pos":{f.pos},"name":"{f.name}"}},"processNum":{_PROC},'
                f'{_json_tags(f.tags_for(kind))},"value":',
                f.type,
            )
            for f in STAT_FIELDS
        ]
        for kind in OBJ_TYPE_NAMES
    }


_TYPED = _build_typed_tables()
_KIND_BY_CODE = {str(code): kind for kind, code in OBJ_TYPE_CODES.items()}
_JSON = _build_json_tables()


def format_stat_csv(rows: Iterable[StatRow]) -> Iterator[str]:
    """`show stat`: the header then one line per row, each ending with ``,\\n``."""
    yield STAT_CSV_HEADER
    n = GENERIC_STAT_COUNT
    for row in rows:
        cells = [
            "" if v is None else (str(v) if type(v) is int else _csv_cell(v)) for v in row.values
        ]
        yield ",".join(cells[:n]) + ",-," + ",".join(cells[n:]) + ",\n"


def format_stat_typed(rows: Iterable[StatRow], desc: bool = False) -> Iterator[str]:
    """`show stat typed [desc]`: one chunk per row, one line per non-empty field."""
    for row in rows:
        table = _TYPED[row.obj_type]
        prefix = f"{row.obj_type}.{row.iid}.{row.sid}"
        out: list[str] = []
        for (head, typ, tail), v in zip(table, row.values, strict=True):
            if v is None:
                continue
            line = prefix + head + _typed_value(v, typ)
            out.append(line + tail + "\n" if desc else line + "\n")
        yield "".join(out)


def format_stat_json(rows: Iterable[StatRow]) -> str:
    """`show stat json`: ``[[{...},...],...]`` on one line, then ``\\n``."""
    objs: list[str] = []
    for row in rows:
        table = _JSON[row.obj_type]
        head = f'{{"objType":"{OBJ_TYPE_NAMES[row.obj_type]}","proxyId":{row.iid},"id":{row.sid},'
        items = [
            head + mid + _json_value(v, typ) + "}"
            for (mid, typ), v in zip(table, row.values, strict=True)
            if v is not None
        ]
        objs.append("[" + ",".join(items) + "]")
    return "[" + ",".join(objs) + "]\n"


def stat_row_from_csv_line(line: str) -> StatRow:
    """Parse one `show stat` CSV data line back into a row (for tests and tools).

    Lossy by nature: an empty cell becomes ``None`` even where HAProxy had an empty string.
    """
    cells = next(csv.reader([line.rstrip("\n")]))
    if cells and cells[-1] == "":
        cells.pop()  # trailing comma
    del cells[GENERIC_STAT_COUNT]  # the literal "-" separator
    if len(cells) != _NFIELDS:
        raise ValueError(f"expected {_NFIELDS} stat cells, got {len(cells)}")
    values: list[StatValue] = []
    for f, cell in zip(STAT_FIELDS, cells, strict=True):
        if cell == "":
            values.append(None)
        elif f.type == "str":
            values.append(cell)
        else:
            values.append(int(cell))
    kind = _KIND_BY_CODE[cells[STAT_INDEX["type"]]]
    return StatRow(kind, int(cells[STAT_INDEX["iid"]]), int(cells[STAT_INDEX["sid"]]), values)


# ---------------------------------------------------------------- show info


def _info_values(values: InfoValues) -> Sequence[StatValue]:
    """Accept ``{name: value}`` or a list aligned with INFO_FIELDS."""
    if isinstance(values, Mapping):
        seq: list[StatValue] = [None] * len(INFO_FIELDS)
        for name, v in values.items():
            seq[INFO_INDEX[name]] = v
        return seq
    if len(values) != len(INFO_FIELDS):
        raise ValueError(f"expected {len(INFO_FIELDS)} info values, got {len(values)}")
    return values


def format_info_plain(values: InfoValues, desc: bool = False) -> str:
    """`show info [desc]` / `show info float`: ``Name: value`` lines, empty fields omitted."""
    out: list[str] = []
    for f, v in zip(INFO_FIELDS, _info_values(values), strict=True):
        if v is None:
            continue
        line = f"{f.name}: {_csv_cell(v)}"
        out.append(f'{line}:"{f.desc}"\n' if desc else line + "\n")
    return "".join(out)


def format_info_typed(values: InfoValues, desc: bool = False) -> str:
    """`show info typed [desc]`: ``pos.Name.1:TAGS:type:value`` lines."""
    out: list[str] = []
    for f, v in zip(INFO_FIELDS, _info_values(values), strict=True):
        if v is None:
            continue
        line = f"{f.pos}.{f.name}.{_PROC}:{f.tags}:{_typed_value(v, f.type)}"
        out.append(f'{line}:"{f.desc}"\n' if desc else line + "\n")
    return "".join(out)


def format_info_json(values: InfoValues) -> str:
    """`show info json`: ``[{...},...]`` on one line, then ``\\n``."""
    items = [
        f'{{"field":{{"pos":{f.pos},"name":"{f.name}"}},"processNum":{_PROC},'
        f'{_json_tags(f.tags)},"value":{_json_value(v, f.type)}}}'
        for f, v in zip(INFO_FIELDS, _info_values(values), strict=True)
        if v is not None
    ]
    return "[" + ",".join(items) + "]\n"


# ---------------------------------------------------------------- show schema json


def format_schema_json() -> str:
    """`show schema json`: a static document."""
    return SCHEMA_JSON
