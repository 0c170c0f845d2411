"""Shared streaming trade windows: one per distinct `(t1, t2)`, updated once per event for all readers.

A trade waits in `pending` until it is `t2` old, is `inside` while `now - t1 <= ts <= now - t2`, and
the last trade evicted is kept as the `anchor` (the price in force at the window's start). Sums,
count and min/max deques change only when trades enter or leave: O(1) amortised per event, memory
bounded by the window length. The batch kernels in `kernels.py` perform the same additions and
subtractions in the same order, so the twins agree to the last bit.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from fxcli.engine.state import MarketState
from fxcli.model.units import NS_PER_S

NAN = float("nan")
NEVER = 2**63  # a due time no engine time reaches

# A trade as a window keeps it: (ts_ns, price, qty, integral at ts, serial number, is_rush_fill);
# Final ints let mypy type each tuple slot.
TS: Final = 0
PRICE: Final = 1
QTY: Final = 2
INTEGRAL: Final = 3
SERIAL: Final = 4
RUSH: Final = 5


class TradeWindow:
    """Trades with `now - t1 <= ts <= now - t2`, with running aggregates."""

    __slots__ = (
        "_twpa",
        "_twpa_now",
        "anchor",
        "changed_ns",
        "count",
        "due_ns",
        "inside",
        "maxq",
        "minq",
        "notional",
        "pending",
        "rush",
        "t1_ns",
        "t2_ns",
        "track_extremes",
        "volume",
    )

    def __init__(self, t1_ns: int, t2_ns: int) -> None:
        self.t1_ns, self.t2_ns = t1_ns, t2_ns
        self.pending: deque[tuple[int, float, float, float, int, int]] = deque()
        self.inside: deque[tuple[int, float, float, float, int, int]] = deque()
        self.anchor: tuple[int, float, float, float, int, int] | None = None
        self.maxq: deque[tuple[int, float, float, float, int, int]] = deque()
        self.minq: deque[tuple[int, float, float, float, int, int]] = deque()
        self.volume = 0.0
        self.notional = 0.0
        self.count = 0
        self.rush = 0
        self.track_extremes = False  # set by MAX_PRICE / MIN_PRICE before the first trade
        self._twpa_now = -1
        self._twpa = NAN
        self.due_ns = NEVER
        self.changed_ns = -1  # engine time of the last event that moved a trade in or out

    def advance(self, now_ns: int, trade: tuple[int, float, float, float, int, int] | None) -> None:
        """Move the window to `now_ns`, after adding `trade` (if this event is one)."""
        changed = False
        if trade is not None:
            if self.t2_ns == 0:
                self._enter(trade)  # a window ending now takes a trade at once: no waiting queue
                changed = True
            else:
                self.pending.append(trade)
        pending = self.pending
        if pending:
            edge_in = now_ns - self.t2_ns
            while pending and pending[0][TS] <= edge_in:
                self._enter(pending.popleft())
                changed = True
        inside = self.inside
        edge_out = now_ns - self.t1_ns
        while inside and inside[0][TS] < edge_out:
            changed = True
            t = inside.popleft()
            self.anchor = t
            self.count -= 1
            self.rush -= t[RUSH]
            if self.count == 0:
                self.volume = self.notional = 0.0  # no residue of float round-off in an empty window
            else:
                self.volume -= t[QTY]
                self.notional -= t[PRICE] * t[QTY]
            if self.track_extremes:
                if self.maxq[0][SERIAL] == t[SERIAL]:
                    self.maxq.popleft()
                if self.minq[0][SERIAL] == t[SERIAL]:
                    self.minq.popleft()
        if changed:
            self.changed_ns = now_ns
            self._twpa_now = -1
        # The next engine time at which a pending trade enters or the oldest inside one leaves.
        due = NEVER
        if pending:
            due = pending[0][TS] + self.t2_ns
        if inside:
            leave = inside[0][TS] + self.t1_ns + 1
            if leave < due:
                due = leave
        self.due_ns = due

    def _enter(self, t: tuple[int, float, float, float, int, int]) -> None:
        self.inside.append(t)
        self.volume += t[QTY]
        self.notional += t[PRICE] * t[QTY]
        self.count += 1
        self.rush += t[RUSH]
        if not self.track_extremes:
            return
        maxq, minq = self.maxq, self.minq
        while maxq and maxq[-1][PRICE] <= t[PRICE]:
            maxq.pop()
        maxq.append(t)
        while minq and minq[-1][PRICE] >= t[PRICE]:
            minq.pop()
        minq.append(t)

    @property
    def is_covered(self) -> bool:
        """True once a trade older than the window's start has been seen: the window is not partial."""
        return self.anchor is not None

    def price_at_end(self) -> float:
        """Price in force at `now - t2`: the newest trade inside, else the anchor; NaN if none."""
        if self.inside:
            return self.inside[-1][PRICE]
        return self.anchor[PRICE] if self.anchor is not None else NAN

    def momentum(self) -> float:
        """% change per second over the window: 100 * (end - start) / start / (t1 - t2 in seconds), where
        start is the anchor's price (in force just before `now - t1`) and end is `price_at_end()`.

        NaN until the window is covered, or when the start price is 0.
        """
        anchor = self.anchor
        if anchor is None:
            return NAN
        start = anchor[PRICE]
        if start == 0.0:
            return NAN
        end = self.inside[-1][PRICE] if self.inside else start
        return 100.0 * (end - start) / start / ((self.t1_ns - self.t2_ns) / NS_PER_S)

    def twpa(self, now_ns: int) -> float:
        """Time-weighted average of the last-trade price over the window; NaN until it is covered."""
        if now_ns == self._twpa_now:
            return self._twpa
        anchor = self.anchor
        if anchor is None:
            return NAN
        start, end = now_ns - self.t1_ns, now_ns - self.t2_ns
        last = self.inside[-1] if self.inside else anchor
        at_end = last[INTEGRAL] + last[PRICE] * (end - last[TS])
        at_start = anchor[INTEGRAL] + anchor[PRICE] * (start - anchor[TS])
        self._twpa_now = now_ns
        self._twpa = value = (at_end - at_start) / (end - start)
        return value


class Windows:
    """The shared windows of one symbol's pipeline, and the per-trade tuple they all receive."""

    def __init__(self, state: MarketState) -> None:
        self.state = state
        self.by_span: dict[tuple[int, int], TradeWindow] = {}
        self._all: list[TradeWindow] = []
        self.requested: list[TradeWindow] = []  # every get(), in order: tells who reads which window
        self._serial = 0
        self.due_ns = NEVER  # the earliest due time of any window

    def get(self, t1_ns: int, t2_ns: int, *, extremes: bool = False) -> TradeWindow:
        """The window for `(t1, t2)`, created on first request and then shared; `extremes` keeps
        its max/min deques (only MAX_PRICE and MIN_PRICE read them)."""
        key = (t1_ns, t2_ns)
        window = self.by_span.get(key)
        if window is None:
            window = self.by_span[key] = TradeWindow(t1_ns, t2_ns)
            self._all.append(window)
        window.track_extremes |= extremes
        self.requested.append(window)
        return window

    def advance(self) -> None:
        """Feed the current event (from the state) to every window."""
        s = self.state
        now = s.now_ns
        due = NEVER
        if s.is_trade:
            self._serial += 1
            trade = (now, s.price, s.qty, s.integral, self._serial, s.rush_fill)
            for window in self._all:
                pending = window.pending
                if pending and now < window.due_ns and window.t2_ns:
                    pending.append(trade)  # behind older pending trades: nothing else is due
                else:
                    window.advance(now, trade)
                if window.due_ns < due:
                    due = window.due_ns
            self.due_ns = due
            return
        # Without a trade a window changes only when a trade leaves it or a pending one enters.
        if now < self.due_ns:
            return
        for window in self._all:
            if now >= window.due_ns:
                window.advance(now, None)
            if window.due_ns < due:
                due = window.due_ns
        self.due_ns = due
