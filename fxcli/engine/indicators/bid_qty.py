"""BID_QTY: the quantity at the best bid, from the book ticker or the L2 book."""

from __future__ import annotations

import numpy as np

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows


class BidQtyParams(IndicatorParams):
    """BID_QTY has no parameters."""


@indicator("BID_QTY", BidQtyParams)
class BidQty:
    """Quantity resting at the best bid, from whichever of the book ticker and the L2 book updated last.

    NaN until the book is known, and while that side of the L2 book is empty.
    """

    changes_on = "book"  # the value moves only on book events
    __slots__ = ()

    def __init__(self, p: BidQtyParams, windows: Windows) -> None:
        pass

    def update(self, s: MarketState) -> float:
        return s.bid_qty

    @staticmethod
    def batch(ticks: Ticks, p: BidQtyParams) -> np.ndarray:
        return ticks.bid_qty.copy()

    @staticmethod
    def warmup(p: BidQtyParams) -> Warmup:
        return Warmup(trades=0, needs_book=True)
