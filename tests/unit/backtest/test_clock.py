"""Clock ticks (`fxcli.engine.clock`): a pump on a trade-only tape is seen as time passes, not at the
next trade; both runners agree on clock rows; a flat tape costs the same work per tick however long
the silence and however full the windows."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import numpy as np
import pytest

from fxcli.backtest import fast, runner
from fxcli.backtest.fills import Costs
from fxcli.engine.clock import check_clock_ms, grid_rows
from fxcli.engine.indicators.pump_magnitude_pct import PumpMagnitudePctParams
from fxcli.engine.indicators.twpa import TWPAParams
from fxcli.engine.params import IndicatorParams
from fxcli.engine.pipeline import Pipeline
from fxcli.model.events import MarketEvent, Trade
from fxcli.strategy.machine import State
from fxcli.strategy.spec import StrategySpec

MS = 1_000_000
S = 1_000_000_000
T0 = 1_723_161_600 * S + 123 * MS  # not on a grid point
BURST_NS = T0 + 120 * S
SILENCE_S = 20

INDICATORS: list[tuple[str, str, IndicatorParams]] = [
    ("pump", "PUMP_MAGNITUDE_PCT", PumpMagnitudePctParams(recent=(2.0, 0.0), baseline=(60.0, 2.0)))
]
SPEC = StrategySpec.model_validate(
    {
        "schema": 1,
        "name": "burst",
        # 0.15 %: reached ~60 ms after the first buy of the burst (after its last print), so only
        # time passing, or the next trade, can show it.
        "s1": [{"indicator": "pump", "op": "gte", "value": 0.15}],
        "z1": [{"indicator": "pump", "op": "gte", "value": 1.0}],
    }
)


def burst_then_silence() -> list[MarketEvent]:
    """A thin trade-only tape: a trade every 5 s at 100 for two minutes, a burst of five buys at 105
    within 40 ms, then `SILENCE_S` s of nothing, then one trade."""
    events: list[MarketEvent] = [Trade(T0 + k * 5 * S, 0, "S", 100.0, 1.0, -1) for k in range(24)]
    events += [Trade(BURST_NS + k * 10 * MS, 0, "S", 105.0, 2.0, 1) for k in range(5)]
    later = BURST_NS + SILENCE_S * S
    events.append(Trade(later, 0, "S", 105.0, 1.0, 1))
    return events


def first_signal_ns(clock_ms: int) -> int:
    stream = runner.run(SPEC, "S", INDICATORS, burst_then_silence(), Costs(), 10_000.0, clock_ms=clock_ms)
    batch = fast.run(SPEC, "S", INDICATORS, burst_then_silence(), Costs(), 10_000.0, clock_ms=clock_ms)
    assert batch.transitions == stream.transitions
    return next(t.ts_ns for t in stream.transitions if t.to_state is State.SIGNAL_DETECTED)


@pytest.mark.parametrize("clock_ms", [1_000, 250, 100])
def test_burst_then_silence_is_detected_within_one_clock_interval(clock_ms: int) -> None:
    burst_end = BURST_NS + 40 * MS

    detected = first_signal_ns(clock_ms)

    assert burst_end < detected <= burst_end + clock_ms * MS


def test_burst_then_silence_without_clock_is_detected_only_at_the_next_trade() -> None:
    detected = first_signal_ns(0)

    assert detected == BURST_NS + SILENCE_S * S


@pytest.mark.parametrize(("latency_ms", "ticks_waited"), [(300.0, 1), (1_500.0, 2)])
def test_orders_decided_on_a_tick_fill_in_the_silence_not_at_the_next_trade(
    latency_ms: float, ticks_waited: int
) -> None:
    costs = Costs(latency_ms=latency_ms)

    stream = runner.run(SPEC, "S", INDICATORS, burst_then_silence(), costs, 10_000.0, clock_ms=1_000)
    batch = fast.run(SPEC, "S", INDICATORS, burst_then_silence(), costs, 10_000.0, clock_ms=1_000)
    off = runner.run(SPEC, "S", INDICATORS, burst_then_silence(), costs, 10_000.0, clock_ms=0)

    entry = stream.trades[0].entry_fill
    assert batch.trades == stream.trades
    assert entry.decided_ts_ns % S == 0, "decided on a clock tick (a grid point), not on a trade"
    # The fill model executes on the first event after decision + latency, against the market as it
    # was just before it (the fill's time): with the clock, that event is a tick inside the silence.
    assert entry.ts_ns == entry.decided_ts_ns + (ticks_waited - 1) * S
    assert entry.ts_ns < BURST_NS + SILENCE_S * S
    assert not off.trades, "without the clock the pump is seen at the last trade: too late to enter"


def test_a_live_run_whose_clock_ran_past_the_last_event_ends_as_its_replay_does() -> None:
    """Live, ticks keep firing after the last event until the stop; a backtest of the recording has
    none after it. The open position's `end_of_data` close (and the run's end) is at the last
    market event in both."""
    events = burst_then_silence()
    costs = Costs(latency_ms=300.0)
    live = runner.Runner(SPEC, "S", INDICATORS, costs, 10_000.0, clock_ms=1_000)
    for event in events:
        live.on_event(event)
    live.advance_clock(events[-1].exchange_ts_ns + 8 * S)  # the session's timer, 8 s on, then stop
    assert live.account.entry is not None, "a position is open at the stop"

    ended = live.finish()
    replay = runner.run(SPEC, "S", INDICATORS, events, costs, 10_000.0, clock_ms=1_000)

    assert ended.last_ts_ns == replay.last_ts_ns == events[-1].exchange_ts_ns
    assert ended.transitions[-1] == replay.transitions[-1]
    assert ended.trades == replay.trades


# --- the grid -----------------------------------------------------------------------------------------


def test_grid_is_aligned_to_the_epoch_so_overlapping_runs_tick_together() -> None:
    now = np.array([T0, T0 + 3_500 * MS, T0 + 3_500 * MS, T0 + 7 * S], dtype=np.int64)

    before, times = grid_rows(now, S)
    _, later_times = grid_rows(now[1:], S)

    assert (times % S == 0).all()
    assert times.tolist() == [T0 - 123 * MS + k * S for k in range(1, 8)]
    assert before.tolist() == [1, 1, 1, 3, 3, 3, 3]
    assert set(later_times.tolist()) <= set(times.tolist())


@pytest.mark.parametrize("value", [-1, 5, 3_600_001, 10**30, 1.5, 1000.0, "1000", True, None])
def test_bad_clock_values_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="must be"):
        check_clock_ms(value)


# --- O(1) per tick -------------------------------------------------------------------------------------


def calls_per_tick(trades_in_window: int, silence_s: int, clock_ms: int = 100) -> float:
    """Python and C function calls the pipeline makes per clock tick in a silence of `silence_s`, after
    `trades_in_window` trades that all stay inside a 300 s window during the silence."""
    params = TWPAParams(window=(300.0, 0.0))
    pipeline = Pipeline(
        "S",
        [
            ("twpa", "TWPA", params),
            (
                "pump",
                "PUMP_MAGNITUDE_PCT",
                PumpMagnitudePctParams(recent=(10.0, 0.0), baseline=(300.0, 10.0)),
            ),
            ("rate", "TRADE_RATE", IndicatorParamsFor("TRADE_RATE", window=(300.0, 0.0))),
            ("max", "MAX_PRICE", IndicatorParamsFor("MAX_PRICE", window=(300.0, 0.0))),
        ],
    )
    pipeline.on_event(Trade(T0 - 400 * S, 0, "S", 100.0, 1.0, 1))  # covers every window
    start = T0 - 100 * S  # in every window, and none leaves the 300 s ones during the silence
    for k in range(trades_in_window):  # a flat tape: one price
        pipeline.on_event(Trade(start + k * (50 * S // trades_in_window), 0, "S", 100.0, 1.0, 1))
    ticks = silence_s * 1_000 // clock_ms
    first = (T0 // (clock_ms * MS) + 1) * clock_ms * MS
    calls = 0

    def count(frame: FrameType, event: str, arg: object) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    on_clock: Callable[[int], object] = pipeline.on_clock
    on_clock(first - clock_ms * MS)  # trades that left the 10 s window meanwhile go now, uncounted
    sys.setprofile(count)
    try:
        for k in range(ticks):
            on_clock(first + k * clock_ms * MS)
    finally:
        sys.setprofile(None)
    return calls / ticks


def IndicatorParamsFor(kind: str, **fields: Any) -> IndicatorParams:  # noqa: N802
    from fxcli.engine.registry import get

    return get(kind).params(**fields)


def test_flat_tape_costs_the_same_work_per_tick_for_a_100x_longer_silence() -> None:
    short, long = calls_per_tick(50, silence_s=1), calls_per_tick(50, silence_s=100)

    assert long == pytest.approx(short, rel=0.02)


def test_flat_tape_costs_the_same_work_per_tick_with_100x_fuller_windows() -> None:
    sparse, full = calls_per_tick(50, silence_s=10), calls_per_tick(5_000, silence_s=10)

    assert full == pytest.approx(sparse, rel=0.02)
