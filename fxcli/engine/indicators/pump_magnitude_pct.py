"""PUMP_MAGNITUDE_PCT: how far the recent TWPA stands above the baseline TWPA, in percent."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.indicators.twpa_ratio import TWPARatio, TWPARatioParams
from fxcli.engine.params import IndicatorParams, Window, window_ns
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows

NAN = float("nan")


class PumpMagnitudePctParams(IndicatorParams):
    recent: Window = Field((10.0, 0.0), description="(t1, t2) of the recent TWPA: seconds back from now.")
    baseline: Window = Field(
        (300.0, 10.0), description="(t1, t2) of the baseline TWPA: seconds back from now."
    )


@indicator("PUMP_MAGNITUDE_PCT", PumpMagnitudePctParams)
class PumpMagnitudePct:
    """100 * (TWPA(recent) / TWPA(baseline) - 1), each TWPA as in the TWPA indicator; 0 means no move,
    negative a dump.

    NaN until both windows are covered (a trade older than now - t1 of each exists), and NaN if the
    baseline TWPA is 0.
    """

    __slots__ = ("baseline", "recent")
    changes_on = "time"  # the value moves when its windows change or engine time moves

    def __init__(self, p: PumpMagnitudePctParams, windows: Windows) -> None:
        self.recent = windows.get(*window_ns(p.recent))
        self.baseline = windows.get(*window_ns(p.baseline))

    def update(self, s: MarketState) -> float:
        base = self.baseline.twpa(s.now_ns)
        if base == 0.0:
            return NAN
        return 100.0 * (self.recent.twpa(s.now_ns) / base - 1.0)

    @staticmethod
    def batch(ticks: Ticks, p: PumpMagnitudePctParams) -> np.ndarray:
        # The magnitude is TWPA_RATIO's ratio, rescaled: the same divisions, so the twins stay bitwise.
        ratio = TWPARatio.batch(ticks, TWPARatioParams(recent=p.recent, baseline=p.baseline))
        ratio -= 1.0  # 100 * (ratio - 1), in place: the same operations, no temporary columns
        ratio *= 100.0
        return ratio

    @staticmethod
    def warmup(p: PumpMagnitudePctParams) -> Warmup:
        return Warmup(trades=1, seconds=max(p.recent[0], p.baseline[0]))
