"""Rate limits of the fake venue (docs/mexc-orders.md §2.4 fake defaults, every number a knob).

Token buckets per (API key, group): orders 12/s shared by place and cancel, every private request
20/s, account 2/s, listenKey 1/s. Over budget: 429 with `Retry-After: 1`; three 429s within 10 s
ban the key: 418 with `Retry-After: 120` for every request until the ban ends.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fake_mexc_private.replies import VenueError

DEFAULT_RATES = {"order": 12.0, "total": 20.0, "account": 2.0, "listen_key": 1.0}


class RateLimitError(VenueError):
    """A 429 or 418 with the seconds the client must wait."""

    def __init__(self, http: int, retry_after_s: int) -> None:
        super().__init__(http, http=http)
        self.retry_after_s = retry_after_s


@dataclass
class _Bucket:
    rate: float
    tokens: float
    at_s: float

    def take(self, now_s: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now_s - self.at_s) * self.rate)
        self.at_s = now_s
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class RateLimits:
    """Buckets and bans per API key; `enabled=False` lets load tests run unthrottled."""

    rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    enabled: bool = True
    ban_after: int = 3  # 429s within `ban_window_s` that earn a 418
    ban_window_s: float = 10.0
    ban_s: int = 120
    clock: Callable[[], float] = time.monotonic  # seconds; a test may freeze it
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _recent_429: dict[str, deque[float]] = field(default_factory=dict)
    _banned_until: dict[str, float] = field(default_factory=dict)

    def check(self, key: str, groups: tuple[str, ...]) -> None:
        """Spend one token of each group (and of "total") or raise 429/418."""
        if not self.enabled:
            return
        now_s = self.clock()
        until = self._banned_until.get(key, 0.0)
        if now_s < until:
            raise RateLimitError(418, max(1, round(until - now_s)))
        for group in ("total", *groups):
            rate = self.rates.get(group)
            if rate is None:
                continue
            bucket = self._buckets.setdefault((key, group), _Bucket(rate, rate, now_s))
            bucket.rate = rate
            if not bucket.take(now_s):
                self.limited(key, now_s)

    def limited(self, key: str, now_s: float) -> None:
        """Answer 429, or 418 and a ban when this is the third 429 within the window."""
        recent = self._recent_429.setdefault(key, deque())
        recent.append(now_s)
        while recent and recent[0] < now_s - self.ban_window_s:
            recent.popleft()
        if len(recent) >= self.ban_after:
            recent.clear()
            self._banned_until[key] = now_s + self.ban_s
            raise RateLimitError(418, self.ban_s)
        raise RateLimitError(429, 1)

    def ban(self, key: str, now_s: float, seconds: int) -> None:
        """Ban `key` for `seconds` (an F6 fault)."""
        self._banned_until[key] = now_s + seconds

    def reset(self) -> None:
        """Forget every bucket and ban."""
        self._buckets.clear()
        self._recent_429.clear()
        self._banned_until.clear()
