"""VELOCITY_CASCADE: acceleration of price, recent momentum minus the momentum before it."""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from fxcli.engine.params import IndicatorParams, window_ns
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows
from fxcli.model.limits import MAX_SECONDS


class VelocityCascadeParams(IndicatorParams):
    short_s: float = Field(
        10.0, gt=0, le=MAX_SECONDS, description="Recent window (short_s, 0), in seconds back from now."
    )
    long_s: float = Field(
        60.0,
        gt=0,
        le=MAX_SECONDS,
        description="Prior window (long_s, short_s), in seconds back from now; > short_s.",
    )

    @model_validator(mode="after")
    def _short_before_long(self) -> VelocityCascadeParams:
        if not self.short_s < self.long_s:
            raise ValueError(f"short_s ({self.short_s:g}) must be less than long_s ({self.long_s:g})")
        return self


@indicator("VELOCITY_CASCADE", VelocityCascadeParams)
class VelocityCascade:
    """PRICE_MOMENTUM over (short_s, 0) minus PRICE_MOMENTUM over (long_s, short_s), in %/s.

    Each momentum is 100 * (P_end - P_start) / P_start / (t1 - t2) on the last-trade step function
    (P_start the price in force just before now - t1, P_end the one at now - t2). A difference, not a
    ratio of velocities: the ratio is undefined when the prior window is flat (velocity 0), which is
    exactly when a pump starts.

    NaN until the prior window is covered (a trade older than now - long_s exists), and NaN if a
    start price is 0.
    """

    __slots__ = ("prior", "recent")
    changes_on = "window"  # the value moves only when a trade enters or leaves its windows

    def __init__(self, p: VelocityCascadeParams, windows: Windows) -> None:
        self.recent = windows.get(*window_ns((p.short_s, 0.0)))
        self.prior = windows.get(*window_ns((p.long_s, p.short_s)))

    def update(self, s: MarketState) -> float:
        return self.recent.momentum() - self.prior.momentum()

    @staticmethod
    def batch(ticks: Ticks, p: VelocityCascadeParams) -> np.ndarray:
        from fxcli.engine import kernels

        recent = kernels.momentum(ticks, *window_ns((p.short_s, 0.0)))
        prior = kernels.momentum(ticks, *window_ns((p.long_s, p.short_s)))
        recent -= prior  # in place: the same subtraction, one column less at the run's peak
        return recent

    @staticmethod
    def warmup(p: VelocityCascadeParams) -> Warmup:
        return Warmup(trades=1, seconds=p.long_s)
