"""The indicator registry: every module in `fxcli/engine/indicators/` registers itself on import."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from fxcli.engine.params import IndicatorParams
    from fxcli.engine.state import MarketState
    from fxcli.engine.ticks import Ticks
    from fxcli.engine.windows import Windows


class Streaming(Protocol):
    """A streaming indicator: built once per symbol, `update` called once per event (O(1) amortised).

    A class may declare `changes_on = "trade"` (its value moves only on trades: EMA, RSI, ...) or
    `"book"` (only on book events); the pipeline then skips it on other events. Time-window
    indicators change as time passes and keep the default, `"any"`.
    """

    def update(self, state: MarketState) -> float: ...


@dataclass(frozen=True)
class Warmup:
    """NaN exactly until this many trades were seen and this long has passed since the first one
    (on data with no empty windows); book indicators also need a book."""

    trades: int = 1
    seconds: float = 0.0
    needs_book: bool = False


@dataclass(frozen=True)
class Spec:
    """One registered indicator."""

    name: str
    params: type[IndicatorParams]
    stream: Callable[[Any, Windows], Streaming]
    batch: Callable[[Ticks, Any], np.ndarray]
    warmup: Callable[[Any], Warmup]
    doc: str
    changes_on: str = "any"  # "trade", "book" or "any"

    def depth_levels(self, params: IndicatorParams) -> tuple[int, ...]:
        """Book depths the batch form needs precomputed in `Ticks.depth`."""
        levels = getattr(params, "levels", None)
        return (levels,) if isinstance(levels, int) and levels > 1 else ()


REGISTRY: dict[str, Spec] = {}


def indicator(name: str, params: type[IndicatorParams]) -> Callable[[type[Any]], type[Any]]:
    """Class decorator: register a streaming class that has `batch` and `warmup` static methods."""

    def register(cls: type[Any]) -> type[Any]:
        if name in REGISTRY:
            raise RuntimeError(f"indicator {name} registered twice")
        changes_on = getattr(cls, "changes_on", "any")
        if changes_on not in ("trade", "book", "window", "time", "any"):
            raise RuntimeError(f"indicator {name}: changes_on must be trade, book or any")
        doc = (cls.__doc__ or "").strip()
        REGISTRY[name] = Spec(name, params, cls, cls.batch, cls.warmup, doc, changes_on)
        return cls

    return register


def load_all() -> dict[str, Spec]:
    """Import every indicator module once; returns the filled registry."""
    _import_indicators()
    return REGISTRY


@functools.cache
def _import_indicators() -> None:
    # Once per process: listing the package on every call cost ~1 ms, and validating a variant calls
    # this three times.
    from fxcli.engine import indicators

    for module in pkgutil.iter_modules(indicators.__path__):
        importlib.import_module(f"{indicators.__name__}.{module.name}")


def get(name: str) -> Spec:
    """The indicator called `name` (case-insensitive); KeyError names the known ones."""
    specs = load_all()
    spec = specs.get(name.upper())
    if spec is None:
        raise KeyError(f"unknown indicator {name!r}; known: {', '.join(sorted(specs))}")
    return spec
