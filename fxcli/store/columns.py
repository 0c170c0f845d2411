"""A backtest window read as numpy columns: trades and book tickers merged in replay order, no object per row.

`store.replay` yields one event object per stored row (a dict first): for millions of trades that
is most of a backtest's time and memory. Here the rows stay columns and only their merged order is
computed, exactly as `replay` orders them: by exchange time, then receive time, then table (book
snapshots, deltas, tickers, trades), rows of one table in stored order. L2 snapshots and deltas
become their events (a book is many rows per event; fills replay them through a MarketState).

`read_window` also does what a backtest checks before it reads: the exchange, a window with
trades, the recorded gaps (refused unless allowed), and the hash of the files it reads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from fxcli.errors import FxError
from fxcli.model.events import BOOK_GAP_REASONS, MarketEvent
from fxcli.model.units import ns_to_iso
from fxcli.store.access import exchange_of
from fxcli.store.reader import StoreReader
from fxcli.store.replay import TABLE_ORDER, stored_events
from fxcli.store.schema import Table

if TYPE_CHECKING:
    import polars as pl

L2_TABLES = (Table.BOOK_SNAPSHOTS, Table.BOOK_DELTAS)
_TRADE_FAST = ("exchange_ts_ns", "received_ts_ns", "price", "qty", "side")
_TICKER_FAST = ("exchange_ts_ns", "received_ts_ns", "bid_price", "bid_qty", "ask_price", "ask_qty")


@dataclass(frozen=True)
class MarketColumns:
    """One window's market events as rows in replay order.

    `ts_ns` and `is_trade` have a row per event; `trades` and `tickers` hold their table's rows in
    stored order (the k-th trade row is the k-th row with `is_trade`); `l2_rows` are the rows of the
    L2 events `l2_events` (book snapshots and deltas), which are neither.
    """

    symbol: str
    ts_ns: np.ndarray  # int64: each event's exchange time
    is_trade: np.ndarray  # bool
    trades: pl.DataFrame
    tickers: pl.DataFrame
    l2_rows: np.ndarray  # int64
    l2_events: list[MarketEvent]

    def __len__(self) -> int:
        return len(self.ts_ns)

    def trade(self, name: str) -> np.ndarray:
        """One column of the trades, in stream order."""
        return self.trades.get_column(name).to_numpy()

    def ticker(self, name: str) -> np.ndarray:
        """One column of the book tickers, in stream order."""
        return self.tickers.get_column(name).to_numpy()

    def events(self) -> list[MarketEvent]:
        """The events `store.replay` yields for the same window, in its order (objects: for the
        streaming paths and for L2 windows)."""
        out: list[MarketEvent | None] = [None] * len(self)
        trade_rows = np.flatnonzero(self.is_trade).tolist()
        trades = stored_events(Table.TRADES, self.trades, self.symbol)
        for row, event in zip(trade_rows, trades, strict=True):
            out[row] = cast(MarketEvent, event)
        ticker_mask = ~self.is_trade
        ticker_mask[self.l2_rows] = False
        ticker_rows = np.flatnonzero(ticker_mask).tolist()
        tickers = stored_events(Table.BOOK_TICKER, self.tickers, self.symbol)
        for row, event in zip(ticker_rows, tickers, strict=True):
            out[row] = cast(MarketEvent, event)
        for row, event in zip(self.l2_rows.tolist(), self.l2_events, strict=True):
            out[row] = event
        return [e for e in out if e is not None]


@dataclass(frozen=True)
class Window:
    """What a backtest of one symbol reads: its exchange, recorded gaps, data hash and bounds."""

    symbol: str
    exchange: str
    gaps: list[dict[str, Any]]
    book_gaps: bool  # a book gap in the window: the streaming runner must hide the book there
    data_sha: str
    lo: int | None
    hi: int | None


def open_window(
    reader: StoreReader,
    symbol: str,
    exchange: str | None,
    lo: int | None,
    hi: int | None,
    *,
    allow_gaps: bool,
) -> Window:
    """The window of `symbol`; FxError on an unknown symbol, an empty window or a gapped one."""
    exchange = exchange_of(reader, symbol, exchange, error=FxError)
    first = reader.scan(exchange, symbol, Table.TRADES, lo, hi).select("exchange_ts_ns").min().collect()
    first_trade = first.item() if first.height else None
    if first_trade is None:
        raise FxError(f"no trades for {symbol} on {exchange} in the window: nothing to backtest")
    gaps = reader.scan(exchange, symbol, Table.GAPS, lo, hi).collect().sort("start_ns").to_dicts()
    # A book gap that starts before the window's first trade (a recording waiting for its first
    # snapshot) only means the book is not known yet: like data that starts later, not a hole.
    holes = [g for g in gaps if not (g["reason"] in BOOK_GAP_REASONS and g["start_ns"] < first_trade)]
    if holes and not allow_gaps:
        hole = holes[0]
        raise FxError(
            f"{symbol}: the window overlaps {len(holes)} recorded gap(s), first "
            f"{ns_to_iso(hole['start_ns'])} to {ns_to_iso(hole['end_ns'])} ({hole['reason']}); "
            "use --allow-gaps to run anyway (it is flagged)"
        )
    book_gaps = any(g["reason"] in BOOK_GAP_REASONS for g in gaps)
    sha = data_sha(reader, exchange, symbol, lo, hi)
    return Window(symbol, exchange, gaps, book_gaps, sha, lo, hi)


def data_sha(reader: StoreReader, exchange: str, symbol: str, lo: int | None, hi: int | None) -> str:
    """Hash of the manifest sha256s of every file the window reads."""
    digest = hashlib.sha256()
    for f in reader.files(exchange, symbol):
        first, last = f.entry.first_ts_ns, f.entry.last_ts_ns
        if f.table is not Table.GAPS and (
            (hi is not None and first is not None and first > hi)
            or (lo is not None and last is not None and last < lo)
        ):
            continue
        digest.update(f"{f.table.value}/{f.path.parent.name}/{f.path.name}:{f.entry.sha256}\n".encode())
    return digest.hexdigest()


def _sorted_by_time(ts: np.ndarray, rx: np.ndarray) -> bool:
    """Whether rows are in (exchange time, receive time) order, as `replay`'s merge needs its inputs."""
    if len(ts) < 2:
        return True
    later = ts[1:] > ts[:-1]
    same = ts[1:] == ts[:-1]
    return bool(np.all(later | (same & (rx[1:] >= rx[:-1]))))


def read_columns(reader: StoreReader, window: Window, *, full: bool = False) -> MarketColumns | None:
    """The window's market events as columns in replay order; None when a table's stored rows are
    not in time order (then only `replay`'s own merge gives its order). Without L2 data only the
    columns the batch replay reads are kept unless `full` (which `events()` needs)."""
    exchange, symbol, lo, hi = window.exchange, window.symbol, window.lo, window.hi

    def frame(table: Table, columns: tuple[str, ...] | None = None) -> pl.DataFrame:
        scan = reader.scan(exchange, symbol, table, lo, hi)
        return (scan if columns is None else scan.select(columns)).collect()

    l2_events: list[MarketEvent] = []
    l2_keys: list[tuple[int, int, int]] = []
    for table in L2_TABLES:
        for stored in stored_events(table, frame(table), symbol):
            event = cast(MarketEvent, stored)  # snapshots and deltas: market events
            l2_keys.append((event.exchange_ts_ns, int(event.received_ts_ns or 0), TABLE_ORDER[table]))
            l2_events.append(event)
    full = full or bool(l2_events)
    trades = frame(Table.TRADES, None if full else _TRADE_FAST)
    tickers = frame(Table.BOOK_TICKER, None if full else _TICKER_FAST)
    parts: list[tuple[np.ndarray, np.ndarray, int]] = []
    for table, rows in ((Table.BOOK_TICKER, tickers), (Table.TRADES, trades)):
        ts = rows.get_column("exchange_ts_ns").to_numpy()
        rx = rows.get_column("received_ts_ns").to_numpy()
        if not _sorted_by_time(ts, rx):
            return None
        parts.append((ts, rx, TABLE_ORDER[table]))
    trade_ts = parts[1][0]
    if not len(tickers) and not l2_events:  # trades alone: stored order is replay order
        ts_ns = np.ascontiguousarray(trade_ts, dtype=np.int64)
        return MarketColumns(
            symbol, ts_ns, np.ones(len(ts_ns), dtype=bool), trades, tickers, np.zeros(0, np.int64), []
        )
    if l2_keys:
        l2 = np.asarray(l2_keys, dtype=np.int64)
        parts.insert(0, (l2[:, 0], l2[:, 1], -1))  # each L2 event carries its own table order
    ts_all = np.concatenate([p[0] for p in parts]).astype(np.int64, copy=False)
    rx_all = np.concatenate([p[1] for p in parts]).astype(np.int64, copy=False)
    kind = np.concatenate([np.full(len(p[0]), p[2], dtype=np.int8) for p in parts])
    if l2_keys:
        kind[: len(l2_keys)] = l2[:, 2]
    # replay merges sorted streams on (time, receive time, table); equal keys keep stream order,
    # which a stable sort keeps too (rows are concatenated stream by stream).
    order = np.lexsort((kind, rx_all, ts_all))
    del rx_all
    ts_ns = ts_all[order]
    kind_sorted = kind[order]
    del order, ts_all
    is_trade = kind_sorted == TABLE_ORDER[Table.TRADES]
    l2_rows = np.flatnonzero(kind_sorted < TABLE_ORDER[Table.BOOK_TICKER]).astype(np.int64)
    return MarketColumns(symbol, ts_ns, is_trade, trades, tickers, l2_rows, l2_events)
