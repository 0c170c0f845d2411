"""Pacing for talking to a venue: a token bucket, capped exponential backoff with full jitter, and a
circuit breaker.

All three take an injectable monotonic clock (seconds) so they can be tested without sleeping; the
connection manager and the REST client share nothing else.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from enum import StrEnum

Clock = Callable[[], float]
"""A monotonic clock in seconds."""


class TokenBucket:
    """`burst` tokens, refilled continuously at `rate_per_s`; `acquire` waits for a token.

    MEXC spot: a subscription request costs one token; burst 30, 5/s stays far below the venue's 100
    messages/s per connection while letting a fresh connection subscribe at once.
    """

    def __init__(self, burst: int, rate_per_s: float, *, clock: Clock = time.monotonic) -> None:
        if burst < 1 or rate_per_s <= 0:
            raise ValueError(f"token bucket needs burst >= 1 and rate > 0, got {burst}, {rate_per_s}")
        self.burst = burst
        self.rate_per_s = rate_per_s
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()

    @property
    def tokens(self) -> float:
        """Tokens available now (fractional while refilling)."""
        self._refill()
        return self._tokens

    def try_acquire(self, n: float = 1.0) -> bool:
        """Take `n` tokens if they are there now; never waits."""
        self._refill()
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def wait_s(self, n: float = 1.0) -> float:
        """Seconds until `n` tokens will be available (0 if they are now)."""
        self._refill()
        return max(0.0, (n - self._tokens) / self.rate_per_s)

    async def acquire(self, n: float = 1.0) -> None:
        """Wait until `n` tokens are available and take them; callers are served first come, first served."""
        if n > self.burst:
            raise ValueError(f"cannot take {n} tokens from a bucket of {self.burst}")
        async with self._lock:
            while not self.try_acquire(n):
                await asyncio.sleep(self.wait_s(n))

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate_per_s)
        self._stamp = now


class Backoff:
    """Capped exponential backoff with full jitter: attempt k waits U(0, min(cap, base * 2**k)).

    Full jitter keeps N connections from reconnecting in lock-step after a network blip; the cap
    keeps a recorder retrying at a steady pace for as long as the outage lasts (it never gives up).
    """

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, *, rng: random.Random | None = None) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError(f"backoff needs 0 < base <= cap, got base {base_s}, cap {cap_s}")
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempts = 0
        self._rng = rng or random.Random()

    def ceiling_s(self) -> float:
        """The upper bound of the next delay."""
        return min(self.cap_s, self.base_s * 2.0 ** min(self.attempts, 64))

    def next_delay(self, *, at_least_s: float = 0.0) -> float:
        """The delay before the next attempt (and count the attempt); `at_least_s` honours Retry-After."""
        delay = self._rng.uniform(0.0, self.ceiling_s())
        self.attempts += 1
        return max(delay, at_least_s)

    def reset(self) -> None:
        """Start again from the base after a success."""
        self.attempts = 0


class BreakerState(StrEnum):
    """Where a circuit breaker is."""

    CLOSED = "closed"  # calls go through; failures are counted
    OPEN = "open"  # calls are refused until the open period has passed
    HALF_OPEN = "half_open"  # trial calls go through; successes close it, a failure opens it again


class BreakerOpenError(Exception):
    """A call was refused because the breaker is open; `retry_in_s` says when it will half-open."""

    def __init__(self, name: str, retry_in_s: float) -> None:
        super().__init__(f"{name} circuit breaker is open; retry in {retry_in_s:.1f} s")
        self.retry_in_s = retry_in_s


class CircuitBreaker:
    """`failure_threshold` consecutive failures open it for `open_s`; then it half-opens, and
    `success_threshold` successes close it again (any failure while half-open re-opens it).

    Used for dials and REST snapshot fetches: while a venue is down, callers wait instead of hammering
    it, and healthy connections keep recording.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        open_s: float = 30.0,
        success_threshold: int = 3,
        clock: Clock = time.monotonic,
        on_change: Callable[[BreakerState, BreakerState], None] | None = None,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.open_s = open_s
        self.success_threshold = success_threshold
        self.failures = 0
        self.successes = 0
        self.times_opened = 0
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._on_change = on_change

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose period has passed reads as half-open)."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.open_s:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def retry_in_s(self) -> float:
        """Seconds until a call will be allowed (0 unless open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.open_s - self._clock())

    def allow(self) -> bool:
        """True if a call may go ahead now."""
        return self.state is not BreakerState.OPEN

    def check(self) -> None:
        """Raise `BreakerOpenError` if a call may not go ahead now."""
        if not self.allow():
            raise BreakerOpenError(self.name, self.retry_in_s())

    async def wait(self) -> None:
        """Sleep until the breaker lets a call through."""
        while not self.allow():
            await asyncio.sleep(max(self.retry_in_s(), 0.001))

    def record_success(self) -> None:
        """A call succeeded."""
        state = self.state
        self.failures = 0
        if state is BreakerState.OPEN:
            # A call that started before the breaker opened, and worked: the venue is back.
            self._move(BreakerState.HALF_OPEN)
            state = BreakerState.HALF_OPEN
        if state is BreakerState.HALF_OPEN:
            self.successes += 1
            if self.successes >= self.success_threshold:
                self._move(BreakerState.CLOSED)

    def record_failure(self) -> None:
        """A call failed."""
        state = self.state
        if state is BreakerState.HALF_OPEN:
            self._open()
            return
        if state is BreakerState.OPEN:
            return  # a call that started before the breaker opened; it says nothing new
        self.failures += 1
        if self.failures >= self.failure_threshold:
            self._open()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self.times_opened += 1
        self._move(BreakerState.OPEN)

    def _move(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        self.failures = 0
        self.successes = 0
        if old is not new and self._on_change is not None:
            self._on_change(old, new)
