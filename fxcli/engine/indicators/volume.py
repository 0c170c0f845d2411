"""VOLUME: traded base quantity inside a time window."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams, Window, window_ns
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows


class VolumeParams(IndicatorParams):
    window: Window = Field((60.0, 0.0), description="(t1, t2): seconds back from now.")


@indicator("VOLUME", VolumeParams)
class Volume:
    """Sum of trade sizes with now - t1 <= ts <= now - t2 (0 when empty); NaN until the window is covered."""

    __slots__ = ("w",)
    changes_on = "window"  # the value moves only when a trade enters or leaves its windows

    def __init__(self, p: VolumeParams, windows: Windows) -> None:
        self.w = windows.get(*window_ns(p.window))

    def update(self, s: MarketState) -> float:
        return self.w.volume if self.w.anchor is not None else float("nan")

    @staticmethod
    def batch(ticks: Ticks, p: VolumeParams) -> np.ndarray:
        from fxcli.engine import kernels

        return kernels.window_volume(ticks, *window_ns(p.window))

    @staticmethod
    def warmup(p: VolumeParams) -> Warmup:
        return Warmup(trades=1, seconds=p.window[0])
