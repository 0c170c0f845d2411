"""Live book sync: one `BookSync` per symbol, fed from the socket, seeded and re-seeded by REST.

The procedure is MEXC's (docs/mexc-protocol.md §1.6, §2.3): buffer a symbol's diffs, fetch a REST
snapshot once the first diff has arrived, refetch if the snapshot is older than the buffer, bridge,
then follow the version chain. A version jump, a crossed book (best bid >= best ask, which no
continuous chain can produce) or the loss of the connection carrying the diffs makes *that symbol's*
book unknown; every other symbol goes on untouched, and the raw frames keep being recorded by the
connection manager throughout.

What comes out (`emit`), in order, is what a recorder stores and a strategy sees:

- `BookLost` the moment a book becomes unknown (at start, until the first snapshot; at a version
  jump; at a crossed book; when its connection is lost). Nothing of that book is released until
  it is whole again, so nobody decides on a stale book.
- When it is whole again (a snapshot bridged the buffered diffs, or after a lost connection the
  next diff still continued the chain): the snapshot, the applied diffs, then the `Gap` that covers
  the time the book was unknown, from where it broke to the newest exchange time seen of the symbol.
  The gap's `received_ts_ns` is when the break was learned, so a replay hides the book from the very
  event the live path did. A REST snapshot's exchange time is placed just before the first diff that
  bridges it (spot snapshots carry no time; a futures snapshot's time may be later than that diff),
  so the stored tables rebuild the live book in exchange-time order, whatever the REST latency.
- Applied diffs while the book is whole.

A snapshot that is itself crossed is neither released nor stored: the next fetch waits an
exponentially growing backoff, and after `MAX_CROSSED` crossed snapshots in a row fetching stops
until a new diff arrives. Diffs whose version range overlaps the book's version are applied (their
quantities are absolute) and counted, not treated as gaps.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

import msgspec

from fxcli.exchange.adapter import Kind
from fxcli.exchange.pacing import Backoff, BreakerOpenError
from fxcli.exchange.rest import RateLimitedError, RestClient, RestError, SnapshotSource
from fxcli.exchange.status import GapOpened
from fxcli.model.book import OrderBook
from fxcli.model.events import (
    BookDelta,
    BookLost,
    BookSnapshot,
    Gap,
    GapReason,
    MarketEvent,
)
from fxcli.model.sync import BookSync

log = logging.getLogger(__name__)

MAX_BUFFER = 10_000
MAX_CROSSED = 3  # crossed snapshots in a row before fetching waits for a new diff
MAX_AHEAD = 64  # diffs held back during a rotation overlap before a jump is declared
FIRST_SNAPSHOT = "waiting for the first snapshot"

BookEvent = BookSnapshot | BookDelta | Gap | BookLost
"""What `LiveBooks` releases."""


@dataclass
class BookSyncStats:
    """Counters over a coordinator's life."""

    fetches: int = 0
    fetch_failures: int = 0
    stale_snapshots: int = 0  # snapshots older than the buffered diffs: fetched again
    version_jumps: int = 0
    crossed: int = 0  # crossed books, from a diff or a snapshot
    crossed_snapshots: int = 0  # snapshots that were crossed themselves (not stored)
    resyncs: int = 0  # snapshots that (re)synced a book after it was lost
    connection_losses: int = 0  # books made unknown by a lost connection
    overlaps: int = 0  # diffs whose versions overlapped the book's: applied whole


class _Outcome(Enum):
    SYNCED = "synced"
    AGAIN = "again"  # stale, or a hole inside the buffer: fetch another soon
    CROSSED = "crossed"


@dataclass
class _Lost:
    start_ns: int
    received_ts_ns: int
    reason: GapReason
    detail: str


class _Symbol:
    def __init__(self, symbol: str, backoff: Backoff) -> None:
        self.symbol = symbol
        self.sync = BookSync(symbol, max_buffer=MAX_BUFFER)
        self.backoff = backoff
        self.buffered: deque[tuple[int, int, int]] = deque(maxlen=MAX_BUFFER)  # (from, to, exchange ts)
        self.fetch: asyncio.Task[None] | None = None
        self.has_synced = False
        self.last_ts_ns = 0  # the newest exchange time seen of this symbol (diffs and trades)
        self.lost: _Lost | None = None
        self.crossed_in_row = 0
        self.is_idle = False  # stopped fetching after crossed snapshots; the next diff starts again
        self.ahead: list[BookDelta] = []  # rotation overlap: diffs beyond the book's next version


class LiveBooks:
    """Per-symbol book sync over a live stream; feed it decoded events, read books, get stored events.

    rest = RestClient()                      # its owner closes it (after `books.close()`)
    books = LiveBooks(adapter, rest, emit=recorder.on_book_events)
    ... consumer.on_decoded: books.on_events(decoded.events)
    ... consumer.on_status: GapOpened -> books.on_gap_opened(status)
    books.book("BTCUSDT").best_bid()
    """

    def __init__(
        self,
        source: SnapshotSource,
        rest: RestClient,
        emit: Callable[[list[BookEvent]], None],
        *,
        symbols: Iterable[str] | None = None,
        retry_base_s: float = 0.2,
        retry_cap_s: float = 30.0,
        refetch_delay_s: float = 0.3,
        rng: random.Random | None = None,
    ) -> None:
        self.source = source
        self.rest = rest
        self.stats = BookSyncStats()
        self._emit = emit
        self._only = frozenset(symbols) if symbols is not None else None
        self._retry = (retry_base_s, retry_cap_s)
        self._refetch_delay_s = refetch_delay_s
        self._rng = rng or random.Random()
        self._symbols: dict[str, _Symbol] = {}
        self._closed = False

    # ------------------------------------------------------------------ public API

    def on_events(self, events: Iterable[MarketEvent], *, is_overlap: bool = False) -> None:
        """Feed decoded events: diffs and full snapshots are applied, every other event's time is seen.
        `is_overlap`: they came on one of the two connections of a make-before-break rotation."""
        for event in events:
            if isinstance(event, BookDelta):
                self.on_delta(event, is_overlap=is_overlap)
            elif isinstance(event, BookSnapshot) and event.is_full:
                st = self._state(event.symbol, event.exchange_ts_ns, event.received_ts_ns)
                if st is not None:
                    self._on_snapshot(st, event)
            else:
                self.seen(event)

    def seen(self, event: MarketEvent) -> None:
        """A trade (or other event) of a symbol: its time is part of the symbol's timeline (a book
        gap ends no earlier than the newest event seen when the book is whole again)."""
        st = self._symbols.get(event.symbol)
        if st is None:
            st = self._state(event.symbol, event.exchange_ts_ns, event.received_ts_ns)
            if st is None:
                return
        if event.exchange_ts_ns > st.last_ts_ns:
            st.last_ts_ns = event.exchange_ts_ns

    def on_delta(self, delta: BookDelta, *, is_overlap: bool = False) -> None:
        """Apply or buffer one diff; a jump in versions or a crossed book makes its symbol's book unknown.

        While a rotation overlaps two connections that cut a venue's diffs into different pushes, a
        diff from one can run ahead of the book the other is still bringing up to date: such a diff
        waits (`ahead`) until the book reaches it, and is a version jump only if the overlap ends first.
        """
        st = self._state(delta.symbol, delta.exchange_ts_ns, delta.received_ts_ns)
        if st is None:
            return
        if delta.exchange_ts_ns > st.last_ts_ns:
            st.last_ts_ns = delta.exchange_ts_ns
        version = st.sync.book.version
        if st.sync.is_synced and version is not None and delta.from_version > version + 1:
            if is_overlap and len(st.ahead) < MAX_AHEAD:
                st.ahead.append(delta)
                return
            if st.ahead:  # the overlap is over and the diffs held back never met the book
                st.ahead.clear()
        self._apply(st, delta)
        while st.ahead and st.sync.is_synced and st.lost is None:
            version = st.sync.book.version or 0
            ready = [d for d in st.ahead if d.from_version <= version + 1]
            if not ready:
                break
            st.ahead = [d for d in st.ahead if d.from_version > version + 1]
            for held in sorted(ready, key=lambda d: (d.from_version, d.to_version)):
                self._apply(st, held)

    def _apply(self, st: _Symbol, delta: BookDelta) -> None:
        was_synced = st.sync.is_synced
        overlaps = st.sync.book.overlaps
        out = st.sync.on_delta(delta)
        self.stats.overlaps += st.sync.book.overlaps - overlaps
        if st.sync.is_synced:
            if not out:
                return  # stale: already in the book
            if st.sync.book.is_crossed:
                detail = _crossed_detail("book", st.sync.book)
                self._crossed(st, detail, delta.exchange_ts_ns, delta.received_ts_ns)
                return
            if st.lost is not None:  # after a lost connection, the chain went on: nothing was missed
                self._whole_again(st, [delta])
            else:
                self._emit([delta])
            return
        if was_synced:
            self.stats.version_jumps += 1
            st.buffered.clear()
            detail = f"version jump: expected {_next(st)}, got {delta.from_version}..{delta.to_version}"
            log.warning("%s: %s; resyncing", delta.symbol, detail)
            self._lose(st, delta.exchange_ts_ns, delta.received_ts_ns, GapReason.VERSION_JUMP, detail)
        st.buffered.append((delta.from_version, delta.to_version, delta.exchange_ts_ns))
        if st.is_idle:
            st.is_idle = False
        self._ensure_fetch(st)

    def on_gap_opened(self, opened: GapOpened) -> None:
        """A manager's news that a connection carrying `opened.symbol` is gone. If it carried the
        symbol's diffs, the venue sent nothing we got after `opened.start_ns` (the venue time of that
        connection's last push): the book is unknown until a diff shows the chain went on, or a
        snapshot resyncs it."""
        st = self._symbols.get(opened.symbol)
        if st is None or self._closed or st.lost is not None:
            return
        if any(c.kind is Kind.DEPTH for c in opened.channels):
            self.stats.connection_losses += 1
            detail = f"connection lost: {opened.detail}"
            self._lose(st, opened.start_ns, opened.at_ns, GapReason.RESYNC, detail)

    def book(self, symbol: str) -> OrderBook | None:
        """The symbol's book when it is whole, else None."""
        st = self._symbols.get(symbol)
        return st.sync.book if st is not None and st.sync.is_synced and st.lost is None else None

    def is_synced(self, symbol: str) -> bool:
        """True if the symbol's book follows the stream (and is not waiting out a lost connection)."""
        return self.book(symbol) is not None

    async def close(self) -> None:
        """Cancel snapshot fetches in flight; a book still unknown ends in a Gap up to the newest time
        seen of its symbol (the diffs since it broke were never applied, so that time has no book)."""
        self._closed = True
        tasks = [st.fetch for st in self._symbols.values() if st.fetch is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for st in self._symbols.values():
            if st.lost is not None:
                lost, st.lost = st.lost, None
                end = max(lost.start_ns, st.last_ts_ns)
                detail = f"{lost.detail}; stopped before the book was whole again"
                self._emit([Gap(st.symbol, lost.start_ns, end, lost.reason, detail, lost.received_ts_ns)])

    # ------------------------------------------------------------------ internals

    def _state(self, symbol: str, first_ts_ns: int, received_ts_ns: int) -> _Symbol | None:
        """The symbol's state; a new one starts unknown until its first snapshot (from just before
        the first event seen of it, so that event and every later one are inside the gap)."""
        st = self._symbols.get(symbol)
        if st is not None:
            return st
        if self._only is not None and symbol not in self._only:
            return None
        st = self._symbols[symbol] = _Symbol(symbol, Backoff(*self._retry, rng=self._rng))
        st.last_ts_ns = first_ts_ns
        if not self._closed:
            self._lose(st, max(0, first_ts_ns - 1), received_ts_ns, GapReason.RESYNC, FIRST_SNAPSHOT)
        return st

    def _lose(self, st: _Symbol, start_ns: int, received_ts_ns: int, reason: GapReason, detail: str) -> None:
        if st.lost is not None:
            return  # already unknown: the gap keeps its first start and reason
        st.lost = _Lost(start_ns, received_ts_ns, reason, detail)
        self._emit([BookLost(st.symbol, start_ns, received_ts_ns, reason, detail)])

    def _whole_again(self, st: _Symbol, out: list[BookEvent]) -> None:
        """The book is whole: release what rebuilt it, then the gap that covered the unknown time."""
        lost = st.lost
        if lost is not None:
            st.lost = None
            start = lost.start_ns
            end = st.last_ts_ns
            for event in out:
                ts = event.exchange_ts_ns if isinstance(event, BookSnapshot | BookDelta) else end
                start, end = min(start, ts), max(end, ts)
            out = [*out, Gap(st.symbol, start, end, lost.reason, lost.detail, lost.received_ts_ns)]
        self._emit(out)

    def _crossed(self, st: _Symbol, detail: str, at_ns: int, received_ts_ns: int) -> None:
        """The book crossed (after a diff, or as a snapshot gave it): nothing of it is released, it
        is unknown from `at_ns`, and a new snapshot is fetched."""
        self.stats.crossed += 1
        log.warning("%s: %s; resyncing", st.symbol, detail)
        self._lose(st, at_ns, received_ts_ns, GapReason.RESYNC, detail)
        self._restart(st)

    def _restart(self, st: _Symbol) -> None:
        st.sync = BookSync(st.symbol, max_buffer=MAX_BUFFER)
        st.buffered.clear()
        st.ahead.clear()
        self._ensure_fetch(st)

    def _ensure_fetch(self, st: _Symbol) -> None:
        if self._closed or st.is_idle or (st.fetch is not None and not st.fetch.done()):
            return
        st.fetch = asyncio.create_task(self._fetch(st), name=f"fx-snapshot-{st.symbol}")

    async def _fetch(self, st: _Symbol) -> None:
        """Fetch snapshots until one syncs the book; never gives up (waits out breakers and 429s)."""
        while not st.sync.is_synced and not self._closed:
            self.stats.fetches += 1
            try:
                snapshot = await self.rest.fetch_snapshot(self.source, st.symbol)
            except BreakerOpenError as exc:
                await asyncio.sleep(max(exc.retry_in_s, 0.01))
                continue
            except RateLimitedError as exc:
                self.stats.fetch_failures += 1
                await asyncio.sleep(st.backoff.next_delay(at_least_s=exc.retry_after_s))
                continue
            except RestError as exc:
                self.stats.fetch_failures += 1
                delay = st.backoff.next_delay()
                log.warning("%s: snapshot failed (%s); retry in %.2f s", st.symbol, exc, delay)
                await asyncio.sleep(delay)
                continue
            except Exception as exc:  # a decoder surprise: never the end of this symbol's book
                self.stats.fetch_failures += 1
                delay = st.backoff.next_delay()
                log.exception("%s: snapshot failed unexpectedly (%s); retry in %.2f s", st.symbol, exc, delay)
                await asyncio.sleep(delay)
                continue
            outcome = self._on_snapshot(st, snapshot)
            if outcome is _Outcome.AGAIN:
                await asyncio.sleep(self._refetch_delay_s)
            elif outcome is _Outcome.CROSSED:
                if st.crossed_in_row >= MAX_CROSSED:
                    st.is_idle = True  # the next diff starts fetching again (with the grown backoff)
                    log.warning(
                        "%s: %d crossed snapshots in a row; waiting for a new diff", st.symbol, MAX_CROSSED
                    )
                    return
                await asyncio.sleep(st.backoff.next_delay())

    def _on_snapshot(self, st: _Symbol, snapshot: BookSnapshot) -> _Outcome:
        """Rebase on a full snapshot; AGAIN if it cannot bridge the buffered diffs, CROSSED if it is
        crossed (then nothing is released)."""
        if not st.sync.is_synced and st.buffered and snapshot.version < st.buffered[0][0] - 1:
            self.stats.stale_snapshots += 1  # official step 4: older than the first buffered diff
            return _Outcome.AGAIN
        crossed = _self_crossed(snapshot)
        if crossed is not None:  # as the venue sent it: bridged diffs may uncross it, never mend it
            self.stats.crossed_snapshots += 1
            st.crossed_in_row += 1
            detail = f"crossed snapshot at version {snapshot.version}: bid {crossed[0]} >= ask {crossed[1]}"
            self._crossed(st, detail, snapshot.exchange_ts_ns, snapshot.received_ts_ns)
            return _Outcome.CROSSED
        snapshot = self._placed(st, snapshot)
        was_synced = st.sync.is_synced
        out: list[BookEvent] = [
            e for e in st.sync.on_snapshot(snapshot) if isinstance(e, BookSnapshot | BookDelta)
        ]
        if not st.sync.is_synced:
            # A hole inside the buffer (official step 6): BookSync now holds the diff that broke.
            version = st.sync.book.version or 0
            while st.buffered and st.buffered[0][1] <= version:
                st.buffered.popleft()
            return _Outcome.AGAIN
        if st.sync.book.is_crossed:  # not stored; its diffs went into it: new ones bridge the next one
            self.stats.crossed_snapshots += 1
            st.crossed_in_row += 1
            detail = _crossed_detail("snapshot", st.sync.book)
            self._crossed(st, detail, snapshot.exchange_ts_ns, snapshot.received_ts_ns)
            return _Outcome.CROSSED
        st.buffered.clear()
        st.backoff.reset()
        st.crossed_in_row = 0
        if not was_synced:
            if st.has_synced:
                self.stats.resyncs += 1
            st.has_synced = True
        self._whole_again(st, out)
        return _Outcome.SYNCED

    def _placed(self, st: _Symbol, snapshot: BookSnapshot) -> BookSnapshot:
        """The snapshot with an exchange time that sorts before the first buffered diff bridging it
        (and never after its own venue time, when it has one)."""
        if st.sync.is_synced:
            return snapshot
        at = snapshot.exchange_ts_ns or None
        bridging = next((ts for _, to, ts in st.buffered if to > snapshot.version), None)
        if bridging is not None:
            at = bridging - 1 if at is None else min(at, bridging - 1)
        elif at is None:
            stale = [ts for _, to, ts in st.buffered if to <= snapshot.version]
            at = max(stale) if stale else st.last_ts_ns
        return (
            snapshot
            if at == snapshot.exchange_ts_ns
            else msgspec.structs.replace(snapshot, exchange_ts_ns=at)
        )


def _crossed_detail(what: str, book: OrderBook) -> str:
    return f"crossed {what} at version {book.version}: bid {book.best_bid()} >= ask {book.best_ask()}"


def _self_crossed(snapshot: BookSnapshot) -> tuple[float, float] | None:
    """(best bid, best ask) of a snapshot whose own levels cross, else None. A bid at or above an ask
    that a buffered diff then removes would leave a level the venue never had in a book that looks
    fine: the snapshot must be judged before its diffs are bridged."""
    bids = [price for price, qty in snapshot.bids if qty > 0]
    asks = [price for price, qty in snapshot.asks if qty > 0]
    if bids and asks and max(bids) >= min(asks):
        return max(bids), min(asks)
    return None


def _next(st: _Symbol) -> str:
    version = st.sync.book.version
    return f"from_version {version + 1}" if version is not None else "a snapshot first"
