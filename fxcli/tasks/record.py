"""`fx record`: capture a MEXC venue's trades and order book to disk, raw frames first, 24/7.

    event loop (never waits on disk)                        threads
    ConnectionManager ─► Recorder.on_frame ─► raw buffer ──(every flush_s)──► RawWriter ─► raw/*.jsonl.zst
                      └► Recorder.on_decoded ─► trades, tickers (de-duplicated) ─┐
                                            └► LiveBooks ─► snapshots, deltas, gaps ─► TableRows
    StreamGap, LiveBooks gaps ──────────────────────────────────────────────────┘
    TableRows ──(every table_flush_s, submit(block=False))──► StoreWriter ─► Parquet + manifests

Neither writer is ever waited for on the event loop: each has a bounded queue, and a full queue turns
into a `writer_overflow` Gap row (tables) or a `raw_overflow` control line (raw frames). SIGINT or
SIGTERM closes the connections (frames already received are kept), flushes both writers and
returns; a second signal stops without waiting.

Rotation duplicates: while a make-before-break rotation overlaps two connections, the same trades
(and tickers, top-N books) arrive on both. A row is keyed by the venue's trade id when it has one
(futures `i`, spot `tradeId`), else by (exchange time, price, qty, side); per key the recorder counts
how often each connection delivered it within a 10 s window and, for frames flagged as overlap,
writes it only when one connection has delivered it more often than it was written (a multiset
maximum). Genuine repeats of one print on one connection survive; the copy from the other
connection does not. Book diffs need none of this: the book sync drops diffs whose version it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import math
import os
import queue
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from fxcli import __version__
from fxcli.errors import FxError
from fxcli.exchange.adapter import Adapter, Channel, Decoded, Kind, Limits
from fxcli.exchange.booksync import LiveBooks
from fxcli.exchange.connection import (
    BreakerChanged,
    Connected,
    ConnectionManager,
    DialFailed,
    Disconnected,
    ManagerConfig,
    Rejected,
    Status,
    StreamGap,
    Subscribed,
    assign,
    plan_channels,
)
from fxcli.exchange.rest import RestClient
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Event, Gap, GapReason, Trade
from fxcli.model.frames import RawFrame
from fxcli.model.units import NS_PER_S
from fxcli.settings import Settings
from fxcli.store.layout import Layout
from fxcli.store.raw import RawRecord, RawWriter, frame_bytes, raw_dir, raw_tail
from fxcli.store.reader import StoreReader
from fxcli.store.rows import TableRows
from fxcli.store.schema import Table
from fxcli.store.writer import StoreError, StoreWriter, WriteBatch, ensure_writable, write_durably
from fxcli.tasks.tuning import live_process
from fxcli.tasks.venues import ResolvedEndpoints, Venue, resolve_endpoints, venue_named

log = logging.getLogger(__name__)

DEFAULT_KINDS = (Kind.TRADES, Kind.DEPTH)
DEDUP_WINDOW_S = 10.0
WRITER_QUEUE_S = 30.0  # the store writer's queue holds this many seconds of flushes before overflow
CLOCK_EVERY_S = 300.0  # venue clock offset, recorded every few minutes (§5.2 rule 12)
MAX_FLUSH_S = 60.0
DOWNTIME_DETAIL = "fx record was not running"
TAIL_NS = int((WRITER_QUEUE_S + MAX_FLUSH_S) * NS_PER_S)  # how far the tables can lag the raw log
QUIET_MARGIN_NS = NS_PER_S  # a symbol without events in the raw tail: its gap starts this early


class RecordError(FxError):
    """The recorder had to stop: the store or the raw log could not be written (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class RecordConfig:
    """A checked `fx record` run: what to record, where from, where to."""

    venue: Venue
    symbols: tuple[str, ...]
    kinds: tuple[Kind, ...]
    data_dir: Path
    endpoints: ResolvedEndpoints
    connections: int | None = None
    flush_s: float = 1.0
    table_flush_s: float | None = None  # default: flush_s
    stats_every_s: float = 10.0
    rotate_after_s: float | None = None  # rotate connections this often (default: the venue's limit)
    writer_queue: int | None = None  # store writer queue length (default: WRITER_QUEUE_S of flushes)
    raw_queue: int | None = None


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


# ---------------------------------------------------------------------------------------------- plan


def parse_kinds(text: str | None) -> tuple[Kind, ...]:
    """`trades,depth` → the kinds to subscribe (default trades and depth)."""
    if text is None or not text.strip():
        return DEFAULT_KINDS
    kinds: list[Kind] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        try:
            kind = Kind(part)
        except ValueError:
            raise FxError(f"--channels: {part!r} is not one of {', '.join(k.value for k in Kind)}") from None
        if kind not in kinds:
            kinds.append(kind)
    if not kinds:
        raise FxError("--channels: name at least one of " + ", ".join(k.value for k in Kind))
    return tuple(kinds)


def parse_symbols(adapter: Adapter, symbols: str | None, symbols_file: Path | None) -> tuple[str, ...]:
    """Symbols from `A,B` and/or a file (one per line, `#` comments), checked by the venue, in order."""
    found: list[str] = []

    def add(raw: str, where: str) -> None:
        try:
            channels = adapter.channels(raw, frozenset({Kind.TRADES}))
        except ValueError as exc:
            raise FxError(f"{where}: {exc}") from None
        symbol = channels[0].symbol
        if symbol not in found:
            found.append(symbol)

    for part in (symbols or "").split(","):
        if part.strip():
            add(part.strip(), "--symbols")
    if symbols_file is not None:
        try:
            text = symbols_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FxError(f"{symbols_file}: no such file") from None
        except (OSError, UnicodeError) as exc:
            raise FxError(f"{symbols_file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        for number, line in enumerate(text.splitlines(), start=1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                add(entry, f"{symbols_file}:{number}")
    if not found:
        raise FxError("no symbols: give --symbols A,B or --symbols-file FILE (one symbol per line)")
    return tuple(found)


def plan(
    *,
    exchange: str,
    symbols: str | None,
    symbols_file: Path | None,
    settings: Settings,
    sources: dict[str, str],
    ws_url: str | None = None,
    rest_url: str | None = None,
    connections: int | None = None,
    channels: str | None = None,
    flush_s: float = 1.0,
    table_flush_s: float | None = None,
    stats_every_s: float = 10.0,
    rotate_after_s: float | None = None,
) -> RecordConfig:
    """Check every input of a run (FxError, exit 2, naming the option or file line) before connecting."""
    venue = venue_named(exchange)
    endpoints = resolve_endpoints(venue, settings, sources, ws_url=ws_url, rest_url=rest_url)
    adapter = venue.make(endpoints.endpoints)
    kinds = parse_kinds(channels)
    wanted = parse_symbols(adapter, symbols, symbols_file)
    if connections is not None and connections < 1:
        raise FxError(f"--connections must be at least 1, got {connections}")
    if not 0 < flush_s <= MAX_FLUSH_S:
        raise FxError(f"--flush-s must be in (0, {MAX_FLUSH_S:g}], got {flush_s:g}")
    if table_flush_s is not None and not flush_s <= table_flush_s <= MAX_FLUSH_S:
        raise FxError(
            f"--table-flush-s must be in [{flush_s:g} (--flush-s), {MAX_FLUSH_S:g}], got {table_flush_s:g}"
        )
    if not stats_every_s > 0:
        raise FxError(f"--stats-s must be positive, got {stats_every_s:g}")
    if rotate_after_s is not None and rotate_after_s <= 0:
        raise FxError(f"--rotate-after-s must be positive, got {rotate_after_s:g}")
    try:
        assign(plan_channels(adapter, wanted, kinds), adapter.limits.max_subs_per_conn, connections)
    except ValueError as exc:
        raise FxError(f"--connections: {exc}") from None
    ensure_writable(settings.data_dir)
    return RecordConfig(
        venue=venue,
        symbols=wanted,
        kinds=kinds,
        data_dir=settings.data_dir,
        endpoints=endpoints,
        connections=connections,
        flush_s=flush_s,
        table_flush_s=table_flush_s,
        stats_every_s=stats_every_s,
        rotate_after_s=rotate_after_s,
    )


# ------------------------------------------------------------------------------------------ recorder


class _Dedup:
    """Per-key delivery counts over a sliding window: which rows a rotation overlap delivered twice."""

    def __init__(self, window_ns: int) -> None:
        self.window_ns = window_ns
        self._seen: dict[tuple[Any, ...], list[Any]] = {}  # key -> [written, {conn_id: delivered}]
        self._order: deque[tuple[int, tuple[Any, ...]]] = deque()

    def admit(self, key: tuple[Any, ...], conn_id: int, now_ns: int, *, is_overlap: bool) -> bool:
        """True if this delivery of `key` on `conn_id` is to be written."""
        order = self._order
        while order and order[0][0] < now_ns - self.window_ns:
            _, old = order.popleft()
            self._seen.pop(old, None)
        entry = self._seen.get(key)
        if entry is None:
            self._seen[key] = [1, {conn_id: 1}]
            order.append((now_ns, key))
            return True
        counts: dict[int, int] = entry[1]
        delivered = counts[conn_id] = counts.get(conn_id, 0) + 1
        if is_overlap and delivered <= entry[0]:
            return False  # the other connection of the rotation delivered this one already
        entry[0] += 1
        return True


class _Batcher:
    """Column buffers in, `StoreWriter.submit(block=False)` out, on a thread of its own.

    It never waits: the submit drops to a `writer_overflow` Gap when the store writer's queue is
    full. Its own queue grows only as fast as the CPU falls behind (it does no I/O).
    """

    def __init__(self, venue: str, writer: StoreWriter) -> None:
        self.venue = venue
        self.writer = writer
        self.rows_submitted = 0
        self.error: str | None = None
        self._queue: queue.SimpleQueue[dict[str, TableRows] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="fx-record-batcher", daemon=True)
        self._thread.start()

    def put(self, rows: dict[str, TableRows]) -> None:
        """Queue one flush: buffers per symbol (no longer touched by the event loop)."""
        self._queue.put(rows)

    def close(self) -> None:
        """Submit what is queued and stop."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self.error is not None:
                continue
            try:
                for symbol, rows in item.items():
                    for table, frame in rows.take():
                        self.writer.submit(
                            WriteBatch(self.venue, symbol, table, frame, append=True), block=False
                        )
                        self.rows_submitted += frame.height
            except StoreError as exc:  # the writer thread died: the loop sees it and stops the recorder
                self.error = str(exc)


@dataclass
class _Counters:
    frames: int = 0
    bytes_in: int = 0
    problems: int = 0
    trades: int = 0
    duplicates: int = 0
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
    ) -> None:
        self.venue = venue
        self.writer = writer
        self.raw = raw
        self.books: LiveBooks | None = None
        self.counters = _Counters()
        self.clock_offset_ms: float | None = None
        self.slots = slots
        self._notify = notify
        self._channels = list(channels)
        self._slot_of: dict[str, int] = {}
        self._rows: dict[str, TableRows] = {}
        self._batcher = _Batcher(venue, writer)
        self._dedup: dict[str, _Dedup] = {}
        self._dedup_window_ns = int(dedup_window_s * NS_PER_S)
        self._pending: list[RawRecord] = []
        self._active: dict[int, set[str]] = {}
        self._connected: dict[int, int] = {}  # conn_id -> slot
        self._down_since: dict[str, int] = {}  # symbol -> when the previous recorder stopped
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
        if decoded.problem:
            self.counters.problems += 1
        if not decoded.events:
            return
        is_overlap = frame.overlap_with is not None
        book_events: list[BookDelta | BookSnapshot] = []
        for event in decoded.events:
            if isinstance(event, Trade):
                key: tuple[Any, ...] = (
                    ("t", event.trade_id)
                    if event.trade_id is not None
                    else ("t", event.exchange_ts_ns, event.price, event.qty, event.side)
                )
                if self._admit(event.symbol, key, frame, is_overlap):
                    self._table(event.symbol).add(event)
                    self.counters.trades += 1
            elif isinstance(event, BookDelta) or (isinstance(event, BookSnapshot) and event.is_full):
                book_events.append(event)
            elif isinstance(event, BookTicker):
                sizes = (event.bid_qty, event.ask_qty)  # futures tickers have none (NaN, never equal)
                key = ("b", event.exchange_ts_ns, event.update_id, event.bid_price, event.ask_price)
                key += tuple(None if math.isnan(q) else q for q in sizes)
                if self._admit(event.symbol, key, frame, is_overlap):
                    self._table(event.symbol).add(event)
            else:
                key = ("s", event.exchange_ts_ns, event.version, event.source)
                if self._admit(event.symbol, key, frame, is_overlap):
                    self._table(event.symbol).add(event)
        if book_events and self.books is not None:
            self.books.on_events(book_events)

    def on_status(self, status: Status) -> None:
        """Lifecycle news: gaps become rows; everything becomes a control line in the raw log."""
        at_ns = getattr(status, "at_ns", None) or time.time_ns()
        slot = getattr(status, "slot", 0)
        fields: dict[str, Any]
        if isinstance(status, StreamGap):
            self._gap(status.gap, slot)
            return
        if isinstance(status, Connected):
            self._connected[status.conn_id] = slot
            fields = {"slot": slot, "conn_id": status.conn_id, "url": status.url}
            if status.replacing is not None:
                fields["replacing"] = status.replacing
            kind = "connected"
        elif isinstance(status, Subscribed):
            names = [c.name for c in status.channels]
            self._active.setdefault(status.conn_id, set()).update(names)
            for symbol in {c.symbol for c in status.channels} & self._down_since.keys():
                since = self._down_since.pop(symbol)
                if since < at_ns:
                    self._gap(Gap(symbol, since, at_ns, GapReason.DISCONNECT, DOWNTIME_DETAIL), slot)
            fields = {"slot": slot, "conn_id": status.conn_id, "channels": len(names)}
            self._control(slot, at_ns, "subscribed", {**fields, "names": names})
            self.announce("subscribed", at_ns, fields)
            return
        elif isinstance(status, Rejected):
            names = [c.name for c in status.channels]
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

    def on_book_events(self, events: list[Event]) -> None:
        """What the book sync says is worth storing: snapshots, applied diffs, and gaps."""
        for event in events:
            if isinstance(event, Gap):
                self._gap(event, self._slot_of.get(event.symbol, 0))
            elif isinstance(event, BookSnapshot):
                estimated = event.source == "rest" and event.exchange_ts_ns == event.received_ts_ns
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
        its first subscription here is acknowledged."""
        self._down_since = dict(since_ns)

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
            symbols=len(by_symbol),
            symbols_live=sum(by_symbol.values()),
            connections=self.slots,
            connections_live=len(set(self._connected.values())),  # slots, not sockets (rotation)
            trades=self.counters.trades,
            duplicates=self.counters.duplicates,
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

    def _admit(self, symbol: str, key: tuple[Any, ...], frame: RawFrame, is_overlap: bool) -> bool:
        dedup = self._dedup.get(symbol)
        if dedup is None:
            dedup = self._dedup[symbol] = _Dedup(self._dedup_window_ns)
        if dedup.admit(key, frame.conn_id, frame.received_ts_ns, is_overlap=is_overlap):
            return True
        self.counters.duplicates += 1
        return False

    def _table(self, symbol: str) -> TableRows:
        rows = self._rows.get(symbol)
        if rows is None:
            rows = self._rows[symbol] = TableRows()
        return rows

    def _gap(self, gap: Gap, slot: int) -> None:
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


# --------------------------------------------------------------------------------------------- run


@dataclass(frozen=True)
class RecordSummary:
    """How a run ended."""

    stats: RecordStats
    seconds: float
    raw_files: int


def record(
    config: RecordConfig,
    *,
    notify: Notify | None = None,
    observe: Observe | None = None,
    observe_every_s: float | None = None,
    write_file: Callable[[bytes, Path], None] = write_durably,
    manager_config: ManagerConfig | None = None,
    stop: Callable[[], bool] | None = None,
    recorder_type: type[Recorder] | None = None,
) -> RecordSummary:
    """Record until SIGINT/SIGTERM (or `stop()` turns true); raises RecordError if the disk fails.

    `notify` gets events as they happen, `observe` the counters every `observe_every_s` (default
    `config.stats_every_s`); both are called on the event loop and must not block (the CLI hands
    them to a printing thread).
    `write_file` is the store writer's sink, `manager_config` the connection manager's knobs, and
    `recorder_type` a `Recorder` subclass (tests use these to stall the disk and time callbacks).
    """
    import polars  # noqa: F401  -- imported here, not at the first flush on the event loop

    with live_process(), recorder_lock(config):
        run = _record(
            config,
            notify,
            observe,
            observe_every_s or config.stats_every_s,
            write_file,
            manager_config,
            stop,
            recorder_type or Recorder,
        )
        return asyncio.run(run)


@contextlib.contextmanager
def recorder_lock(config: RecordConfig) -> Iterator[None]:
    """One recorder per venue and data dir: two would interleave their raw files."""
    folder = raw_dir(config.data_dir, config.venue.name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = (folder / ".lock").open("a")
    except OSError as exc:
        raise StoreError(f"cannot write {folder}: {exc.strerror or exc}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FxError(
                f"another fx record is writing {folder} (lock {folder / '.lock'}); "
                "stop it or use another --data-dir"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_TABLE_OF: dict[type, Table] = {
    Trade: Table.TRADES,
    BookDelta: Table.BOOK_DELTAS,
    BookSnapshot: Table.BOOK_SNAPSHOTS,
    BookTicker: Table.BOOK_TICKER,
}


def downtime_starts(config: RecordConfig, adapter: Adapter) -> dict[str, int]:
    """Per symbol recorded here before: the exchange time from which the store may miss its data,
    so that the time until this recorder's first acknowledged subscription becomes a gap.

    After a kill -9 the raw log (flushed every `--flush-s`) can be ahead of the tables (every
    `--table-flush-s`, then the writer's time), and frames received after the last raw flush are
    gone. So the raw log's last `TAIL_NS` are decoded again: per symbol, the gap starts at the earliest
    exchange time of an event its tables do not hold, else just after the newest event they do
    hold (a venue delivers a symbol's events in order), else `QUIET_MARGIN_NS` before the last raw
    record.
    """
    import polars as pl

    # The tables never lag the raw log by more than the writer's queue and a table flush: beyond
    # that, rows were dropped as writer_overflow gaps, which are in the store already.
    records = raw_tail(config.data_dir, config.venue.name, TAIL_NS)
    if not records:
        return {}
    exchange = config.venue.name
    tail_start = int(records[0]["recv_wall_ns"])
    reader = StoreReader(config.data_dir)
    symbols = set(Layout(config.data_dir).symbols(exchange)).intersection(config.symbols)
    stored: dict[tuple[str, Table], int] = {}  # newest receive time per table, near the tail

    def stored_until(symbol: str, table: Table) -> int:
        # Read only for the tables the tail has events of (a scan is a Parquet read).
        if (symbol, table) not in stored:
            rows = reader.scan(exchange, symbol, table, tail_start - TAIL_NS)
            newest = rows.select(pl.col("received_ts_ns").max()).collect().item()
            stored[(symbol, table)] = int(newest) if newest is not None else tail_start
        return stored[(symbol, table)]

    lost: dict[str, int] = {}  # earliest exchange time of an event the tables do not hold
    held: dict[str, int] = {}  # newest exchange time of an event they do hold
    for record in records:
        if record.get("kind") not in ("text", "binary"):
            continue
        received = int(record["recv_wall_ns"])
        for event in adapter.decode(frame_bytes(record), received).events:
            kind_table = _TABLE_OF.get(type(event))
            symbol = event.symbol
            if kind_table is None or symbol not in symbols:
                continue
            at = event.exchange_ts_ns
            if received > stored_until(symbol, kind_table):
                lost[symbol] = min(lost.get(symbol, at), at)
            else:
                held[symbol] = max(held.get(symbol, at), at)
    quiet = int(records[-1]["recv_wall_ns"]) - QUIET_MARGIN_NS
    return {s: lost[s] if s in lost else held[s] + 1 if s in held else quiet for s in symbols}


class RecordSession:
    """A recorder with its writers, on the running event loop, fed by a connection manager's frames.

    `fx record` gives it a manager of its own; `fx stream --record` makes it a second consumer of the
    stream's manager (`consumer()` is what to hand the manager; `books` a `LiveBooks` emit target),
    so a recorded session is exactly what the strategy saw, on the same connections.
    """

    def __init__(
        self,
        config: RecordConfig,
        adapter: Adapter,
        assignment: list[list[Channel]],
        *,
        notify: Notify | None,
        write_file: Callable[[bytes, Path], None],
        recorder_type: type[Recorder],
    ) -> None:
        venue, endpoints = config.venue, config.endpoints
        self.config = config
        self.adapter = adapter
        flushes_queued = math.ceil(WRITER_QUEUE_S / (config.table_flush_s or config.flush_s))
        queue_len = config.writer_queue or max(64, flushes_queued * len(config.symbols) * 3)
        header = {
            "fx": __version__,
            "ws_url": endpoints.ws_url,
            "rest_url": endpoints.rest_url,
            "kinds": [k.value for k in config.kinds],
            "symbols": len(config.symbols),
        }
        down_since = downtime_starts(config, adapter)  # before this session writes any
        self.started_ns = time.time_ns()
        self.started = time.monotonic()
        self.writer = StoreWriter(config.data_dir, max_queue=queue_len, write_file=write_file)
        self.raw = RawWriter(
            config.data_dir,
            venue.name,
            header=header,
            max_queue=config.raw_queue or max(64, flushes_queued * 2),
        )
        channels = [c for chunk in assignment for c in chunk]
        self.recorder = recorder_type(
            venue.name, channels, self.writer, self.raw, slots=len(assignment), notify=notify
        )
        self.recorder.assign_slots(assignment)
        self.recorder.note_downtime(down_since)
        self.recorder.announce(
            "started",
            self.started_ns,
            {
                "exchange": venue.name,
                "symbols": len(config.symbols),
                "channels": len(channels),
                "connections": len(assignment),
                "ws_url": endpoints.ws_url,
                "rest_url": endpoints.rest_url,
                "data_dir": str(config.data_dir),
                "pid": os.getpid(),
            },
        )

    async def run(
        self,
        stop: asyncio.Event,
        stop_when: Callable[[], bool] | None,
        observe: Observe | None,
        observe_every_s: float,
    ) -> str | None:
        """Flush and report until `stop` is set (or `stop_when()` turns true); a disk failure ends it
        early and is returned."""
        clock = asyncio.create_task(_track_clock(self.adapter, self.recorder))
        try:
            return await _tick(
                self.config, self.recorder, stop, stop_when, self.started_ns, observe, observe_every_s
            )
        finally:
            clock.cancel()
            await asyncio.gather(clock, return_exceptions=True)

    async def close(self, failure: str | None) -> RecordSummary:
        """The last flush, writers closed; raises RecordError for `failure` or a disk that failed."""
        recorder, raw = self.recorder, self.raw
        try:
            recorder.flush()
        except StoreError as exc:
            failure = failure or str(exc)
        batcher_error = await asyncio.to_thread(_close_quietly, recorder)
        store_error = await asyncio.to_thread(_close_quietly, self.writer) or batcher_error
        raw_stats = await asyncio.to_thread(raw.close)
        failure = failure or store_error or (f"raw log: {raw.error}" if raw.error else None)
        seconds = time.monotonic() - self.started
        final = recorder.stats(self.started_ns, recorder.counters.frames / seconds if seconds > 0 else 0.0)
        recorder.announce("stopped", time.time_ns(), {"seconds": round(seconds, 3), "failed": failure})
        if failure is not None:
            raise RecordError(failure)
        return RecordSummary(final, seconds, len(raw_stats.paths))


def manager_setup(
    config: RecordConfig, adapter: Adapter, manager_config: ManagerConfig | None
) -> tuple[list[Channel], Limits, ManagerConfig, list[list[Channel]]]:
    """Channels, limits, manager knobs and the channels of each connection slot for `config`."""
    channels = plan_channels(adapter, config.symbols, config.kinds)
    limits = adapter.limits
    if config.rotate_after_s is not None:
        limits = replace(limits, max_conn_age_s=config.rotate_after_s)
    base = manager_config or ManagerConfig()
    manager_cfg = replace(base, connections=config.connections or base.connections)
    return channels, limits, manager_cfg, assign(channels, limits.max_subs_per_conn, manager_cfg.connections)


async def _record(
    config: RecordConfig,
    notify: Notify | None,
    observe: Observe | None,
    observe_every_s: float,
    write_file: Callable[[bytes, Path], None],
    manager_config: ManagerConfig | None,
    stop_when: Callable[[], bool] | None,
    recorder_type: type[Recorder],
) -> RecordSummary:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            signals.append(signum)

    adapter = config.venue.make(config.endpoints.endpoints)
    adapter.decode(b"", 0)  # the first binary frame imports protobuf (25-65 ms): pay it before connecting
    channels, limits, manager_cfg, assignment = manager_setup(config, adapter, manager_config)
    session = RecordSession(
        config, adapter, assignment, notify=notify, write_file=write_file, recorder_type=recorder_type
    )
    recorder = session.recorder
    books: LiveBooks | None = None
    if Kind.DEPTH in config.kinds:
        books = LiveBooks(adapter, RestClient(timeout_s=5.0), recorder.on_book_events, symbols=config.symbols)
        recorder.books = books
    failure: str | None = None
    manager = ConnectionManager(adapter, channels, recorder, config=manager_cfg, limits=limits)
    try:
        await manager.start()
        failure = await session.run(stop, stop_when, observe, observe_every_s)
    finally:
        recorder.announce("stopping", time.time_ns(), {"reason": failure or "stop requested"})
        for signum in signals:  # a second signal now stops without waiting (default handlers)
            loop.remove_signal_handler(signum)
        await manager.stop()
        if books is not None:
            await books.close()
    return await session.close(failure)


async def _tick(
    config: RecordConfig,
    recorder: Recorder,
    stop: asyncio.Event,
    stop_when: Callable[[], bool] | None,
    started_ns: int,
    observe: Observe | None,
    observe_every_s: float,
) -> str | None:
    """Flush raw frames every `flush_s` and tables every `table_flush_s`, report every
    `observe_every_s`, until stopped; a disk failure stops it."""
    now = time.monotonic()
    table_flush_s = config.table_flush_s or config.flush_s
    next_flush, next_tables, next_observe = now + config.flush_s, now + table_flush_s, now + observe_every_s
    last_frames, last_mono = 0, now
    rate = 0.0
    while not stop.is_set():
        wait = max(0.0, min(next_flush, next_observe) - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=min(wait, 0.25))
        if stop_when is not None and stop_when():
            stop.set()
        now = time.monotonic()
        if now >= next_flush:
            next_flush = now + config.flush_s
            tables = now >= next_tables - config.flush_s / 2
            if tables:
                next_tables = now + table_flush_s
            try:
                recorder.flush(tables=tables)
            except StoreError as exc:
                return str(exc)
            if recorder.raw.error is not None:
                return f"raw log: {recorder.raw.error}"
        if now >= next_observe:
            next_observe = now + observe_every_s
            frames = recorder.counters.frames
            rate = (frames - last_frames) / max(now - last_mono, 1e-9)
            last_frames, last_mono = frames, now
            if observe is not None:
                observe(recorder.stats(started_ns, rate))
    return None


async def _track_clock(adapter: Adapter, recorder: Recorder) -> None:
    """The venue's clock against ours, at start and every few minutes; failures only wait."""
    rest = RestClient(timeout_s=3.0)
    while True:
        try:
            sample = await rest.fetch_server_time(adapter)
            recorder.note_clock(sample.offset_ms, sample.rtt_ns / 1e6)
        except Exception as exc:  # offline, a breaker, a bad answer: the recorder goes on without one
            log.debug("clock offset: %s", exc)
        await asyncio.sleep(CLOCK_EVERY_S)


def _close_quietly(closable: StoreWriter | Recorder) -> str | None:
    try:
        closable.close()
    except StoreError as exc:
        return str(exc)
    return None
