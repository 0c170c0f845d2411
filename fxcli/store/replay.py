"""Stored rows back into events: one time-ordered stream (exchange time; receive order breaks ties).

Gap rows, when asked for, take their place in the stream at their start: after every event received
before the gap became known (its `received_ts_ns`), so a replay hides a book exactly where the live
path learned it was broken; a gap with no receive time comes after every event of its start time.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from itertools import groupby
from typing import TYPE_CHECKING, Any

from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Event, Gap, Level, Trade, gap_position
from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table

if TYPE_CHECKING:
    import polars as pl

_KEY_COLUMNS = ("exchange_ts_ns", "received_ts_ns")


def _levels(rows: list[dict[str, Any]], side: int) -> list[Level]:
    return [(r["price"], r["qty"]) for r in rows if r["side"] == side]


def stored_trade(r: dict[str, Any], symbol: str) -> Trade:
    """A row of the trades table (as a dict) as the Trade it stores."""
    return Trade(
        r["exchange_ts_ns"], r["received_ts_ns"], symbol, r["price"], r["qty"], r["side"], r["trade_id"]
    )


def _events(table: Table, rows: list[dict[str, Any]], symbol: str) -> Iterator[Event]:
    if table is Table.TRADES:
        for r in rows:
            yield stored_trade(r, symbol)
    elif table is Table.BOOK_TICKER:
        for r in rows:
            yield BookTicker(
                r["exchange_ts_ns"],
                r["received_ts_ns"],
                symbol,
                r["bid_price"],
                r["bid_qty"],
                r["ask_price"],
                r["ask_qty"],
                r["update_id"],
            )
    elif table is Table.BOOK_DELTAS:
        for (ts, rx, lo, hi), grp in groupby(
            rows, key=lambda r: (r["exchange_ts_ns"], r["received_ts_ns"], r["from_version"], r["to_version"])
        ):
            group = list(grp)
            yield BookDelta(ts, rx, symbol, _levels(group, 1), _levels(group, -1), lo, hi)
    elif table is Table.BOOK_SNAPSHOTS:
        for (ts, rx, version, source), grp in groupby(
            rows, key=lambda r: (r["exchange_ts_ns"], r["received_ts_ns"], r["version"], r["source"])
        ):
            group = list(grp)
            yield BookSnapshot(ts, rx, symbol, _levels(group, 1), _levels(group, -1), version, source)
    elif table is Table.GAPS:
        gaps = (
            Gap(symbol, r["start_ns"], r["end_ns"], r["reason"], r["detail"], r["received_ts_ns"])
            for r in rows
        )
        yield from sorted(gaps, key=gap_position)


def stored_events(table: Table, rows: pl.DataFrame, symbol: str) -> Iterator[Event]:
    """The events a table's rows store, in their order (a gap table's: by gap position)."""
    return _events(table, rows.to_dicts(), symbol)


# Same-time ties: a snapshot before the deltas that continue it, book before trades, a gap last.
TABLE_ORDER = {
    Table.BOOK_SNAPSHOTS: 0,
    Table.BOOK_DELTAS: 1,
    Table.BOOK_TICKER: 2,
    Table.TRADES: 3,
    Table.GAPS: 4,
}


def _key(event: Event, order: int) -> tuple[int, int, int]:
    if isinstance(event, Gap):
        return (*gap_position(event), order)
    return (event.exchange_ts_ns, event.received_ts_ns, order)


def replay(
    reader: StoreReader,
    exchange: str,
    symbol: str,
    tables: tuple[Table, ...],
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> Iterator[Event]:
    """Events of `tables` in `[start_ns, end_ns]`, merged by (exchange time, receive time, table)."""
    streams = []
    for table in tables:
        rows = reader.scan(exchange, symbol, table, start_ns, end_ns).collect().to_dicts()
        order = TABLE_ORDER[table]
        streams.append((_key(e, order), e) for e in _events(table, rows, symbol))
    for _, event in heapq.merge(*streams, key=lambda pair: pair[0]):
        yield event
