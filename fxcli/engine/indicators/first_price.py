"""FIRST_PRICE: price of the oldest trade inside a time window."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams, Window, window_ns
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import PRICE, Windows

NAN = float("nan")


class FirstPriceParams(IndicatorParams):
    window: Window = Field((60.0, 0.0), description="(t1, t2): seconds back from now.")


@indicator("FIRST_PRICE", FirstPriceParams)
class FirstPrice:
    """Price of the oldest trade (by arrival order) with now - t1 <= ts <= now - t2.

    NaN until the window is covered (a trade older than now - t1 exists), and NaN while it is empty.
    """

    __slots__ = ("w",)
    changes_on = "window"  # the value moves only when a trade enters or leaves its windows

    def __init__(self, p: FirstPriceParams, windows: Windows) -> None:
        self.w = windows.get(*window_ns(p.window))

    def update(self, s: MarketState) -> float:
        w = self.w
        if w.anchor is not None and w.inside:
            return w.inside[0][PRICE]
        return NAN

    @staticmethod
    def batch(ticks: Ticks, p: FirstPriceParams) -> np.ndarray:
        from fxcli.engine import kernels

        return kernels.window_first_last(ticks, *window_ns(p.window), first=True)

    @staticmethod
    def warmup(p: FirstPriceParams) -> Warmup:
        return Warmup(trades=1, seconds=p.window[0])
