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
from math import gcd

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
    tot = sum(weights)
    if len(servers) == 1 or tot == 1:
        return [servers[0]] * tot
    n = len(servers)
    scores = [0] * n
    order = range(n)
    table: list[ServerLike] = []
    append = table.append
    for _ in range(tot):
        best = -1
        best_v = -1
        for i in order:
            sc = scores[i] + weights[i]
            scores[i] = sc
            v = sc // tot  # HAProxy's (score + tot) / tot, minus the constant 1
            if v > best_v:
                best_v = v
                best = i
        scores[best] -= tot
        append(servers[best])
    return table
