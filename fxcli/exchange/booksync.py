"""Live book sync: one `BookSync` per symbol, fed from the socket, seeded and re-seeded by REST.

The procedure is MEXC's (docs/mexc-protocol.md §1.6, §2.3): buffer a symbol's diffs, fetch a REST
snapshot once the first diff has arrived, refetch if the snapshot is older than the buffer, bridge,
then follow the version chain. A version jump, or a crossed book (best bid >= best ask, which no
continuous chain can produce), resyncs *that symbol only*; every other symbol goes on untouched, and
the raw frames keep being recorded by the connection manager throughout.

What comes out (`emit`) are the events worth storing, in order: snapshots, applied deltas, and `Gap`
rows (reason version_jump, or resync for a crossed book) when the new snapshot closes the hole.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

from fxcli.exchange.pacing import Backoff, BreakerOpenError
from fxcli.exchange.rest import RateLimitedError, RestClient, RestError, SnapshotSource
from fxcli.model.book import OrderBook
from fxcli.model.events import BookDelta, BookSnapshot, Event, Gap, GapReason, MarketEvent
from fxcli.model.sync import BookSync

log = logging.getLogger(__name__)

MAX_BUFFER = 10_000


@dataclass
class BookSyncStats:
    """Counters over a coordinator's life."""

    fetches: int = 0
    fetch_failures: int = 0
    stale_snapshots: int = 0  # snapshots older than the buffered diffs: fetched again
    version_jumps: int = 0
    crossed: int = 0
    resyncs: int = 0  # snapshots that (re)synced a book after it was lost


class _Symbol:
    def __init__(self, symbol: str, backoff: Backoff) -> None:
        self.symbol = symbol
        self.sync = BookSync(symbol, max_buffer=MAX_BUFFER)
        self.backoff = backoff
        self.buffered: deque[tuple[int, int]] = deque(maxlen=MAX_BUFFER)  # (from, to) BookSync holds
        self.fetch: asyncio.Task[None] | None = None
        self.crossed_since_ns: int | None = None
        self.crossed_detail = ""
        self.has_synced = False
        self.last_ts_ns = 0  # the newest diff's exchange time


class LiveBooks:
    """Per-symbol book sync over a live stream; feed it decoded events, read books, get stored events.

    books = LiveBooks(adapter, RestClient(), emit=writer_queue.extend)
    ... consumer.on_decoded: books.on_events(decoded.events)
    books.book("BTCUSDT").best_bid()
    """

    def __init__(
        self,
        source: SnapshotSource,
        rest: RestClient,
        emit: Callable[[list[Event]], None],
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

    def on_events(self, events: Iterable[MarketEvent]) -> None:
        """Feed decoded events; book diffs and full snapshots are used, everything else is ignored."""
        for event in events:
            if isinstance(event, BookDelta):
                self.on_delta(event)
            elif isinstance(event, BookSnapshot) and event.is_full:
                self._on_snapshot(self._state(event.symbol), event)

    def on_delta(self, delta: BookDelta) -> None:
        """Apply or buffer one diff; a jump in versions starts a resync of its symbol."""
        if self._only is not None and delta.symbol not in self._only:
            return
        st = self._state(delta.symbol)
        st.last_ts_ns = max(st.last_ts_ns, delta.exchange_ts_ns)
        was_synced = st.sync.is_synced
        out = st.sync.on_delta(delta)
        if st.sync.is_synced:
            if out:
                self._emit(out)
            self._check_crossed(st)
            return
        if was_synced:
            self.stats.version_jumps += 1
            st.buffered.clear()
            log.warning(
                "%s: version jump at %d..%d; resyncing", delta.symbol, delta.from_version, delta.to_version
            )
        st.buffered.append((delta.from_version, delta.to_version))
        self._ensure_fetch(st)

    def resync(self, symbol: str, detail: str = "resync requested") -> None:
        """Drop `symbol`'s book and fetch a new snapshot; the hole becomes a Gap (reason resync)."""
        st = self._state(symbol)
        if st.crossed_since_ns is None:
            st.crossed_since_ns = st.sync.book.exchange_ts_ns
            st.crossed_detail = detail
        st.sync = BookSync(symbol, max_buffer=MAX_BUFFER)
        st.buffered.clear()
        self._ensure_fetch(st)

    def book(self, symbol: str) -> OrderBook | None:
        """The symbol's book when it is in sync, else None."""
        st = self._symbols.get(symbol)
        return st.sync.book if st is not None and st.sync.is_synced else None

    def is_synced(self, symbol: str) -> bool:
        """True if the symbol's book follows the stream."""
        st = self._symbols.get(symbol)
        return st is not None and st.sync.is_synced

    async def close(self) -> None:
        """Cancel snapshot fetches in flight; a book still out of sync ends in a Gap up to its last diff
        (the diffs since it broke were never applied, so that time has no book)."""
        self._closed = True
        tasks = [st.fetch for st in self._symbols.values() if st.fetch is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for st in self._symbols.values():
            gaps: list[Event] = []
            if st.crossed_since_ns is not None:  # dropped on purpose (crossed, or asked): no snapshot came
                end = max(st.crossed_since_ns, st.last_ts_ns)
                detail = f"{st.crossed_detail}; stopped before a snapshot resynced it"
                gaps.append(Gap(st.symbol, st.crossed_since_ns, end, GapReason.RESYNC, detail))
                st.crossed_since_ns = None
            for gap in st.sync.finish(st.last_ts_ns):
                if isinstance(gap, Gap) and gap.reason is GapReason.IMPORT_HOLE:  # live: a resync never done
                    gap = msgspec.structs.replace(gap, reason=GapReason.RESYNC)
                gaps.append(gap)
            if gaps:
                self._emit(gaps)

    # ------------------------------------------------------------------ internals

    def _state(self, symbol: str) -> _Symbol:
        st = self._symbols.get(symbol)
        if st is None:
            st = self._symbols[symbol] = _Symbol(symbol, Backoff(*self._retry, rng=self._rng))
        return st

    def _ensure_fetch(self, st: _Symbol) -> None:
        if self._closed or (st.fetch is not None and not st.fetch.done()):
            return
        st.fetch = asyncio.create_task(self._fetch(st), name=f"fx-snapshot-{st.symbol}")

    async def _fetch(self, st: _Symbol) -> None:
        """Fetch snapshots until one syncs the book; never gives up (waits out breakers and 429s)."""
        while not st.sync.is_synced:
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
            if not self._on_snapshot(st, snapshot):
                await asyncio.sleep(self._refetch_delay_s)

    def _on_snapshot(self, st: _Symbol, snapshot: BookSnapshot) -> bool:
        """Rebase on a full snapshot; False if it cannot bridge the buffered diffs (fetch another)."""
        if snapshot.exchange_ts_ns == 0:  # spot REST snapshots carry no time: our receive time stands in
            snapshot = msgspec.structs.replace(snapshot, exchange_ts_ns=snapshot.received_ts_ns)
        if not st.sync.is_synced and st.buffered and snapshot.version < st.buffered[0][0] - 1:
            self.stats.stale_snapshots += 1  # official step 4: older than the first buffered diff
            return False
        was_synced = st.sync.is_synced
        out = st.sync.on_snapshot(snapshot)
        if not st.sync.is_synced:
            # A hole inside the buffer (official step 6): BookSync now holds the diff that broke.
            version = st.sync.book.version or 0
            while st.buffered and st.buffered[0][1] <= version:
                st.buffered.popleft()
            self._emit(out)
            return False
        st.buffered.clear()
        st.backoff.reset()
        if not was_synced:
            if st.has_synced:
                self.stats.resyncs += 1
            st.has_synced = True
        if st.crossed_since_ns is not None:
            end = max(st.crossed_since_ns, snapshot.exchange_ts_ns)
            out.append(Gap(st.symbol, st.crossed_since_ns, end, GapReason.RESYNC, st.crossed_detail))
            st.crossed_since_ns = None
        self._emit(out)
        self._check_crossed(st)
        return True

    def _check_crossed(self, st: _Symbol) -> None:
        book = st.sync.book
        if not book.is_crossed:
            return
        self.stats.crossed += 1
        bid, ask = book.best_bid(), book.best_ask()
        detail = f"crossed book at version {book.version}: bid {bid} >= ask {ask}"
        log.warning("%s: %s; resyncing", st.symbol, detail)
        self.resync(st.symbol, detail)
