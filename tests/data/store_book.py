"""The fx side of the book checks: stored snapshots and deltas replayed into `fxcli.model.book.OrderBook`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fxcli.model.book import Applied, OrderBook
from fxcli.model.events import BookDelta, BookSnapshot
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay
from fxcli.store.schema import Table

Ladder = list[tuple[float, float]]


def replay_book(data_dir: Path, exchange: str, symbol: str) -> Iterator[tuple[BookDelta, Applied, OrderBook]]:
    """Replay stored book_snapshots + book_deltas; yields each delta, what the book did, and the book."""
    reader = StoreReader(data_dir)
    book = OrderBook(symbol)
    for event in replay(reader, exchange, symbol, (Table.BOOK_SNAPSHOTS, Table.BOOK_DELTAS)):
        if isinstance(event, BookSnapshot):
            book.apply_snapshot(event)
        elif isinstance(event, BookDelta):
            yield event, book.apply_delta(event), book


def full_ladders(book: OrderBook) -> tuple[Ladder, Ladder]:
    """Every bid (descending) and every ask (ascending) of the book."""
    return book.top(max(book.depth()))
