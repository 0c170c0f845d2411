"""The recorder: a connection manager's consumer that keeps raw frames first, then de-duplicated rows.

    event loop (never waits on disk)                        threads
    ConnectionManager ─► Recorder.on_frame ─► raw buffer ──(every flush_s)──► RawWriter ─► raw/*.jsonl.zst
                      └► Recorder.on_decoded ─► trades, tickers (de-duplicated) ─┐
                                            └► LiveBooks ─► snapshots, deltas, gaps ─► TableRows
    StreamGap, LiveBooks gaps ──────────────────────────────────────────────────┘
    TableRows ──(every table_flush_s, submit(block=False))──► StoreWriter ─► Parquet + manifests

Neither writer is ever waited for on the event loop: each has a bounded queue, and a full queue turns
into a `writer_overflow` Gap row (tables) or a `raw_overflow` control line (raw frames). Rotation
duplicates are dropped by `live.dedup`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fxcli.exchange.adapter import Channel, Decoded, Kind
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
from fxcli.live.backfill import Backfiller, backfill_off
from fxcli.live.batcher import TableBatcher
from fxcli.live.dedup import DEDUP_WINDOW_S, RotationCopies
from fxcli.model.events import BookDelta, BookLost, BookSnapshot, Gap, GapReason, Trade
from fxcli.model.frames import RawFrame
from fxcli.model.units import NS_PER_S
from fxcli.store.parts import MetaValue
from fxcli.store.raw import RawRecord, RawWriter
from fxcli.store.rows import TableRows
from fxcli.store.writer import StoreError, StoreWriter

DOWNTIME_DETAIL = "fx record was not running"
PARTIAL_DETAIL = "not every channel of the symbol was subscribed"


@dataclass(frozen=True)
class RecordEvent:
    """Something worth a log line: a connection came or went, a gap, an overflow, start and stop."""

    kind: str
    at_ns: int
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordStats:
    """The recorder as it is now (for the status line and the periodic stats line)."""

    venue: str
    started_ns: int
    now_ns: int
    frames: int
    frames_per_s: float
    bytes_in: int
    problems: int
    skipped: int  # bad items (a deal with an unknown side) dropped from otherwise good pushes
    symbols: int
    symbols_live: int
    connections: int
    connections_live: int
    trades: int
    duplicates: int
    gaps: dict[str, int]
    rows_submitted: int
    rows_written: int
    overflow_rows: int
    raw_records: int
    raw_bytes: int
    raw_overflow: int
    books_synced: int
    last_write_ns: int | None
    clock_offset_ms: float | None

    @property
    def gap_count(self) -> int:
        """Gap rows recorded so far (writer overflows included)."""
        return sum(self.gaps.values())


Notify = Callable[[RecordEvent], None]
Observe = Callable[[RecordStats], None]


@dataclass
class _Counters:
    frames: int = 0
    bytes_in: int = 0
    problems: int = 0
    skipped: int = 0
    trades: int = 0
    backfilled: int = 0
    gaps: Counter[str] = field(default_factory=Counter)


class Recorder:
    """The connection manager's consumer: raw frames first, then de-duplicated rows and gaps.

    Every callback runs on the event loop and only appends to memory; `flush()` hands what was
    gathered to the raw writer and, through the batcher thread, to the store writer, without
    waiting for either.
    """

    def __init__(
        self,
        venue: str,
        channels: Iterable[Channel],
        writer: StoreWriter,
        raw: RawWriter,
        *,
        slots: int,
        notify: Notify | None = None,
        dedup_window_s: float = DEDUP_WINDOW_S,
        meta_of: Callable[[str], Mapping[str, MetaValue]] | None = None,
    ) -> None:
        self.venue = venue
        self.writer = writer
        self.raw = raw
        self.books: LiveBooks | None = None
        # Trade backfill after gaps (`fx record`); None with `--backfill off` (`is_backfill_off`) or
        # when another consumer records (`fx stream --record`).
        self.backfill: Backfiller | None = None
        self.is_backfill_off = False
        self.counters = _Counters()
        self.clock_offset_ms: float | None = None
        self.slots = slots
        self._notify = notify
        self._channels = list(channels)
        self._slot_of: dict[str, int] = {}
        self._rows: dict[str, TableRows] = {}
        self._batcher = TableBatcher(venue, writer, meta_of)
        self.copies = RotationCopies(int(dedup_window_s * NS_PER_S))
        self._pending: list[RawRecord] = []
        self._active: dict[int, set[str]] = {}
        self._connected: dict[int, int] = {}  # conn_id -> slot
        # symbol -> (since when its data may be missing, why): the previous recorder stopped, or some
        # of its channels flow while others are refused; closed once every channel of it is subscribed
        self._down: dict[str, tuple[int, str]] = {}
        self._wanted: dict[str, set[str]] = {}  # symbol -> its channel names
        for channel in self._channels:
            self._wanted.setdefault(channel.symbol, set()).add(channel.name)
        self._acked: dict[str, set[str]] = {}  # symbol -> channels acknowledged before it was complete
        self._complete: set[str] = set()  # every channel acknowledged once (later losses: the manager's)
        self._overflow_seen = 0

    # ------------------------------------------------------------------ Consumer

    def on_frame(self, frame: RawFrame) -> None:
        """Keep the frame as received (the raw log is written before anything is decoded)."""
        self._pending.append(frame)  # the frame is its own raw-log line
        counters = self.counters
        counters.frames += 1
        counters.bytes_in += len(frame.data)

    def on_decoded(self, frame: RawFrame, decoded: Decoded) -> None:
        """Rows for trades, tickers and top-N books; diffs and full snapshots go through the book sync."""
        if decoded.skipped:
            self.counters.skipped += decoded.skipped  # bad deals of a good push: the rest is stored
        elif decoded.problem:
            self.counters.problems += 1
        if not decoded.events:
            return
        is_overlap = frame.overlap_with is not None
        books = self.books
        book_events: list[BookDelta | BookSnapshot] = []
        for event in decoded.events:
            if isinstance(event, BookDelta) or (isinstance(event, BookSnapshot) and event.is_full):
                book_events.append(event)
                continue
            if books is not None:
                books.seen(event)
            if self.copies.admit(event, frame.conn_id, frame.received_ts_ns, is_overlap=is_overlap):
                self._table(event.symbol).add(event)
                if isinstance(event, Trade):
                    self.counters.trades += 1
                    if self.backfill is not None:
                        self.backfill.seen(event)
        if book_events and books is not None:
            books.on_events(book_events, is_overlap=is_overlap)

    def on_status(self, status: Status) -> None:
        """Lifecycle news: gaps become rows; everything becomes a control line in the raw log."""
        at_ns = getattr(status, "at_ns", None) or time.time_ns()
        slot = getattr(status, "slot", 0)
        fields: dict[str, Any]
        if isinstance(status, StreamGap):
            self._gap(status.gap, slot)
            return
        if isinstance(status, GapOpened):
            if self.books is not None:
                self.books.on_gap_opened(status)
            if self.backfill is not None and any(c.kind is Kind.TRADES for c in status.channels):
                self.backfill.note_start(status.symbol, status.start_ns)
            fields = {
                "slot": slot,
                "symbol": status.symbol,
                "start_ns": status.start_ns,
                "reason": str(status.reason),
                "detail": status.detail,
            }
            kind = "gap_opened"
        elif isinstance(status, Connected):
            self._connected[status.conn_id] = slot
            fields = {"slot": slot, "conn_id": status.conn_id, "url": status.url}
            if status.replacing is not None:
                fields["replacing"] = status.replacing
            kind = "connected"
        elif isinstance(status, Subscribed):
            names = [c.name for c in status.channels]
            self._active.setdefault(status.conn_id, set()).update(names)
            for channel in status.channels:
                if channel.symbol not in self._complete:
                    self._acked.setdefault(channel.symbol, set()).add(channel.name)
            self._track_partial({c.symbol for c in status.channels}, at_ns, slot)
            fields = {"slot": slot, "conn_id": status.conn_id, "channels": len(names)}
            self._control(slot, at_ns, "subscribed", {**fields, "names": names})
            self.announce("subscribed", at_ns, fields)
            return
        elif isinstance(status, Rejected):
            names = [c.name for c in status.channels]
            self._track_partial({c.symbol for c in status.channels}, at_ns, slot)
            fields = {
                "slot": slot,
                "conn_id": status.conn_id,
                "channels": names,
                "reason": status.reason,
                "retry_in_s": round(status.retry_in_s, 2),
            }
            kind = "rejected"
        elif isinstance(status, Disconnected):
            self._connected.pop(status.conn_id, None)
            self._active.pop(status.conn_id, None)
            fields = {
                "slot": slot,
                "conn_id": status.conn_id,
                "reason": str(status.reason),
                "code": status.code,
                "detail": status.detail,
            }
            if status.gap_reason is not None:
                fields["gap_reason"] = str(status.gap_reason)
            kind = "disconnected"
        elif isinstance(status, DialFailed):
            fields = {
                "slot": slot,
                "detail": status.detail,
                "attempt": status.attempt,
                "retry_in_s": round(status.retry_in_s, 2),
                "breaker": str(status.breaker),
            }
            kind = "dial_failed"
        elif isinstance(status, BreakerChanged):
            fields = {"name": status.name, "from": str(status.old), "to": str(status.new)}
            kind = "breaker"
        else:  # a status this recorder does not know yet: keep it in the raw log all the same
            fields = {"status": type(status).__name__}
            kind = "status"
        self._control(slot, at_ns, kind, fields)
        self.announce(kind, at_ns, fields)

    # ------------------------------------------------------------------ book sync output

    def on_book_events(self, events: list[BookEvent]) -> None:
        """What the book sync says is worth storing: snapshots, applied diffs, and gaps (a lost book is
        a control line; its gap is stored when the book is whole again)."""
        for event in events:
            if isinstance(event, Gap):
                self._gap(event, self._slot_of.get(event.symbol, 0))
            elif isinstance(event, BookLost):
                fields = {"symbol": event.symbol, "start_ns": event.start_ns, "reason": event.reason}
                self._control(self._slot_of.get(event.symbol, 0), event.received_ts_ns, "book_lost", fields)
            elif isinstance(event, BookSnapshot):
                # A REST snapshot's time is placed by the book sync (spot ones carry none at all).
                estimated = event.source == "rest"
                self._table(event.symbol).add(event, ts_estimated=estimated)
                if event.source == "rest":
                    self._pending.append(
                        {
                            "slot": self._slot_of.get(event.symbol, 0),
                            "recv_wall_ns": event.received_ts_ns,
                            "kind": "snapshot",
                            "generated": True,
                            "symbol": event.symbol,
                            "version": event.version,
                            "exchange_ts_ns": event.exchange_ts_ns,
                            "ts_estimated": estimated,
                            "bids": event.bids,
                            "asks": event.asks,
                        }
                    )
            else:
                self._table(event.symbol).add(event)

    # ------------------------------------------------------------------ flushing

    def note_downtime(self, since_ns: dict[str, int]) -> None:
        """Where each symbol's stored data stops (`downtime_starts`): it gets a gap from then until
        every one of its channels is subscribed here."""
        for symbol, since in since_ns.items():
            self._down[symbol] = (since, DOWNTIME_DETAIL)

    def finish_downtime(self, end_ns: int) -> None:
        """At stop: a symbol still not (fully) subscribed keeps its gap up to now, never silently."""
        for symbol in list(self._down):
            self._end_down(
                symbol, end_ns, self._slot_of.get(symbol, 0), "; not subscribed before the recorder stopped"
            )

    def _end_down(self, symbol: str, end_ns: int, slot: int, how: str = "") -> None:
        since, detail = self._down.pop(symbol)
        if since < end_ns:
            self._gap(Gap(symbol, since, end_ns, GapReason.DISCONNECT, detail + how), slot)

    def _track_partial(self, symbols: set[str], at_ns: int, slot: int) -> None:
        """Before a symbol is fully subscribed for the first time: close its gap once it is, or open one
        when some of its channels flow while others are refused (their data would be missing)."""
        for symbol in symbols - self._complete:
            acked = self._acked.get(symbol, set())
            if acked >= self._wanted.get(symbol, acked):
                self._complete.add(symbol)
                self._acked.pop(symbol, None)
                if symbol in self._down:
                    self._end_down(symbol, at_ns, slot)
            elif acked and symbol not in self._down:
                self._down[symbol] = (at_ns, PARTIAL_DETAIL)

    def assign_slots(self, assignment: list[list[Channel]]) -> None:
        """Which slot's raw file a symbol's generated records (snapshots, gaps) go to."""
        for slot, channels in enumerate(assignment):
            for channel in channels:
                self._slot_of.setdefault(channel.symbol, slot)

    def flush(self, *, tables: bool = True) -> None:
        """Hand what was gathered since the last flush to the writers (raw always, tables if asked);
        never waits for either.

        The column buffers are swapped out here and turned into frames on the batcher thread, so
        the event loop never spends milliseconds building polars frames either.
        """
        pending, self._pending = self._pending, []
        if pending:
            self.raw.submit(pending)
        rows = {symbol: r for symbol, r in self._rows.items() if r.rows} if tables else {}
        if rows:
            for symbol in rows:
                self._rows[symbol] = TableRows()
            self._batcher.put(rows)
        if self._batcher.error is not None:
            raise StoreError(self._batcher.error)
        overflow = self.writer.stats.overflow_batches
        if overflow > self._overflow_seen:
            self.announce(
                "writer_overflow",
                time.time_ns(),
                {"batches": overflow - self._overflow_seen, "rows_total": self.writer.stats.overflow_rows},
            )
            self._overflow_seen = overflow

    def close(self) -> None:
        """Wait for the batcher to hand over the last rows (call after the final `flush`, off the loop)."""
        self._batcher.close()
        if self._batcher.error is not None:
            raise StoreError(self._batcher.error)

    def note_clock(self, offset_ms: float, rtt_ms: float) -> None:
        """A venue clock reading: kept for the stats and in the raw log."""
        self.clock_offset_ms = offset_ms
        now = time.time_ns()
        fields = {"offset_ms": round(offset_ms, 3), "rtt_ms": round(rtt_ms, 3)}
        self._control(0, now, "clock", fields)

    def stats(self, started_ns: int, frames_per_s: float) -> RecordStats:
        """Counters now."""
        active: set[str] = set().union(*self._active.values()) if self._active else set()
        by_symbol: dict[str, bool] = {}
        for channel in self._channels:
            by_symbol[channel.symbol] = by_symbol.get(channel.symbol, True) and channel.name in active
        writer, raw = self.writer.stats, self.raw.stats
        gaps = dict(self.counters.gaps)
        if writer.overflow_batches:
            gaps[GapReason.WRITER_OVERFLOW.value] = writer.overflow_batches
        last = raw.last_write_ns
        books = self.books
        return RecordStats(
            venue=self.venue,
            started_ns=started_ns,
            now_ns=time.time_ns(),
            frames=self.counters.frames,
            frames_per_s=frames_per_s,
            bytes_in=self.counters.bytes_in,
            problems=self.counters.problems,
            skipped=self.counters.skipped,
            symbols=len(by_symbol),
            symbols_live=sum(by_symbol.values()),
            connections=self.slots,
            connections_live=len(set(self._connected.values())),  # slots, not sockets (rotation)
            trades=self.counters.trades,
            duplicates=self.copies.dropped,
            gaps=gaps,
            rows_submitted=self._batcher.rows_submitted,
            rows_written=writer.rows_added,
            overflow_rows=writer.overflow_rows,
            raw_records=raw.records,
            raw_bytes=raw.bytes_written,
            raw_overflow=raw.overflow_records,
            books_synced=sum(1 for s in by_symbol if books is not None and books.is_synced(s)),
            last_write_ns=last,
            clock_offset_ms=self.clock_offset_ms,
        )

    # ------------------------------------------------------------------ internals

    def _table(self, symbol: str) -> TableRows:
        rows = self._rows.get(symbol)
        if rows is None:
            rows = self._rows[symbol] = TableRows()
        return rows

    def _gap(self, gap: Gap, slot: int) -> None:
        """A gap: stored now, or once the backfill has fetched its trades (`store_backfilled`)."""
        if self.backfill is not None and self.backfill.take(gap, slot):
            return
        self._store_gap(backfill_off(gap) if self.is_backfill_off else gap, slot)

    def store_backfilled(self, gap: Gap, slot: int, trades: list[Trade]) -> None:
        """A gap annotated by the backfill, and the trades it fetched (stored marked backfilled)."""
        if trades:
            self._table(gap.symbol).add_backfilled(trades)
            self.counters.backfilled += len(trades)
            self._pending.append(  # the raw log stays the whole story: what REST gave, as stored
                {
                    "slot": slot,
                    "recv_wall_ns": trades[-1].received_ts_ns,
                    "kind": "backfill",
                    "generated": True,
                    "symbol": gap.symbol,
                    "gap": [gap.start_ns, gap.end_ns],
                    "trades": [[t.exchange_ts_ns, t.price, t.qty, t.side, t.trade_id] for t in trades],
                }
            )
        self._store_gap(gap, slot)

    def _store_gap(self, gap: Gap, slot: int) -> None:
        self._table(gap.symbol).add(gap)
        self.counters.gaps[str(gap.reason)] += 1
        fields = {
            "symbol": gap.symbol,
            "reason": str(gap.reason),
            "start_ns": gap.start_ns,
            "end_ns": gap.end_ns,
            "seconds": round((gap.end_ns - gap.start_ns) / NS_PER_S, 3),
            "detail": gap.detail,
        }
        self._control(slot, time.time_ns(), "gap", fields)
        self.announce("gap", time.time_ns(), fields)

    def _control(self, slot: int, at_ns: int, event: str, fields: dict[str, Any]) -> None:
        self._pending.append(
            {"slot": slot, "recv_wall_ns": at_ns, "kind": "control", "event": event, **fields}
        )

    def announce(self, kind: str, at_ns: int, fields: dict[str, Any]) -> None:
        """Tell the `notify` callback (the CLI's log lines) that something happened."""
        if self._notify is not None:
            self._notify(RecordEvent(kind, at_ns, fields))
