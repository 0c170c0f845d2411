"""The tape: a window's events as columns, one row per event (and clock row), with what the batch
replay reads of the market state after each row.

It depends on the events and the clock only, so every indicator column and every replay of one
window share it: `fx backtest` builds one per run, `fx optimize` keeps one per clock on disk for all
its trials (fxcli/optimize/trials.py).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import compress
from typing import Any

import numpy as np

from fxcli.engine.clocked import Clocked
from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import load_all
from fxcli.engine.ticks import Ticks
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, MarketEvent, Trade

_TS = operator.attrgetter("exchange_ts_ns")
_PRICE = operator.attrgetter("price")
_QTY = operator.attrgetter("qty")
_SIDE = operator.attrgetter("side")
_BID = operator.attrgetter("bid_price")
_BID_QTY = operator.attrgetter("bid_qty")
_ASK = operator.attrgetter("ask_price")
_ASK_QTY = operator.attrgetter("ask_qty")


def depth_levels(indicators: Iterable[tuple[str, str, IndicatorParams]]) -> set[int]:
    """The book depths the indicators' batch forms read from `Ticks.depth`."""
    specs = load_all()
    return {level for _, kind, params in indicators for level in specs[kind].depth_levels(params)}


def indicator_column(tape: Tape, kind: str, params: IndicatorParams) -> np.ndarray:
    """One indicator's values after every row of the tape (its batch twin)."""
    return np.asarray(load_all()[kind].batch(tape.ticks, params), dtype=np.float64)


@dataclass(frozen=True)
class Tape:
    """The events as columns, one row per event, and what the runner reads of the state after each.

    It depends on the events and the clock only: every indicator column and every replay of one
    window with one clock share it (fxcli.optimize.trials keeps it on disk for many trials).
    """

    ticks: Ticks
    raw_ts: np.ndarray  # each row's own exchange time: an order executes on the first one after its due
    price: np.ndarray  # MarketState.price: the last trade's price, NaN before the first trade
    seen: np.ndarray  # MarketState.trades_seen
    l2_rows: list[int]  # rows of the L2 snapshots and deltas: fills walk the book they build
    l2_events: list[MarketEvent]  # those snapshots and deltas
    clock_ticks: int  # clock rows among the rows
    is_clock: np.ndarray | None = None  # which rows are clock rows (None: none is)

    @staticmethod
    def of(
        events: list[MarketEvent], indicators: list[tuple[str, str, IndicatorParams]], clock_ns: int = 0
    ) -> Tape | None:
        """None when a trade has no price (this runner assumes the price is known from the first trade on)."""
        levels = depth_levels(indicators)
        raw_ts = np.fromiter(map(_TS, events), np.int64, len(events))
        ticks = _columns(events, raw_ts, levels)
        l2_rows: list[int] = []
        if ticks is None:
            ticks = Ticks.from_events(events, levels)
            l2_rows = [i for i, e in enumerate(events) if isinstance(e, BookSnapshot | BookDelta)]
        return Tape.build(ticks, raw_ts, l2_rows, [events[i] for i in l2_rows], clock_ns)

    @staticmethod
    def clocked(c: Clocked | None) -> Tape | None:
        """The tape of rows `fxcli.engine.clocked.clocked_columns` built in one pass (trades and book
        tickers, no L2): equal, array for array, to `build(Ticks.from_columns(...), ...)` of the same
        columns; None when a trade has no price."""
        if c is None:
            return None
        is_clock = c.is_clock if c.clock_ticks else None
        return Tape(c.ticks, c.raw_ts, c.price, c.seen, [], [], c.clock_ticks, is_clock)

    @staticmethod
    def build(
        ticks: Ticks, raw_ts: np.ndarray, l2_rows: list[int], l2_events: list[MarketEvent], clock_ns: int
    ) -> Tape | None:
        """The tape of `ticks` (one row per event, `raw_ts` their own exchange times, the L2 events
        at `l2_rows`) with clock rows every `clock_ns`; None when a trade has no price."""
        ticks, is_clock = ticks.with_clock(clock_ns)
        clock_ticks = int(np.count_nonzero(is_clock))
        if clock_ticks:
            own_rows = np.flatnonzero(~is_clock)
            l2_rows = own_rows[l2_rows].tolist()
            clocked = ticks.ts_ns.copy()  # a clock row's own time is its grid point
            clocked[own_rows] = raw_ts
            raw_ts = clocked
        trade_price = ticks.price[ticks.is_trade]
        if np.isnan(trade_price).any():
            return None
        seen = np.cumsum(ticks.is_trade, dtype=np.int64)
        price = np.full(len(seen), np.nan)
        if len(trade_price):
            np.take(trade_price, seen - 1, out=price, mode="clip")
            price[seen == 0] = np.nan
        return Tape(
            ticks, raw_ts, price, seen, l2_rows, l2_events, clock_ticks, is_clock if clock_ticks else None
        )


def _columns(events: list[MarketEvent], raw_ts: np.ndarray, depth_levels: set[int]) -> Ticks | None:
    """`Ticks` built from the events' columns; None when the stream has anything but trades and tickers."""
    flags = list(map(Trade.__instancecheck__, events))
    tickers = list(compress(events, map(operator.not_, flags)))
    if not all(map(BookTicker.__instancecheck__, tickers)):
        return None
    trades = list(compress(events, flags))
    is_trade = np.frombuffer(bytes(flags), dtype=bool).copy()  # bytes() of bools: the fastest way in

    def column(items: list[MarketEvent], field: operator.attrgetter[Any], dtype: type) -> np.ndarray:
        return np.fromiter(map(field, items), dtype, len(items))

    return Ticks.from_columns(
        raw_ts,
        is_trade,
        column(trades, _PRICE, np.float64),
        column(trades, _QTY, np.float64),
        column(trades, _SIDE, np.int64),
        column(tickers, _BID, np.float64),
        column(tickers, _BID_QTY, np.float64),
        column(tickers, _ASK, np.float64),
        column(tickers, _ASK_QTY, np.float64),
        depth_levels,
    )
