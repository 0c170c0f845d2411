"""One symbol's pipeline: one event in, every indicator updated, one snapshot out.

No event bus: the caller (backtest, live stream) calls `on_event` directly and reads the returned
mapping, which is reused between events (copy it to keep it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from fxcli.engine.registry import Streaming, load_all
from fxcli.engine.state import MarketState
from fxcli.engine.windows import Windows
from fxcli.model.events import MarketEvent

if TYPE_CHECKING:
    from fxcli.engine.params import IndicatorParams


class Pipeline:
    """Indicators of one symbol, by name; `on_event` returns name -> value after the event."""

    def __init__(self, symbol: str, indicators: Iterable[tuple[str, str, IndicatorParams]]) -> None:
        self.symbol = symbol
        self.indicators = list(indicators)
        self.reset()

    def reset(self) -> None:
        """Forget everything seen: a fresh state, windows and indicators, as if just built."""
        specs = load_all()
        self.state = MarketState(self.symbol)
        self.windows = Windows(self.state)
        steps = [
            (name, specs[kind].stream(params, self.windows), specs[kind].changes_on)
            for name, kind, params in self.indicators
        ]
        # Indicators that cannot change on an event of one kind are not called for it.
        self._on_trade: list[tuple[str, Streaming]] = [(n, s) for n, s, on in steps if on != "book"]
        self._on_book: list[tuple[str, Streaming]] = [(n, s) for n, s, on in steps if on != "trade"]
        self.values: dict[str, float] = {name: float("nan") for name, _, _ in steps}

    def on_event(self, event: MarketEvent) -> dict[str, float]:
        """Apply one event and return every indicator's value after it."""
        state = self.state
        state.apply(event)
        self.windows.advance()
        values = self.values
        for name, step in self._on_trade if state.is_trade else self._on_book:
            values[name] = step.update(state)
        return values
