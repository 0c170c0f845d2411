"""TRADE_RATE: trades per second inside a time window."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams, Window, window_ns
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows

NAN = float("nan")


class TradeRateParams(IndicatorParams):
    window: Window = Field((10.0, 0.0), description="(t1, t2): seconds back from now.")


@indicator("TRADE_RATE", TradeRateParams)
class TradeRate:
    """count / (t1 - t2): the number of trades with now - t1 <= ts <= now - t2 per second (0 when
    empty); every fill counts, so one order sweeping five levels is five trades. NaN until the
    window is covered (a trade older than its start exists)."""

    __slots__ = ("seconds", "w")
    changes_on = "window"  # the value moves only when a trade enters or leaves its windows

    def __init__(self, p: TradeRateParams, windows: Windows) -> None:
        self.w = windows.get(*window_ns(p.window))
        self.seconds = p.window[0] - p.window[1]

    def update(self, s: MarketState) -> float:
        return self.w.count / self.seconds if self.w.anchor is not None else NAN

    @staticmethod
    def batch(ticks: Ticks, p: TradeRateParams) -> np.ndarray:
        from fxcli.engine import kernels

        b = kernels.bounds(ticks, *window_ns(p.window))
        return np.where(b.covered, (b.hi - b.lo) / (p.window[0] - p.window[1]), np.nan)

    @staticmethod
    def warmup(p: TradeRateParams) -> Warmup:
        return Warmup(trades=1, seconds=p.window[0])
