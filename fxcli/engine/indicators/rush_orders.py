"""RUSH_ORDERS: market orders that swept several fills, counted inside a time window."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams, Window, window_ns
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows

NAN = float("nan")


class RushOrdersParams(IndicatorParams):
    window: Window = Field((10.0, 0.0), description="(t1, t2): seconds back from now.")


@indicator("RUSH_ORDERS", RushOrdersParams)
class RushOrders:
    """Number of rush orders whose second fill has now - t1 <= ts <= now - t2 (0 when none).

    A rush order is a run of consecutive trades in one millisecond on one aggressor side, i.e. one
    market order sweeping several fills (La Morgia et al. 2020); it is counted once, at its second
    fill, so no later print is needed to see it. NaN until the window is covered (a trade older than
    its start exists).
    """

    __slots__ = ("w",)
    changes_on = "window"  # the value moves only when a trade enters or leaves its windows

    def __init__(self, p: RushOrdersParams, windows: Windows) -> None:
        self.w = windows.get(*window_ns(p.window))

    def update(self, s: MarketState) -> float:
        return float(self.w.rush) if self.w.anchor is not None else NAN

    @staticmethod
    def batch(ticks: Ticks, p: RushOrdersParams) -> np.ndarray:
        from fxcli.engine import kernels

        b = kernels.bounds(ticks, *window_ns(p.window))
        # Rush orders among the first k trades, so the window's count is a difference of two.
        before = np.zeros(len(b.trade_ts) + 1, dtype=np.int64)
        np.cumsum(ticks.rush_fill[ticks.is_trade], out=before[1:])
        return np.where(b.covered, (before[b.hi] - before[b.lo]).astype(np.float64), np.nan)

    @staticmethod
    def warmup(p: RushOrdersParams) -> Warmup:
        return Warmup(trades=1, seconds=p.window[0])
