"""A stream session's `Consumer`: decoded events, in order, to their symbol's runner, on the loop's thread."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fxcli.exchange.adapter import Decoded
from fxcli.exchange.booksync import LiveBooks
from fxcli.exchange.connection import (
    BreakerChanged,
    Connected,
    DialFailed,
    Disconnected,
    Rejected,
    Status,
    StreamGap,
    Subscribed,
)
from fxcli.live.feed import StatusNote
from fxcli.model.events import BookDelta, BookSnapshot, Event, Gap, MarketEvent
from fxcli.model.frames import RawFrame
from fxcli.model.units import ns_to_iso

if TYPE_CHECKING:
    from fxcli.live.recorder import Recorder
    from fxcli.live.session import Session


class Router:
    """The source's `Consumer`: decoded events, in order, to their symbol's runner, on the loop's thread."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.symbols = session.symbols
        self.stats = session.feed.stats
        self.books: LiveBooks | None = None
        self.unrouted = 0
        self._rx_ns = 0
        self._in_frame = False

    def on_frame(self, frame: RawFrame) -> None:
        self.stats.frames += 1

    def on_decoded(self, frame: RawFrame, decoded: Decoded) -> None:
        events = decoded.events
        if not events:
            return
        rx = frame.received_ts_ns
        books = self.books
        run: list[MarketEvent] = []
        symbol = events[0].symbol
        self._rx_ns, self._in_frame = rx, True
        try:
            for event in events:
                if books is not None and isinstance(event, BookDelta | BookSnapshot):
                    if run:
                        self._route(symbol, rx, run)
                        run = []
                    books.on_events((event,))  # applied diffs come back through on_books, in order
                    continue
                if event.symbol != symbol:
                    if run:
                        self._route(symbol, rx, run)
                        run = []
                    symbol = event.symbol
                run.append(event)
            if run:
                self._route(symbol, rx, run)
        finally:
            self._in_frame = False

    def on_books(self, emitted: list[Event]) -> None:
        """What `LiveBooks` releases: snapshots and applied diffs go to the engine, gaps to the screen."""
        t0 = self._rx_ns if self._in_frame else time.time_ns()
        market: list[MarketEvent] = []
        for event in emitted:
            if isinstance(event, Gap):
                self.stats.gaps += 1
                detail = f"{event.reason} from {ns_to_iso(event.start_ns)} to {ns_to_iso(event.end_ns)}"
                detail += f": {event.detail}" if event.detail else ""
                self.session.feed.publish(StatusNote(time.time_ns(), "gap", detail, event.symbol))
            else:
                market.append(event)
        if market:
            self._route(market[0].symbol, t0, market)

    def on_status(self, status: Status) -> None:
        note = status_note(status)
        if isinstance(status, Connected):
            self.stats.connections += 1
        elif isinstance(status, Disconnected):
            self.stats.connections = max(0, self.stats.connections - 1)
        elif isinstance(status, StreamGap):
            self.stats.gaps += 1
        self.session.feed.publish(note)

    def _route(self, symbol: str, t0: int, events: list[MarketEvent]) -> None:
        run = self.symbols.get(symbol)
        if run is None:
            self.unrouted += len(events)
            return
        self.stats.events += len(events)
        run.on_events(t0, events)


def status_note(status: Status) -> StatusNote:
    """A connection manager's news in one line."""
    if isinstance(status, Connected):
        return StatusNote(status.at_ns, "connected", f"connection {status.conn_id} to {status.url}")
    if isinstance(status, Subscribed):
        names = ", ".join(c.name for c in status.channels)
        return StatusNote(status.at_ns, "subscribed", f"connection {status.conn_id}: {names}")
    if isinstance(status, Rejected):
        names = ", ".join(c.name for c in status.channels)
        detail = f"{names}: {status.reason}; retry in {status.retry_in_s:.1f} s"
        return StatusNote(status.at_ns, "rejected", detail)
    if isinstance(status, Disconnected):
        detail = f"connection {status.conn_id} {status.reason} (code {status.code}): {status.detail}"
        return StatusNote(status.at_ns, "disconnected", detail)
    if isinstance(status, DialFailed):
        detail = f"{status.detail}; retry {status.attempt} in {status.retry_in_s:.1f} s"
        return StatusNote(status.at_ns, "dial_failed", detail)
    if isinstance(status, StreamGap):
        gap = status.gap
        detail = f"{gap.reason} from {ns_to_iso(gap.start_ns)} to {ns_to_iso(gap.end_ns)}: {gap.detail}"
        return StatusNote(gap.end_ns, "gap", detail, gap.symbol)
    assert isinstance(status, BreakerChanged)
    return StatusNote(status.at_ns, "breaker", f"{status.name}: {status.old} -> {status.new}")


class Tee:
    """The stream's consumer and a recorder on one manager: the raw frame to the recorder first (it
    is only kept), the strategy's decision next, the recorder's rows last."""

    def __init__(self, router: Router, recorder: Recorder) -> None:
        self.router = router
        self.recorder = recorder

    def on_frame(self, frame: RawFrame) -> None:
        self.recorder.on_frame(frame)
        self.router.on_frame(frame)

    def on_decoded(self, frame: RawFrame, decoded: Decoded) -> None:
        self.router.on_decoded(frame, decoded)
        self.recorder.on_decoded(frame, decoded)

    def on_status(self, status: Status) -> None:
        self.recorder.on_status(status)
        self.router.on_status(status)
