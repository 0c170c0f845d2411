"""RSI: Wilder's relative strength index of trade prices, per trade."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows
from fxcli.model.limits import MAX_COUNT

NAN = float("nan")


class RSIParams(IndicatorParams):
    period: int = Field(
        14, ge=1, le=MAX_COUNT, description="Wilder smoothing period, in price changes (trades - 1)."
    )


@indicator("RSI", RSIParams)
class RSI:
    """Wilder's RSI over trade prices, TA-Lib's convention: 100 * G / (G + L).

    With changes c_k = price_k - price_(k-1), G and L start as the plain means of the first `period`
    gains and losses, then G = (G * (period - 1) + max(c, 0)) / period (likewise L). The first value
    comes at trade `period + 1`; NaN before, carried forward on book events. When G + L == 0 (not one
    tick of movement) it is 50, where TA-Lib says 0: a market that has not moved is neutral, not
    maximally oversold, and 0 would fire every "RSI below 30" rule on a frozen tape.
    """

    changes_on = "trade"  # the value moves only on trades
    __slots__ = ("changes", "gain", "loss", "period", "prev", "value")

    def __init__(self, p: RSIParams, windows: Windows) -> None:
        self.period = p.period
        self.changes = -1  # price changes seen: trades - 1
        self.prev = NAN
        self.gain = 0.0
        self.loss = 0.0
        self.value = NAN

    def update(self, s: MarketState) -> float:
        if not s.is_trade:
            return self.value
        price, period = s.price, self.period
        change = price - self.prev
        self.prev = price
        self.changes += 1
        if self.changes < 1:
            return self.value
        # Same operations in the same order as `kernels.rsi`, so both forms give the same bits.
        if self.changes <= period:
            if change > 0:
                self.gain += change
            else:
                self.loss -= change
            if self.changes < period:
                return self.value
            self.gain /= period
            self.loss /= period
        else:
            up = change if change > 0 else 0.0
            down = -change if change < 0 else 0.0
            self.gain = (self.gain * (period - 1) + up) / period
            self.loss = (self.loss * (period - 1) + down) / period
        gain, loss = self.gain, self.loss
        self.value = 100.0 * gain / (gain + loss) if gain + loss > 0 else 50.0
        return self.value

    @staticmethod
    def batch(ticks: Ticks, p: RSIParams) -> np.ndarray:
        from fxcli.engine import kernels

        return kernels.carried(ticks, kernels.rsi(kernels.per_trade(ticks, ticks.price), p.period))

    @staticmethod
    def warmup(p: RSIParams) -> Warmup:
        return Warmup(trades=p.period + 1)
