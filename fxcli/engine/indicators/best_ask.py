"""BEST_ASK: the best ask price, from the book ticker or the L2 book."""

from __future__ import annotations

import numpy as np

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows


class BestAskParams(IndicatorParams):
    """BEST_ASK has no parameters."""


@indicator("BEST_ASK", BestAskParams)
class BestAsk:
    """Lowest ask price, from whichever of the book ticker and the L2 book updated last.

    NaN until the book is known, and while that side of the L2 book is empty.
    """

    changes_on = "book"  # the value moves only on book events
    __slots__ = ()

    def __init__(self, p: BestAskParams, windows: Windows) -> None:
        pass

    def update(self, s: MarketState) -> float:
        return s.ask

    @staticmethod
    def batch(ticks: Ticks, p: BestAskParams) -> np.ndarray:
        return ticks.ask.copy()

    @staticmethod
    def warmup(p: BestAskParams) -> Warmup:
        return Warmup(trades=0, needs_book=True)
