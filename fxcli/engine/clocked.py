"""`Ticks.from_columns(...).with_clock(clock_ns)` in one pass, with what a replay reads of each row.

Building the rows without clock ticks and then copying every column into a longer array with the
ticks inserted costs two allocations and a gather per column (for 3M rows, about 1 s and 0.5 GB).
Here one numba pass counts the clock rows, one fills the final columns: the same values, bit for
bit (tests/unit/backtest/test_tape_build.py), and the replay's columns come with them: the last
trade's price and the trades seen after each row. Without book tickers the top-of-book columns
are one read-only NaN broadcast (no memory per row), and when the stored times never go back the
rows' own times are the engine times, so the caller can share that array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fxcli.engine.jit import njit
from fxcli.engine.state import RUSH_MIN_FILLS
from fxcli.engine.ticks import Ticks

MS_NS = 1_000_000


@dataclass(frozen=True)
class Clocked:
    """The rows with clock ticks, and per row what the batch replay reads besides the ticks."""

    ticks: Ticks
    is_clock: np.ndarray  # bool, one per row
    clock_ticks: int
    raw_ts: np.ndarray  # each row's own exchange time (a clock row's: its grid point)
    price: np.ndarray  # the last trade's price after the row, NaN before the first trade
    seen: np.ndarray  # trades up to and including the row (int32 below 2**31 rows, else int64)


@njit
def _count(ts, clock_ns):  # type: ignore[no-untyped-def]
    # Clock rows (grid points g with engine time before < g <= engine time of the row), and whether
    # the stored times never go back (then engine time is the row's own time).
    n = len(ts)
    start = -(2**62)
    now = start
    ticks = 0
    monotone = True
    for i in range(n):
        t = ts[i]
        if t < start:
            t = start
            monotone = False
        if t < now:
            monotone = False
        else:
            if clock_ns > 0 and i > 0:
                ticks += t // clock_ns - now // clock_ns
            now = t
    return ticks, monotone


@njit
def _fill(  # type: ignore[no-untyped-def]
    ts, is_trade, price, qty, side, bid, bid_qty, ask, ask_qty, clock_ns, rush_min, tickers,
    o_ts, o_trade, o_price, o_qty, o_side, o_integral, o_rush, o_bid, o_bid_qty, o_ask, o_ask_qty,
    o_raw, o_last, o_seen, o_clock, t_ts, t_integral,
):  # fmt: skip
    # One row per event, a clock row before an event for each grid point its engine time reaches:
    # a clock row has no trade and carries the top of book (Ticks.with_clock's rule).
    n = len(ts)
    start = -(2**62)  # MarketState's engine time before the first event
    now = start
    row = 0
    k = 0  # trades so far
    q = 0  # tickers so far
    integral = 0.0
    group = 0  # first trade of the current (ms, side) run
    last_price = np.nan
    b = np.nan
    bq = np.nan
    a = np.nan
    aq = np.nan
    now_trade = 0  # engine time of the last trade
    for i in range(n):
        t = max(max(ts[i], start), now)
        if clock_ns > 0 and i > 0:
            cell = now // clock_ns
            for c in range(t // clock_ns - cell):
                grid = (cell + c + 1) * clock_ns
                o_ts[row] = grid
                o_raw[row] = grid
                o_trade[row] = False
                o_price[row] = np.nan
                o_qty[row] = 0.0
                o_side[row] = 0
                o_integral[row] = np.nan
                o_rush[row] = 0
                if tickers:
                    o_bid[row] = b
                    o_bid_qty[row] = bq
                    o_ask[row] = a
                    o_ask_qty[row] = aq
                o_last[row] = last_price
                o_seen[row] = k
                o_clock[row] = True
                row += 1
        if is_trade[i]:
            p = price[k]
            if k > 0:
                # np.cumsum(p[:-1] * (t[1:] - t[:-1])): the first term as it is, then added in order
                step = price[k - 1] * (t - now_trade)
                integral = step if k == 1 else integral + step
                ms, prev_ms = t // MS_NS, now_trade // MS_NS
                if ms != prev_ms or side[k] != side[k - 1]:
                    group = k
            o_price[row] = p
            o_qty[row] = qty[k]
            o_side[row] = side[k]
            o_integral[row] = integral
            o_rush[row] = 1 if k - group + 1 == rush_min else 0
            t_ts[k] = t
            t_integral[k] = integral
            last_price = p
            now_trade = t
            k += 1
        else:
            o_price[row] = np.nan
            o_qty[row] = 0.0
            o_side[row] = 0
            o_integral[row] = np.nan
            o_rush[row] = 0
            b, bq, a, aq = bid[q], bid_qty[q], ask[q], ask_qty[q]
            q += 1
        o_ts[row] = t
        o_raw[row] = ts[i]
        o_trade[row] = is_trade[i]
        if tickers:
            o_bid[row] = b
            o_bid_qty[row] = bq
            o_ask[row] = a
            o_ask_qty[row] = aq
        o_last[row] = last_price
        o_seen[row] = k
        o_clock[row] = False
        row += 1
        now = t


def _nan_rows(n: int) -> np.ndarray:
    """n NaNs that take no memory (read-only)."""
    return np.broadcast_to(np.float64(np.nan), (n,))


def clocked_columns(
    ts_ns: np.ndarray,
    is_trade: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    side: np.ndarray,
    bid: np.ndarray,
    bid_qty: np.ndarray,
    ask: np.ndarray,
    ask_qty: np.ndarray,
    *,
    depth_levels: set[int],
    clock_ns: int,
) -> Clocked | None:
    """`Ticks.from_columns` of the same arguments `.with_clock(clock_ns)`, and the replay's columns;
    None when a trade has no price (the batch replay assumes the price is known from the first trade
    on). The sizes are checked as `Ticks.from_columns` checks them."""
    if np.isnan(price).any():
        return None
    ts = np.ascontiguousarray(ts_ns, dtype=np.int64)
    trade = np.ascontiguousarray(is_trade, dtype=bool)
    n, m = len(ts), int(np.count_nonzero(trade))
    p = np.ascontiguousarray(price, dtype=np.float64)
    s = np.ascontiguousarray(side, dtype=np.int64)
    if not len(p) == len(qty) == len(s) == m:
        raise ValueError(f"{m} trades but {len(p)} prices, {len(qty)} sizes and {len(s)} sides")
    if len(bid) != n - m:
        raise ValueError(f"{n - m} tickers but {len(bid)} bids")
    clock = clock_ns if n >= 2 else 0
    extra, monotone = _count(ts, clock)
    rows = n + int(extra)

    def f64() -> np.ndarray:
        return np.empty(rows, dtype=np.float64)

    o_ts, o_trade = np.empty(rows, dtype=np.int64), np.empty(rows, dtype=bool)
    o_price, o_qty, o_integral, o_last = f64(), f64(), f64(), f64()
    o_side, o_rush = np.empty(rows, dtype=np.int8), np.empty(rows, dtype=np.int8)
    # The rows' own times equal the engine times when stored times never go back: not written twice.
    o_raw = o_ts if monotone else np.empty(rows, dtype=np.int64)
    o_seen = np.empty(rows, dtype=np.int32 if rows < 2**31 else np.int64)
    o_clock = np.empty(rows, dtype=bool)
    tickers = n > m
    books = [f64() for _ in range(4)] if tickers else [np.empty(0) for _ in range(4)]
    book_in = [np.ascontiguousarray(c, dtype=np.float64) for c in (bid, bid_qty, ask, ask_qty)]
    if not tickers:
        book_in = [np.empty(0) for _ in range(4)]
    q = np.ascontiguousarray(qty, dtype=np.float64)
    # The trades' own columns, which every indicator window indexes (`kernels.trade_columns`): written
    # here in passing rather than gathered from the rows afterwards (4 gathers of 3M: ~0.2 s).
    # When every row is a trade they are the rows' columns (written twice, the same values).
    every = rows == m
    t_ts = o_ts if every else np.empty(m, dtype=np.int64)
    t_integral = o_integral if every else np.empty(m, dtype=np.float64)
    _fill(
        ts, trade, p, q, s, *book_in, clock, RUSH_MIN_FILLS,
        tickers, o_ts, o_trade, o_price, o_qty, o_side, o_integral, o_rush, *books, o_raw, o_last,
        o_seen, o_clock, t_ts, t_integral,
    )  # fmt: skip
    o_bid, o_bid_qty, o_ask, o_ask_qty = books if tickers else [_nan_rows(rows)] * 4
    ticks = Ticks(
        ts_ns=o_ts,
        is_trade=o_trade,
        price=o_price,
        qty=o_qty,
        side=o_side,
        integral=o_integral,
        rush_fill=o_rush,
        bid=o_bid,
        ask=o_ask,
        bid_qty=o_bid_qty,
        ask_qty=o_ask_qty,
        # Without an L2 book, MarketState.depth(n) is the ticker's quantities at any depth.
        depth=dict.fromkeys(sorted(depth_levels), (o_bid_qty, o_ask_qty)),
    )
    # The prices and sizes are the caller's (the store's buffers, or mapped files): no copy.
    ticks.cache["trades"] = (t_ts, o_price, o_qty, t_integral) if every else (t_ts, p, q, t_integral)
    return Clocked(ticks, o_clock, int(extra), o_raw, o_last, o_seen)
