"""Stick-table data types: one registry, in HAProxy's internal order.

The order matters: `show table` prints the stored columns in this order,
whatever order the `store` clause used. A type is a counter (`cnt`,
unsigned 32-bit, wraps), a rate over a period (`rate`, kept as three
slots), a tag (`gpt0`, `server_id`) or a server name (`server_key`).
"""

from __future__ import annotations

from dataclasses import dataclass

U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class DataType:
    name: str
    kind: str  # "cnt" | "rate" | "tag" | "str"
    index: int

    @property
    def is_rate(self) -> bool:
        return self.kind == "rate"


_ORDER: tuple[tuple[str, str], ...] = (
    ("server_id", "tag"),
    ("gpt0", "tag"),
    ("gpc0", "cnt"),
    ("gpc0_rate", "rate"),
    ("conn_cnt", "cnt"),
    ("conn_rate", "rate"),
    ("conn_cur", "cnt"),
    ("sess_cnt", "cnt"),
    ("sess_rate", "rate"),
    ("http_req_cnt", "cnt"),
    ("http_req_rate", "rate"),
    ("http_err_cnt", "cnt"),
    ("http_err_rate", "rate"),
    ("bytes_in_cnt", "cnt"),
    ("bytes_in_rate", "rate"),
    ("bytes_out_cnt", "cnt"),
    ("bytes_out_rate", "rate"),
    ("gpc1", "cnt"),
    ("gpc1_rate", "rate"),
    ("server_key", "str"),
    ("http_fail_cnt", "cnt"),
    ("http_fail_rate", "rate"),
)

DATA_TYPES: dict[str, DataType] = {
    name: DataType(name, kind, i) for i, (name, kind) in enumerate(_ORDER)
}

# The counter a rate follows: incrementing `gpc0` also feeds `gpc0_rate`.
RATE_OF: dict[str, str] = {
    "gpc0": "gpc0_rate",
    "gpc1": "gpc1_rate",
    "conn_cnt": "conn_rate",
    "sess_cnt": "sess_rate",
    "http_req_cnt": "http_req_rate",
    "http_err_cnt": "http_err_rate",
    "http_fail_cnt": "http_fail_rate",
    "bytes_in_cnt": "bytes_in_rate",
    "bytes_out_cnt": "bytes_out_rate",
}
