"""A stream session's `Consumer`: decoded events, in order, to their symbol's runner, on the loop's thread.

With a live book sync (`LiveBooks`) the router never lets a strategy decide on a stale book: diffs
go through the book sync and come back (`on_books`) only when they applied to a whole book; the
moment a book breaks (`BookLost`, also when the connection carrying it is lost) its runner hides
the book, and the `Gap` released when the book is whole again tells it until when. Trades that a
make-before-break rotation delivers on both connections reach the strategy once (`live.dedup`), as
they reach the recording once, so a live session decides exactly as a replay of its recording.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fxcli.exchange.adapter import Decoded
from fxcli.exchange.booksync import BookEvent, LiveBooks
from fxcli.exchange.status import (
    BreakerChanged,
    Connected,
    DialFailed,
    Disconnected,
    GapOpened,
    Rejected,
    Status,
    StreamGap,
    Subscribed,
)
from fxcli.live.dedup import RotationCopies
from fxcli.live.feed import StatusNote
from fxcli.model.events import BookDelta, BookLost, BookSnapshot, Gap, MarketEvent
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
        self.copies = RotationCopies()  # what it dropped: rotation copies kept from the strategy
        self._rx_ns = 0
        self._in_frame = False
        self._run: list[MarketEvent] = []  # consecutive events of one symbol, routed together

    def on_frame(self, frame: RawFrame) -> None:
        self.stats.frames += 1

    def on_decoded(self, frame: RawFrame, decoded: Decoded) -> None:
        events = decoded.events
        if not events:
            return
        books = self.books
        is_overlap = frame.overlap_with is not None
        self._rx_ns, self._in_frame = frame.received_ts_ns, True
        try:
            for event in events:
                if books is not None:
                    if isinstance(event, BookDelta | BookSnapshot):
                        self._flush()
                        books.on_events((event,), is_overlap=is_overlap)  # what applied: on_books
                        continue
                    books.seen(event)  # a symbol's first event starts its book unknown (on_books)
                if is_overlap and not self.copies.admit(
                    event, frame.conn_id, frame.received_ts_ns, is_overlap=True
                ):
                    continue
                if self._run and self._run[0].symbol != event.symbol:
                    self._flush()
                self._run.append(event)
            self._flush()
        finally:
            self._in_frame = False

    def on_books(self, emitted: list[BookEvent]) -> None:
        """What `LiveBooks` releases: a lost book hides the runner's, snapshots and applied diffs go to
        the engine, the gap that ends a loss tells the runner until when, and the screen hears of both."""
        self._flush()
        t0 = self._rx_ns if self._in_frame else time.time_ns()
        market: list[MarketEvent] = []
        for event in emitted:
            if isinstance(event, BookSnapshot | BookDelta):
                market.append(event)
                continue
            if market:
                self._route(market[0].symbol, t0, market)
                market = []
            run = self.symbols.get(event.symbol)
            if isinstance(event, BookLost):
                if run is not None:
                    run.lose_book()
                detail = f"book unknown since {ns_to_iso(event.start_ns)}: {event.detail}; no new entries"
                self.session.feed.publish(StatusNote(time.time_ns(), "book_lost", detail, event.symbol))
            else:
                if run is not None:
                    run.on_gap(event)
                self.stats.gaps += 1
                self.session.feed.publish(StatusNote(time.time_ns(), "gap", gap_text(event), event.symbol))
        if market:
            self._route(market[0].symbol, t0, market)

    def on_gap(self, gap: Gap) -> None:
        """A stored gap of a replayed recording, where it starts (the screen heard of it first)."""
        self._flush()
        run = self.symbols.get(gap.symbol)
        if run is not None:
            run.on_gap(gap)
        self.stats.gaps += 1

    def on_status(self, status: Status) -> None:
        note = status_note(status)
        if isinstance(status, Connected):
            self.stats.connections += 1
        elif isinstance(status, Disconnected):
            self.stats.connections = max(0, self.stats.connections - 1)
        elif isinstance(status, StreamGap):
            self.stats.gaps += 1
        elif isinstance(status, GapOpened) and self.books is not None:
            self.books.on_gap_opened(status)
        self.session.feed.publish(note)

    def _flush(self) -> None:
        run = self._run
        if run:
            self._run = []
            self._route(run[0].symbol, self._rx_ns if self._in_frame else time.time_ns(), run)

    def _route(self, symbol: str, t0: int, events: list[MarketEvent]) -> None:
        run = self.symbols.get(symbol)
        if run is None:
            self.unrouted += len(events)
            return
        self.stats.events += len(events)
        run.on_events(t0, events)


def gap_text(gap: Gap) -> str:
    """A gap in one line: reason, span and detail."""
    detail = f"{gap.reason} from {ns_to_iso(gap.start_ns)} to {ns_to_iso(gap.end_ns)}"
    return f"{detail}: {gap.detail}" if gap.detail else detail


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
    if isinstance(status, GapOpened):
        detail = f"{status.reason} since {ns_to_iso(status.start_ns)}: {status.detail}"
        return StatusNote(status.at_ns, "gap_opened", detail, status.symbol)
    if isinstance(status, StreamGap):
        return StatusNote(status.gap.end_ns, "gap", gap_text(status.gap), status.gap.symbol)
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
