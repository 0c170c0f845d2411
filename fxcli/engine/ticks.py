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
from fxcli.model.events import MarketEvent

if TYPE_CHECKING:
    import polars as pl

F64 = np.ndarray  # float64 arrays; numpy's generic typing adds nothing here


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

    def __len__(self) -> int:
        return len(self.ts_ns)

    @property
    def trade_index(self) -> np.ndarray:
        """Row numbers of the trades."""
        return np.flatnonzero(self.is_trade)

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
            for n in levels:
                b, a = state.depth(n)
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
