"""The batch twins' input: one row per event of the merged stream, as numpy arrays.

Row i holds the engine time (running max of exchange time), the trade fields if the event is a
trade (NaN / 0 otherwise), the top of book after the event (carried forward), and the per-trade
values streaming indicators derive (step-function integral, rush-order fills).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from fxcli.engine.state import RUSH_MIN_FILLS, MarketState
from fxcli.model.events import BookTicker, MarketEvent

if TYPE_CHECKING:
    import polars as pl

F64 = np.ndarray  # float64 arrays; numpy's generic typing adds nothing here
_START_NS = -(2**62)  # MarketState's engine time before the first event


@dataclass(frozen=True)
class Ticks:
    """Arrays of equal length, one row per event, in stream order."""

    ts_ns: np.ndarray  # int64, never decreasing
    is_trade: np.ndarray  # bool
    price: np.ndarray  # trade price, NaN on book rows
    qty: np.ndarray  # trade size, 0 on book rows
    side: np.ndarray  # int8, +1/-1 on trades, 0 on book rows
    integral: np.ndarray  # step-function integral at each trade (price x ns), NaN on book rows
    rush_fill: np.ndarray  # int8, 1 on the fill that makes a rush order
    bid: np.ndarray
    ask: np.ndarray
    bid_qty: np.ndarray
    ask_qty: np.ndarray
    depth: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # Derived arrays the batch kernels share (window bounds per (t1, t2)); not part of the value.
    cache: dict[object, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.ts_ns)

    @property
    def trade_index(self) -> np.ndarray:
        """Row numbers of the trades."""
        return np.flatnonzero(self.is_trade)

    def with_clock(self, clock_ns: int) -> tuple[Ticks, np.ndarray]:
        """These rows with a clock row before each row whose engine time reaches a grid point of
        `clock_ns` (`fxcli.engine.clock`), and the mask of the clock rows.

        A clock row is the row before it with time moved to the grid point: no trade (NaN price, 0
        size and side, no rush fill), the top of book and summed depth carried: what `MarketState`
        holds after `tick`, so every batch twin sees the tick as its streaming form does.
        """
        from fxcli.engine.clock import grid_rows

        before, times = grid_rows(self.ts_ns, clock_ns)
        n, m = len(self), len(before)
        if not m:
            return self, np.zeros(n, dtype=bool)
        # Row i moves down by the number of ticks inserted before it (at rows <= i).
        own = np.arange(n, dtype=np.int64) + np.searchsorted(before, np.arange(n), side="right")
        is_clock = np.ones(n + m, dtype=bool)
        is_clock[own] = False
        source = np.empty(n + m, dtype=np.int64)
        source[own] = np.arange(n)
        source[is_clock] = before - 1
        ts = self.ts_ns[source]
        ts[is_clock] = times

        def trade_column(column: np.ndarray, blank: float) -> np.ndarray:
            out = column[source]
            out[is_clock] = blank
            return out

        return (
            Ticks(
                ts_ns=ts,
                is_trade=trade_column(self.is_trade, False),
                price=trade_column(self.price, np.nan),
                qty=trade_column(self.qty, 0.0),
                side=trade_column(self.side, 0),
                integral=trade_column(self.integral, np.nan),
                rush_fill=trade_column(self.rush_fill, 0),
                bid=self.bid[source],
                ask=self.ask[source],
                bid_qty=self.bid_qty[source],
                ask_qty=self.ask_qty[source],
                depth={level: (b[source], a[source]) for level, (b, a) in self.depth.items()},
            ),
            is_clock,
        )

    @staticmethod
    def from_events(events: Iterable[MarketEvent], depth_levels: Iterable[int] = ()) -> Ticks:
        """Build from events by running the same `MarketState` the streaming pipeline uses."""
        state = MarketState("")
        levels = sorted(set(depth_levels))
        cols: dict[str, list[float]] = {
            k: []
            for k in (
                "ts",
                "trade",
                "price",
                "qty",
                "side",
                "integral",
                "rush",
                "bid",
                "ask",
                "bid_qty",
                "ask_qty",
            )
        }
        depth: dict[int, tuple[list[float], list[float]]] = {n: ([], []) for n in levels}
        sums: list[tuple[float, float]] = []
        for event in events:
            state.apply(event)
            trade = state.is_trade
            cols["ts"].append(state.now_ns)
            cols["trade"].append(trade)
            cols["price"].append(state.price if trade else np.nan)
            cols["qty"].append(state.qty if trade else 0.0)
            cols["side"].append(state.side if trade else 0)
            cols["integral"].append(state.integral if trade else np.nan)
            cols["rush"].append(state.rush_fill if trade else 0)
            cols["bid"].append(state.bid)
            cols["ask"].append(state.ask)
            cols["bid_qty"].append(state.bid_qty)
            cols["ask_qty"].append(state.ask_qty)
            if levels:
                # Summed depth moves only with the book (before any L2 book: with the ticker's
                # quantities), so a trade, or a ticker while an L2 book is live, keeps the last sums.
                if not sums or not (trade or (state.has_l2 and isinstance(event, BookTicker))):
                    sums = [state.depth(n) for n in levels]
                for n, (b, a) in zip(levels, sums, strict=True):
                    depth[n][0].append(b)
                    depth[n][1].append(a)
        return Ticks(
            ts_ns=np.asarray(cols["ts"], dtype=np.int64),
            is_trade=np.asarray(cols["trade"], dtype=bool),
            price=np.asarray(cols["price"], dtype=np.float64),
            qty=np.asarray(cols["qty"], dtype=np.float64),
            side=np.asarray(cols["side"], dtype=np.int8),
            integral=np.asarray(cols["integral"], dtype=np.float64),
            rush_fill=np.asarray(cols["rush"], dtype=np.int8),
            bid=np.asarray(cols["bid"], dtype=np.float64),
            ask=np.asarray(cols["ask"], dtype=np.float64),
            bid_qty=np.asarray(cols["bid_qty"], dtype=np.float64),
            ask_qty=np.asarray(cols["ask_qty"], dtype=np.float64),
            depth={
                n: (np.asarray(b, dtype=np.float64), np.asarray(a, dtype=np.float64))
                for n, (b, a) in depth.items()
            },
        )

    @staticmethod
    def from_columns(
        ts_ns: np.ndarray,
        is_trade: np.ndarray,
        price: np.ndarray,
        qty: np.ndarray,
        side: np.ndarray,
        bid: np.ndarray,
        bid_qty: np.ndarray,
        ask: np.ndarray,
        ask_qty: np.ndarray,
        depth_levels: Iterable[int] = (),
    ) -> Ticks:
        """Vectorised build for a stream of trades and book tickers (no L2), from its columns.

        `ts_ns` (each event's exchange time) and `is_trade` have one row per event; `price`, `qty`
        and `side` one per trade, and the ticker columns one per book ticker, each in stream order.
        Bit for bit what `from_events` gives on the same `Trade` / `BookTicker` events: engine time
        is the running maximum, the step-function integral is summed in the same order, rush fills
        are numbered per (ms, side) run of trades, and the last ticker is carried forward (NaN
        before the first).
        """
        trade = np.asarray(is_trade, dtype=bool)
        n = len(trade)
        ts = np.maximum.accumulate(np.maximum(np.asarray(ts_ns, dtype=np.int64), _START_NS))
        idx = np.flatnonzero(trade)
        m = len(idx)
        t = ts[idx]
        p = np.asarray(price, dtype=np.float64)
        s = np.asarray(side, dtype=np.int64)
        if not len(p) == len(qty) == len(s) == m:
            raise ValueError(f"{m} trades but {len(p)} prices, {len(qty)} sizes and {len(s)} sides")
        price_col = np.full(n, np.nan)
        price_col[idx] = p
        qty_col = np.zeros(n)
        qty_col[idx] = np.asarray(qty, dtype=np.float64)
        side_col = np.zeros(n, dtype=np.int8)
        side_col[idx] = s
        integral = np.full(n, np.nan)
        rush = np.zeros(n, dtype=np.int8)
        if m:
            # MarketState adds price_prev x (now - ts_prev) at every trade after the first, in order.
            running = np.empty(m)
            running[0] = 0.0
            np.cumsum(p[:-1] * (t[1:] - t[:-1]), out=running[1:])
            integral[idx] = running
            ms = t // 1_000_000
            starts = np.ones(m, dtype=bool)
            starts[1:] = (ms[1:] != ms[:-1]) | (s[1:] != s[:-1])
            group_start = np.maximum.accumulate(np.where(starts, np.arange(m), 0))
            fill_no = np.arange(m) - group_start + 1
            rush[idx] = fill_no == RUSH_MIN_FILLS
        # Top of book after each row: the last ticker at or before it.
        last = np.cumsum(~trade, dtype=np.int64) - 1
        known = last >= 0
        if len(bid) != n - m:
            raise ValueError(f"{n - m} tickers but {len(bid)} bids")
        at = np.maximum(last, 0)

        def carried(column: np.ndarray) -> np.ndarray:
            if not len(column):
                return np.full(n, np.nan)
            return np.where(known, np.asarray(column, dtype=np.float64)[at], np.nan)

        bid_col, ask_col = carried(bid), carried(ask)
        bid_qty_col, ask_qty_col = carried(bid_qty), carried(ask_qty)
        return Ticks(
            ts_ns=ts,
            is_trade=trade,
            price=price_col,
            qty=qty_col,
            side=side_col,
            integral=integral,
            rush_fill=rush,
            bid=bid_col,
            ask=ask_col,
            bid_qty=bid_qty_col,
            ask_qty=ask_qty_col,
            # Without an L2 book, MarketState.depth(n) is the ticker's quantities at any depth.
            depth={level: (bid_qty_col.copy(), ask_qty_col.copy()) for level in sorted(set(depth_levels))},
        )

    @staticmethod
    def from_trades(trades: pl.DataFrame) -> Ticks:
        """Vectorised build from a trades table (no book): the fast path for trade-only data."""
        ts = np.maximum.accumulate(trades.get_column("exchange_ts_ns").to_numpy().astype(np.int64))
        price = trades.get_column("price").to_numpy().astype(np.float64)
        side = trades.get_column("side").to_numpy().astype(np.int8)
        n = len(ts)
        integral = np.empty(n, dtype=np.float64)
        if n:
            steps = price[:-1] * (ts[1:] - ts[:-1])
            integral[0] = 0.0
            np.cumsum(steps, out=integral[1:])
        # Fill number within each (ms, side) group: the second fill of a group marks a rush order.
        ms = ts // 1_000_000
        starts = np.ones(n, dtype=bool)
        starts[1:] = (ms[1:] != ms[:-1]) | (side[1:] != side[:-1])
        group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
        fill_no = np.arange(n) - group_start + 1
        nan = np.full(n, np.nan)
        return Ticks(
            ts_ns=ts,
            is_trade=np.ones(n, dtype=bool),
            price=price,
            qty=trades.get_column("qty").to_numpy().astype(np.float64),
            side=side,
            integral=integral,
            rush_fill=(fill_no == RUSH_MIN_FILLS).astype(np.int8),
            bid=nan,
            ask=nan.copy(),
            bid_qty=nan.copy(),
            ask_qty=nan.copy(),
        )
