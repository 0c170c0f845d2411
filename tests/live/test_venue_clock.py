"""The venue's clock a live session ticks on: local receive time minus the measured skew."""

from __future__ import annotations

from fxcli.live.venue_clock import RECOMPUTE_EVERY, SAMPLES, VenueClock

MS = 1_000_000


def test_venue_clock_is_unknown_before_any_event() -> None:
    assert VenueClock().now_ns(123) is None


def test_venue_clock_waits_for_the_slowest_recent_delivery() -> None:
    """A tick must come after every event stamped before it that arrives with a recent latency, as
    it does in a replay: the skew is the largest recent one, taken at once."""
    clock = VenueClock()

    for k in range(RECOMPUTE_EVERY * 3):
        skew = 900 * MS if k % 10 == 0 else 40 * MS  # one slow delivery in ten
        clock.observe(1_000 * MS * k + skew, 1_000 * MS * k)

    assert clock.skew_ns == 900 * MS
    assert clock.now_ns(5_000 * MS) == 4_100 * MS


def test_a_slow_delivery_stops_counting_once_it_left_the_window() -> None:
    clock = VenueClock()
    clock.observe(900 * MS, 0)

    for k in range(1, SAMPLES + RECOMPUTE_EVERY + 1):
        clock.observe(1_000 * MS * k + 40 * MS, 1_000 * MS * k)

    assert clock.skew_ns == 40 * MS
