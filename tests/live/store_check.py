"""What a recording must prove, read back from the store alone: the book it rebuilds is the venue's
book at every checkpoint outside a gap, and every trade the venue made is stored or inside a gap."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fxcli.model.book import Applied, OrderBook
from fxcli.model.events import BookDelta, BookSnapshot, Gap
from fxcli.model.units import NS_PER_MS
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay
from fxcli.store.schema import Table
from tests.fake_mexc.server import Checkpoint, FakeMexc

BOOK_TABLES = (Table.BOOK_SNAPSHOTS, Table.BOOK_DELTAS, Table.GAPS)


@dataclass
class BookCheck:
    """How a symbol's stored book compared with the venue's checkpoints."""

    checked: int = 0
    in_gaps: int = 0  # checkpoints inside a gap: the store promises nothing there
    unmatched: int = 0  # checkpoints at a version the stored diffs never stopped at (merged pushes)
    broken: int = 0  # stored diffs that did not continue the stored book outside a gap
    mismatches: list[str] = field(default_factory=list)


def check_book(data_dir: Path, exchange: str, symbol: str, checkpoints: list[Checkpoint]) -> BookCheck:
    """Replay the stored snapshots and diffs (in the store's order) and compare the book with each
    checkpoint whose version the replay reaches, unless the checkpoint lies inside a gap."""
    reader = StoreReader(data_dir)
    gaps = reader.scan(exchange, symbol, Table.GAPS).collect()
    spans = list(zip(gaps["start_ns"].to_list(), gaps["end_ns"].to_list(), strict=True))
    wanted = {c.version: c for c in checkpoints}
    result = BookCheck()
    book = OrderBook(symbol)
    seen: set[int] = set()
    for event in replay(reader, exchange, symbol, BOOK_TABLES):
        if isinstance(event, Gap):
            continue
        if isinstance(event, BookSnapshot):
            book.apply_snapshot(event)
        elif isinstance(event, BookDelta):
            applied = book.apply_delta(event)
            if applied is not Applied.APPLIED and not _inside(event.exchange_ts_ns, spans):
                result.broken += 1
                continue
        version = book.version
        if version is None or version not in wanted or version in seen:
            continue
        seen.add(version)
        point = wanted[version]
        if _inside(point.at_ms * NS_PER_MS, spans):
            result.in_gaps += 1
            continue
        result.checked += 1
        bids, asks = book.top(1_000_000)
        if (dict(bids), dict(asks)) != (point.bids, point.asks):
            result.mismatches.append(f"version {version}: replayed book differs from the venue's")
    result.unmatched = len(wanted) - len(seen)
    return result


def _inside(ts_ns: int, spans: list[tuple[int, int]]) -> bool:
    return any(start - NS_PER_MS <= ts_ns <= end + NS_PER_MS for start, end in spans)


def missed_trades(venue: FakeMexc, data_dir: Path, exchange: str, symbol: str) -> tuple[int, list[int]]:
    """Trades the venue made between the first and the last stored one: (how many, ids of those
    neither stored nor inside a gap)."""
    reader = StoreReader(data_dir)
    stored = reader.scan(exchange, symbol, Table.TRADES).collect()
    gaps = reader.scan(exchange, symbol, Table.GAPS).collect()
    spans = list(zip(gaps["start_ns"].to_list(), gaps["end_ns"].to_list(), strict=True))
    ids = set(stored["trade_id"].to_list())
    times = stored.get_column("exchange_ts_ns").to_list()
    first, last = min(times), max(times)
    made = [t for t in venue.trades[symbol] if first <= t.time_ms * NS_PER_MS <= last]
    return len(made), [
        t.trade_id for t in made if t.trade_id not in ids and not _inside(t.time_ms * NS_PER_MS, spans)
    ]
