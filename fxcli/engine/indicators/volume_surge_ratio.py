"""VOLUME_SURGE_RATIO: volume in a recent window against the baseline's mean volume per window."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams, Window, window_ns
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows

NAN = float("nan")


class VolumeSurgeRatioParams(IndicatorParams):
    recent: Window = Field((10.0, 0.0), description="(t1, t2) of the recent window: seconds back from now.")
    baseline: Window = Field(
        (310.0, 10.0), description="(t1, t2) of the baseline window: seconds back from now."
    )


def _scale(p: VolumeSurgeRatioParams) -> float:
    """len_recent / len_baseline, from the windows in ns as both forms use them."""
    r1, r2 = window_ns(p.recent)
    b1, b2 = window_ns(p.baseline)
    return (r1 - r2) / (b1 - b2)


@indicator("VOLUME_SURGE_RATIO", VolumeSurgeRatioParams)
class VolumeSurgeRatio:
    """V_recent / (V_baseline * len_recent / len_baseline): recent volume over the baseline's mean
    volume per recent-length window (1 = usual pace, 5 = five times it).

    V is the summed trade size with now - t1 <= ts <= now - t2. NaN until both windows are covered
    (a trade older than each window's start exists) and whenever the baseline volume is 0.
    """

    __slots__ = ("base", "recent", "scale")
    changes_on = "window"  # the value moves only when a trade enters or leaves its windows

    def __init__(self, p: VolumeSurgeRatioParams, windows: Windows) -> None:
        self.recent = windows.get(*window_ns(p.recent))
        self.base = windows.get(*window_ns(p.baseline))
        self.scale = _scale(p)

    def update(self, s: MarketState) -> float:
        recent, base = self.recent, self.base
        if recent.anchor is None or base.anchor is None or base.volume == 0.0:
            return NAN
        return recent.volume / (base.volume * self.scale)

    @staticmethod
    def batch(ticks: Ticks, p: VolumeSurgeRatioParams) -> np.ndarray:
        from fxcli.engine import kernels

        # One pass over both windows: no volume, notional or mask array per window.
        return kernels.window_volume_ratio(ticks, window_ns(p.recent), window_ns(p.baseline), _scale(p))

    @staticmethod
    def warmup(p: VolumeSurgeRatioParams) -> Warmup:
        return Warmup(trades=1, seconds=max(p.recent[0], p.baseline[0]))
