"""Rotation duplicates: the same print delivered by both connections of a make-before-break rotation.

While a rotation overlaps two connections, the same trades (and tickers, top-N books) arrive on both.
An event is keyed by the venue's trade id when it has one (futures `i`, spot `tradeId`), else by
(exchange time, price, qty, side); per key, `Dedup` counts how often each connection delivered it
within a window and, for frames flagged as overlap, admits it only when one connection has delivered
it more often than it was admitted (a multiset maximum). Genuine repeats of one print on one
connection survive; the copy from the other connection does not. Book diffs need none of this: the
book sync drops diffs whose version it has. The recorder (rows) and the stream router (what the
strategy sees) use the same rule, so a live decision and a replay of the recording see one print once.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from fxcli.model.events import BookSnapshot, BookTicker, MarketEvent, Trade
from fxcli.model.units import NS_PER_S

DEDUP_WINDOW_S = 10.0


def event_key(event: MarketEvent) -> tuple[Any, ...]:
    """What makes two deliveries of a trade, ticker or top-N snapshot the same print."""
    if isinstance(event, Trade):
        if event.trade_id is not None:
            return ("t", event.trade_id)
        return ("t", event.exchange_ts_ns, event.price, event.qty, event.side)
    if isinstance(event, BookTicker):
        sizes = (event.bid_qty, event.ask_qty)  # futures tickers have none (NaN, never equal)
        key: tuple[Any, ...] = ("b", event.exchange_ts_ns, event.update_id, event.bid_price, event.ask_price)
        return key + tuple(None if math.isnan(q) else q for q in sizes)
    if isinstance(event, BookSnapshot):
        return ("s", event.exchange_ts_ns, event.version, event.source)
    raise TypeError(f"book diffs are not de-duplicated by key: {type(event).__name__}")


class Dedup:
    """Per-key delivery counts over a sliding window: which prints a rotation overlap delivered twice."""

    def __init__(self, window_ns: int = int(DEDUP_WINDOW_S * NS_PER_S)) -> None:
        self.window_ns = window_ns
        self._seen: dict[tuple[Any, ...], list[Any]] = {}  # key -> [admitted, {conn_id: delivered}]
        self._order: deque[tuple[int, tuple[Any, ...]]] = deque()

    def admit(self, key: tuple[Any, ...], conn_id: int, now_ns: int, *, is_overlap: bool) -> bool:
        """True if this delivery of `key` on `conn_id` is to be kept."""
        order = self._order
        while order and order[0][0] < now_ns - self.window_ns:
            _, old = order.popleft()
            self._seen.pop(old, None)
        entry = self._seen.get(key)
        if entry is None:
            self._seen[key] = [1, {conn_id: 1}]
            order.append((now_ns, key))
            return True
        counts: dict[int, int] = entry[1]
        delivered = counts[conn_id] = counts.get(conn_id, 0) + 1
        if is_overlap and delivered <= entry[0]:
            return False  # the other connection of the rotation delivered this one already
        entry[0] += 1
        return True


class RotationCopies:
    """One `Dedup` per symbol: keeps each print of an event once across a rotation's two connections,
    and counts the copies it dropped."""

    def __init__(self, window_ns: int = int(DEDUP_WINDOW_S * NS_PER_S)) -> None:
        self.window_ns = window_ns
        self.dropped = 0
        self._by_symbol: dict[str, Dedup] = {}

    def admit(self, event: MarketEvent, conn_id: int, received_ts_ns: int, *, is_overlap: bool) -> bool:
        """True if this delivery of `event` on `conn_id` is to be kept."""
        dedup = self._by_symbol.get(event.symbol)
        if dedup is None:
            dedup = self._by_symbol[event.symbol] = Dedup(self.window_ns)
        if dedup.admit(event_key(event), conn_id, received_ts_ns, is_overlap=is_overlap):
            return True
        self.dropped += 1
        return False
