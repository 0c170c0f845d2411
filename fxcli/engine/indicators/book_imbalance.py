"""BOOK_IMBALANCE: bid-versus-ask resting quantity over the best levels of the book."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import Warmup, indicator
from fxcli.engine.state import MarketState
from fxcli.engine.ticks import Ticks
from fxcli.engine.windows import Windows
from fxcli.model.limits import MAX_COUNT

NAN = float("nan")


class BookImbalanceParams(IndicatorParams):
    levels: int = Field(
        5,
        ge=1,
        le=MAX_COUNT,
        description="Best price levels summed per side; 1 uses the book ticker's quantities.",
    )


def _imbalance(bid_qty: float, ask_qty: float) -> float:
    total = bid_qty + ask_qty
    return (bid_qty - ask_qty) / total if total > 0 else NAN


@indicator("BOOK_IMBALANCE", BookImbalanceParams)
class BookImbalance:
    """(B - A) / (B + A), from -1 (only asks) to 1 (only bids).

    B and A are the summed quantities of the best `levels` bid and ask levels of the L2 book (an
    empty side sums to 0); with `levels` = 1, or before any L2 book, they are the top-of-book
    quantities (ticker or L2, whichever updated last). NaN until both are known, when B + A = 0, and
    with `levels` = 1 while a side of the L2 book is empty (its top-of-book quantity is unknown).
    """

    changes_on = "book"  # the value moves only on book events
    __slots__ = ("levels", "value")

    def __init__(self, p: BookImbalanceParams, windows: Windows) -> None:
        self.levels = p.levels
        self.value = NAN

    def update(self, s: MarketState) -> float:
        # A trade never changes the book: only book events pay for summing the levels.
        if not s.is_trade:
            bid_qty, ask_qty = (s.bid_qty, s.ask_qty) if self.levels == 1 else s.depth(self.levels)
            self.value = _imbalance(bid_qty, ask_qty)
        return self.value

    @staticmethod
    def batch(ticks: Ticks, p: BookImbalanceParams) -> np.ndarray:
        if p.levels == 1:
            bid_qty, ask_qty = ticks.bid_qty, ticks.ask_qty
        elif p.levels in ticks.depth:
            bid_qty, ask_qty = ticks.depth[p.levels]
        elif np.isnan(ticks.bid_qty).all() and np.isnan(ticks.ask_qty).all():
            # No book on any row (e.g. `Ticks.from_trades`): the stream is NaN throughout as well.
            return np.full(len(ticks), np.nan)
        else:
            raise ValueError(
                f"Ticks.depth has no {p.levels}-level sums: build Ticks.from_events with "
                "depth_levels=Spec.depth_levels(params)"
            )
        total = bid_qty + ask_qty
        out = np.full(len(ticks), np.nan)
        # Divide only where defined: an empty book's 0 / 0 would raise numpy's invalid-value warning.
        np.divide(bid_qty - ask_qty, total, out=out, where=total > 0)
        return out

    @staticmethod
    def warmup(p: BookImbalanceParams) -> Warmup:
        return Warmup(trades=0, needs_book=True)
