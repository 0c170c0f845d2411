"""EMA: exponential moving average of trade prices, per trade."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows
from fxcli.model.limits import MAX_COUNT


class EMAParams(IndicatorParams):
    span: int = Field(20, ge=1, le=MAX_COUNT, description="Smoothing span in trades; alpha = 2 / (span + 1).")


@indicator("EMA", EMAParams)
class EMA:
    """EMA seeded with the mean of the first `span` prices (TA-Lib's convention); NaN before."""

    changes_on = "trade"  # the value moves only on trades
    __slots__ = ("alpha", "count", "span", "total", "value")

    def __init__(self, p: EMAParams, windows: Windows) -> None:
        self.span = p.span
        self.alpha = 2.0 / (p.span + 1.0)
        self.count = 0
        self.total = 0.0
        self.value = float("nan")

    def update(self, s: MarketState) -> float:
        if s.is_trade:
            self.count += 1
            if self.count < self.span:
                self.total += s.price
            elif self.count == self.span:
                self.total += s.price
                self.value = self.total / self.span
            else:
                self.value = self.value + self.alpha * (s.price - self.value)
        return self.value

    @staticmethod
    def batch(ticks: Ticks, p: EMAParams) -> np.ndarray:
        from fxcli.engine import kernels

        return kernels.carried(ticks, kernels.ema(kernels.per_trade(ticks, ticks.price), p.span))

    @staticmethod
    def warmup(p: EMAParams) -> Warmup:
        return Warmup(trades=p.span)
