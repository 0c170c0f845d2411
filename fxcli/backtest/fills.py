"""The fill model: market orders decided at t execute at t + latency against the book at that moment.

Where the L2 book is known, the order walks its levels (a partial fill when depth runs out: the
liquidity limit); with only a book ticker it crosses the best bid/ask; with neither, it trades at
the last trade price moved against it by `slippage_bps`. Fees are taker fees in bps of notional.
Every fill keeps a quality line, in bps of the mid at decision time, that splits the cost into
spread (best vs mid at decision), latency (the best price moved before execution) and slippage
(the walk through the levels, or the configured slippage when only the last trade is known).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fxcli.engine.state import MarketState
from fxcli.model.events import Side

BPS = 1e4


@dataclass(frozen=True)
class Costs:
    """Execution assumptions of a run."""

    latency_ms: float = 50.0
    taker_fee_bps: float = 10.0
    maker_fee_bps: float = 0.0
    slippage_bps: float = 5.0

    @property
    def latency_ns(self) -> int:
        """Latency in ns."""
        return round(self.latency_ms * 1_000_000)


@dataclass(frozen=True)
class Quote:
    """What the book said when an order was decided."""

    ts_ns: int
    bid: float
    ask: float
    last: float

    @property
    def mid(self) -> float:
        """Mid of bid/ask, else the last trade."""
        return (self.bid + self.ask) / 2.0 if self.bid == self.bid and self.ask == self.ask else self.last

    def best(self, side: int) -> float:
        """The price a market order of `side` would see first (ask for buys)."""
        best = self.ask if side > 0 else self.bid
        return best if best == best else self.last

    @staticmethod
    def of(state: MarketState) -> Quote:
        """The quote in a market state now."""
        return Quote(state.now_ns, state.bid, state.ask, state.price)


@dataclass(frozen=True)
class Fill:
    """One execution and its quality line."""

    decided_ts_ns: int
    ts_ns: int
    side: int
    qty: float
    wanted_qty: float
    price: float
    notional: float
    fee: float
    source: str  # "l2", "top_of_book", "last_trade", or "book_unknown" (last trade, inside a book gap)
    levels: int
    mid_at_decision: float
    expected_price: float  # best price at decision time
    spread_bps: float
    latency_bps: float
    slippage_bps: float

    @property
    def is_partial(self) -> bool:
        """True when the book could not fill all that was wanted."""
        return self.qty < self.wanted_qty * (1 - 1e-12)

    @property
    def cost_bps(self) -> float:
        """Everything lost against the mid at decision, in bps (fees excluded)."""
        return self.spread_bps + self.latency_bps + self.slippage_bps


def execute(
    state: MarketState,
    decided: Quote,
    side: int,
    costs: Costs,
    *,
    qty: float = 0.0,
    notional: float = 0.0,
) -> Fill | None:
    """Fill a market order of `side` for `qty` base (or `notional` quote) against `state` now.

    None when nothing can be priced (no book and no trade yet).
    """
    best_now = Quote.of(state).best(side)
    if state.has_l2:
        source = "l2"
        if qty <= 0:
            qty = _qty_for_notional(state, side, notional)
        walk = state.book.walk(Side(side), qty)
        filled, spent, levels = walk.filled_qty, walk.notional, walk.levels
        if filled <= 0:
            return None
    elif not math.isnan(state.ask if side > 0 else state.bid):
        source = "top_of_book"
        qty = qty if qty > 0 else notional / best_now
        filled, spent, levels = qty, qty * best_now, 1
    elif state.trades_seen:
        source = "book_unknown" if state.book_hidden else "last_trade"
        best_now = state.price
        price = best_now * (1.0 + side * costs.slippage_bps / BPS)
        qty = qty if qty > 0 else notional / price
        filled, spent, levels = qty, qty * price, 0
    else:
        return None
    avg = spent / filled
    mid = decided.mid
    expected = decided.best(side)
    return Fill(
        decided_ts_ns=decided.ts_ns,
        ts_ns=state.now_ns,
        side=side,
        qty=filled,
        wanted_qty=qty,
        price=avg,
        notional=spent,
        fee=spent * costs.taker_fee_bps / BPS,
        source=source,
        levels=levels,
        mid_at_decision=mid,
        expected_price=expected,
        spread_bps=side * (expected - mid) / mid * BPS,
        latency_bps=side * (best_now - expected) / mid * BPS,
        slippage_bps=side * (avg - best_now) / mid * BPS,
    )


def _qty_for_notional(state: MarketState, side: int, notional: float) -> float:
    """Base quantity whose walk through the book costs `notional` (all available depth if less)."""
    bids, asks = state.book.top(10_000)
    levels = asks if side > 0 else bids
    qty, left = 0.0, notional
    for price, size in levels:
        cost = price * size
        if cost >= left:
            return qty + left / price
        qty += size
        left -= cost
    return qty + (left / levels[-1][0] if levels else 0.0)  # more than the book holds: a partial fill
