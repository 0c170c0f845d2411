"""Batch kernels shared by the indicators' batch twins (numba, imported only when a batch runs).

Window membership is by row position: row i sees trades at rows <= i whose time is within
`[ts_i - t1, ts_i - t2]` — never a later trade with the same timestamp, exactly as a streaming
engine sees them. The running-sum and min/max kernels replay the streaming windows' additions,
subtractions and deque moves in the same order, so both forms give the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fxcli.engine.jit import njit
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

    @property
    def covered(self) -> np.ndarray:
        """True where a trade older than the window's start exists (see `TradeWindow.is_covered`)."""
        return self.lo > 0


@njit
def _bounds(ts, is_trade, trade_ts, t1, t2, lo, hi):  # type: ignore[no-untyped-def]
    # One linear merge: ts never decreases, so both edges only move forward (a binary search per
    # row, as np.searchsorted does, costs ~40 ns a row on 10M rows).
    n = len(ts)
    m = len(trade_ts)
    start = 0  # trades with ts < ts_i - t1 (searchsorted left)
    end = 0  # trades with ts <= ts_i - t2 (searchsorted right)
    seen = 0  # trades at rows <= i
    for i in range(n):
        if is_trade[i]:
            seen += 1
        edge = ts[i] - t1
        while start < m and trade_ts[start] < edge:
            start += 1
        edge = ts[i] - t2
        while end < m and trade_ts[end] <= edge:
            end += 1
        h = min(end, seen)
        hi[i] = h
        lo[i] = min(start, h)


def trade_columns(ticks: Ticks) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time, price, size and integral of the trades alone (the columns themselves when every row is
    a trade), gathered once per `Ticks`: every window's bounds index them."""
    cached = ticks.cache.get("trades")
    if cached is None:
        if len(ticks) and ticks.is_trade.all():
            cached = ticks.ts_ns, ticks.price, ticks.qty, ticks.integral
        else:
            idx = ticks.trade_index
            cached = ticks.ts_ns[idx], ticks.price[idx], ticks.qty[idx], ticks.integral[idx]
        ticks.cache["trades"] = cached
    return cached  # type: ignore[return-value]


def bounds(ticks: Ticks, t1_ns: int, t2_ns: int) -> Bounds:
    """Window bounds of every row for `(t1, t2)` in ns (computed once per `Ticks` and window)."""
    key = ("bounds", t1_ns, t2_ns)
    cached = ticks.cache.get(key)
    if cached is not None:
        return cached  # type: ignore[return-value]
    trade_ts, price, qty, integral = trade_columns(ticks)
    # Outputs come from numpy, which advises huge pages on large arrays; an array numba allocates
    # gets 4 KiB pages, and their first-touch faults cost ~2 ns a value on 10M rows. Trade indices
    # fit 32 bits below 2**31 trades: half the memory of every window kept for the run.
    index = np.int32 if len(trade_ts) < 2**31 - 1 else np.int64
    lo, hi = np.empty(len(ticks), dtype=index), np.empty(len(ticks), dtype=index)
    _bounds(ticks.ts_ns, ticks.is_trade, trade_ts, t1_ns, t2_ns, lo, hi)
    b = Bounds(lo, hi, trade_ts, price, qty, integral)
    ticks.cache[key] = b
    return b


def _no_trades(ticks: Ticks, b: Bounds) -> np.ndarray | None:
    """All-NaN output when there is no trade at all (nothing to index), else None."""
    return None if len(b.trade_price) else np.full(len(ticks), np.nan)


@njit
def _sums(lo, hi, price, qty, what, first, second):  # type: ignore[no-untyped-def]
    # Replays the streaming window: trades enter (up to hi), then leave (up to lo); an emptied
    # window restarts from exact zeros. `what`: 0 both raw sums, 1 volume, 2 VWAP (NaN uncovered).
    n = len(lo)
    v = 0.0
    s = 0.0
    enter = 0
    leave = 0
    for i in range(n):
        h = hi[i]
        while enter < h:
            v += qty[enter]
            s += price[enter] * qty[enter]
            enter += 1
        low = lo[i]
        while leave < low:
            leave += 1
            if leave == enter:
                v = 0.0
                s = 0.0
            else:
                v -= qty[leave - 1]
                s -= price[leave - 1] * qty[leave - 1]
        if what == 0:
            first[i] = v
            second[i] = s
        elif low == 0:
            first[i] = np.nan
        elif what == 1:
            first[i] = v
        else:
            first[i] = s / v if v > 0.0 else np.nan


def window_sums(ticks: Ticks, t1_ns: int, t2_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Running (volume, notional) per row, as the streaming window accumulates them."""
    b = bounds(ticks, t1_ns, t2_ns)
    volume, notional = np.empty(len(ticks)), np.empty(len(ticks))
    _sums(b.lo, b.hi, b.trade_price, b.trade_qty, 0, volume, notional)
    return volume, notional


@njit
def _volume_ratio(lo_a, hi_a, lo_b, hi_b, qty, scale, out):  # type: ignore[no-untyped-def]
    # Two running volumes, each as `_sums` accumulates it (trades enter, then leave; an emptied
    # window restarts from 0.0), and their ratio where both windows are covered.
    va = 0.0
    vb = 0.0
    enter_a = leave_a = enter_b = leave_b = 0
    for i in range(len(lo_a)):
        while enter_a < hi_a[i]:
            va += qty[enter_a]
            enter_a += 1
        while leave_a < lo_a[i]:
            leave_a += 1
            va = 0.0 if leave_a == enter_a else va - qty[leave_a - 1]
        while enter_b < hi_b[i]:
            vb += qty[enter_b]
            enter_b += 1
        while leave_b < lo_b[i]:
            leave_b += 1
            vb = 0.0 if leave_b == enter_b else vb - qty[leave_b - 1]
        if lo_a[i] > 0 and lo_b[i] > 0 and vb != 0.0:
            out[i] = va / (vb * scale)
        else:
            out[i] = np.nan


def window_volume_ratio(
    ticks: Ticks, recent: tuple[int, int], baseline: tuple[int, int], scale: float
) -> np.ndarray:
    """VOLUME(recent) / (VOLUME(baseline) * scale) per row, the volumes summed as `window_sums` sums
    them; NaN until both windows are covered and where the baseline holds no volume."""
    a, b = bounds(ticks, *recent), bounds(ticks, *baseline)
    out = np.empty(len(ticks))
    _volume_ratio(a.lo, a.hi, b.lo, b.hi, a.trade_qty, scale, out)
    return out


def window_volume(ticks: Ticks, t1_ns: int, t2_ns: int) -> np.ndarray:
    """VOLUME per row: summed size inside the window; NaN until the window is covered."""
    b = bounds(ticks, t1_ns, t2_ns)
    out = np.empty(len(ticks))
    _sums(b.lo, b.hi, b.trade_price, b.trade_qty, 1, out, out)
    return out


def window_vwap(ticks: Ticks, t1_ns: int, t2_ns: int) -> np.ndarray:
    """VWAP per row; NaN until the window is covered and while it holds no volume."""
    b = bounds(ticks, t1_ns, t2_ns)
    out = np.empty(len(ticks))
    _sums(b.lo, b.hi, b.trade_price, b.trade_qty, 2, out, out)
    return out


@njit
def _end_price(lo, hi, price, first, out):  # type: ignore[no-untyped-def]
    for i in range(len(lo)):
        if 0 < lo[i] < hi[i]:
            out[i] = price[lo[i]] if first else price[hi[i] - 1]
        else:
            out[i] = np.nan


def window_first_last(ticks: Ticks, t1_ns: int, t2_ns: int, *, first: bool) -> np.ndarray:
    """Oldest (or newest) trade price inside the window; NaN until covered and while empty."""
    b = bounds(ticks, t1_ns, t2_ns)
    out = np.empty(len(ticks))
    _end_price(b.lo, b.hi, b.trade_price, first, out)
    return out


@njit
def _extremum(lo, hi, price, sign, out, dq):  # type: ignore[no-untyped-def]
    # Monotonic deque of trade indices; `sign` 1 for max, -1 for min.
    n = len(lo)
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
        out[i] = price[dq[head]] if tail > head and 0 < lo[i] < hi[i] else np.nan


def window_extremum(ticks: Ticks, t1_ns: int, t2_ns: int, *, maximum: bool) -> np.ndarray:
    """Max (or min) trade price inside the window per row; NaN until covered and while empty."""
    b = bounds(ticks, t1_ns, t2_ns)
    out = np.empty(len(ticks))
    dq = np.empty(len(b.trade_price) + 1, dtype=np.int64)  # from numpy: huge pages (see bounds)
    _extremum(b.lo, b.hi, b.trade_price, 1.0 if maximum else -1.0, out, dq)
    return out


@njit
def _twpa_at(i, ts, lo, hi, trade_ts, price, integral, t1, t2):  # type: ignore[no-untyped-def]
    # Row i's TWPA: the step function's integral from the anchor (the trade before the window) to the
    # window's start and to its end; NaN without an anchor. TradeWindow.twpa's operations, in order.
    low = lo[i]
    if low <= 0:
        return np.nan
    a = low - 1
    k = hi[i] - 1 if hi[i] > low else a
    start = ts[i] - t1
    end = ts[i] - t2
    at_end = integral[k] + price[k] * (end - trade_ts[k])
    at_start = integral[a] + price[a] * (start - trade_ts[a])
    return (at_end - at_start) / (end - start)


@njit
def _twpa(ts, lo, hi, trade_ts, price, integral, t1, t2, out):  # type: ignore[no-untyped-def]
    for i in range(len(ts)):
        out[i] = _twpa_at(i, ts, lo, hi, trade_ts, price, integral, t1, t2)


def twpa(ticks: Ticks, t1_ns: int, t2_ns: int) -> np.ndarray:
    """Time-weighted average of the last-trade price over the window (see `TradeWindow.twpa`)."""
    b = bounds(ticks, t1_ns, t2_ns)
    empty = _no_trades(ticks, b)
    if empty is not None:
        return empty
    out = np.empty(len(ticks))
    _twpa(ticks.ts_ns, b.lo, b.hi, b.trade_ts, b.trade_price, b.trade_integral, t1_ns, t2_ns, out)
    return out


@njit
def _twpa_ratio(ts, lo_a, hi_a, lo_b, hi_b, trade_ts, price, integral, a1, a2, b1, b2, out):  # type: ignore[no-untyped-def]
    for i in range(len(ts)):
        recent = _twpa_at(i, ts, lo_a, hi_a, trade_ts, price, integral, a1, a2)
        base = _twpa_at(i, ts, lo_b, hi_b, trade_ts, price, integral, b1, b2)
        out[i] = recent / base if base != 0.0 else np.nan


def twpa_ratio(ticks: Ticks, recent: tuple[int, int], baseline: tuple[int, int]) -> np.ndarray:
    """TWPA(recent) / TWPA(baseline) per row in one pass; NaN where either is NaN or the baseline is 0."""
    a, b = bounds(ticks, *recent), bounds(ticks, *baseline)
    out = np.empty(len(ticks))
    if not len(a.trade_price):  # no trade at all: no TWPA
        out.fill(np.nan)
        return out
    _twpa_ratio(
        ticks.ts_ns,
        a.lo,
        a.hi,
        b.lo,
        b.hi,
        a.trade_ts,
        a.trade_price,
        a.trade_integral,
        *recent,
        *baseline,
        out,
    )
    return out


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


@njit
def _momentum(lo, hi, price, seconds, out):  # type: ignore[no-untyped-def]
    # From the anchor's price to the newest price in force at the window's end; NaN until covered
    # and when the anchor's price is 0.
    for i in range(len(lo)):
        low = lo[i]
        start = price[max(low - 1, 0)]
        if low <= 0 or start == 0.0:
            out[i] = np.nan
            continue
        end = price[max(hi[i] - 1 if hi[i] > low else low - 1, 0)]
        change = 100.0 * (end - start)
        change = change / start
        out[i] = change / seconds


def momentum(ticks: Ticks, t1_ns: int, t2_ns: int) -> np.ndarray:
    """% change per second over the window per row, with `TradeWindow.momentum`'s operations in order."""
    b = bounds(ticks, t1_ns, t2_ns)
    empty = _no_trades(ticks, b)
    if empty is not None:
        return empty
    out = np.empty(len(ticks))
    _momentum(b.lo, b.hi, b.trade_price, (t1_ns - t2_ns) / NS_PER_S, out)
    return out


@njit
def _carry(is_trade, per_trade, out):  # type: ignore[no-untyped-def]
    value = np.nan
    k = 0
    for i in range(len(is_trade)):
        if is_trade[i]:
            value = per_trade[k]
            k += 1
        out[i] = value


def per_trade(ticks: Ticks, column: np.ndarray) -> np.ndarray:
    """`column` at the trade rows (itself when every row is a trade: no copy)."""
    return column if len(ticks) and ticks.is_trade.all() else column[ticks.is_trade]


def carried(ticks: Ticks, per_trade: np.ndarray) -> np.ndarray:
    """A per-trade series carried forward to every row (NaN before the first trade)."""
    if len(per_trade) == len(ticks):
        return per_trade  # every row is a trade
    out = np.empty(len(ticks))
    _carry(ticks.is_trade, per_trade, out)
    return out


@njit
def _ema(values, span, out):  # type: ignore[no-untyped-def]
    n = len(values)
    out[: min(span - 1, n)] = np.nan
    if n < span:
        return
    alpha = 2.0 / (span + 1.0)
    total = 0.0
    for i in range(span):
        total += values[i]
    prev = total / span
    out[span - 1] = prev
    for i in range(span, n):
        prev = prev + alpha * (values[i] - prev)
        out[i] = prev


def ema(values: np.ndarray, span: int) -> np.ndarray:
    """EMA seeded with the mean of the first `span` values (TA-Lib's convention); NaN before."""
    out = np.empty(len(values))
    _ema(values, span, out)
    return out


@njit
def _sma(values, period, out):  # type: ignore[no-untyped-def]
    n = len(values)
    out[: min(period - 1, n)] = np.nan
    total = 0.0
    for i in range(n):
        total += values[i]
        if i >= period:
            total -= values[i - period]
        if i >= period - 1:
            out[i] = total / period


def sma(values: np.ndarray, period: int) -> np.ndarray:
    """Simple moving average over the last `period` values; NaN before."""
    out = np.empty(len(values))
    _sma(values, period, out)
    return out


@njit
def _rsi(values, period, out):  # type: ignore[no-untyped-def]
    n = len(values)
    out[: min(period, n)] = np.nan
    if n <= period:
        return
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


def rsi(values: np.ndarray, period: int) -> np.ndarray:
    """Wilder's RSI: first value after `period` changes (TA-Lib's convention); NaN before."""
    out = np.empty(len(values))
    _rsi(values, period, out)
    return out
