"""VWAP: volume-weighted average trade price over a time window."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams, Window, window_ns
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows

NAN = float("nan")


class VWAPParams(IndicatorParams):
    window: Window = Field((60.0, 0.0), description="(t1, t2): seconds back from now.")


@indicator("VWAP", VWAPParams)
class VWAP:
    """sum(price * qty) / sum(qty) over the trades with now - t1 <= ts <= now - t2.

    NaN until the window is covered (a trade older than now - t1 exists), and NaN while the window
    holds no volume (no trade inside, or only zero-size prints).
    """

    __slots__ = ("w",)
    changes_on = "window"  # the value moves only when a trade enters or leaves its windows

    def __init__(self, p: VWAPParams, windows: Windows) -> None:
        self.w = windows.get(*window_ns(p.window))

    def update(self, s: MarketState) -> float:
        w = self.w
        if w.anchor is not None and w.volume > 0.0:
            return w.notional / w.volume
        return NAN

    @staticmethod
    def batch(ticks: Ticks, p: VWAPParams) -> np.ndarray:
        from fxcli.engine import kernels

        return kernels.window_vwap(ticks, *window_ns(p.window))

    @staticmethod
    def warmup(p: VWAPParams) -> Warmup:
        return Warmup(trades=1, seconds=p.window[0])
