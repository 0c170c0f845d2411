"""The fake venue's truth: per-symbol books with versions, and trade logs, generated from a seed.

Prices sit on a tick grid around a fixed mid (bids below, asks above), so the book never crosses;
every diff carries absolute quantities (0 deletes) and a version range `from = last + 1 .. to`.
Prices and quantities are kept as decimal strings, so a test compares exactly what a client parsed.
Quantities are always base units: a futures market (`contract_size` set) makes whole numbers of
contracts, keeps `contracts * contract_size` as its truth, and the server converts back to contracts
on the wire (`to_contracts`). Times come from the market's `clock` (the venue's clock, ms).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Diff:
    """One depth diff as the venue publishes it."""

    symbol: str
    from_version: int
    to_version: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    time_ms: int


@dataclass(frozen=True)
class TradeRecord:
    """One trade print; `trade_id` is unique per market."""

    symbol: str
    trade_id: int
    price: str
    qty: str
    side: int  # 1 buy, 2 sell (MEXC tradeType / futures T)
    time_ms: int


@dataclass
class SymbolMarket:
    """One symbol's book and trade generator."""

    symbol: str
    rng: random.Random
    mid_ticks: int = 10_000
    tick_decimals: int = 2
    levels: int = 20
    version: int = 1_000_000
    next_trade_id: int = 1
    bids: dict[str, str] = field(default_factory=dict)
    asks: dict[str, str] = field(default_factory=dict)
    contract_size: Decimal | None = None  # base units per contract (futures); None: spot
    clock: Callable[[], int] = field(default=lambda: now_ms())

    def __post_init__(self) -> None:
        for k in range(1, self.levels + 1):
            self.bids[self._price(self.mid_ticks - k)] = self._qty()
            self.asks[self._price(self.mid_ticks + k)] = self._qty()

    def next_diff(self) -> Diff:
        """Change 1-3 levels (sometimes deleting one) and advance the version by 1-3."""
        bids: list[tuple[str, str]] = []
        asks: list[tuple[str, str]] = []
        for _ in range(self.rng.randint(1, 3)):
            is_bid = self.rng.random() < 0.5
            k = self.rng.randint(1, self.levels + 5)
            price = self._price(self.mid_ticks - k if is_bid else self.mid_ticks + k)
            qty = "0" if self.rng.random() < 0.2 else self._qty()
            book, out = (self.bids, bids) if is_bid else (self.asks, asks)
            if qty == "0":
                book.pop(price, None)
            else:
                book[price] = qty
            out.append((price, qty))
        start = self.version + 1
        self.version += self.rng.randint(1, 3)
        return Diff(self.symbol, start, self.version, bids, asks, self.clock())

    def next_trade(self) -> TradeRecord:
        """A trade near the touch."""
        side = self.rng.choice((1, 2))
        price = self._price(self.mid_ticks + (1 if side == 1 else -1))
        trade = TradeRecord(self.symbol, self.next_trade_id, price, self._qty(), side, self.clock())
        self.next_trade_id += 1
        return trade

    def snapshot(self, limit: int) -> tuple[int, list[tuple[str, str]], list[tuple[str, str]]]:
        """(version, best `limit` bids descending, best `limit` asks ascending)."""
        bids = sorted(self.bids.items(), key=lambda kv: -float(kv[0]))[:limit]
        asks = sorted(self.asks.items(), key=lambda kv: float(kv[0]))[:limit]
        return self.version, bids, asks

    def book_floats(self) -> tuple[dict[float, float], dict[float, float]]:
        """The whole book as floats, as a client parses it."""
        return (
            {float(p): float(q) for p, q in self.bids.items()},
            {float(p): float(q) for p, q in self.asks.items()},
        )

    def _price(self, ticks: int) -> str:
        return f"{ticks / 10**self.tick_decimals:.{self.tick_decimals}f}"

    def _qty(self) -> str:
        units = self.rng.randint(1, 50_000)
        if self.contract_size is None:
            return f"{units / 1000:.3f}"
        return decimal_text(units * self.contract_size)  # `units` whole contracts, in base units


def to_contracts(qty: str, contract_size: Decimal) -> str:
    """A base-unit quantity as the venue's contract count: `"0.0003"` at 0.0001 per contract is `"3"`."""
    return decimal_text(Decimal(qty) / contract_size)


def decimal_text(value: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros: `Decimal("5E+1")` is `"50"`."""
    return format(value.normalize(), "f")


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return time.time_ns() // 1_000_000


def merge_diffs(diffs: list[Diff]) -> Diff:
    """Consecutive diffs of one symbol as one push: the first `from`, the last `to`, the last quantity
    of every price (absolute quantities: the merge means the same book)."""
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    for diff in diffs:
        bids.update(diff.bids)
        asks.update(diff.asks)
    last = diffs[-1]
    return Diff(
        last.symbol,
        diffs[0].from_version,
        last.to_version,
        list(bids.items()),
        list(asks.items()),
        last.time_ms,
    )
