"""ASK_QTY: the quantity at the best ask, from the book ticker or the L2 book."""

from __future__ import annotations

import numpy as np

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows


class AskQtyParams(IndicatorParams):
    """ASK_QTY has no parameters."""


@indicator("ASK_QTY", AskQtyParams)
class AskQty:
    """Quantity resting at the best ask, from whichever of the book ticker and the L2 book updated last.

    NaN until the book is known, and while that side of the L2 book is empty.
    """

    changes_on = "book"  # the value moves only on book events
    __slots__ = ()

    def __init__(self, p: AskQtyParams, windows: Windows) -> None:
        pass

    def update(self, s: MarketState) -> float:
        return s.ask_qty

    @staticmethod
    def batch(ticks: Ticks, p: AskQtyParams) -> np.ndarray:
        return ticks.ask_qty.copy()

    @staticmethod
    def warmup(p: AskQtyParams) -> Warmup:
        return Warmup(trades=0, needs_book=True)
