"""An L2 order book with version-continuity checks, top-N and a walk for a size."""

from __future__ import annotations

from bisect import bisect_left, insort
from enum import StrEnum

import msgspec

from fxcli.model.events import BookDelta, BookSnapshot, Level, Side


class Applied(StrEnum):
    """What `OrderBook.apply_delta` did with a delta."""

    APPLIED = "applied"
    STALE = "stale"  # entirely at or below the book's version: already reflected, ignored
    GAP = "gap"  # starts after version + 1: updates are missing, book left untouched
    NO_BASE = "no_base"  # no snapshot yet: nothing to apply onto


class Walk(msgspec.Struct, frozen=True):
    """The result of taking `wanted_qty` from one side of the book, best level first."""

    wanted_qty: float
    filled_qty: float
    notional: float
    levels: int

    @property
    def avg_price(self) -> float:
        """Volume-weighted price of what was filled; NaN when nothing was."""
        return self.notional / self.filled_qty if self.filled_qty > 0 else float("nan")

    @property
    def is_partial(self) -> bool:
        """True when the book ran out of depth before `wanted_qty` was filled."""
        return self.filled_qty < self.wanted_qty


class _Ladder:
    """One side: price -> qty, plus sorted keys (bids keyed by -price so the best is always first)."""

    __slots__ = ("keys", "qty", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.qty: dict[float, float] = {}
        self.keys: list[float] = []

    def clear(self) -> None:
        self.qty.clear()
        self.keys.clear()

    def set(self, price: float, qty: float) -> None:
        key = self.sign * price
        if qty > 0:
            if price not in self.qty:
                insort(self.keys, key)
            self.qty[price] = qty
        elif price in self.qty:
            del self.qty[price]
            del self.keys[bisect_left(self.keys, key)]

    def best(self) -> Level | None:
        if not self.keys:
            return None
        price = self.sign * self.keys[0]
        return (price, self.qty[price])

    def top(self, n: int) -> list[Level]:
        return [(self.sign * k, self.qty[self.sign * k]) for k in self.keys[:n]]

    def total(self, n: int) -> float:
        qty, sign = self.qty, self.sign
        return sum([qty[sign * k] for k in self.keys[:n]])


class OrderBook:
    """L2 book for one symbol. Deltas must continue (or overlap) the version chain, or they are refused."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.version: int | None = None
        self.exchange_ts_ns = 0
        self._bids = _Ladder(-1)
        self._asks = _Ladder(+1)
        self._just_synced = False
        self.overlaps = 0  # deltas applied whole although their versions overlapped the book's

    def apply_snapshot(self, snapshot: BookSnapshot) -> None:
        """Replace the whole book with `snapshot`."""
        self._bids.clear()
        self._asks.clear()
        for price, qty in snapshot.bids:
            self._bids.set(price, qty)
        for price, qty in snapshot.asks:
            self._asks.set(price, qty)
        self.version = snapshot.version
        self.exchange_ts_ns = snapshot.exchange_ts_ns
        self._just_synced = True

    def apply_delta(self, delta: BookDelta) -> Applied:
        """Apply `delta` if it continues the chain or overlaps the book's version (its quantities are
        absolute, so applying it whole is safe); the first delta after a snapshot may straddle it."""
        if self.version is None:
            return Applied.NO_BASE
        if delta.to_version <= self.version:
            return Applied.STALE
        if delta.from_version > self.version + 1:
            return Applied.GAP
        if delta.from_version <= self.version and not self._just_synced:
            self.overlaps += 1  # e.g. two connections that batch a venue's diffs differently
        for price, qty in delta.bids:
            self._bids.set(price, qty)
        for price, qty in delta.asks:
            self._asks.set(price, qty)
        self.version = delta.to_version
        self.exchange_ts_ns = delta.exchange_ts_ns
        self._just_synced = False
        return Applied.APPLIED

    def best_bid(self) -> Level | None:
        """Highest bid (price, qty), or None."""
        return self._bids.best()

    def best_ask(self) -> Level | None:
        """Lowest ask (price, qty), or None."""
        return self._asks.best()

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        """The best `n` bids (descending) and asks (ascending)."""
        return self._bids.top(n), self._asks.top(n)

    def sizes(self, n: int) -> tuple[float, float]:
        """Summed quantity of the best `n` bids and the best `n` asks (`top` without the levels)."""
        return self._bids.total(n), self._asks.total(n)

    def depth(self) -> tuple[int, int]:
        """Number of bid and ask levels."""
        return len(self._bids.qty), len(self._asks.qty)

    @property
    def is_crossed(self) -> bool:
        """True when best bid >= best ask: the book cannot be right."""
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid[0] >= ask[0]

    def walk(self, side: Side, qty: float) -> Walk:
        """Take `qty` as a market order of `side` (BUY walks the asks), best level first."""
        ladder = self._asks if side is Side.BUY else self._bids
        remaining, notional, levels = qty, 0.0, 0
        for key in ladder.keys:
            if remaining <= 0:
                break
            price = ladder.sign * key
            take = min(remaining, ladder.qty[price])
            notional += take * price
            remaining -= take
            levels += 1
        return Walk(wanted_qty=qty, filled_qty=qty - max(remaining, 0.0), notional=notional, levels=levels)
