"""The fill model on hand-built books: full and partial fills, latency, fees, fallbacks."""

from __future__ import annotations

import pytest

from fxcli.backtest.fills import Costs, Quote, execute
from fxcli.engine.state import MarketState
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Trade

COSTS = Costs(latency_ms=50, taker_fee_bps=10, slippage_bps=20)


def l2_state() -> MarketState:
    state = MarketState("X")
    state.apply(Trade(1, 1, "X", 100.0, 1.0, 1, 1))
    state.apply(
        BookSnapshot(
            2, 2, "X", [(99.0, 1.0), (98.0, 2.0)], [(101.0, 1.0), (102.0, 2.0), (103.0, 5.0)], 10, "rest"
        )
    )
    return state


def test_fill_walks_l2_levels_for_a_full_fill() -> None:
    state = l2_state()

    fill = execute(state, Quote.of(state), +1, COSTS, qty=2.0)

    assert fill is not None
    assert (fill.source, fill.qty, fill.levels) == ("l2", 2.0, 2)
    assert fill.price == pytest.approx((101.0 + 102.0) / 2)
    assert fill.fee == pytest.approx(203.0 * 10 / 1e4)
    assert not fill.is_partial
    assert fill.spread_bps == pytest.approx((101.0 - 100.0) / 100.0 * 1e4)  # mid 100
    assert fill.slippage_bps == pytest.approx((101.5 - 101.0) / 100.0 * 1e4)
    assert fill.latency_bps == 0.0


def test_fill_beyond_depth_is_partial_liquidity_limited() -> None:
    state = l2_state()

    fill = execute(state, Quote.of(state), -1, COSTS, qty=5.0)

    assert fill is not None
    assert fill.is_partial
    assert (fill.qty, fill.wanted_qty, fill.levels) == (3.0, 5.0, 2)
    assert fill.notional == pytest.approx(99.0 + 196.0)


def test_fill_by_notional_buys_what_the_quote_amount_reaches() -> None:
    state = l2_state()

    fill = execute(state, Quote.of(state), +1, COSTS, notional=101.0 + 102.0)

    assert fill is not None
    assert fill.qty == pytest.approx(1.0 + 102.0 / 102.0)
    assert fill.notional == pytest.approx(203.0)


def test_fill_latency_moves_the_book_between_decision_and_execution() -> None:
    state = l2_state()
    decided = Quote.of(state)
    state.apply(BookDelta(3, 3, "X", [], [(101.0, 0.0)], 11, 11))  # the best ask is taken before we arrive

    fill = execute(state, decided, +1, COSTS, qty=1.0)

    assert fill is not None
    assert fill.price == 102.0
    assert fill.expected_price == 101.0
    assert fill.latency_bps == pytest.approx((102.0 - 101.0) / 100.0 * 1e4)
    assert fill.slippage_bps == 0.0
    assert fill.cost_bps == pytest.approx((102.0 - 100.0) / 100.0 * 1e4)


def test_fill_with_only_a_ticker_crosses_the_best_price() -> None:
    state = MarketState("X")
    state.apply(BookTicker(1, 1, "X", 99.5, 3.0, 100.5, 2.0))

    fill = execute(state, Quote.of(state), +1, COSTS, qty=4.0)

    assert fill is not None
    assert (fill.source, fill.price, fill.qty) == ("top_of_book", 100.5, 4.0)


def test_fill_with_only_trades_uses_last_price_and_slippage() -> None:
    state = MarketState("X")
    state.apply(Trade(1, 1, "X", 200.0, 1.0, 1, 1))

    buy = execute(state, Quote.of(state), +1, COSTS, notional=1000.0)
    sell = execute(state, Quote.of(state), -1, COSTS, qty=1.0)

    assert buy is not None
    assert sell is not None
    assert buy.source == "last_trade"
    assert buy.price == pytest.approx(200.0 * 1.002)
    assert sell.price == pytest.approx(200.0 * 0.998)
    assert buy.slippage_bps == pytest.approx(20.0)


def test_fill_without_any_price_is_refused() -> None:
    assert (
        execute(MarketState("X"), Quote(0, float("nan"), float("nan"), float("nan")), +1, COSTS, qty=1)
        is None
    )


def test_fill_after_a_chain_break_falls_back_until_resync() -> None:
    state = l2_state()
    state.apply(BookDelta(3, 3, "X", [], [], 50, 51))  # versions 11..49 missing: the book is unknown

    fill = execute(state, Quote.of(state), +1, COSTS, qty=1.0)

    assert fill is not None
    assert fill.source == "last_trade"
