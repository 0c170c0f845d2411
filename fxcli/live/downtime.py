"""Where each symbol's stored data stops, so the time no recorder ran becomes a Gap row.

After a kill -9 the raw log (flushed every `--flush-s`) can be ahead of the tables (every
`--table-flush-s`, then the writer's time), and frames received after the last raw flush are gone.
So the raw log's last `TAIL_NS` are decoded again: per symbol, the gap starts at the earliest
exchange time of an event its tables do not hold, else just after the newest event they do hold (a
venue delivers a symbol's events in order), else `QUIET_MARGIN_NS` before the last raw record.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fxcli.exchange.adapter import Adapter
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Trade
from fxcli.model.units import NS_PER_MS, NS_PER_S
from fxcli.store.layout import Layout
from fxcli.store.raw import frame_bytes, raw_tail
from fxcli.store.reader import StoreReader
from fxcli.store.replay import stored_trade
from fxcli.store.schema import Table

WRITER_QUEUE_S = 30.0  # the store writer's queue holds this many seconds of flushes before overflow
MAX_FLUSH_S = 60.0
TAIL_NS = int((WRITER_QUEUE_S + MAX_FLUSH_S) * NS_PER_S)  # how far the tables can lag the raw log
QUIET_MARGIN_NS = NS_PER_S  # a symbol without events in the raw tail: its gap starts this early


_TABLE_OF: dict[type, Table] = {
    Trade: Table.TRADES,
    BookDelta: Table.BOOK_DELTAS,
    BookSnapshot: Table.BOOK_SNAPSHOTS,
    BookTicker: Table.BOOK_TICKER,
}


def downtime_starts(data_dir: Path, exchange: str, wanted: Iterable[str], adapter: Adapter) -> dict[str, int]:
    """Per symbol of `wanted` recorded here before: the exchange time from which the store may miss
    its data, so that the time until this recorder's first acknowledged subscription becomes a gap."""
    import polars as pl

    # The tables never lag the raw log by more than the writer's queue and a table flush: beyond
    # that, rows were dropped as writer_overflow gaps, which are in the store already.
    records = raw_tail(data_dir, exchange, TAIL_NS)
    if not records:
        return {}
    tail_start = int(records[0]["recv_wall_ns"])
    reader = StoreReader(data_dir)
    symbols = set(Layout(data_dir).symbols(exchange)).intersection(wanted)
    stored: dict[tuple[str, Table], int] = {}  # newest receive time per table, near the tail

    def stored_until(symbol: str, table: Table) -> int:
        # Read only for the tables the tail has events of (a scan is a Parquet read).
        if (symbol, table) not in stored:
            rows = reader.scan(exchange, symbol, table, tail_start - TAIL_NS)
            newest = rows.select(pl.col("received_ts_ns").max()).collect().item()
            stored[(symbol, table)] = int(newest) if newest is not None else tail_start
        return stored[(symbol, table)]

    lost: dict[str, int] = {}  # earliest exchange time of an event the tables do not hold
    held: dict[str, int] = {}  # newest exchange time of an event they do hold
    for record in records:
        if record.get("kind") not in ("text", "binary"):
            continue
        received = int(record["recv_wall_ns"])
        for event in adapter.decode(frame_bytes(record), received).events:
            kind_table = _TABLE_OF.get(type(event))
            symbol = event.symbol
            if kind_table is None or symbol not in symbols:
                continue
            at = event.exchange_ts_ns
            if received > stored_until(symbol, kind_table):
                lost[symbol] = min(lost.get(symbol, at), at)
            else:
                held[symbol] = max(held.get(symbol, at), at)
    quiet = int(records[-1]["recv_wall_ns"]) - QUIET_MARGIN_NS
    return {s: lost[s] if s in lost else held[s] + 1 if s in held else quiet for s in symbols}


def stored_trades_from(data_dir: Path, exchange: str, symbol: str, since_ns: int) -> list[Trade]:
    """The stored trades of `symbol` from the millisecond of `since_ns` on: a restart's downtime gap
    starts there, and a REST print equal to one of these is a copy, not a missed trade."""
    first = since_ns - since_ns % NS_PER_MS
    rows = StoreReader(data_dir).scan(exchange, symbol, Table.TRADES, first).collect()
    return [stored_trade(r, symbol) for r in rows.iter_rows(named=True)]
