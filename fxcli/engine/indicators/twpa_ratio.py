"""TWPA_RATIO: TWPA over a recent window divided by TWPA over a baseline window."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams, Window, window_ns
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows

NAN = float("nan")


class TWPARatioParams(IndicatorParams):
    recent: Window = Field((10.0, 0.0), description="(t1, t2) of the numerator: seconds back from now.")
    baseline: Window = Field((300.0, 10.0), description="(t1, t2) of the denominator: seconds back from now.")


@indicator("TWPA_RATIO", TWPARatioParams)
class TWPARatio:
    """TWPA(recent) / TWPA(baseline), each TWPA as in the TWPA indicator (time-weighted average of the
    last-trade step function over its window); 1.0 means no move.

    NaN until both windows are covered (a trade older than now - t1 of each exists), and NaN if the
    baseline TWPA is 0.
    """

    __slots__ = ("baseline", "recent")
    changes_on = "time"  # the value moves when its windows change or engine time moves

    def __init__(self, p: TWPARatioParams, windows: Windows) -> None:
        self.recent = windows.get(*window_ns(p.recent))
        self.baseline = windows.get(*window_ns(p.baseline))

    def update(self, s: MarketState) -> float:
        base = self.baseline.twpa(s.now_ns)
        if base == 0.0:
            return NAN
        return self.recent.twpa(s.now_ns) / base

    @staticmethod
    def batch(ticks: Ticks, p: TWPARatioParams) -> np.ndarray:
        from fxcli.engine import kernels

        # Both TWPAs and their ratio in one pass (the same operations as dividing the two columns).
        return kernels.twpa_ratio(ticks, window_ns(p.recent), window_ns(p.baseline))

    @staticmethod
    def warmup(p: TWPARatioParams) -> Warmup:
        return Warmup(trades=1, seconds=max(p.recent[0], p.baseline[0]))
