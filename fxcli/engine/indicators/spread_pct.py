"""SPREAD_PCT: the bid-ask spread as a percentage of the mid price."""

from __future__ import annotations

import numpy as np

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows


class SpreadPctParams(IndicatorParams):
    """SPREAD_PCT has no parameters."""


@indicator("SPREAD_PCT", SpreadPctParams)
class SpreadPct:
    """100 * (ask - bid) / ((ask + bid) / 2); NaN until both sides of the book are known."""

    changes_on = "book"  # the value moves only on book events
    __slots__ = ()

    def __init__(self, p: SpreadPctParams, windows: Windows) -> None:
        pass

    def update(self, s: MarketState) -> float:
        return 100.0 * (s.ask - s.bid) / ((s.ask + s.bid) / 2.0)

    @staticmethod
    def batch(ticks: Ticks, p: SpreadPctParams) -> np.ndarray:
        return np.asarray(100.0 * (ticks.ask - ticks.bid) / ((ticks.ask + ticks.bid) / 2.0))

    @staticmethod
    def warmup(p: SpreadPctParams) -> Warmup:
        return Warmup(trades=0, needs_book=True)
