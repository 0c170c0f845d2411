"""The request budget of one MEXC key: fx throttles itself below the venue's limits, and after a
429/418 sends nothing at all until the venue's Retry-After has passed.

MEXC (spec §2.4): place+cancel 12/s shared, all private requests ≤ 20/s, account 2/s. fx stays under
them (10, 16, 2) with a burst of one, so no one-second window (sliding or fixed) ever holds
more than the venue allows, however many tasks ask at once: extra demand waits in line. listenKey
calls get 0.8/s: the venue publishes no limit for them, the fake assumes 1/s with no burst, and a
limit met exactly is broken by the first request that arrives a little late and the next on time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Literal

from fxcli.exchange.pacing import Clock

Group = Literal["order", "account", "listen_key", "other"]


class OrderBudget:
    """Per-group request pacing under one total pace, plus a block after a rate-limit answer.

    `acquire("order")` takes an order slot and a total slot; "account" and "listen_key" their own
    and a total slot; "other" a total slot. `block(s)` holds every group for `s` seconds from now.
    Each caller reserves the earliest slot every bucket allows (a burst of one: consecutive
    requests of a bucket at least 1/rate apart) and sleeps until it, so callers leave in arrival
    order and a request waits behind an earlier one of another group (at most 1.25 s behind a
    listenKey call, 0.5 s behind an account read).

    One budget serves every client of one key, on any event loop and thread: the reservations are
    taken under a thread lock and the waits are plain sleeps, so the dead-man switch's client (its
    own thread and loop) and the session's client together stay within the venue's limits.
    """

    def __init__(
        self,
        orders_per_s: float = 10,
        total_per_s: float = 16,
        account_per_s: float = 2,
        listen_key_per_s: float = 0.8,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        rates = {"order": orders_per_s, "account": account_per_s, "listen_key": listen_key_per_s}
        if min(total_per_s, *rates.values()) <= 0:
            raise ValueError(f"request rates must be > 0, got total {total_per_s} and {rates}")
        self._clock = clock
        self._gap_s = {group: 1.0 / rate for group, rate in rates.items()} | {"total": 1.0 / total_per_s}
        self._next_s = dict.fromkeys(self._gap_s, float("-inf"))  # earliest next slot per bucket
        self.blocked_until = 0.0
        self.blocks = 0
        self._mutex = threading.Lock()

    def blocked_for_s(self) -> float:
        """Seconds left of the current block (0 when not blocked)."""
        return max(0.0, self.blocked_until - self._clock())

    def block(self, retry_after_s: float) -> None:
        """No request of any group leaves before `retry_after_s` seconds from now (never shortens a block)."""
        with self._mutex:
            self.blocks += 1
            self.blocked_until = max(self.blocked_until, self._clock() + max(0.0, retry_after_s))

    def _reserve(self, group: str) -> float:
        """Take the earliest slot `group` and the total allow (not before a block ends); the seconds
        until it."""
        buckets = ("total",) if group == "other" else (group, "total")
        with self._mutex:
            now = self._clock()
            slot = max(now, self.blocked_until, *(self._next_s[b] for b in buckets))
            for bucket in buckets:
                self._next_s[bucket] = slot + self._gap_s[bucket]
            return slot - now

    async def acquire(self, group: Group) -> None:
        """Wait until a request of `group` may leave now."""
        if group not in self._gap_s and group != "other":
            raise ValueError(f"unknown request group {group!r}: order, account, listen_key or other")
        while True:
            wait_s = self._reserve(group)
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            # A 429 that arrived while this caller slept: its slot is void; callers reserve again one
            # at a time after the block, spaced as before (a burst right after a 429 starts a 418 ban).
            if self.blocked_for_s() == 0:
                return
