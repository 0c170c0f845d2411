"""The venue's clock as a live session sees it: receive time corrected by the measured skew.

The skew is the median of `received - exchange` over the last `SAMPLES` batches of events (network
latency included, as `fx import` estimates a capture's skew): the grid tick at g fires once the
venue's clock, so estimated, passes g, which is when a typical event stamped just before g has
already arrived. An event that arrives later than that (a latency spike) still counts, but engine
time has already moved past it, which a replay of the recording (ordered by exchange time) would not
do: that is the one way a live clock tick can differ from a replay's.
"""

from __future__ import annotations

from collections import deque

SAMPLES = 255  # odd: one middle value
RECOMPUTE_EVERY = 32  # samples between sorts: the median costs O(1) amortised per batch


class VenueClock:
    """Receive-minus-exchange skew, and the venue's time estimated from the local clock."""

    def __init__(self) -> None:
        self._samples: deque[int] = deque(maxlen=SAMPLES)
        self._since = 0
        self.skew_ns: int | None = None  # None until the first event

    def observe(self, received_ns: int, exchange_ns: int) -> None:
        """One event's receive and exchange times."""
        self._samples.append(received_ns - exchange_ns)
        self._since += 1
        if self.skew_ns is None or self._since >= RECOMPUTE_EVERY:
            ordered = sorted(self._samples)
            self.skew_ns = ordered[len(ordered) // 2]
            self._since = 0

    def now_ns(self, local_ns: int) -> int | None:
        """The venue's clock at local time `local_ns`; None before any event was seen."""
        return None if self.skew_ns is None else local_ns - self.skew_ns
