"""Event-level evaluation: how a strategy behaved around labelled (or detected) pump onsets.

For each event (symbol, onset): the detection lag (first S1 signal from `pre_s` before the onset to
`horizon_s` after it, minus the onset), the move available (best price within the horizon against
the price at the onset, in the strategy's direction), the share of that move captured by the trades
entered in the event's window (their net return / the move), and their maximum adverse excursion.
S1 signals outside every event window of their symbol are false alarms. Prices come from the
backtest's equity samples (every second and at every fill), which bounds their time resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fxcli.backtest.runner import RunResult
from fxcli.strategy.machine import State

NS_PER_S = 1_000_000_000
MIN_MOVE_PCT = 0.01


@dataclass(frozen=True)
class EventOutcome:
    """What happened around one labelled event."""

    symbol: str
    onset_ns: int
    covered: bool  # the backtest has data around the onset
    detected: bool
    detection_lag_s: float
    move_pct: float
    captured_pct: float
    share_captured: float
    max_adverse_pct: float


def _price_at(result: RunResult, ts_ns: int) -> float:
    price = math.nan
    for point in result.equity:
        if point.ts_ns > ts_ns:
            break
        price = point.price
    return price


def evaluate(
    result: RunResult, onsets_ns: list[int], side: int, *, pre_s: float = 60.0, horizon_s: float = 600.0
) -> tuple[list[EventOutcome], int]:
    """Outcomes of `onsets_ns` for one symbol's run, and its number of false alarms."""
    pre, horizon = int(pre_s * NS_PER_S), int(horizon_s * NS_PER_S)
    signals = [t.ts_ns for t in result.transitions if t.to_state is State.SIGNAL_DETECTED]
    outcomes = []
    for onset in sorted(onsets_ns):
        lo, hi = onset - pre, onset + horizon
        covered = result.first_ts_ns <= onset <= result.last_ts_ns
        hits = [s for s in signals if lo <= s <= hi]
        p0 = _price_at(result, onset)
        window = [p.price for p in result.equity if onset <= p.ts_ns <= hi]
        best = (max(window) if side > 0 else min(window)) if window else math.nan
        move = side * (best / p0 - 1.0) * 100 if window and p0 == p0 else math.nan
        trades = [t for t in result.trades if lo <= t.entry_ts_ns <= hi]
        captured = sum(t.return_ratio for t in trades) * 100
        adverse = 0.0
        for t in trades:
            path = [p.price for p in result.equity if t.entry_ts_ns <= p.ts_ns <= t.exit_ts_ns]
            worst = min((t.side * (x / t.entry_price - 1.0) * 100 for x in path), default=0.0)
            adverse = min(adverse, worst)
        outcomes.append(
            EventOutcome(
                symbol=result.symbol,
                onset_ns=onset,
                covered=covered,
                detected=bool(hits),
                detection_lag_s=(hits[0] - onset) / NS_PER_S if hits else math.nan,
                move_pct=move,
                captured_pct=captured if trades else 0.0,
                # A share of a move that barely exists says nothing: defined from a 1 bp move up.
                share_captured=captured / move if trades and move >= MIN_MOVE_PCT else math.nan,
                max_adverse_pct=adverse,
            )
        )
    false_alarms = sum(1 for s in signals if not any(o - pre <= s <= o + horizon for o in onsets_ns))
    return outcomes, false_alarms
