"""Token bucket, backoff and circuit breaker on a fake clock (no sleeping)."""

from __future__ import annotations

import random

import pytest

from fxcli.exchange.pacing import Backoff, BreakerOpenError, BreakerState, CircuitBreaker, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_gives_the_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(30, 5.0, clock=clock)

    burst = sum(bucket.try_acquire() for _ in range(40))
    clock.now += 1.0
    refilled = sum(bucket.try_acquire() for _ in range(40))
    clock.now += 100.0

    assert burst == 30
    assert refilled == 5
    assert bucket.tokens == 30  # never more than the burst
    assert bucket.wait_s(31) == pytest.approx(0.2)


def test_backoff_is_full_jitter_under_a_capped_exponential_ceiling() -> None:
    backoff = Backoff(0.5, 8.0, rng=random.Random(3))

    delays = [backoff.next_delay() for _ in range(12)]
    ceilings = [min(8.0, 0.5 * 2**k) for k in range(12)]
    backoff.reset()

    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[6:]) > 4.0  # at the cap the delay really spreads up to it
    assert backoff.attempts == 0
    assert backoff.next_delay(at_least_s=3.0) >= 3.0  # Retry-After wins over the jitter


def test_breaker_opens_after_five_failures_half_opens_and_closes_after_three_successes() -> None:
    clock = Clock()
    moves: list[tuple[BreakerState, BreakerState]] = []
    breaker = CircuitBreaker("dial", clock=clock, on_change=lambda a, b: moves.append((a, b)))

    for _ in range(4):
        breaker.record_failure()
    still_closed = breaker.state
    breaker.record_failure()
    with pytest.raises(BreakerOpenError, match=r"retry in 30\.0 s"):
        breaker.check()
    clock.now += 29.9
    still_open = breaker.allow()
    clock.now += 0.2
    half = breaker.state
    breaker.record_success()
    breaker.record_success()
    not_yet = breaker.state
    breaker.record_success()

    assert still_closed is BreakerState.CLOSED
    assert still_open is False
    assert half is BreakerState.HALF_OPEN
    assert not_yet is BreakerState.HALF_OPEN
    assert breaker.state is BreakerState.CLOSED
    assert moves == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


def test_breaker_failure_while_half_open_opens_it_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker("rest", failure_threshold=2, open_s=1.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 1.0
    breaker.record_success()

    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    assert breaker.times_opened == 2
    assert breaker.retry_in_s() == pytest.approx(1.0)
