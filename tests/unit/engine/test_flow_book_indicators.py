"""Flow and book indicators on hand-built events, with every expected value worked out by hand.

Each case runs the streaming pipeline and the batch twin and requires the same values from both.
"""

from __future__ import annotations

import numpy as np
import pytest

from fxcli.engine.indicators.book_imbalance import BookImbalanceParams
from fxcli.engine.pipeline import Pipeline
from fxcli.engine.registry import get
from fxcli.engine.ticks import Ticks
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, MarketEvent, Trade
from tests.contracts.streams import synthetic

MS = 1_000_000
T0 = 1_723_161_600_000 * MS
NAN = float("nan")
BUY, SELL = 1, -1


def trade(ms: float, price: float = 100.0, qty: float = 1.0, side: int = BUY) -> Trade:
    ts = T0 + round(ms * MS)
    return Trade(ts, ts, "S", price, qty, side)


def ticker(
    ms: float, bid: float = 99.0, bid_qty: float = 1.0, ask: float = 101.0, ask_qty: float = 1.0
) -> BookTicker:
    ts = T0 + round(ms * MS)
    return BookTicker(ts, ts, "S", bid, bid_qty, ask, ask_qty)


def run(name: str, events: list[MarketEvent], **params: object) -> np.ndarray:
    """Stream values of indicator `name`, after checking the batch twin gives the same."""
    spec = get(name)
    p = spec.params(**params)
    pipeline = Pipeline("S", [("x", name, p)])
    stream = np.array([pipeline.on_event(e)["x"] for e in events])
    batch = spec.batch(Ticks.from_events(events, spec.depth_levels(p)), p)
    np.testing.assert_array_equal(stream, batch)
    return stream


def test_rsi_period_2_follows_wilder_smoothing_and_is_nan_before_two_changes() -> None:
    events: list[MarketEvent] = [
        trade(0, 10.0),
        trade(1, 11.0),  # change +1
        ticker(2),  # a book event: value carried, still NaN
        trade(3, 10.5),  # change -0.5: G = 1/2, L = 0.5/2 = 0.25 -> 100 * 0.5 / 0.75 = 200/3
        ticker(4),  # carried
        trade(5, 11.5),  # +1: G = (0.5 + 1) / 2 = 0.75, L = 0.25 / 2 = 0.125 -> 100 * 0.75 / 0.875 = 600/7
        trade(6, 11.0),  # -0.5: G = 0.75 / 2 = 0.375, L = (0.125 + 0.5) / 2 = 0.3125 -> 100 * 0.375 / 0.6875
    ]

    values = run("RSI", events, period=2)

    expected = [NAN, NAN, NAN, 200 / 3, 200 / 3, 600 / 7, 600 / 11]
    np.testing.assert_allclose(values, expected, rtol=1e-14, equal_nan=True)


def test_volume_surge_ratio_compares_recent_volume_with_baseline_mean_per_window() -> None:
    # recent = [now - 1 s, now], baseline = [now - 3 s, now - 1 s]: len_recent / len_baseline = 1/2.
    events: list[MarketEvent] = [
        trade(0, qty=1.0),  # recent not covered (needs a trade before now - 1 s)
        trade(500, qty=2.0),  # still not covered
        trade(1_500, qty=4.0),  # recent covered by the trade at 0; baseline needs one before -1.5 s
        trade(2_500, qty=3.0),  # baseline needs a trade before -0.5 s: not yet
        trade(3_500, qty=5.0),  # recent [2.5, 3.5] = 3 + 5 = 8; baseline [0.5, 2.5] = 2 + 4 + 3 = 9
        ticker(4_500),  # recent [3.5, 4.5] = 5; baseline [1.5, 3.5] = 4 + 3 + 5 = 12
        ticker(5_500),  # recent [4.5, 5.5] = 0; baseline [2.5, 4.5] = 3 + 5 = 8
        ticker(7_000),  # baseline [4, 6] is empty: no pace to compare with
    ]

    values = run("VOLUME_SURGE_RATIO", events, recent=(1.0, 0.0), baseline=(3.0, 1.0))

    expected = [NAN, NAN, NAN, NAN, 8 / (9 * 0.5), 5 / (12 * 0.5), 0.0, NAN]
    np.testing.assert_allclose(values, expected, rtol=1e-15, equal_nan=True)


def test_volume_surge_ratio_default_windows_twins_agree_and_warm_exactly_on_a_long_dense_stream() -> None:
    # The contract streams are shorter than the 310 s baseline; this one covers it (about 430 s).
    events = synthetic(12_000, seed=5, dense=True)
    first_trade_ns = next(e.exchange_ts_ns for e in events if isinstance(e, Trade))

    values = run("VOLUME_SURGE_RATIO", events)

    warm = np.array([e.exchange_ts_ns - first_trade_ns > 310 * 10**9 for e in events])
    assert warm.any()
    np.testing.assert_array_equal(np.isnan(values), ~warm)


def test_trade_rate_counts_every_fill_in_the_window_per_second() -> None:
    events: list[MarketEvent] = [
        trade(0),  # not covered: needs a trade before now - 2 s
        trade(500),
        trade(1_000),
        trade(1_000),
        trade(2_500),  # covered by the trade at 0; [0.5, 2.5] holds 4 trades -> 4 / 2 s
        ticker(4_000),  # [2, 4] holds the trade at 2.5 -> 1 / 2 s
        ticker(10_000),  # [8, 10] is empty -> 0
    ]

    values = run("TRADE_RATE", events, window=(2.0, 0.0))

    np.testing.assert_array_equal(values, [NAN, NAN, NAN, NAN, 2.0, 0.5, 0.0])


def test_rush_orders_counts_same_millisecond_same_side_groups_once() -> None:
    events: list[MarketEvent] = [
        trade(0, side=SELL),  # window (2, 0) not covered yet
        trade(5_000),  # covered by the trade at 0; buy group at 5000 ms: fill 1 -> 0
        trade(5_000),  # fill 2: one rush order -> 1
        trade(5_000),  # fill 3 of the same order: still 1
        trade(5_000, side=SELL),  # other side: a new group, fill 1 -> 1
        trade(5_500, side=SELL),  # new group, fill 1 -> 1
        trade(5_500, side=SELL),  # fill 2 -> 2
        trade(6_200),  # fill 1 -> 2
        trade(6_200.4),  # same millisecond (6200), same side: fill 2 -> 3
        trade(6_500),  # lone fill -> 3
        ticker(7_100),  # [5.1, 7.1]: the 5000 ms order left -> 2
        ticker(9_000),  # [7, 9] is empty -> 0
    ]

    values = run("RUSH_ORDERS", events, window=(2.0, 0.0))

    np.testing.assert_array_equal(values, [NAN, 0, 1, 1, 1, 1, 2, 2, 3, 3, 2, 0])


BOOK_EVENTS: list[MarketEvent] = [
    trade(0),  # no book yet
    ticker(1, bid=99.5, bid_qty=3.0, ask=100.5, ask_qty=4.0),
    trade(2),  # a trade leaves the book as it was
    BookSnapshot(
        T0 + 3 * MS, T0 + 3 * MS, "S", [(99.0, 2.0), (98.0, 5.0)], [(101.0, 1.0), (102.0, 7.0)], 10, "rest"
    ),
    BookDelta(T0 + 4 * MS, T0 + 4 * MS, "S", [(99.2, 6.0)], [], 11, 11),  # a better bid
    BookDelta(T0 + 5 * MS, T0 + 5 * MS, "S", [], [(101.0, 0.0)], 12, 12),  # best ask deleted
    ticker(6, bid=99.3, bid_qty=1.0, ask=101.5, ask_qty=2.0),  # the ticker overrides the top of book
    BookDelta(T0 + 7 * MS, T0 + 7 * MS, "S", [(99.2, 0.0), (99.0, 0.0), (98.0, 0.0)], [], 13, 13),  # no bids
]


def test_best_bid_follows_ticker_and_l2_book() -> None:
    values = run("BEST_BID", BOOK_EVENTS)

    np.testing.assert_array_equal(values, [NAN, 99.5, 99.5, 99.0, 99.2, 99.2, 99.3, NAN])


def test_best_ask_follows_ticker_and_l2_book() -> None:
    values = run("BEST_ASK", BOOK_EVENTS)

    np.testing.assert_array_equal(values, [NAN, 100.5, 100.5, 101.0, 101.0, 102.0, 101.5, 102.0])


def test_bid_qty_follows_ticker_and_l2_book() -> None:
    values = run("BID_QTY", BOOK_EVENTS)

    np.testing.assert_array_equal(values, [NAN, 3.0, 3.0, 2.0, 6.0, 6.0, 1.0, NAN])


def test_ask_qty_follows_ticker_and_l2_book() -> None:
    values = run("ASK_QTY", BOOK_EVENTS)

    np.testing.assert_array_equal(values, [NAN, 4.0, 4.0, 1.0, 1.0, 7.0, 2.0, 7.0])


def test_book_imbalance_sums_the_best_levels_of_the_l2_book() -> None:
    values = run("BOOK_IMBALANCE", BOOK_EVENTS, levels=2)

    expected = [
        NAN,  # no book
        (3 - 4) / 7,  # no L2 book yet: the ticker's quantities
        (3 - 4) / 7,
        (7 - 8) / 15,  # bids 2 + 5, asks 1 + 7
        (8 - 8) / 16,  # bids 6 + 2 (99.2, 99.0), asks 8
        (8 - 7) / 15,  # asks: only 7 left
        (8 - 7) / 15,  # a ticker does not change the L2 levels
        (0 - 7) / 7,  # no bids at all: -1
    ]
    np.testing.assert_allclose(values, expected, rtol=1e-15, equal_nan=True)


def test_book_imbalance_with_one_level_uses_the_top_of_book() -> None:
    values = run("BOOK_IMBALANCE", BOOK_EVENTS, levels=1)

    expected = [NAN, (3 - 4) / 7, (3 - 4) / 7, (2 - 1) / 3, (6 - 1) / 7, (6 - 7) / 13, (1 - 2) / 3, NAN]
    np.testing.assert_allclose(values, expected, rtol=1e-15, equal_nan=True)


def test_book_imbalance_batch_refuses_ticks_without_its_depth() -> None:
    spec = get("BOOK_IMBALANCE")

    with pytest.raises(ValueError, match="depth_levels"):
        spec.batch(Ticks.from_events(BOOK_EVENTS), BookImbalanceParams(levels=3))


def test_book_imbalance_batch_without_any_book_is_nan_like_the_stream() -> None:
    events: list[MarketEvent] = [trade(0), trade(1)]

    values = get("BOOK_IMBALANCE").batch(Ticks.from_events(events), BookImbalanceParams(levels=3))

    np.testing.assert_array_equal(values, [NAN, NAN])
