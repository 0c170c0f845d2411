"""Book gaps in the runner: the book is hidden inside them, entries are refused, exits still fill."""

from __future__ import annotations

from typing import Any

from fxcli.backtest.fills import Costs
from fxcli.backtest.runner import BOOK_UNKNOWN, Runner, run
from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import load_all
from fxcli.model.events import BookDelta, BookSnapshot, Event, Gap, GapReason, Trade
from fxcli.strategy.spec import StrategySpec

MS = 1_000_000
T0 = 1_723_161_300_000 * MS
COSTS = Costs(latency_ms=0.0, taker_fee_bps=0.0, slippage_bps=10.0)


def eager(**fields: Any) -> StrategySpec:
    """Signal, entry and exit on every trade: the strategy takes whatever the runner lets it."""
    always = [{"indicator": "PRICE", "op": "gt", "value": 0}]
    body: dict[str, Any] = {
        "schema": 1,
        "side": "long",
        "cooldown_s": 0,
        "sizing": {"base_position_pct": 10, "max_notional": 1e9},
        "s1": always,
        "z1": always,
        **fields,
    }
    return StrategySpec.model_validate(body)


def indicators() -> list[tuple[str, str, IndicatorParams]]:
    return [("PRICE", "PRICE", load_all()["PRICE"].params())]


def snapshot(ms: int, version: int) -> BookSnapshot:
    return BookSnapshot(T0 + ms * MS, T0 + ms * MS, "X", [(99.0, 50.0)], [(101.0, 50.0)], version, "rest")


def delta(ms: int, version: int, bid: float) -> BookDelta:
    return BookDelta(T0 + ms * MS, T0 + ms * MS, "X", [(bid, 50.0)], [], version, version)


def trade(ms: int, price: float = 100.0) -> Trade:
    return Trade(T0 + ms * MS, T0 + ms * MS, "X", price, 1.0, 1, ms)


def test_inside_a_book_gap_trades_see_no_book_and_entries_are_refused() -> None:
    events: list[Event] = [
        Gap("X", T0 - 1, T0 + 30 * MS, GapReason.RESYNC, "waiting for the first snapshot", T0),
        trade(10),  # S1
        snapshot(20, 100),  # inside the gap: the book is built, not shown
        trade(25),  # Z1: refused, the book is unknown
        delta(30, 101, 99.5),
        *[trade(ms) for ms in (40, 41, 42, 43)],  # after the gap's end: the entry goes through
    ]

    result = run(eager(), "X", indicators(), events, COSTS, 10_000.0)

    assert result.rejected == [(T0 + 25 * MS, BOOK_UNKNOWN)]
    path = [((t.ts_ns - T0) // MS, t.to_state.value, t.group) for t in result.transitions]
    assert path[:4] == [
        (10, "MONITORING", "start"),
        (10, "SIGNAL_DETECTED", "s1"),
        (25, "ENTRY_EVALUATION", "z1"),
        (25, "SIGNAL_CANCELLED", "rejected"),
    ]
    (opened,) = [t for t in result.transitions if t.to_state.value == "POSITION_ACTIVE" and t.group == "fill"]
    assert opened.ts_ns > T0 + 30 * MS
    entry = result.trades[0].entry_fill if result.trades else None
    assert entry is not None
    assert entry.source == "l2"
    assert entry.price == 101.0  # the ask of the book built inside the gap


def test_book_events_inside_a_gap_decide_nothing_and_do_not_move_time() -> None:
    runner = Runner(eager(), "X", indicators(), COSTS, 10_000.0)
    runner.on_event(snapshot(0, 100))
    runner.on_event(trade(1))
    transitions = len(runner.machine.transitions)

    runner.lose_book()
    runner.on_event(delta(50, 101, 99.5))  # live: a diff applied while the book is unknown

    assert runner.state.now_ns == T0 + 1 * MS
    assert len(runner.machine.transitions) == transitions
    assert runner.state.bid != runner.state.bid  # NaN: hidden
    runner.on_gap(Gap("X", T0 + 1 * MS, T0 + 50 * MS, GapReason.VERSION_JUMP, "jump", T0))
    runner.on_event(trade(51))
    assert runner.state.bid == 99.5  # shown again, with the diff that arrived while hidden
    assert not runner.is_book_hidden


def test_an_exit_inside_a_book_gap_fills_at_the_last_trade_and_is_flagged() -> None:
    spec = eager(ze1=[{"indicator": "PRICE", "op": "lt", "value": 95}])
    events: list[Event] = [snapshot(0, 100), trade(1), trade(2), trade(3)]  # in a position, from the book
    events += [Gap("X", T0 + 4 * MS, T0 + 60 * MS, GapReason.RESYNC, "connection lost", T0 + 4 * MS)]
    events += [trade(10, 94.0), trade(11, 94.0)]  # ZE1 fires while the book is unknown

    result = run(spec, "X", indicators(), events, COSTS, 10_000.0)

    (closed,) = result.trades
    assert closed.entry_fill.source == "l2"
    assert closed.exit_fills[-1].source == "book_unknown"
    assert closed.exit_price == 94.0 * (1 - 10 / 1e4)


def test_gaps_that_do_not_say_the_book_is_unknown_change_nothing() -> None:
    gap = Gap("X", T0, T0 + 9 * MS, GapReason.DISCONNECT, "", T0)
    events: list[Event] = [snapshot(0, 100), gap, trade(5), trade(6), trade(7)]

    result = run(eager(), "X", indicators(), events, COSTS, 10_000.0)

    assert result.rejected == []
    assert any(t.to_state.value == "POSITION_ACTIVE" for t in result.transitions)
