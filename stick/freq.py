"""HAProxy's period rate counter (`freq_ctr` over a period), sans-IO.

A counter is three numbers: the tick where the current period started, the
events counted in it, and the events of the previous period. The reported
rate is the current count plus the previous count weighted by the part of
the previous period that still overlaps a sliding window ending now:
`curr + prev * (period - elapsed) // period`. This is why a burst shows up
at once and fades out over the next period instead of dropping to zero.

Functions work on a `(tick, curr, prev)` triple so a table entry can keep
the three numbers in its own slots (no object per counter).
"""

from __future__ import annotations


def rotate(tick: int, curr: int, prev: int, now: int, period: int) -> tuple[int, int, int]:
    """The triple brought to `now`: periods that ended are shifted out."""
    elapsed = now - tick
    if elapsed < period:
        return tick, curr, prev
    if elapsed < 2 * period:
        # exactly one period ended: its count becomes the previous one
        return tick + period, 0, curr
    # more than one period passed: nothing left to weigh
    return now, 0, 0


def update(
    tick: int, curr: int, prev: int, now: int, period: int, inc: int = 1
) -> tuple[int, int, int]:
    """Add `inc` events at `now`."""
    tick, curr, prev = rotate(tick, curr, prev, now, period)
    return tick, curr + inc, prev


def read(tick: int, curr: int, prev: int, now: int, period: int) -> int:
    """Events over the sliding period ending at `now`."""
    remain = tick + period - now
    if remain < 0:
        remain += period
        if remain < 0:
            return 0
        prev, curr = curr, 0
    if not prev:
        return curr
    return curr + prev * remain // period
