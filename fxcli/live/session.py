"""A stream session: one `Runner` per symbol behind a router, fed by a live or recorded source.

One thread, in the order an event travels:

- the asyncio loop owns the source: a `ConnectionManager` on MEXC (with a `LiveBooks` that seeds
  each symbol's L2 book from REST and keeps it in step), or a `Playback` of a store folder. Its
  `Consumer` (`live.router.Router`) hands each decoded event straight to its symbol's `Runner`
  (`fxcli.backtest.runner`): the same pipeline, strategy machine, fill model (walking the live L2
  book) and account as a backtest. The decision is made inside the frame's callback: no queue and no
  thread hand-off sits between a frame and the strategy (a hand-off to a worker thread cost ~300 µs
  of GIL wait at p99);
- each symbol publishes to a `Feed` (`live.feed`); a slow screen loses frames, never engine time.
  When the engine cannot keep up, the socket is read later (TCP back-pressure), never buffered
  without bound.

A stop (signal, `request_stop`, the end of a recording) ends the source; each symbol's open paper
position is then closed at the book (`end_of_data`, as at the end of a backtest).

With `trading` (`fx stream --live`, `live.trading`), each runner's orders go to the venue instead:
start-up reconciliation runs before the source starts, and cancel-on-exit after it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from fxcli.backtest.fills import Costs
from fxcli.engine.clock import clock_ns_of, next_tick_ns
from fxcli.engine.params import IndicatorParams
from fxcli.exchange.adapter import Adapter, Kind
from fxcli.exchange.booksync import BookEvent, LiveBooks
from fxcli.exchange.connection import ConnectionManager, ManagerConfig
from fxcli.exchange.playback import Playback
from fxcli.exchange.rest import RestClient
from fxcli.live.feed import Feed, StatusNote
from fxcli.live.plan import connection_plan
from fxcli.live.ready import ready_or_stopped
from fxcli.live.router import Router, Tee
from fxcli.live.signals import graceful_stop
from fxcli.live.symbol import FRAME_EVERY_NS, LiveSymbol
from fxcli.live.venue_clock import VenueClock
from fxcli.model.events import Event
from fxcli.model.units import NS_PER_S
from fxcli.strategy.spec import StrategySpec

if TYPE_CHECKING:  # fx record is imported only when --record asks for it
    from fxcli.live.record import RecordConfig, RecordSummary
    from fxcli.live.recorder import RecordEvent
    from fxcli.live.trading import LiveTrading

Source = Callable[["Session", asyncio.Event], Coroutine[Any, Any, str]]
"""Runs a session's source until it ends or `stop` is set; returns why it ended."""


class Session:
    """Workers, router and source of one `fx stream` run."""

    def __init__(
        self,
        spec: StrategySpec,
        indicators: list[tuple[str, str, IndicatorParams]],
        symbols: list[str],
        costs: Costs,
        balance: float,
        feed: Feed,
        clock_ms: int = 0,
        frame_every_ns: int = FRAME_EVERY_NS,
        trading: LiveTrading | None = None,
    ) -> None:
        self.spec = spec
        self.trading = trading
        self.clock_ms = clock_ms
        self.frame_every_ns = frame_every_ns  # a symbol's frames at most this often (--serve-rate: faster)
        self.venue_clock = VenueClock()  # fed by every symbol's events; drives live clock ticks
        self.indicators = indicators
        self.names = [name for name, _, _ in indicators]
        self.costs = costs
        self.balance = balance
        self.feed = feed
        self.symbols = {s: LiveSymbol(self, s) for s in symbols}
        self.router = Router(self)
        self.failure = ""
        self.recorded: RecordSummary | None = None  # what --record wrote
        self.record_error: BaseException | None = None  # raised once the session is written
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def request_stop(self, failure: str = "") -> None:
        """Stop the source (from any thread); `failure` says a symbol's run failed."""
        if failure and not self.failure:
            self.failure = failure
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(stop.set)

    def run(self, source: Source, external_stop: threading.Event | None = None) -> str:
        """Run the source on a fresh event loop in this thread, then finish every symbol's run."""
        try:
            ended = asyncio.run(self._main(source, external_stop))
        finally:
            for run in self.symbols.values():
                run.finish()
        failed = [run for run in self.symbols.values() if run.error is not None]
        if failed:
            run = failed[0]
            assert run.error is not None
            raise RuntimeError(f"{run.symbol}: {type(run.error).__name__}: {run.error}") from run.error
        return ended

    async def _main(self, source: Source, external_stop: threading.Event | None) -> str:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        self._loop, self._stop = loop, stop
        helpers = [asyncio.create_task(self._refresh())]
        if external_stop is not None:
            helpers.append(asyncio.create_task(_watch(external_stop, stop)))
        try:
            with graceful_stop(loop, stop):
                if self.trading is None:
                    ended = await source(self, stop)
                else:
                    venue_now = lambda: self.venue_clock.now_ns(time.time_ns())  # noqa: E731
                    async with self.trading.running(stop, venue_now):
                        ended = await source(self, stop)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
        return "failed" if self.failure else ended

    async def _refresh(self) -> None:
        """Frames for symbols whose market went quiet (busy ones publish as their events arrive)."""
        while True:
            await asyncio.sleep(self.frame_every_ns / NS_PER_S)
            now = time.time_ns()
            for run in self.symbols.values():
                run.refresh(now)
            if self.trading is not None:  # the loop is alive: the dead-man switch waits
                self.trading.heartbeat()

    async def run_clock(self) -> None:
        """Live clock ticks: each symbol's grid tick fires when the venue's clock (receive time
        corrected by the measured skew) passes it, even when no event comes. A replay needs none:
        its ticks come before the event that reaches them, as in a backtest."""
        clock_ns = clock_ns_of(self.clock_ms)
        if not clock_ns:
            return
        while True:
            venue_now = self.venue_clock.now_ns(time.time_ns())
            wait_ns = clock_ns
            if venue_now is not None:
                for run in self.symbols.values():
                    run.advance_clock(venue_now)
                wait_ns = next_tick_ns(venue_now, clock_ns) - venue_now
            await asyncio.sleep(wait_ns / NS_PER_S)


async def _watch(external: threading.Event, stop: asyncio.Event) -> None:
    while not external.is_set() and not stop.is_set():
        await asyncio.sleep(0.05)
    stop.set()


def live_source(
    adapter: Adapter,
    symbols: list[str],
    config: ManagerConfig | None = None,
    recording: RecordConfig | None = None,
    proxy: str | None = None,
    rotate_after_s: float | None = None,
) -> Source:
    """MEXC over WebSockets: trades and L2 diffs, each book seeded by REST and kept in step; with
    `recording`, `fx record`'s recorder is a second consumer of the same connections and books."""

    async def source(session: Session, stop: asyncio.Event) -> str:
        clock = asyncio.create_task(session.run_clock())
        try:
            return await _live(session, stop)
        finally:
            clock.cancel()
            await asyncio.gather(clock, return_exceptions=True)

    async def _live(session: Session, stop: asyncio.Event) -> str:
        async with RestClient(proxy=proxy) as rest:
            ready = await ready_or_stopped(adapter, rest, stop, _waiting(session.feed))
            if ready is None:
                return "stopped"
            if recording is None:
                await _stream(session, stop, ready, rest, symbols, config, proxy, rotate_after_s)
            else:
                await _stream_and_record(session, stop, ready, rest, symbols, config, recording)
        return "stopped"

    return source


async def _stream(
    session: Session,
    stop: asyncio.Event,
    adapter: Adapter,
    rest: RestClient,
    symbols: list[str],
    config: ManagerConfig | None,
    proxy: str | None,
    rotate_after_s: float | None,
) -> None:
    router = session.router
    plan = connection_plan(
        adapter, symbols, [Kind.TRADES, Kind.DEPTH], config, rotate_after_s=rotate_after_s, proxy=proxy
    )
    books = router.books = LiveBooks(adapter, rest, router.on_books, symbols=symbols)
    try:
        async with ConnectionManager(adapter, plan.channels, router, config=plan.config, limits=plan.limits):
            await stop.wait()
    finally:
        await books.close()


async def _stream_and_record(
    session: Session,
    stop: asyncio.Event,
    adapter: Adapter,
    rest: RestClient,
    symbols: list[str],
    config: ManagerConfig | None,
    recording: RecordConfig,
) -> None:
    from fxcli.live.record import RecordError, RecordSession
    from fxcli.live.recorder import Recorder
    from fxcli.store.encoding import write_durably

    router = session.router
    plan = recording.plan(adapter, config)
    rec = RecordSession(
        recording,
        adapter,
        plan.assignment,
        notify=_record_notes(session.feed),
        write_file=write_durably,
        recorder_type=Recorder,
    )
    recorder = rec.recorder

    def both(events: list[BookEvent]) -> None:
        router.on_books(events)
        recorder.on_book_events(events)

    books = router.books = LiveBooks(adapter, rest, both, symbols=symbols)
    failure: str | None = None
    try:
        tee = Tee(router, recorder)
        async with ConnectionManager(adapter, plan.channels, tee, config=plan.config, limits=plan.limits):
            # Flushes until `stop`; it returns early only when the disk failed: the session stops too.
            failure = await rec.run(stop, None, None, recording.stats_every_s)
            if failure is not None:
                session.request_stop(f"record: {failure}")
    finally:
        await books.close()  # its last gaps reach the recorder before the last flush
        try:
            session.recorded = await rec.close(failure)
        except RecordError as exc:  # raised once the session is written
            session.record_error = exc


def _waiting(feed: Feed) -> Callable[[str, float], None]:
    """What the screen hears while the venue's facts (futures contract sizes) cannot be read yet."""

    def note(reason: str, delay_s: float) -> None:
        feed.publish(StatusNote(time.time_ns(), "waiting", f"{reason}; retry in {delay_s:.1f} s"))

    return note


def _record_notes(feed: Feed) -> Callable[[RecordEvent], None]:
    """The recorder's news that a stream's screen shows."""

    def notify(event: RecordEvent) -> None:
        if event.kind in ("started", "stopped", "writer_overflow", "gap"):
            detail = ", ".join(f"{k}={v}" for k, v in event.fields.items())
            feed.publish(StatusNote(event.at_ns, f"record_{event.kind}", detail))

    return notify


def playback_source(streams: Mapping[str, Iterable[Event]], speed: float | None) -> Source:
    """A store folder's events, paced at `speed` x their recorded pace (None: as fast as possible)."""

    async def source(session: Session, stop: asyncio.Event) -> str:
        router = session.router
        playback = Playback(streams, router, speed=speed)
        stats = await playback.run(stop)
        return "end_of_data" if stats.is_complete else "stopped"

    return source
