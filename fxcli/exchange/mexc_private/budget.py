"""The request budget of one MEXC key: fx throttles itself below the venue's limits, and after a
429/418 sends nothing at all until the venue's Retry-After has passed.

MEXC (spec §2.4): place+cancel 12/s shared, all private requests ≤ 20/s, account 2/s. fx stays under
them (10, 16, 2) with a burst of one token, so no one-second window (sliding or fixed) ever holds
more than the venue allows, however many tasks ask at once: extra demand waits in line. listenKey
calls get 0.8/s: the venue publishes no limit for them, the fake assumes 1/s with no burst, and a
limit met exactly is broken by the first request that arrives a little late and the next on time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from fxcli.exchange.pacing import Clock, TokenBucket

Group = Literal["order", "account", "listen_key", "other"]


class OrderBudget:
    """Token buckets per request group under one total bucket, plus a block after a rate-limit answer.

    `acquire("order")` takes an order token and a total token; "account" and "listen_key" their own
    and a total token; "other" a total token. `block(s)` holds every group for `s` seconds from now.
    Callers go one at a time in arrival order, so a request waits behind an earlier one of another
    group (at most 1.25 s behind a listenKey call, 0.5 s behind an account read).
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
        self._clock = clock
        self.total = TokenBucket(1, total_per_s, clock=clock)
        self.groups: dict[str, TokenBucket] = {
            "order": TokenBucket(1, orders_per_s, clock=clock),
            "account": TokenBucket(1, account_per_s, clock=clock),
            "listen_key": TokenBucket(1, listen_key_per_s, clock=clock),
        }
        self.blocked_until = 0.0
        self.blocks = 0
        self._lock = asyncio.Lock()

    def blocked_for_s(self) -> float:
        """Seconds left of the current block (0 when not blocked)."""
        return max(0.0, self.blocked_until - self._clock())

    def block(self, retry_after_s: float) -> None:
        """No request of any group leaves before `retry_after_s` seconds from now (never shortens a block)."""
        self.blocks += 1
        self.blocked_until = max(self.blocked_until, self._clock() + max(0.0, retry_after_s))

    async def acquire(self, group: Group) -> None:
        """Wait until a request of `group` may leave now (callers are served one at a time)."""
        bucket = self.groups.get(group)
        if bucket is None and group != "other":
            raise ValueError(f"unknown request group {group!r}: order, account, listen_key or other")
        # One caller at a time: callers that took their tokens while a block was on must not all
        # leave together when it ends (a burst right after a 429 is how a 418 ban starts).
        async with self._lock:
            while True:
                await self._unblocked()
                if bucket is not None:
                    await bucket.acquire()
                await self.total.acquire()
                if self.blocked_for_s() == 0:  # no 429 arrived while this caller waited for tokens
                    return

    async def _unblocked(self) -> None:
        while (left := self.blocked_for_s()) > 0:
            await asyncio.sleep(left)
