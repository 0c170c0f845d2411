"""TWPA: time-weighted average of the last-trade price over a time window."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams, Window, window_ns
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows


class TWPAParams(IndicatorParams):
    window: Window = Field((60.0, 0.0), description="(t1, t2): seconds back from now.")


@indicator("TWPA", TWPAParams)
class TWPA:
    """Integral of the last-trade step function over [now - t1, now - t2] divided by its length.

    Unlike VWAP it weights a price by how long it stood, so a burst of prints cannot dominate it.
    NaN until a trade older than the window's start exists.
    """

    __slots__ = ("w",)
    changes_on = "time"  # the value moves when its windows change or engine time moves

    def __init__(self, p: TWPAParams, windows: Windows) -> None:
        self.w = windows.get(*window_ns(p.window))

    def update(self, s: MarketState) -> float:
        return self.w.twpa(s.now_ns)

    @staticmethod
    def batch(ticks: Ticks, p: TWPAParams) -> np.ndarray:
        from fxcli.engine import kernels

        return kernels.twpa(ticks, *window_ns(p.window))

    @staticmethod
    def warmup(p: TWPAParams) -> Warmup:
        return Warmup(trades=1, seconds=p.window[0])
