"""Stick-table micro-benchmark: memory of a 1m-entry ip table, lookup-update-refresh ops/s.

The table is the reference configuration's (`type ip size 1m expire 15m store
http_req_rate(10s),gpt0`). One operation is what `http-request track-sc0 src`
does per request: convert the address to a key, find or create the entry
(refreshing its expiry), count the request in `http_req_rate`; the rules then
read the rate back (`sc_http_req_rate(0) gt 50`).

    python bench/stick_micro.py                  # 1m keys, 2m operations
    python bench/stick_micro.py --keys 100000 --ops 500000 --json

Targets (issue 4): RSS for 1m keys < 400 MB, >= 500k ops/s in one process.
Each phase runs in a fresh child process so the RSS figure is the table's alone.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STORE = ("type", "ip", "size", "1m", "expire", "15m", "store", "http_req_rate(10s),gpt0")


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _addr(i: int) -> str:
    return f"{10 + (i >> 24) % 200}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def run(nkeys: int, nops: int) -> dict[str, float]:
    from stick.config import parse_stick_table
    from stick.table import now_ms

    gc.collect()
    base = rss_kb()
    table = parse_stick_table("fe", STORE)
    to_key = table.ktype.from_sample
    bump = table.bumper("http_req_cnt")
    assert bump is not None
    period = table.period("http_req_rate")
    from stick import freq

    # fill: the keys as integers (what `src` converts to), one entry each
    t0 = time.perf_counter()
    now = now_ms()
    get = table.get
    for i in range(nkeys):
        e = get(0x0A000000 + i, now)
        bump(e, now, 1)
    fill_s = time.perf_counter() - t0
    gc.collect()
    table_kb = rss_kb() - base

    # lookup-update-refresh from address text, as a request does, over random keys
    addrs = [_addr(random.randrange(nkeys)) for _ in range(min(nops, 200_000))]
    n_addr = len(addrs)
    read = freq.read
    t0 = time.perf_counter()
    done = 0
    now = now_ms()
    while done < nops:
        for a in addrs:
            e = get(to_key(a), now)
            bump(e, now, 1)
            read(e.http_req_rate_t, e.http_req_rate_c, e.http_req_rate_p, now, period)
        done += n_addr
        now = now_ms()
    ops_s = done / (time.perf_counter() - t0)
    # the same without the text->key conversion (keys already integers)
    keys = [0x0A000000 + random.randrange(nkeys) for _ in range(n_addr)]
    t0 = time.perf_counter()
    done = 0
    while done < nops:
        for k in keys:
            e = get(k, now)
            bump(e, now, 1)
        done += n_addr
    ops_int_s = done / (time.perf_counter() - t0)
    return {
        "keys": len(table),
        "table_rss_mb": round(table_kb / 1024, 1),
        "process_rss_mb": round(rss_kb() / 1024, 1),
        "fill_s": round(fill_s, 2),
        "ops_per_s": round(ops_s),
        "ops_per_s_int_keys": round(ops_int_s),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--ops", type=int, default=2_000_000)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(run(a.keys, a.ops)))
        return 0
    cmd = [sys.executable, __file__, "--child", "--keys", str(a.keys), "--ops", str(a.ops)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=900)
    res = json.loads(out.stdout)
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"table type ip size 1m, store http_req_rate(10s),gpt0: {res['keys']} keys")
    print(f"  RSS of the table      {res['table_rss_mb']:8.1f} MB  (target < 400 MB for 1m)")
    print(f"  process RSS           {res['process_rss_mb']:8.1f} MB")
    print(f"  fill                  {res['fill_s']:8.2f} s")
    print(f"  lookup-update-refresh {res['ops_per_s']:8d} ops/s (from address text)")
    print(f"                        {res['ops_per_s_int_keys']:8d} ops/s (integer keys)")
    print("  target >= 500000 ops/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
