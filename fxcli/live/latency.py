"""Tick-to-decision latency as a log-linear histogram: O(1) per sample, exact enough for p50/p99.

16 bins per power of two (~6 % wide) from 32 ns up to ~2.4 h, exact below 32 ns; a session keeps one
histogram per symbol and merges them when it reports.
"""

from __future__ import annotations

import math

LATENCY_BINS = 640  # log-linear histogram: 16 bins per octave, ~6 % wide, up to ~2.4 h


def latency_bin(ns: int) -> int:
    """Histogram bin of a latency in ns: exact below 32 ns, then 16 bins per power of two."""
    if ns < 32:
        return ns if ns > 0 else 0
    shift = ns.bit_length() - 5
    return min((shift << 4) + (ns >> shift), LATENCY_BINS - 1)


def bin_ceiling_ns(index: int) -> int:
    """The smallest latency of the next bin: a conservative value for `index`."""
    index += 1
    if index < 32:
        return index
    shift = (index >> 4) - 1
    return (index - (shift << 4)) << shift


def percentile_ns(hist: list[int], q: float) -> float:
    """The `q`-quantile (0..1) of a latency histogram, as the ceiling of its bin; NaN when empty."""
    total = sum(hist)
    if total == 0:
        return math.nan
    rank = q * total
    seen = 0
    for index, count in enumerate(hist):
        seen += count
        if seen >= rank and count:
            return float(bin_ceiling_ns(index))
    return float(bin_ceiling_ns(len(hist) - 1))
