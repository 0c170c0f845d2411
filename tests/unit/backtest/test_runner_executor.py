"""The runner's `Executor` hook (`fx stream --live`): a decided order goes to the executor instead of
the paper fill model, stays pending (no new decision) until the venue answers, and nothing is settled
on paper at the end."""

from __future__ import annotations

from fxcli.backtest.fills import Costs, Fill, Quote
from fxcli.backtest.runner import Runner
from fxcli.model.events import Trade
from fxcli.strategy.machine import Intent, State
from fxcli.tasks.backtest import resolve_indicators
from tests.conftest import REPO
from tests.unit.backtest.test_fast_parity import cond, make_spec

MS = 1_000_000
ROUND_TRIP = make_spec(
    s1=[cond("PRICE", "gt", 0)], z1=[cond("PRICE", "gt", 0)], ze1=[cond("PRICE", "gte", 110)]
)
INDICATORS = resolve_indicators(ROUND_TRIP, REPO / "variants")


class Recorder:
    """An executor that only remembers what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[Intent, Quote]] = []

    def submit(self, intent: Intent, quote: Quote) -> None:
        self.sent.append((intent, quote))


def venue_fill(ts_ns: int, side: int, qty: float, price: float) -> Fill:
    notional = qty * price
    return Fill(
        ts_ns, ts_ns, side, qty, qty, price, notional, notional * 0.001, "venue", 0, price, price, 0, 0, 0
    )


def trade(k: int, price: float) -> Trade:
    return Trade(k * 100 * MS, k * 100 * MS, "S", price, 1.0, 1, k)


def live_runner(executor: Recorder, trades: int = 4) -> Runner:
    """A runner whose orders go to `executor`, after `trades` trades at 100 (4: an entry is pending)."""
    runner = Runner(ROUND_TRIP, "S", INDICATORS, Costs(latency_ms=0.0), 1000.0, executor=executor)
    for k in range(1, trades + 1):
        runner.on_event(trade(k, 100.0))
    return runner


def test_runner_with_executor_sends_the_entry_and_fills_nothing_on_paper() -> None:
    executor = Recorder()

    runner = live_runner(executor, trades=19)

    assert [(i.action, i.side) for i, _ in executor.sent] == [("open", 1)]
    assert executor.sent[0][1].last == 100.0
    assert runner.machine.state is State.ENTRY_EVALUATION  # waiting for the venue, deciding nothing
    assert runner.account.entry is None
    assert runner.pending_intent is executor.sent[0][0]


def test_runner_venue_fill_opens_and_closes_a_round_trip() -> None:
    executor = Recorder()
    runner = live_runner(executor)

    runner.on_venue_fill(venue_fill(5 * 100 * MS, 1, 2.0, 100.0))
    runner.on_event(trade(6, 111.0))  # ze1: the price reached 110
    close, _ = executor.sent[-1]
    runner.on_venue_fill(venue_fill(7 * 100 * MS, -1, 2.0, 111.0))
    result = runner.finish()

    assert (close.action, close.qty) == ("close", 2.0)
    assert [(t.qty, t.entry_price, t.exit_price) for t in result.trades] == [(2.0, 100.0, 111.0)]
    assert runner.machine.state is State.EXITED
    assert runner.pending_intent is None


def test_runner_venue_reject_abandons_the_entry() -> None:
    executor = Recorder()
    runner = live_runner(executor)

    runner.on_venue_reject(5 * 100 * MS, "symbol quarantined")

    assert runner.result.rejected == [(5 * 100 * MS, "symbol quarantined")]
    assert runner.machine.state is State.SIGNAL_CANCELLED
    assert runner.pending_intent is None


def test_runner_finish_with_executor_settles_nothing_on_paper() -> None:
    executor = Recorder()
    runner = live_runner(executor)
    runner.on_venue_fill(venue_fill(5 * 100 * MS, 1, 2.0, 100.0))

    result = runner.finish()

    assert result.trades == []  # the real position stays open: no paper close at the end
    assert runner.machine.state is State.POSITION_ACTIVE


def test_runner_without_executor_keeps_the_paper_path() -> None:
    paper = Runner(ROUND_TRIP, "S", INDICATORS, Costs(latency_ms=0.0), 1000.0)

    for k in range(1, 20):
        paper.on_event(trade(k, 100.0))
    result = paper.finish()

    assert [t.exit_reason for t in result.trades] == ["end_of_data"]
    assert result.trades[0].entry_fill.source != "venue"
