"""PRICE: the last trade price."""

from __future__ import annotations

import numpy as np

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows


class PriceParams(IndicatorParams):
    """PRICE has no parameters."""


@indicator("PRICE", PriceParams)
class Price:
    """Last trade price; NaN before the first trade."""

    changes_on = "trade"  # the value moves only on trades
    __slots__ = ()

    def __init__(self, p: PriceParams, windows: Windows) -> None:
        pass

    def update(self, s: MarketState) -> float:
        return s.price

    @staticmethod
    def batch(ticks: Ticks, p: PriceParams) -> np.ndarray:
        from fxcli.engine.kernels import carried

        return carried(ticks, ticks.price[ticks.is_trade])

    @staticmethod
    def warmup(p: PriceParams) -> Warmup:
        return Warmup(trades=1)
