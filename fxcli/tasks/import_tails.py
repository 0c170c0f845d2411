"""The stored end of a capture, for an import that continues it (`fx import` of the next file).

A capture file that is imported after the file before it is already stored goes on from what the
store holds just before its own first diff and first trade of a symbol: the book the stored diffs
rebuild, the last trade id, and the receive-minus-exchange skew that estimated the stored times.
Only what lies within `JOIN_WINDOW_NS` before the new file's first event counts: files further apart
are separate sessions, and a chain check across hours or days would only write a Gap over time no
file covers (one that would stay wrong once the file in between is imported, since the store merges
rows and never takes one back).

No Gap row marks the end of a stored capture whose chain was whole: the end of a file is not a
break. So a file that continues the chain adds its diffs and trades and nothing else, and the store
equals the one a single import of both files gives. Where the stored chain was broken at its end (a
Gap "no snapshot followed"), the stored book is the one from before the break, the next file's first
diff does not continue it, and the break stays a Gap until that file's own snapshot.

Estimated exchange times (spot book tickers carry none) use the skew of the stored rows, so they
equal a single import's too, as long as the first file held the `SKEW_SAMPLES` venue-timed frames the
estimate takes (any real capture file does; a shorter one had a skew from fewer frames).

What this cannot undo: a file imported BEFORE the one it continues found no stored book, so its
diffs were dropped under an `import_hole` Gap. Importing the earlier file and then this one again
adds the diffs, but the Gap row stays: the store merges rows as a multiset and never removes one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fxcli.model.book import Applied, OrderBook
from fxcli.model.events import BookDelta, BookSnapshot, Trade
from fxcli.model.units import NS_PER_S
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay, stored_trade
from fxcli.store.schema import Table

if TYPE_CHECKING:
    import polars as pl

JOIN_WINDOW_NS = 300 * NS_PER_S  # the next file of a capture starts within this of the previous end
STORED_SOURCE = "stored"  # the `source` of a book rebuilt from stored rows (never written)


class StoreTails:
    """`StoredTails` over one data dir, for the symbols of `exchange` an import may continue.

    Only `symbols` are looked up: an import that runs capture chains in parallel workers gives each
    worker the symbols its chain owns, so no lookup ever depends on what another worker has written.
    """

    def __init__(self, root: Path, exchange: str, symbols: frozenset[str]) -> None:
        self.root = root
        self.exchange = exchange
        self.symbols = symbols

    def _scan(self, symbol: str, table: Table, start_ns: int | None, end_ns: int) -> pl.LazyFrame:
        # A fresh reader each time: the writer of this import may have added files since.
        return StoreReader(self.root).scan(self.exchange, symbol, table, start_ns, end_ns)

    def book(self, symbol: str, first: BookDelta) -> BookSnapshot | None:
        """The stored book just before `first`: rebuilt from the last stored snapshot before the
        newest stored diff (within the window) whose version is below `first`'s."""
        import polars as pl

        if symbol not in self.symbols:
            return None
        start = first.exchange_ts_ns - JOIN_WINDOW_NS
        last = (
            self._scan(symbol, Table.BOOK_DELTAS, start, first.exchange_ts_ns)
            .filter(pl.col("to_version") < first.from_version)
            .select("exchange_ts_ns", "to_version")
            .sort("to_version")
            .last()
            .collect()
        )
        if last.height == 0:
            return None
        end_ns, version = int(last.item(0, 0)), int(last.item(0, 1))
        base = (
            self._scan(symbol, Table.BOOK_SNAPSHOTS, None, end_ns)
            .filter(pl.col("version") <= version)
            .select(pl.col("exchange_ts_ns").max())
            .collect()
            .item()
        )
        if base is None:
            return None
        book = OrderBook(symbol)
        reader = StoreReader(self.root)
        tables = (Table.BOOK_SNAPSHOTS, Table.BOOK_DELTAS)
        for event in replay(reader, self.exchange, symbol, tables, int(base), end_ns):
            if isinstance(event, BookSnapshot) and event.is_full and event.version <= version:
                book.apply_snapshot(event)
            elif (
                isinstance(event, BookDelta)
                and event.to_version <= version
                and book.apply_delta(event) is Applied.GAP
            ):
                return None  # the stored chain itself is broken there: nothing to go on from
        if book.version != version:
            return None
        bids, asks = book.top(max(book.depth()))
        return BookSnapshot(book.exchange_ts_ns, 0, symbol, bids, asks, version, STORED_SOURCE)

    def last_trade(self, symbol: str, first: Trade) -> Trade | None:
        """The stored trade with the highest id below `first`'s, within the window before it."""
        import polars as pl

        if symbol not in self.symbols or first.trade_id is None:
            return None
        start = first.exchange_ts_ns - JOIN_WINDOW_NS
        rows = (
            self._scan(symbol, Table.TRADES, start, first.exchange_ts_ns)
            .filter(pl.col("trade_id") < first.trade_id)
            .sort("trade_id")
            .last()
            .collect()
            .to_dicts()
        )
        if not rows:
            return None
        return stored_trade(rows[0], symbol)

    def skew_ns(self, received_ns: int) -> int | None:
        """The skew that estimated the exchange times of the stored book tickers received just
        before `received_ns` (received - exchange of the newest such row), or None."""
        import polars as pl

        start, end = received_ns - 2 * JOIN_WINDOW_NS, received_ns + JOIN_WINDOW_NS
        for symbol in sorted(self.symbols):
            rows = (
                self._scan(symbol, Table.BOOK_TICKER, start, end)
                .filter(pl.col("ts_estimated") & (pl.col("received_ts_ns") < received_ns))
                .sort("received_ts_ns")
                .last()
                .select(pl.col("received_ts_ns") - pl.col("exchange_ts_ns"))
                .collect()
            )
            if rows.height:
                return int(rows.item())
        return None
