"""Events to table rows: column buffers per table, turned into polars frames in one go.

Buffering columns (not event objects) keeps the GC quiet and makes a flush one frame build.
"""

from __future__ import annotations

from itertools import repeat
from typing import TYPE_CHECKING, Any

from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Event, Gap, Level, Trade
from fxcli.store.schema import SPECS, Table

if TYPE_CHECKING:
    import polars as pl


class TableRows:
    """Column buffers for every table of one symbol."""

    def __init__(self) -> None:
        self.columns: dict[Table, dict[str, list[Any]]] = {
            table: {name: [] for name in spec.names} for table, spec in SPECS.items()
        }
        self.rows = 0

    def add(self, event: Event, *, ts_estimated: bool = False) -> None:
        """Append one event's rows to its table (a book message becomes one row per level)."""
        if isinstance(event, Trade):
            self._trade(event, False)
        elif isinstance(event, BookDelta):
            self._delta(event)
        elif isinstance(event, BookTicker):
            self._ticker(event, ts_estimated)
        elif isinstance(event, BookSnapshot):
            self._snapshot(event, ts_estimated)
        else:
            self._gap(event)

    def add_backfilled(self, trades: list[Trade]) -> None:
        """Trades fetched over REST after a gap: stored with `backfilled` true."""
        for trade in trades:
            self._trade(trade, True)

    def _trade(self, t: Trade, backfilled: bool) -> None:
        c = self.columns[Table.TRADES]
        c["exchange_ts_ns"].append(t.exchange_ts_ns)
        c["received_ts_ns"].append(t.received_ts_ns)
        c["price"].append(t.price)
        c["qty"].append(t.qty)
        c["side"].append(t.side)
        c["trade_id"].append(t.trade_id)
        c["backfilled"].append(backfilled)
        self.rows += 1

    def _levels(
        self, c: dict[str, list[Any]], fixed: dict[str, Any], bids: list[Level], asks: list[Level]
    ) -> None:
        # Column-wise extends: a 1000-level snapshot costs a few list operations, not 1000 loops.
        n_bids, n = len(bids), len(bids) + len(asks)
        for name, value in fixed.items():
            c[name].extend(repeat(value, n))
        c["side"].extend(repeat(1, n_bids))
        c["side"].extend(repeat(-1, n - n_bids))
        for levels in (bids, asks):
            c["price"].extend([price for price, _ in levels])
            c["qty"].extend([qty for _, qty in levels])
            if "level" in c:
                c["level"].extend(range(len(levels)))
        self.rows += n

    def _delta(self, d: BookDelta) -> None:
        fixed = {
            "exchange_ts_ns": d.exchange_ts_ns,
            "received_ts_ns": d.received_ts_ns,
            "from_version": d.from_version,
            "to_version": d.to_version,
        }
        self._levels(self.columns[Table.BOOK_DELTAS], fixed, d.bids, d.asks)

    def _snapshot(self, s: BookSnapshot, ts_estimated: bool) -> None:
        fixed = {
            "exchange_ts_ns": s.exchange_ts_ns,
            "received_ts_ns": s.received_ts_ns,
            "version": s.version,
            "source": s.source,
            "ts_estimated": ts_estimated,
        }
        self._levels(self.columns[Table.BOOK_SNAPSHOTS], fixed, s.bids, s.asks)

    def _ticker(self, b: BookTicker, ts_estimated: bool) -> None:
        c = self.columns[Table.BOOK_TICKER]
        c["exchange_ts_ns"].append(b.exchange_ts_ns)
        c["received_ts_ns"].append(b.received_ts_ns)
        c["bid_price"].append(b.bid_price)
        c["bid_qty"].append(b.bid_qty)
        c["ask_price"].append(b.ask_price)
        c["ask_qty"].append(b.ask_qty)
        c["update_id"].append(b.update_id)
        c["ts_estimated"].append(ts_estimated)
        self.rows += 1

    def _gap(self, g: Gap) -> None:
        c = self.columns[Table.GAPS]
        c["start_ns"].append(g.start_ns)
        c["end_ns"].append(g.end_ns)
        c["reason"].append(g.reason)
        c["detail"].append(g.detail)
        c["received_ts_ns"].append(g.received_ts_ns)
        c["backfill"].append(g.backfill)
        c["backfill_from_ns"].append(g.backfill_from_ns)
        c["backfill_to_ns"].append(g.backfill_to_ns)
        c["backfill_trades"].append(g.backfill_trades)
        self.rows += 1

    def take(self) -> list[tuple[Table, pl.DataFrame]]:
        """Frames of every non-empty table, and empty buffers afterwards."""
        import polars as pl

        out = []
        for table, cols in self.columns.items():
            if cols[SPECS[table].names[0]]:
                out.append((table, pl.DataFrame(cols, schema=SPECS[table].polars_schema())))
        self.__init__()  # type: ignore[misc]
        return out
