"""Event streams for the indicator contracts: synthetic (ties, bursts, long gaps, late events, book
updates, L2 snapshots and diffs) and real (the shipped Binance sample, replayed from a store)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, MarketEvent, Trade
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay
from fxcli.store.schema import Table
from fxcli.tasks.import_ import import_binance

MS = 1_000_000
T0 = 1_723_161_600_000 * MS


def synthetic(n: int = 6_000, seed: int = 7, *, dense: bool = False) -> list[MarketEvent]:
    """`n` events: trades in same-ms same-side bursts, book tickers, L2 diffs, gaps of minutes.

    `dense` keeps every gap under 200 ms (no empty windows), for exact warm-up checks.
    """
    rng = np.random.default_rng(seed)
    events: list[MarketEvent] = []
    ts = T0
    price = 100.0
    version = 1
    levels = 8
    bids = {round(price - 0.01 * (i + 1), 2): 1.0 + i for i in range(levels)}
    asks = {round(price + 0.01 * (i + 1), 2): 1.0 + i for i in range(levels)}
    events.append(
        BookSnapshot(ts, ts, "S", sorted(bids.items(), reverse=True), sorted(asks.items()), version, "rest")
    )
    while len(events) < n:
        r = rng.random()
        if dense:
            ts += int(rng.integers(0, 150)) * MS
        elif r < 0.01:
            ts += int(rng.integers(30_000, 400_000)) * MS  # a long silence
        elif r < 0.5:
            ts += int(rng.integers(0, 3)) * MS  # same or next millisecond
        else:
            ts += int(rng.integers(1, 2_000)) * MS
        kind = rng.random()
        if kind < 0.55:
            burst = int(rng.integers(1, 6))
            side = 1 if rng.random() < 0.5 else -1
            for _ in range(burst):
                price = max(0.5, round(price * (1 + 0.002 * rng.standard_normal()), 4))
                qty = round(float(rng.lognormal(0.0, 1.0)), 5)
                events.append(Trade(ts, ts + 3 * MS, "S", price, qty, side, len(events)))
        elif kind < 0.8:
            spread = 0.01 * int(rng.integers(1, 4))
            events.append(
                BookTicker(
                    ts,
                    ts,
                    "S",
                    round(price - spread, 4),
                    float(rng.integers(1, 9)),
                    round(price + spread, 4),
                    float(rng.integers(1, 9)),
                )
            )
        else:
            side_book = bids if rng.random() < 0.5 else asks
            level_price = round(price + (-1 if side_book is bids else 1) * 0.01 * int(rng.integers(1, 12)), 2)
            qty = 0.0 if rng.random() < 0.3 and level_price in side_book else float(rng.integers(1, 20))
            if qty:
                side_book[level_price] = qty
            else:
                side_book.pop(level_price, None)
            level = [(level_price, qty)]
            is_bid = side_book is bids
            events.append(
                BookDelta(
                    ts, ts, "S", level if is_bid else [], [] if is_bid else level, version + 1, version + 1
                )
            )
            version += 1
        if not dense and rng.random() < 0.01:
            late = ts - int(rng.integers(1, 500)) * MS  # a late print: engine time must not go back
            events.append(Trade(late, ts, "S", price, 0.5, 1, len(events)))
    return events[:n]


def real_sample(fixture: Path, data_dir: Path) -> list[MarketEvent]:
    """The shipped Binance spot excerpt, imported and replayed in exchange-time order."""
    import_binance([fixture], data_dir)
    tables = (Table.BOOK_SNAPSHOTS, Table.BOOK_DELTAS, Table.BOOK_TICKER, Table.TRADES)
    return list(replay(StoreReader(data_dir), "binance", "BTCUSDT", tables))  # type: ignore[arg-type]
