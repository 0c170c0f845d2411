"""OrderBook: version continuity, top-N, walking for a size."""

from __future__ import annotations

import math

from fxcli.model.book import Applied, OrderBook
from fxcli.model.events import BookDelta, BookSnapshot, Side


def snapshot(version: int = 100) -> BookSnapshot:
    return BookSnapshot(
        1, 1, "X", [(99.0, 1.0), (98.0, 2.0), (97.0, 3.0)], [(101.0, 1.5), (102.0, 2.5)], version, "rest"
    )


def delta(
    lo: int,
    hi: int,
    bids: list[tuple[float, float]] | None = None,
    asks: list[tuple[float, float]] | None = None,
) -> BookDelta:
    return BookDelta(2, 2, "X", bids or [], asks or [], lo, hi)


def test_book_snapshot_gives_sorted_top_levels() -> None:
    book = OrderBook("X")

    book.apply_snapshot(snapshot())

    assert book.top(2) == ([(99.0, 1.0), (98.0, 2.0)], [(101.0, 1.5), (102.0, 2.5)])
    assert book.best_bid() == (99.0, 1.0)
    assert book.best_ask() == (101.0, 1.5)
    assert book.version == 100


def test_book_delta_continuing_chain_is_applied_and_zero_deletes() -> None:
    book = OrderBook("X")
    book.apply_snapshot(snapshot())

    first = book.apply_delta(delta(95, 101, bids=[(99.0, 0.0), (99.5, 4.0)]))
    second = book.apply_delta(delta(102, 102, asks=[(100.5, 1.0)]))

    assert (first, second) == (Applied.APPLIED, Applied.APPLIED)
    assert book.best_bid() == (99.5, 4.0)
    assert book.best_ask() == (100.5, 1.0)
    assert book.depth() == (3, 3)
    assert book.version == 102


def test_book_delta_overlapping_the_version_is_applied_whole_and_counted() -> None:
    book = OrderBook("X")
    book.apply_snapshot(snapshot())
    book.apply_delta(delta(101, 105))

    result = book.apply_delta(delta(103, 110, bids=[(99.5, 1.0)]))  # absolute quantities: safe to apply

    assert result is Applied.APPLIED
    assert book.version == 110
    assert book.best_bid() == (99.5, 1.0)
    assert book.overlaps == 1


def test_book_delta_after_missing_updates_is_a_gap_and_changes_nothing() -> None:
    book = OrderBook("X")
    book.apply_snapshot(snapshot())

    result = book.apply_delta(delta(102, 103, bids=[(99.0, 7.0)]))

    assert result is Applied.GAP
    assert book.best_bid() == (99.0, 1.0)
    assert book.version == 100


def test_book_old_delta_is_stale() -> None:
    book = OrderBook("X")
    book.apply_snapshot(snapshot())

    assert book.apply_delta(delta(90, 100, bids=[(99.0, 9.0)])) is Applied.STALE
    assert book.best_bid() == (99.0, 1.0)


def test_book_without_snapshot_has_no_base() -> None:
    assert OrderBook("X").apply_delta(delta(1, 2)) is Applied.NO_BASE


def test_book_walk_buy_consumes_asks_best_first() -> None:
    book = OrderBook("X")
    book.apply_snapshot(snapshot())

    walk = book.walk(Side.BUY, 3.0)

    assert walk.filled_qty == 3.0
    assert walk.levels == 2
    assert math.isclose(walk.avg_price, (1.5 * 101.0 + 1.5 * 102.0) / 3.0, rel_tol=1e-12)
    assert not walk.is_partial


def test_book_walk_sell_beyond_depth_is_partial() -> None:
    book = OrderBook("X")
    book.apply_snapshot(snapshot())

    walk = book.walk(Side.SELL, 10.0)

    assert walk.filled_qty == 6.0
    assert walk.is_partial
    assert walk.levels == 3
    assert math.isclose(walk.notional, 99.0 + 196.0 + 291.0)


def test_book_crossed_when_bid_reaches_ask() -> None:
    book = OrderBook("X")
    book.apply_snapshot(snapshot())

    book.apply_delta(delta(101, 101, bids=[(101.0, 1.0)]))

    assert book.is_crossed
