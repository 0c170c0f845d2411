"""Whether two runs of one strategy over the same events did the same things: the first transition or
trade where they differ, else how many agreed. `fx backtest --compare-stream` and the live-vs-replay
tests use it; values that decided a transition may be NaN, and NaN equals NaN here."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from fxcli.backtest.runner import RunResult, TradeRecord
from fxcli.model.units import ns_to_iso
from fxcli.strategy.machine import Transition

_T = TypeVar("_T")


@dataclass(frozen=True)
class Comparison:
    """Whether a stream replay and a backtest did the same things."""

    agree: bool
    transitions: int
    trades: int
    message: str


def _same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN (values that decided a transition may be NaN)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "__dataclass_fields__") and type(a) is type(b):
        return all(_same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b


def _describe_transition(t: Transition | None) -> str:
    if t is None:
        return "nothing"
    return f"{t.from_state.value} -> {t.to_state.value} ({t.group}) {_values_text(t.values)}"


def _describe_trade(t: TradeRecord | None) -> str:
    if t is None:
        return "nothing"
    return (
        f"trade {ns_to_iso(t.entry_ts_ns)} -> {ns_to_iso(t.exit_ts_ns)} qty {t.qty:.10g} "
        f"entry {t.entry_price:.10g} exit {t.exit_price:.10g} ({t.exit_reason})"
    )


def _values_text(values: Mapping[str, float]) -> str:
    return "{" + ", ".join(f"{k}={v:.10g}" for k, v in sorted(values.items())) + "}"


def compare_runs(backtest: Sequence[RunResult], streamed: Sequence[RunResult]) -> Comparison:
    """The first transition or trade where the two sides differ (per symbol, in the backtest's symbol
    order), else how many agreed."""
    by_symbol = {r.symbol: r for r in streamed}
    transitions = trades = 0
    for ours in backtest:
        theirs = by_symbol.get(ours.symbol)
        if theirs is None:
            return Comparison(False, transitions, trades, f"the stream did not run {ours.symbol}")
        differs = _first_difference(ours.transitions, theirs.transitions)
        if differs is not None:
            i, a, b = differs
            at = (a or b).ts_ns  # type: ignore[union-attr]
            return Comparison(
                False,
                transitions + i,
                trades,
                f"stream and backtest diverge at {ns_to_iso(at)} on {ours.symbol}, transition {i + 1}: "
                f"backtest {_describe_transition(a)}; stream {_describe_transition(b)}",
            )
        transitions += len(ours.transitions)
        differs_trade = _first_difference(ours.trades, theirs.trades)
        if differs_trade is not None:
            i, x, y = differs_trade
            at = (x or y).entry_ts_ns  # type: ignore[union-attr]
            return Comparison(
                False,
                transitions,
                trades + i,
                f"stream and backtest diverge at {ns_to_iso(at)} on {ours.symbol}, trade {i + 1}: "
                f"backtest {_describe_trade(x)}; stream {_describe_trade(y)}",
            )
        trades += len(ours.trades)
    counts = f"{_plural(transitions, 'transition')}, {_plural(trades, 'trade')}"
    return Comparison(True, transitions, trades, f"stream and backtest agree: {counts}")


def _first_difference(ours: Sequence[_T], theirs: Sequence[_T]) -> tuple[int, _T | None, _T | None] | None:
    """Where two sequences first differ: the index and both items (None past an end), or None."""
    for i in range(max(len(ours), len(theirs))):
        a = ours[i] if i < len(ours) else None
        b = theirs[i] if i < len(theirs) else None
        if a is None or b is None or not _same(a, b):
            return i, a, b
    return None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
