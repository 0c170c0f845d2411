"""The venue's clock as a live session sees it: receive time corrected by the measured skew.

The skew is the largest `received - exchange` over the last `SAMPLES` batches of events (the clock
offset plus the slowest recent delivery), so the grid tick at g fires once every event stamped
before g has arrived with the latencies seen lately: the tick then comes after those events, as a
replay of the recording (ordered by exchange time) places it. The median would fire earlier by the
latency jitter, and every event later than the median that is stamped just before g would be
processed after the tick live and before it in a replay: a decision that differs. The price is that
lag: a latency spike delays ticks by its size until `SAMPLES` batches have passed. An event slower
than every recent one is still the one way a live clock tick can differ from a replay.
"""

from __future__ import annotations

from collections import deque

SAMPLES = 255
RECOMPUTE_EVERY = 32  # samples between scans: the maximum costs O(1) amortised per batch


class VenueClock:
    """Receive-minus-exchange skew, and the venue's time estimated from the local clock."""

    def __init__(self) -> None:
        self._samples: deque[int] = deque(maxlen=SAMPLES)
        self._since = 0
        self.skew_ns: int | None = None  # None until the first event

    def observe(self, received_ns: int, exchange_ns: int) -> None:
        """One batch's receive time and the exchange time of its last event."""
        skew = received_ns - exchange_ns
        self._samples.append(skew)
        self._since += 1
        if self.skew_ns is None or skew > self.skew_ns:
            self.skew_ns = skew  # a slower delivery counts at once
        elif self._since >= RECOMPUTE_EVERY:  # an old maximum leaves the window
            self.skew_ns = max(self._samples)
            self._since = 0

    def now_ns(self, local_ns: int) -> int | None:
        """The venue's clock at local time `local_ns`; None before any event was seen."""
        return None if self.skew_ns is None else local_ns - self.skew_ns
