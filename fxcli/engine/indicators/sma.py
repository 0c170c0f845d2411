"""SMA: simple moving average of the last trade prices, per trade."""

from __future__ import annotations

from collections import deque

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows
from fxcli.model.limits import MAX_COUNT


class SMAParams(IndicatorParams):
    period: int = Field(20, ge=1, le=MAX_COUNT, description="Number of most recent trades averaged.")


@indicator("SMA", SMAParams)
class SMA:
    """Mean of the last `period` trade prices, as a running sum (add the new price, then subtract the
    one that left) divided by `period`; carried forward on book events. NaN before `period` trades."""

    changes_on = "trade"  # the value moves only on trades
    __slots__ = ("period", "prices", "total", "value")

    def __init__(self, p: SMAParams, windows: Windows) -> None:
        self.period = p.period
        self.prices: deque[float] = deque()
        self.total = 0.0
        self.value = float("nan")

    def update(self, s: MarketState) -> float:
        if s.is_trade:
            prices = self.prices
            prices.append(s.price)
            self.total += s.price
            if len(prices) > self.period:
                self.total -= prices.popleft()
            if len(prices) == self.period:
                self.value = self.total / self.period
        return self.value

    @staticmethod
    def batch(ticks: Ticks, p: SMAParams) -> np.ndarray:
        from fxcli.engine import kernels

        return kernels.carried(ticks, kernels.sma(kernels.per_trade(ticks, ticks.price), p.period))

    @staticmethod
    def warmup(p: SMAParams) -> Warmup:
        return Warmup(trades=p.period)
