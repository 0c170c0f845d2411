"""One symbol's pipeline: one event in, every indicator updated, one snapshot out.

No event bus: the caller (backtest, live stream) calls `on_event` directly and reads the returned
mapping, which is reused between events (copy it to keep it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from fxcli.engine.registry import load_all
from fxcli.engine.state import MarketState
from fxcli.engine.windows import TradeWindow, Windows
from fxcli.model.events import MarketEvent

if TYPE_CHECKING:
    from fxcli.engine.params import IndicatorParams


Update = Callable[[MarketState], float]


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
        self._on_trade: list[tuple[str, Update]] = []
        self._on_book: list[tuple[str, Update]] = []
        self._on_clock: list[tuple[str, Update]] = []
        groups: dict[tuple[TradeWindow, ...], list[tuple[str, Update]]] = {}
        timed: dict[tuple[TradeWindow, ...], list[tuple[str, Update]]] = {}
        for name, kind, params in self.indicators:
            first = len(self.windows.requested)
            update = specs[kind].stream(params, self.windows).update
            on = specs[kind].changes_on
            used = tuple(dict.fromkeys(self.windows.requested[first:]))
            if on == "window" and 1 <= len(used) <= 2:
                groups.setdefault(used, []).append((name, update))
                continue
            if on == "time" and 1 <= len(used) <= 2:
                timed.setdefault(used, []).append((name, update))
                continue
            if on != "book":
                self._on_trade.append((name, update))
            if on != "trade":
                self._on_book.append((name, update))
            if on not in ("trade", "book"):  # may read engine time: a clock tick moves it
                self._on_clock.append((name, update))
        # Indicators that read only their windows are called when one of them took or lost a trade.
        self._on_window = [(used[0], used[-1], steps) for used, steps in groups.items()]
        # Indicators of their windows and of engine time: also called whenever time moves.
        self._on_time = [(used[0], used[-1], steps) for used, steps in timed.items()]
        self._last_now = -1
        self.values: dict[str, float] = {name: float("nan") for name, _, _ in self.indicators}

    def on_event(self, event: MarketEvent) -> dict[str, float]:
        """Apply one event and return every indicator's value after it."""
        state = self.state
        state.apply(event)
        self.windows.advance()
        values = self.values
        for name, update in self._on_trade if state.is_trade else self._on_book:
            values[name] = update(state)
        return self._on_time_passed(values)

    def on_clock(self, ts_ns: int) -> dict[str, float]:
        """A clock tick at `ts_ns` (`fxcli.engine.clock`): time moves, windows expire, and only what
        reads time or windows is updated; trade and book indicators keep their values. O(1) amortised:
        a window does work only when a trade is due to enter or leave it."""
        self.state.tick(ts_ns)
        self.windows.advance()
        values = self.values
        for name, update in self._on_clock:
            values[name] = update(self.state)
        return self._on_time_passed(values)

    def _on_time_passed(self, values: dict[str, float]) -> dict[str, float]:
        state = self.state
        now = state.now_ns
        moved = now != self._last_now
        self._last_now = now
        for first, last, steps in self._on_time:
            if moved or first.changed_ns == now or last.changed_ns == now:
                for name, update in steps:
                    values[name] = update(state)
        for first, last, steps in self._on_window:
            if first.changed_ns == now or last.changed_ns == now:
                for name, update in steps:
                    values[name] = update(state)
        return values
