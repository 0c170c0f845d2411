"""The random-entry baseline: placement (count, durations, window, one position at a time, seeds)
and fills by fx's fill model, checked against hand-computed prices."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest

from fxcli.backtest.fills import Costs
from fxcli.errors import FxError
from fxcli.model.events import BookTicker, Gap, GapReason, MarketEvent, Trade
from fxcli.optimize.baseline import Planned, Template, fill, place, totals, unknown_ranges

S = 1_000_000_000
TEMPLATES = [Template(1, 100.0, 3 * S), Template(-1, 50.0, 1 * S), Template(1, 80.0, 7 * S)]
LATENCY = 50_000_000


def test_place_requested_count_durations_and_sides_inside_the_window() -> None:
    lo, hi = 10 * S, 60 * S

    plans = place(TEMPLATES, lo, hi, LATENCY, n=200, seed=7)

    assert len(plans) == 200 * len(TEMPLATES)
    for b in range(200):
        mine = sorted((p for p in plans if p.baseline == b), key=lambda p: p.entry_ns)
        assert Counter((p.side, p.stake, p.exit_ns - p.entry_ns) for p in mine) == Counter(
            (t.side, t.stake, t.duration_ns) for t in TEMPLATES
        )
        assert mine[0].entry_ns >= lo
        assert mine[-1].exit_ns + LATENCY < hi  # the last exit is due before the last event
        for a, c in itertools.pairwise(mine):  # one position at a time
            assert c.entry_ns >= a.exit_ns + LATENCY


def test_place_same_seed_same_plans_other_seed_other_plans() -> None:
    first = place(TEMPLATES, 0, 100 * S, LATENCY, n=20, seed=3)

    again = place(TEMPLATES, 0, 100 * S, LATENCY, n=20, seed=3)
    other = place(TEMPLATES, 0, 100 * S, LATENCY, n=20, seed=4)

    assert first == again
    assert first != other


def test_place_spreads_entries_over_the_whole_window() -> None:
    plans = place([Template(1, 1.0, S)], 0, 101 * S, 0, n=4000, seed=1)

    starts = [p.entry_ns / S for p in plans]

    assert min(starts) < 2
    assert max(starts) > 98
    assert abs(sum(starts) / len(starts) - 50) < 2


def test_place_trades_longer_than_the_window_are_refused() -> None:
    with pytest.raises(FxError, match="do not fit the data window"):
        place(TEMPLATES, 0, 10 * S, LATENCY, n=1, seed=0)


def _tickers() -> list[MarketEvent]:
    """A book ticker every second: bid 99 + i, ask 100 + i at second i."""
    return [BookTicker(i * S, i * S, "X", 99.0 + i, 5.0, 100.0 + i, 5.0) for i in range(10)]


def test_fill_executes_after_the_latency_against_the_book_before_the_next_event() -> None:
    costs = Costs(latency_ms=50.0, taker_fee_bps=10.0, slippage_bps=5.0)
    plan = Planned(0, 1, 101.0, int(1.5 * S), int(3.2 * S))

    (trade,) = fill([plan], _tickers(), "X", costs)

    # Entry decided at 1.5 s sees second 1's quote; due 1.55 s, so it fills before the event at 2 s
    # against the book after second 1: ask 101. The exit, decided at 3.2 s, sells at second 3's bid 102.
    assert trade.entry.price == 101.0
    assert trade.entry.qty == pytest.approx(1.0)
    assert trade.exit.price == 102.0
    fees = 101.0 * 10 / 1e4 + 102.0 * 10 / 1e4
    assert trade.pnl == pytest.approx(1.0 - fees)
    assert trade.exit.decided_ts_ns - trade.entry.decided_ts_ns == plan.exit_ns - plan.entry_ns


def test_fill_without_a_book_trades_at_the_last_price_moved_by_the_slippage() -> None:
    costs = Costs(latency_ms=0.0, taker_fee_bps=0.0, slippage_bps=10.0)
    events: list[MarketEvent] = [Trade(i * S, i * S, "X", 200.0 + i, 1.0, 1) for i in range(6)]
    plan = Planned(0, -1, 400.0, 1 * S, 3 * S)

    (trade,) = fill([plan], events, "X", costs)

    assert trade.entry.price == pytest.approx(201.0 * (1 - 0.001))  # a short sells below the last trade
    assert trade.exit.price == pytest.approx(203.0 * (1 + 0.001))
    assert trade.pnl == pytest.approx(-trade.entry.qty * (trade.exit.price - trade.entry.price))
    assert trade.entry.source == "last_trade"


def test_totals_sum_each_baselines_trades_over_the_balance() -> None:
    costs = Costs(latency_ms=0.0, taker_fee_bps=0.0, slippage_bps=0.0)
    plans = [
        Planned(0, 1, 100.0, 1 * S, 2 * S),
        Planned(0, 1, 100.0, 4 * S, 6 * S),
        Planned(1, 1, 100.0, 2 * S, 8 * S),
    ]

    filled = fill(plans, _tickers(), "X", costs)
    result = totals(filled, 2, 1000.0)

    by_hand = [sum(f.pnl for f in filled if f.plan.baseline == b) / 1000.0 for b in (0, 1)]
    assert result.tolist() == pytest.approx(by_hand)
    assert not any(math.isnan(v) for v in result)


GAP = (20 * S, 40 * S)  # the book is unknown from 20 s to 40 s


def _gapped_window() -> list[MarketEvent | Gap]:
    """60 s of a trade and a ticker every 0.5 s (price 100 + t/10 s), a book gap over 20..40 s."""
    events: list[MarketEvent | Gap] = []
    for k in range(120):
        t = k * S // 2
        if t == GAP[0]:
            events.append(Gap("X", *GAP, GapReason.RESYNC))
        price = 100.0 + t / (10 * S)
        events.append(Trade(t, t, "X", price, 1.0, 1))
        events.append(BookTicker(t + 1, t + 1, "X", price - 0.5, 5.0, price + 0.5, 5.0))
    return events


def test_place_puts_no_entry_in_a_book_gap_and_fills_them_on_a_known_book() -> None:
    templates = [Template(1, 100.0, 2 * S), Template(-1, 100.0, 3 * S), Template(1, 100.0, 1 * S)]

    unknown = unknown_ranges(_gapped_window())
    plans = place(templates, 0, 59 * S, LATENCY, n=300, seed=5, unknown=unknown)
    filled = fill(plans, _gapped_window(), "X", Costs(latency_ms=50.0))

    # The last event before the Gap event is the ticker at 19.5 s: an order due after it fills on
    # the hidden book.
    assert unknown == [(GAP[0] - S // 2 + 1, GAP[1])]
    entries = [p.entry_ns for p in plans]
    assert not [t for t in entries if GAP[0] - S // 2 - LATENCY <= t <= GAP[1]]
    assert min(entries) < 5 * S  # both sides of the gap are used
    assert max(entries) > 50 * S
    assert any(GAP[0] < p.exit_ns < GAP[1] for p in plans)  # exits may fall in it (not constrained)
    assert {f.entry.source for f in filled} == {"top_of_book"}


def test_fill_hides_the_book_in_a_gap_as_the_backtest_does() -> None:
    costs = Costs(latency_ms=0.0, taker_fee_bps=0.0, slippage_bps=10.0)
    plan = Planned(0, 1, 100.0, 10 * S, 30 * S)  # the exit is decided inside the gap

    (trade,) = fill([plan], _gapped_window(), "X", costs)

    assert trade.entry.source == "top_of_book"
    assert trade.entry.price == pytest.approx(100.95 + 0.5)  # the ticker before the 10 s trade
    # Inside the gap the book shows nothing: the exit sells on the next trade at the last price
    # moved by the slippage (the ticker's bid would have been 102.5).
    assert trade.exit.source == "book_unknown"
    assert trade.exit.price == pytest.approx(103.0 * (1 - 0.001))


def test_place_refuses_when_the_book_is_known_almost_nowhere() -> None:
    with pytest.raises(FxError, match="put an entry in a book gap"):
        place([Template(1, 1.0, S)] * 3, 0, 60 * S, 0, n=1, seed=0, unknown=[(0, 59 * S)])
