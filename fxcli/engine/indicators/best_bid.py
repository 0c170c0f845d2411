"""BEST_BID: the best bid price, from the book ticker or the L2 book."""

from __future__ import annotations

import numpy as np

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows


class BestBidParams(IndicatorParams):
    """BEST_BID has no parameters."""


@indicator("BEST_BID", BestBidParams)
class BestBid:
    """Highest bid price, from whichever of the book ticker and the L2 book updated last.

    NaN until the book is known, and while that side of the L2 book is empty.
    """

    changes_on = "book"  # the value moves only on book events
    __slots__ = ()

    def __init__(self, p: BestBidParams, windows: Windows) -> None:
        pass

    def update(self, s: MarketState) -> float:
        return s.bid

    @staticmethod
    def batch(ticks: Ticks, p: BestBidParams) -> np.ndarray:
        return ticks.bid.copy()

    @staticmethod
    def warmup(p: BestBidParams) -> Warmup:
        return Warmup(trades=0, needs_book=True)
