"""Batch kernels shared by the indicators' batch twins (numba, imported only when a batch runs).

Window membership is by row position: row i sees trades at rows <= i whose time is within
`[ts_i - t1, ts_i - t2]` — never a later trade with the same timestamp, exactly as a streaming
engine sees them. The running-sum and min/max kernels replay the streaming windows' additions,
subtractions and deque moves in the same order, so both forms give the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from fxcli.engine.ticks import Ticks
from fxcli.model.units import NS_PER_S


@dataclass(frozen=True)
class Bounds:
    """Per row: trades `lo <= k < hi` (indices into the trade arrays) are inside the window."""

    lo: np.ndarray
    hi: np.ndarray
    trade_ts: np.ndarray
    trade_price: np.ndarray
    trade_qty: np.ndarray
    trade_integral: np.ndarray
    seen: np.ndarray  # trades at rows <= i

    @property
    def covered(self) -> np.ndarray:
        """True where a trade older than the window's start exists (see `TradeWindow.is_covered`)."""
        return self.lo > 0


def bounds(ticks: Ticks, t1_ns: int, t2_ns: int) -> Bounds:
    """Window bounds of every row for `(t1, t2)` in ns."""
    idx = ticks.trade_index
    trade_ts = ticks.ts_ns[idx]
    seen = np.cumsum(ticks.is_trade, dtype=np.int64)
    lo = np.searchsorted(trade_ts, ticks.ts_ns - t1_ns, side="left")
    hi = np.minimum(np.searchsorted(trade_ts, ticks.ts_ns - t2_ns, side="right"), seen)
    lo = np.minimum(lo, hi)
    return Bounds(lo, hi, trade_ts, ticks.price[idx], ticks.qty[idx], ticks.integral[idx], seen)


def _no_trades(ticks: Ticks, b: Bounds) -> np.ndarray | None:
    """All-NaN output when there is no trade at all (nothing to index), else None."""
    return None if len(b.trade_price) else np.full(len(ticks), np.nan)


@numba.njit(cache=True, nogil=True)
def _sums(ts, seen, trade_ts, price, qty, t1, t2):  # type: ignore[no-untyped-def]
    n = len(ts)
    volume = np.empty(n)
    notional = np.empty(n)
    v = 0.0
    s = 0.0
    count = 0
    enter = 0
    leave = 0
    for i in range(n):
        edge_in = ts[i] - t2
        while enter < seen[i] and trade_ts[enter] <= edge_in:
            v += qty[enter]
            s += price[enter] * qty[enter]
            count += 1
            enter += 1
        edge_out = ts[i] - t1
        while leave < enter and trade_ts[leave] < edge_out:
            count -= 1
            if count == 0:
                v = 0.0
                s = 0.0
            else:
                v -= qty[leave]
                s -= price[leave] * qty[leave]
            leave += 1
        volume[i] = v
        notional[i] = s
    return volume, notional


def window_sums(ticks: Ticks, t1_ns: int, t2_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Running (volume, notional) per row, as the streaming window accumulates them."""
    b = bounds(ticks, t1_ns, t2_ns)
    return _sums(ticks.ts_ns, b.seen, b.trade_ts, b.trade_price, b.trade_qty, t1_ns, t2_ns)  # type: ignore[no-any-return]


@numba.njit(cache=True, nogil=True)
def _extremum(lo, hi, price, sign):  # type: ignore[no-untyped-def]
    # Monotonic deque of trade indices; `sign` 1 for max, -1 for min.
    n = len(lo)
    out = np.empty(n)
    dq = np.empty(len(price) + 1, dtype=np.int64)
    head = 0
    tail = 0
    nxt = 0
    for i in range(n):
        while nxt < hi[i]:
            p = sign * price[nxt]
            while tail > head and sign * price[dq[tail - 1]] <= p:
                tail -= 1
            dq[tail] = nxt
            tail += 1
            nxt += 1
        while tail > head and dq[head] < lo[i]:
            head += 1
        out[i] = price[dq[head]] if tail > head and lo[i] < hi[i] else np.nan
    return out


def window_extremum(ticks: Ticks, t1_ns: int, t2_ns: int, *, maximum: bool) -> np.ndarray:
    """Max (or min) trade price inside the window per row; NaN when the window is empty."""
    b = bounds(ticks, t1_ns, t2_ns)
    return _extremum(b.lo, b.hi, b.trade_price, 1.0 if maximum else -1.0)  # type: ignore[no-any-return]


def twpa(ticks: Ticks, t1_ns: int, t2_ns: int) -> np.ndarray:
    """Time-weighted average of the last-trade price over the window (see `TradeWindow.twpa`)."""
    b = bounds(ticks, t1_ns, t2_ns)
    empty = _no_trades(ticks, b)
    if empty is not None:
        return empty
    anchor = b.lo - 1
    last = np.where(b.hi > b.lo, b.hi - 1, anchor)
    ok = anchor >= 0
    a, k = np.where(ok, anchor, 0), np.where(ok, last, 0)
    start, end = ticks.ts_ns - t1_ns, ticks.ts_ns - t2_ns
    at_end = b.trade_integral[k] + b.trade_price[k] * (end - b.trade_ts[k])
    at_start = b.trade_integral[a] + b.trade_price[a] * (start - b.trade_ts[a])
    return np.where(ok, (at_end - at_start) / (end - start), np.nan)


def price_at_end(ticks: Ticks, t1_ns: int, t2_ns: int) -> np.ndarray:
    """Price in force at `now - t2` per row (newest trade inside, else the anchor); NaN if none."""
    b = bounds(ticks, t1_ns, t2_ns)
    empty = _no_trades(ticks, b)
    if empty is not None:
        return empty
    k = np.where(b.hi > b.lo, b.hi - 1, b.lo - 1)
    return np.where(k >= 0, b.trade_price[np.maximum(k, 0)], np.nan)


def first_price(ticks: Ticks, t1_ns: int, t2_ns: int) -> np.ndarray:
    """Price of the oldest trade inside the window per row; NaN when the window is empty."""
    b = bounds(ticks, t1_ns, t2_ns)
    empty = _no_trades(ticks, b)
    if empty is not None:
        return empty
    return np.where(b.hi > b.lo, b.trade_price[np.minimum(b.lo, len(b.trade_price) - 1)], np.nan)


def last_price(ticks: Ticks, t1_ns: int, t2_ns: int) -> np.ndarray:
    """Price of the newest trade inside the window per row; NaN when the window is empty."""
    b = bounds(ticks, t1_ns, t2_ns)
    empty = _no_trades(ticks, b)
    if empty is not None:
        return empty
    return np.where(b.hi > b.lo, b.trade_price[np.maximum(b.hi - 1, 0)], np.nan)


def momentum(ticks: Ticks, t1_ns: int, t2_ns: int) -> np.ndarray:
    """% change per second over the window per row, with `TradeWindow.momentum`'s operations in order."""
    b = bounds(ticks, t1_ns, t2_ns)
    empty = _no_trades(ticks, b)
    if empty is not None:
        return empty
    start = b.trade_price[np.maximum(b.lo - 1, 0)]
    end = b.trade_price[np.maximum(np.where(b.hi > b.lo, b.hi - 1, b.lo - 1), 0)]
    ok = b.covered & (start != 0.0)
    out = np.full(len(ticks), np.nan)
    np.divide(100.0 * (end - start), start, out=out, where=ok)
    np.divide(out, (t1_ns - t2_ns) / NS_PER_S, out=out, where=ok)
    return out


def carried(ticks: Ticks, per_trade: np.ndarray) -> np.ndarray:
    """A per-trade series carried forward to every row (NaN before the first trade)."""
    if not len(per_trade):
        return np.full(len(ticks), np.nan)
    seen = np.cumsum(ticks.is_trade, dtype=np.int64)
    return np.where(seen > 0, per_trade[np.maximum(seen - 1, 0)], np.nan)


@numba.njit(cache=True, nogil=True)
def ema(values, span):  # type: ignore[no-untyped-def]
    """EMA seeded with the mean of the first `span` values (TA-Lib's convention); NaN before."""
    n = len(values)
    out = np.full(n, np.nan)
    if n < span:
        return out
    alpha = 2.0 / (span + 1.0)
    total = 0.0
    for i in range(span):
        total += values[i]
    prev = total / span
    out[span - 1] = prev
    for i in range(span, n):
        prev = prev + alpha * (values[i] - prev)
        out[i] = prev
    return out


@numba.njit(cache=True, nogil=True)
def sma(values, period):  # type: ignore[no-untyped-def]
    """Simple moving average over the last `period` values; NaN before."""
    n = len(values)
    out = np.full(n, np.nan)
    total = 0.0
    for i in range(n):
        total += values[i]
        if i >= period:
            total -= values[i - period]
        if i >= period - 1:
            out[i] = total / period
    return out


@numba.njit(cache=True, nogil=True)
def rsi(values, period):  # type: ignore[no-untyped-def]
    """Wilder's RSI: first value after `period` changes (TA-Lib's convention); NaN before."""
    n = len(values)
    out = np.full(n, np.nan)
    if n <= period:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(1, period + 1):
        change = values[i] - values[i - 1]
        if change > 0:
            gain += change
        else:
            loss -= change
    gain /= period
    loss /= period
    out[period] = 100.0 * gain / (gain + loss) if gain + loss > 0 else 50.0
    for i in range(period + 1, n):
        change = values[i] - values[i - 1]
        up = change if change > 0 else 0.0
        down = -change if change < 0 else 0.0
        gain = (gain * (period - 1) + up) / period
        loss = (loss * (period - 1) + down) / period
        out[i] = 100.0 * gain / (gain + loss) if gain + loss > 0 else 50.0
    return out
