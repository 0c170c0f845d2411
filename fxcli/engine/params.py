"""Indicator parameters: frozen pydantic models whose every field has a default and a description.

Time windows follow the seed: `(t1, t2)` seconds back from now, the window being
`now - t1 <= ts <= now - t2` with `t1 > t2 >= 0`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

from fxcli.model.limits import MAX_SECONDS
from fxcli.model.units import NS_PER_S


def _check_window(value: tuple[float, float]) -> tuple[float, float]:
    t1, t2 = value
    if not (t1 > t2 >= 0):
        raise ValueError(f"window ({t1:g}, {t2:g}) must have t1 > t2 >= 0 (seconds back from now)")
    if not t1 <= MAX_SECONDS:  # inf too: time is int64 ns, and `now - t1` must stay a time
        raise ValueError(f"window ({t1:g}, {t2:g}) reaches back more than {MAX_SECONDS:g} s (~31 years)")
    return value


Window = Annotated[tuple[float, float], AfterValidator(_check_window)]
"""`(t1, t2)`: seconds back from now; the window is `now - t1 <= ts <= now - t2`."""


def window_ns(window: tuple[float, float]) -> tuple[int, int]:
    """A `(t1, t2)` window in integer nanoseconds."""
    return round(window[0] * NS_PER_S), round(window[1] * NS_PER_S)


class IndicatorParams(BaseModel):
    """Base of every indicator's parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def label(self) -> str:
        """Short text of the non-default-looking values, for tables: 'window=(60, 0)'."""
        parts = []
        for name, value in self.model_dump().items():
            shown: Any = tuple(value) if isinstance(value, list) else value
            parts.append(f"{name}={shown}")
        return ", ".join(parts)
