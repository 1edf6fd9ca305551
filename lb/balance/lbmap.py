"""The weight-expanded server table behind static-rr and map-based hashing.

A table of `sum(weights)` slots where each server appears as many times as
its weight, spread out: at every step each candidate adds its weight to a
score, the first one (in declaration order) with the highest
``score // total`` takes the slot and pays `total` back. Building the same
table HAProxy builds is what makes ``hash % total`` land on the same server.

Weights are first divided by their greatest common divisor (HAProxy divides
the configured weights by theirs); the table for scaled weights is the
smaller table repeated, so this changes its size, not which server a hash
picks.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappop, heappush
from math import gcd

from sortedcontainers import SortedList

from lb.balance.base import ServerLike


def reduced_weights(servers: Sequence[ServerLike]) -> list[int]:
    """The servers' effective weights divided by their common divisor."""
    weights = [s.eweight for s in servers]
    g = 0
    for w in weights:
        g = gcd(g, w)
    if g > 1:
        weights = [w // g for w in weights]
    return weights


def build_map(servers: Sequence[ServerLike]) -> list[ServerLike]:
    """Lay out `servers` (all eligible, in declaration order) over their total weight."""
    if not servers:
        return []
    weights = reduced_weights(servers)
    if len(servers) == 1:
        return [servers[0]] * weights[0]
    return [servers[i] for i in map_order(weights)]


def map_order(weights: Sequence[int]) -> list[int]:
    """Indexes of the table's slots, built by events rather than by rescans.

    After step ``t`` a server that won ``c`` slots has the score
    ``t * w - c * total``, hence the level ``floor(score / total)``. Levels
    only rise as steps go by and drop by one when the server wins a slot,
    so instead of rescoring every server at every step, each server is
    woken at the step its level next rises and kept in a bucket per level;
    the winner is the lowest index in the highest bucket. Same table as the
    plain O(total x n) rescan, in O(total x log n).
    """
    tot = sum(weights)
    n = len(weights)
    if tot == 1:
        return [next(i for i, w in enumerate(weights) if w)]
    wins = [0] * n
    level = [0] * n
    version = [0] * n
    buckets: dict[int, SortedList] = {0: SortedList(range(n))}
    events: list[tuple[int, int, int]] = []

    def wake_at(i: int) -> int:
        # first step t at which t * w >= (level + 1 + wins) * tot
        return -(-((level[i] + 1 + wins[i]) * tot) // weights[i])

    def move(i: int, new_level: int) -> None:
        buckets[level[i]].remove(i)
        level[i] = new_level
        bucket = buckets.get(new_level)
        if bucket is None:
            bucket = buckets[new_level] = SortedList()
        bucket.add(i)

    for i in range(n):
        if weights[i]:
            heappush(events, (wake_at(i), i, 0))
    order: list[int] = []
    for t in range(1, tot + 1):
        while events and events[0][0] <= t:
            _, i, ver = heappop(events)
            if ver != version[i]:
                continue
            move(i, (t * weights[i] - wins[i] * tot) // tot)
            heappush(events, (wake_at(i), i, ver))
        top = max(lv for lv, bucket in buckets.items() if bucket)
        best = buckets[top][0]
        order.append(best)
        wins[best] += 1
        move(best, top - 1)
        version[best] += 1
        heappush(events, (wake_at(best), best, version[best]))
    return order


def map_order_plain(weights: Sequence[int]) -> list[int]:
    """The direct rescan (reference for tests): every server rescored per slot."""
    tot = sum(weights)
    n = len(weights)
    scores = [0] * n
    order: list[int] = []
    for _ in range(tot):
        best = -1
        best_v = -1
        for i in range(n):
            if not weights[i]:
                continue
            if tot == 1:
                best = i
                break
            sc = scores[i] + weights[i]
            scores[i] = sc
            v = sc // tot  # HAProxy's (score + tot) / tot, minus the constant 1
            if v > best_v:
                best_v = v
                best = i
        scores[best] -= tot
        order.append(best)
    return order
