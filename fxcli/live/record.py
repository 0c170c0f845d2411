"""A recording run: the recorder with its writers and flush loop, on a connection manager, until stopped.

`record()` is `fx record`: SIGINT or SIGTERM closes the connections (frames already received are
kept), flushes both writers and returns. `RecordSession` is the same recorder without a manager of
its own: `fx stream --record` makes it a second consumer of the stream's connections and books.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO

from fxcli import __version__
from fxcli.errors import FxError
from fxcli.exchange.adapter import Adapter, Channel, Kind
from fxcli.exchange.booksync import LiveBooks
from fxcli.exchange.connection import ConnectionManager, ManagerConfig
from fxcli.exchange.pacing import CircuitBreaker, TokenBucket
from fxcli.exchange.rest import RestClient
from fxcli.exchange.venues import ResolvedEndpoints, Venue, unit_meta
from fxcli.live.backfill import Backfiller, BackfillTiming, history_of
from fxcli.live.downtime import MAX_FLUSH_S, WRITER_QUEUE_S, downtime_starts, stored_trades_from
from fxcli.live.plan import ConnectionPlan, connection_plan
from fxcli.live.ready import ready_or_stopped
from fxcli.live.recorder import Notify, Observe, Recorder, RecordEvent, RecordStats
from fxcli.live.signals import until_stopped
from fxcli.live.tuning import live_process
from fxcli.store.encoding import write_durably
from fxcli.store.raw import RawWriter, raw_dir
from fxcli.store.writer import StoreError, StoreWriter

log = logging.getLogger(__name__)

CLOCK_EVERY_S = 300.0  # venue clock offset, recorded every few minutes (§5.2 rule 12)
BACKFILL_PACE = (5, 2.0)  # aggTrades calls: burst, per second (weight 1 of MEXC's 500 per 10 s per endpoint)
__all__ = ["MAX_FLUSH_S", "RecordConfig", "RecordError", "RecordSession", "RecordSummary", "record"]


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
    proxy: str | None = None  # every venue connection through it (checked: its packages are installed)
    backfill: bool = True  # fetch the trades of a gap over REST (`--backfill off`: not)
    backfill_timing: BackfillTiming = field(default_factory=BackfillTiming)

    def plan(self, adapter: Adapter, base: ManagerConfig | None) -> ConnectionPlan:
        return connection_plan(
            adapter,
            self.symbols,
            self.kinds,
            base,
            connections=self.connections,
            rotate_after_s=self.rotate_after_s,
            proxy=self.proxy,
        )


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
        run = partial(
            _record,
            config,
            notify=notify,
            observe=observe,
            observe_every_s=observe_every_s or config.stats_every_s,
            write_file=write_file,
            manager_config=manager_config,
            stop_when=stop,
            recorder_type=recorder_type or Recorder,
        )
        return asyncio.run(until_stopped(run))


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
            "qty_unit": "base",  # futures contracts are multiplied by their contract_sizes in the decoder
        }
        sizes = {s: unit_meta(adapter, s).get("contract_size") for s in config.symbols}
        if any(size is not None for size in sizes.values()):
            header["contract_sizes"] = sizes
        down_since = downtime_starts(
            config.data_dir, venue.name, config.symbols, adapter
        )  # before any is written
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
            venue.name,
            channels,
            self.writer,
            self.raw,
            slots=len(assignment),
            notify=notify,
            meta_of=lambda symbol: unit_meta(adapter, symbol),
        )
        self.recorder.assign_slots(assignment)
        self.recorder.note_downtime(down_since)
        self.down_since = down_since
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
        clock = asyncio.create_task(_track_clock(self.adapter, self.recorder, self.config.proxy))
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
        recorder.finish_downtime(time.time_ns())
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


async def _record(
    config: RecordConfig,
    stop: asyncio.Event,
    *,
    notify: Notify | None,
    observe: Observe | None,
    observe_every_s: float,
    write_file: Callable[[bytes, Path], None],
    manager_config: ManagerConfig | None,
    stop_when: Callable[[], bool] | None,
    recorder_type: type[Recorder],
) -> RecordSummary:
    adapter = config.venue.make(config.endpoints.endpoints)
    adapter.decode(b"", 0)  # the first binary frame imports protobuf (25-65 ms): pay it before connecting
    failure: str | None = None
    async with (
        RestClient(timeout_s=5.0, proxy=config.proxy) as rest,
        # Its own budget and breaker: paging a long outage never delays a book snapshot.
        RestClient(
            timeout_s=5.0,
            proxy=config.proxy,
            bucket=TokenBucket(*BACKFILL_PACE),
            breaker=CircuitBreaker("backfill"),
        ) as backfill_rest,
    ):
        adapter = await _until_ready(adapter, rest, stop, notify)
        plan = config.plan(adapter, manager_config)
        session = RecordSession(
            config,
            adapter,
            plan.assignment,
            notify=notify,
            write_file=write_file,
            recorder_type=recorder_type,
        )
        recorder = session.recorder
        backfiller = _backfiller(config, session, adapter, backfill_rest)
        books: LiveBooks | None = None
        if Kind.DEPTH in config.kinds:
            books = LiveBooks(adapter, rest, recorder.on_book_events, symbols=config.symbols)
            recorder.books = books
        manager = ConnectionManager(adapter, plan.channels, recorder, config=plan.config, limits=plan.limits)
        try:
            await manager.start()
            failure = await session.run(stop, stop_when, observe, observe_every_s)
        finally:
            recorder.announce("stopping", time.time_ns(), {"reason": failure or "stop requested"})
            await manager.stop()
            if books is not None:
                await books.close()  # its last gaps reach the recorder before the last flush
            if backfiller is not None:
                await backfiller.close()  # the gaps it holds reach the recorder before the last flush
    return await session.close(failure)


def _backfiller(
    config: RecordConfig, session: RecordSession, adapter: Adapter, rest: RestClient
) -> Backfiller | None:
    """The trade backfill of a run that records trades (None with `--backfill off`), primed with
    where each symbol's stored data stops (a restart's first gap)."""
    recorder = session.recorder
    history = history_of(adapter)
    if Kind.TRADES not in config.kinds or history is None:
        return None
    if not config.backfill:
        recorder.is_backfill_off = True
        return None
    backfiller = Backfiller(
        history,
        rest,
        recorder.store_backfilled,
        recorder.announce,
        offset_ms=lambda: recorder.clock_offset_ms,
        timing=config.backfill_timing,
    )
    for symbol, since in session.down_since.items():
        stored = stored_trades_from(config.data_dir, config.venue.name, symbol, since)
        backfiller.note_start(symbol, since, stored)
    recorder.backfill = backfiller
    return backfiller


async def _until_ready(
    adapter: Adapter, rest: RestClient, stop: asyncio.Event, notify: Notify | None
) -> Adapter:
    """The adapter with what it needs from the venue (futures: contract sizes), waited for until it
    comes or the recorder is stopped (then RecordError: nothing was recorded)."""

    def waiting(reason: str, delay_s: float) -> None:
        if notify is not None:
            fields = {"reason": reason, "retry_in_s": round(delay_s, 2)}
            notify(RecordEvent("waiting", time.time_ns(), fields))

    ready = await ready_or_stopped(adapter, rest, stop, waiting)
    if ready is None:
        raise RecordError("stopped before the venue's contract list could be read: nothing was recorded")
    return ready


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


async def _track_clock(adapter: Adapter, recorder: Recorder, proxy: str | None) -> None:
    """The venue's clock against ours, at start and every few minutes; failures only wait."""
    async with RestClient(timeout_s=3.0, proxy=proxy) as rest:
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
