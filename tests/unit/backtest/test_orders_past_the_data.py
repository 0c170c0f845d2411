"""An order whose execution time (decision + latency) lies after the last event is never filled
(issue 11, D21): no fill at a price it could not have had. The batch and streaming runners agree."""

from __future__ import annotations

import pytest

from fxcli.backtest.fills import Costs
from fxcli.backtest.runner import END_OF_DATA, PAST_THE_DATA
from fxcli.model.events import MarketEvent, Trade
from fxcli.strategy.machine import State
from fxcli.tasks.backtest import resolve_indicators
from tests.conftest import REPO
from tests.unit.backtest.test_fast_parity import check, cond, make_spec

MS = 1_000_000
BUY_AT_ONCE = make_spec(s1=[cond("PRICE", "gt", 0)], z1=[cond("PRICE", "gt", 0)])


def tape(n: int = 50) -> list[MarketEvent]:
    """A trade every 100 ms at 100."""
    return [Trade(k * 100 * MS, k * 100 * MS, "S", 100.0, 1.0, 1, k) for k in range(1, n + 1)]


INDICATORS = resolve_indicators(BUY_AT_ONCE, REPO / "variants")  # PRICE, the last trade's


@pytest.mark.parametrize("latency_ms", [1e12, 5_000.0, 4_900.0])
def test_entry_due_after_the_last_event_is_rejected_not_filled(latency_ms: float) -> None:
    result = check(BUY_AT_ONCE, INDICATORS, tape(), costs=Costs(latency_ms=latency_ms))

    assert result.trades == []
    assert [why for _, why in result.rejected] == [PAST_THE_DATA]
    assert result.transitions[-1].to_state is State.SIGNAL_CANCELLED


def test_entry_due_at_the_last_event_is_filled() -> None:
    # Decided at the 2nd trade (0.2 s), due 4.8 s later: exactly the last trade's time (5.0 s).
    result = check(BUY_AT_ONCE, INDICATORS, tape(), costs=Costs(latency_ms=4_800.0))

    assert [(t.entry_ts_ns, t.exit_reason) for t in result.trades] == [(5_000 * MS, END_OF_DATA)]
    assert result.rejected == []
