"""The venue's clock a live session ticks on: local receive time minus the measured skew."""

from __future__ import annotations

from fxcli.live.venue_clock import RECOMPUTE_EVERY, VenueClock

MS = 1_000_000


def test_venue_clock_is_unknown_before_any_event() -> None:
    assert VenueClock().now_ns(123) is None


def test_venue_clock_subtracts_the_median_skew_not_a_spike() -> None:
    clock = VenueClock()

    for k in range(RECOMPUTE_EVERY * 3):
        skew = 900 * MS if k % 10 == 0 else 40 * MS  # one latency spike in ten
        clock.observe(1_000 * MS * k + skew, 1_000 * MS * k)

    assert clock.skew_ns == 40 * MS
    assert clock.now_ns(5_000 * MS) == 4_960 * MS
