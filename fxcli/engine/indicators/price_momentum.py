"""PRICE_MOMENTUM: percentage change of the last-trade price per second over a time window."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams, Window, window_ns
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows


class PriceMomentumParams(IndicatorParams):
    window: Window = Field((30.0, 0.0), description="(t1, t2): seconds back from now.")


@indicator("PRICE_MOMENTUM", PriceMomentumParams)
class PriceMomentum:
    """100 * (P_end - P_start) / P_start / (t1 - t2), in % per second, on the last-trade step function:
    P_start is the price in force just before now - t1 (the newest trade older than the window),
    P_end the price in force at now - t2 (the newest trade inside, else P_start).

    NaN until the window is covered (a trade older than now - t1 exists), and NaN if P_start is 0.
    """

    __slots__ = ("w",)
    changes_on = "window"  # the value moves only when a trade enters or leaves its windows

    def __init__(self, p: PriceMomentumParams, windows: Windows) -> None:
        self.w = windows.get(*window_ns(p.window))

    def update(self, s: MarketState) -> float:
        return self.w.momentum()

    @staticmethod
    def batch(ticks: Ticks, p: PriceMomentumParams) -> np.ndarray:
        from fxcli.engine import kernels

        return kernels.momentum(ticks, *window_ns(p.window))

    @staticmethod
    def warmup(p: PriceMomentumParams) -> Warmup:
        return Warmup(trades=1, seconds=p.window[0])
