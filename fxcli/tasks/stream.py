"""`fx stream`: a strategy run live on MEXC (paper orders), or over a recording, through `fx backtest`'s loop.

One thread, in the order an event travels:

- the asyncio loop owns the source: a `ConnectionManager` on MEXC (with a `LiveBooks` that seeds
  each symbol's L2 book from REST and keeps it in step), or a `Playback` of a store folder. Its
  `Consumer` hands each decoded event straight to its symbol's `Runner` (`fxcli.backtest.runner`):
  the same pipeline, strategy machine, fill model (walking the live L2 book) and account as a
  backtest. The decision is made inside the frame's callback: no queue and no thread hand-off sits
  between a frame and the strategy (a hand-off to a worker thread cost ~300 µs of GIL wait at p99);
- each symbol publishes to a `Feed`: transitions, fills, closed trades and connection news
  losslessly (they are rare), per-symbol frames through a bounded queue that a screen drains on its
  own thread; a slow screen loses frames, never engine time. When the engine cannot keep up, the
  socket is read later (TCP back-pressure), never buffered without bound.

SIGINT / SIGTERM stop the source; each symbol's open paper position is
closed at the book (`end_of_data`, as at the end of a backtest), and the session's trades,
transitions and equity are written like a backtest's (`<out>/<run_id>/`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import queue
import signal
import threading
import time
import warnings
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fxcli.backtest.fills import Fill
from fxcli.backtest.runner import Runner, RunResult, TradeRecord
from fxcli.engine.params import IndicatorParams
from fxcli.errors import FxError
from fxcli.exchange.adapter import Adapter, Decoded, Kind
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
    plan_channels,
)
from fxcli.exchange.playback import Playback
from fxcli.exchange.rest import RestClient
from fxcli.model.events import BookDelta, BookSnapshot, Event, Gap, MarketEvent
from fxcli.model.frames import RawFrame
from fxcli.model.units import NS_PER_S, ns_to_iso
from fxcli.settings import Settings
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay
from fxcli.store.schema import Table
from fxcli.strategy.machine import State, Transition
from fxcli.strategy.spec import StrategySpec, load_strategy
from fxcli.tasks.backtest import (
    TABLES,
    BacktestReport,
    Options,
    SymbolRun,
    compute_metrics,
    resolve_indicators,
    resolve_strategy,
    summary_of,
    write_outputs,
)
from fxcli.tasks.inspect import parse_window
from fxcli.tasks.tuning import live_process
from fxcli.tasks.venues import resolve_endpoints, venue_named

if TYPE_CHECKING:  # fx record is imported only when --record asks for it
    from fxcli.tasks.record import RecordConfig, Recorder, RecordEvent, RecordSummary

FRAME_EVERY_NS = 250_000_000  # a symbol's frame for screens at most 4 times a second
EQUITY_EVERY_NS = 60 * NS_PER_S  # a stream's equity curve: one point a minute (a backtest: a second)
MAX_EQUITY_POINTS = 120  # per symbol; beyond, every other older point goes: memory stays flat 24/7
MAX_FRAMES = 4096  # frames waiting for a screen before new ones are dropped
LATENCY_BINS = 640  # log-linear histogram: 16 bins per octave, ~6 % wide, up to ~2.4 h


# ---------------------------------------------------------------------------------------- the feed


@dataclass(frozen=True)
class SessionInfo:
    """What a screen needs before the first frame: who runs what, where."""

    mode: str  # "live" | "replay"
    strategy: str
    exchange: str
    symbols: list[str]
    indicators: list[str]  # the strategy's indicator / variant names, in display order
    source: str  # ws URL, or the replayed folder
    started_ns: int
    balance: float


@dataclass(frozen=True)
class SymbolFrame:
    """One symbol as the engine sees it after an event (for screens; frames may be dropped)."""

    symbol: str
    ts_ns: int  # engine time (the venue's clock)
    events: int
    price: float
    bid: float
    ask: float
    state: str
    side: int  # the open position's side, 0 when flat
    qty: float
    entry_price: float
    equity: float
    pnl: float  # equity - starting balance: realised and unrealised, net of fees
    trades: int
    indicators: dict[str, float]


@dataclass(frozen=True)
class FillNote:
    """A paper fill, as the backtest's fill model made it (`fill.source` says what it walked)."""

    symbol: str
    action: str  # "open" | "close"
    fill: Fill


@dataclass(frozen=True)
class TradeNote:
    """A closed round trip."""

    trade: TradeRecord


@dataclass(frozen=True)
class StatusNote:
    """Connection or data news: connected, subscribed, rejected, disconnected, gap, breaker..."""

    ts_ns: int
    kind: str
    detail: str
    symbol: str = ""


Note = Transition | FillNote | TradeNote | StatusNote


@dataclass
class SessionStats:
    """Counters a screen shows; written by the loop, read by the screen."""

    frames: int = 0
    events: int = 0
    gaps: int = 0
    connections: int = 0


def latency_bin(ns: int) -> int:
    """Histogram bin of a latency in ns: exact below 32 ns, then 16 bins per power of two."""
    if ns < 32:
        return ns if ns > 0 else 0
    shift = ns.bit_length() - 5
    return min((shift << 4) + (ns >> shift), LATENCY_BINS - 1)


def bin_ceiling_ns(index: int) -> int:
    """The smallest latency of the next bin: a conservative value for `index`."""
    index += 1
    if index < 32:
        return index
    shift = (index >> 4) - 1
    return (index - (shift << 4)) << shift


def percentile_ns(hist: list[int], q: float) -> float:
    """The `q`-quantile (0..1) of a latency histogram, as the ceiling of its bin; NaN when empty."""
    total = sum(hist)
    if total == 0:
        return math.nan
    rank = q * total
    seen = 0
    for index, count in enumerate(hist):
        seen += count
        if seen >= rank and count:
            return float(bin_ceiling_ns(index))
    return float(bin_ceiling_ns(len(hist) - 1))


class Feed:
    """What a session publishes for a screen.

    `notes` (transitions, fills, trades, news) are never dropped: they are few. `frames` go through
    a bounded queue; when the screen does not keep up, new frames are dropped and counted.
    """

    def __init__(self, max_frames: int = MAX_FRAMES) -> None:
        self.notes: queue.SimpleQueue[Note] = queue.SimpleQueue()
        self.frames: queue.Queue[SymbolFrame] = queue.Queue(max_frames)
        self.dropped_frames = 0
        self.info: SessionInfo | None = None
        self.stats = SessionStats()
        self.histograms: list[list[int]] = []  # one per symbol: tick-to-decision latency

    def publish(self, note: Note) -> None:
        """A note for the screen (never dropped)."""
        self.notes.put(note)

    def offer(self, frame: SymbolFrame) -> None:
        """A frame for the screen, dropped if the screen is behind."""
        try:
            self.frames.put_nowait(frame)
        except queue.Full:
            self.dropped_frames += 1

    def drain(self) -> tuple[list[Note], list[SymbolFrame]]:
        """Everything published since the last drain."""
        notes: list[Note] = []
        frames: list[SymbolFrame] = []
        with contextlib.suppress(queue.Empty):
            while True:
                notes.append(self.notes.get_nowait())
        with contextlib.suppress(queue.Empty):
            while True:
                frames.append(self.frames.get_nowait())
        return notes, frames

    def latency(self) -> list[int]:
        """Tick-to-decision histogram of the session so far (all symbols)."""
        merged = [0] * LATENCY_BINS
        for hist in list(self.histograms):
            for i, count in enumerate(hist):
                if count:
                    merged[i] += count
        return merged


# ---------------------------------------------------------------------------------------- symbols


class _Symbol:
    """One symbol's `Runner`, fed on the loop's thread, and what it publishes."""

    def __init__(self, session: _Session, symbol: str) -> None:
        self.session = session
        self.symbol = symbol
        self.hist = [0] * LATENCY_BINS
        session.feed.histograms.append(self.hist)
        s = session
        self.runner = Runner(
            s.spec, symbol, s.indicators, s.options.costs, s.options.balance, equity_every_ns=EQUITY_EVERY_NS
        )
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self._framed_events = 0
        self._transitions_seen = 0
        self._trades_seen = 0
        self._next_frame_ns = 0

    def on_events(self, t0_ns: int, events: list[MarketEvent]) -> None:
        """Run `events` (received at `t0_ns`) through the strategy; record each decision's latency."""
        if self.error is not None:
            return
        runner = self.runner
        on_event, state, hist = runner.on_event, runner.state, self.hist
        transitions = runner.machine.transitions
        try:
            for event in events:
                on_event(event)
                if state.price != state.price:
                    continue  # no price yet: nothing was decided
                ns = time.time_ns() - t0_ns
                if ns < 32:  # latency_bin, inlined: this runs once per event
                    hist[ns if ns > 0 else 0] += 1
                else:
                    shift = ns.bit_length() - 5
                    index = (shift << 4) + (ns >> shift)
                    hist[index if index < LATENCY_BINS else LATENCY_BINS - 1] += 1
                if len(transitions) != self._transitions_seen:  # a trade closes only on a transition
                    self._publish(transitions)
        except Exception as exc:  # reported by the session; the other symbols stop with it
            self.error = exc
            self.session.request_stop(f"{self.symbol}: {type(exc).__name__}: {exc}")
            return
        now = time.time_ns()
        if now >= self._next_frame_ns and runner.result.events:
            self._offer_frame(now)

    def refresh(self, now: int) -> None:
        """A frame for a symbol whose market went quiet since its last one: show where it stopped."""
        if self.error is None and self.runner.result.events != self._framed_events:
            self._offer_frame(now)

    def finish(self) -> None:
        """Close the run (an open position at the book, as a backtest's end) and publish the rest."""
        if self.error is not None:
            return
        result = self.runner.finish()
        self._publish(result.transitions)
        self.result = result

    def _offer_frame(self, now: int) -> None:
        self._next_frame_ns = now + FRAME_EVERY_NS
        live = self.runner.result
        self._framed_events = live.events
        self.session.feed.offer(self._frame())
        if len(live.equity) > MAX_EQUITY_POINTS:
            del live.equity[1:-1:2]

    def _publish(self, transitions: list[Transition]) -> None:
        runner = self.runner
        result = runner.result
        feed = self.session.feed
        new = transitions[self._transitions_seen :]
        self._transitions_seen += len(new)
        for t in new:
            feed.publish(t)
            if t.group != "fill":
                continue
            if t.to_state is State.POSITION_ACTIVE:
                entry: Fill | None = runner.account.entry
                if entry is not None:
                    feed.publish(FillNote(self.symbol, "open", entry))
            elif t.to_state is State.EXITED and result.trades:
                feed.publish(FillNote(self.symbol, "close", result.trades[-1].exit_fills[-1]))
        for trade in result.trades[self._trades_seen :]:
            feed.publish(TradeNote(trade))
        self._trades_seen = len(result.trades)

    def _frame(self) -> SymbolFrame:
        runner = self.runner
        state, machine, live = runner.state, runner.machine, runner.result
        pos = machine.position
        values = runner.values
        equity = runner.equity()
        return SymbolFrame(
            symbol=self.symbol,
            ts_ns=state.now_ns,
            events=live.events,
            price=state.price,
            bid=state.bid,
            ask=state.ask,
            state=machine.state.value,
            side=pos.side if pos is not None else 0,
            qty=pos.qty if pos is not None else 0.0,
            entry_price=pos.entry_price if pos is not None else math.nan,
            equity=equity,
            pnl=equity - live.start_balance,
            trades=len(live.trades),
            indicators={name: float(values.get(name, math.nan)) for name in self.session.names},
        )


class _Router:
    """The source's `Consumer`: decoded events, in order, to their symbol's runner, on the loop's thread."""

    def __init__(self, session: _Session) -> None:
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


# ---------------------------------------------------------------------------------------- sessions


_T = TypeVar("_T")

Source = Callable[["_Session", asyncio.Event], Coroutine[Any, Any, str]]
"""Runs a session's source until it ends or `stop` is set; returns why it ended."""


class _Session:
    """Workers, router and source of one `fx stream` run."""

    def __init__(
        self,
        spec: StrategySpec,
        indicators: list[tuple[str, str, IndicatorParams]],
        symbols: list[str],
        options: Options,
        feed: Feed,
    ) -> None:
        self.spec = spec
        self.indicators = indicators
        self.names = [name for name, _, _ in indicators]
        self.options = options
        self.feed = feed
        self.symbols = {s: _Symbol(self, s) for s in symbols}
        self.router = _Router(self)
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
        signals = _on_signals(loop, stop)
        helpers = [asyncio.create_task(self._refresh())]
        if external_stop is not None:
            helpers.append(asyncio.create_task(_watch(external_stop, stop)))
        try:
            ended = await source(self, stop)
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
        return "failed" if self.failure else ended

    async def _refresh(self) -> None:
        """Frames for symbols whose market went quiet (busy ones publish as their events arrive)."""
        while True:
            await asyncio.sleep(FRAME_EVERY_NS / NS_PER_S)
            now = time.time_ns()
            for run in self.symbols.values():
                run.refresh(now)


def _on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[signal.Signals]:
    """SIGINT and SIGTERM set `stop` once; a second SIGINT interrupts at once (the default again)."""
    if threading.current_thread() is not threading.main_thread():
        return []
    installed: list[signal.Signals] = []

    def first(sig: signal.Signals) -> None:
        stop.set()
        loop.remove_signal_handler(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, first, sig)
        installed.append(sig)
    return installed


async def _watch(external: threading.Event, stop: asyncio.Event) -> None:
    while not external.is_set() and not stop.is_set():
        await asyncio.sleep(0.05)
    stop.set()


def live_source(
    adapter: Adapter,
    symbols: list[str],
    config: ManagerConfig | None = None,
    recording: RecordConfig | None = None,
) -> Source:
    """MEXC over WebSockets: trades and L2 diffs, each book seeded by REST and kept in step; with
    `recording`, `fx record`'s recorder is a second consumer of the same connections and books."""

    async def source(session: _Session, stop: asyncio.Event) -> str:
        router = session.router
        if recording is None:
            channels = plan_channels(adapter, symbols, [Kind.TRADES, Kind.DEPTH])
            books = router.books = LiveBooks(adapter, RestClient(), router.on_books, symbols=symbols)
            try:
                async with ConnectionManager(adapter, channels, router, config=config):
                    await stop.wait()
            finally:
                await books.close()
            return "stopped"
        from fxcli.store.writer import write_durably
        from fxcli.tasks.record import Recorder, RecordError, RecordSession, manager_setup

        channels, limits, manager_cfg, assignment = manager_setup(recording, adapter, config)
        notes = _record_notes(session.feed)
        rec = RecordSession(
            recording, adapter, assignment, notify=notes, write_file=write_durably, recorder_type=Recorder
        )
        recorder = rec.recorder

        def both(events: list[Event]) -> None:
            router.on_books(events)
            recorder.on_book_events(events)

        books = router.books = LiveBooks(adapter, RestClient(), both, symbols=symbols)
        failure: str | None = None
        try:
            tee = _Tee(router, recorder)
            async with ConnectionManager(adapter, channels, tee, config=manager_cfg, limits=limits):
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
        return "stopped"

    return source


class _Tee:
    """The stream's consumer and a recorder on one manager: the raw frame to the recorder first (it
    is only kept), the strategy's decision next, the recorder's rows last."""

    def __init__(self, router: _Router, recorder: Recorder) -> None:
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


def _record_notes(feed: Feed) -> Callable[[RecordEvent], None]:
    """The recorder's news that a stream's screen shows."""

    def notify(event: RecordEvent) -> None:
        if event.kind in ("started", "stopped", "writer_overflow", "gap"):
            detail = ", ".join(f"{k}={v}" for k, v in event.fields.items())
            feed.publish(StatusNote(event.at_ns, f"record_{event.kind}", detail))

    return notify


def playback_source(streams: Mapping[str, Iterable[MarketEvent]], speed: float | None) -> Source:
    """A store folder's events, paced at `speed` x their recorded pace (None: as fast as possible)."""

    async def source(session: _Session, stop: asyncio.Event) -> str:
        router = session.router
        playback = Playback(streams, router, speed=speed)
        stats = await playback.run(stop)
        return "end_of_data" if stats.is_complete else "stopped"

    return source


# ---------------------------------------------------------------------------------------- the task


@dataclass
class StreamReport:
    """What one `fx stream` session did."""

    mode: str
    strategy: StrategySpec
    exchange: str
    symbols: list[str]
    options: Options
    runs: list[SymbolRun]
    started_ns: int
    stopped_ns: int
    ended: str  # "stopped" (a signal or a stop request) | "end_of_data" (a replay ran out)
    frames: int
    events: int
    gaps: int
    dropped_frames: int
    latency_hist: list[int] = field(default_factory=list)
    run_id: str = ""
    out_dir: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    recorded: RecordSummary | None = None  # what --record wrote

    @property
    def transitions(self) -> int:
        """Transitions over all symbols."""
        return sum(len(r.result.transitions) for r in self.runs)

    @property
    def trades(self) -> list[TradeRecord]:
        """Closed trades over all symbols, in exit order."""
        return sorted((t for r in self.runs for t in r.result.trades), key=lambda t: t.exit_ts_ns)


def _symbols_of(symbols: list[str]) -> list[str]:
    return list(dict.fromkeys(s.strip() for s in symbols if s.strip()))


def _replay_streams(
    replay_dir: Path, symbols: list[str], exchange: str | None, lo: int | None, hi: int | None
) -> tuple[str, list[str], dict[str, Iterable[MarketEvent]], list[StatusNote]]:
    """The exchange(s), symbols, their event streams and the recorded gaps of a replay."""
    if not replay_dir.is_dir():
        raise FxError(f"--replay {replay_dir}: no such folder (a data dir, as fx record writes)")
    reader = StoreReader(replay_dir)
    exchanges = reader.layout.exchanges()
    if exchange is None:
        if not exchanges:
            raise FxError(f"--replay {replay_dir}: no recorded data in it")
        if not symbols and len(exchanges) > 1:
            raise FxError(f"--replay {replay_dir} holds {', '.join(exchanges)}: pick one with --exchange")
    elif exchange not in exchanges:
        raise FxError(f"--replay {replay_dir}: no data for exchange {exchange!r}")
    if not symbols:
        ex = exchange or exchanges[0]
        symbols = sorted(reader.layout.symbols(ex))
        if not symbols:
            raise FxError(f"--replay {replay_dir}: no symbols recorded for {ex}")
    found = set()
    streams: dict[str, Iterable[MarketEvent]] = {}
    gaps: list[StatusNote] = []
    for symbol in symbols:
        try:
            ex = reader.find_exchange(symbol, exchange)
        except LookupError as exc:
            raise FxError(str(exc)) from None
        found.add(ex)
        if (
            reader.scan(ex, symbol, Table.TRADES, lo, hi).select("exchange_ts_ns").head(1).collect().height
            == 0
        ):
            raise FxError(f"no trades for {symbol} on {ex} in the window: nothing to replay")
        streams[symbol] = recorded(reader, ex, symbol, lo, hi)
        for gap in reader.scan(ex, symbol, Table.GAPS, lo, hi).collect().sort("start_ns").to_dicts():
            span = f"{ns_to_iso(gap['start_ns'])} to {ns_to_iso(gap['end_ns'])}"
            detail = f"recorded {gap['reason']} from {span}: {gap['detail']}"
            gaps.append(StatusNote(gap["start_ns"], "gap", detail, symbol))
    return ", ".join(sorted(found)), symbols, streams, gaps


def recorded(
    reader: StoreReader, exchange: str, symbol: str, lo: int | None, hi: int | None
) -> Iterator[MarketEvent]:
    """A symbol's stored events in `[lo, hi]`, exactly as `fx backtest` replays them."""
    yield from replay(reader, exchange, symbol, TABLES, lo, hi)  # type: ignore[misc]


@dataclass(frozen=True)
class StreamPlan:
    """A checked `fx stream` run: everything is resolved before anything connects or reads."""

    mode: str  # "live" | "replay"
    spec: StrategySpec
    indicators: list[tuple[str, str, IndicatorParams]]
    symbols: list[str]
    options: Options
    exchange: str
    where: str  # the WebSocket URL, or the replayed folder
    source: Source
    recording: RecordConfig | None = None
    out_dir: Path | None = None
    notes: tuple[StatusNote, ...] = ()  # said first: the recorded gaps a replay goes through


def plan(
    strategy: str,
    symbols: list[str],
    *,
    strategies_dir: Path,
    variants_dir: Path,
    options: Options,
    exchange: str | None = None,
    replay_dir: Path | None = None,
    settings: Settings | None = None,
    setting_sources: dict[str, str] | None = None,
    ws_url: str | None = None,
    rest_url: str | None = None,
    record: bool = False,
    out_dir: Path | None = None,
    manager_config: ManagerConfig | None = None,
) -> StreamPlan:
    """Check every input (FxError, exit 2, naming the option) for a live run on MEXC or a replay of
    `replay_dir`."""
    symbols = _symbols_of(symbols)
    if replay_dir is not None:
        for flag, value in (("--ws-url", ws_url), ("--rest-url", rest_url)):
            if value is not None:
                raise FxError(f"{flag} is for a live stream; --replay reads a folder")
        if record:
            raise FxError("--record records a live stream; it cannot be combined with --replay")
    else:
        if options.speed is not None:
            raise FxError("--speed paces a --replay; a live stream runs at the market's pace")
        if options.start or options.end:
            raise FxError("--from / --to select a window of a --replay")
        if not symbols:
            raise FxError("give --symbol or --symbols")
    spec = load_strategy(resolve_strategy(strategy, strategies_dir))
    indicators = resolve_indicators(spec, variants_dir)
    if replay_dir is not None:
        window = parse_window(options.start, options.end)
        exchange_name, symbols, streams, gaps = _replay_streams(replay_dir, symbols, exchange, *window)
        return StreamPlan(
            mode="replay",
            spec=spec,
            indicators=indicators,
            symbols=symbols,
            options=options,
            exchange=exchange_name,
            where=str(replay_dir),
            source=playback_source(streams, options.speed),
            out_dir=out_dir,
            notes=tuple(gaps),
        )
    venue = venue_named(exchange or "mexc-spot")
    settings = settings or Settings()
    resolved = resolve_endpoints(venue, settings, setting_sources or {}, ws_url=ws_url, rest_url=rest_url)
    adapter = venue.make(resolved.endpoints)
    try:
        symbols = list(
            dict.fromkeys(adapter.channels(s, frozenset({Kind.TRADES}))[0].symbol for s in symbols)
        )
    except ValueError as exc:
        raise FxError(str(exc)) from None
    recording = None
    if record:
        from fxcli.tasks.record import plan as record_plan

        recording = record_plan(
            exchange=venue.name,
            symbols=",".join(symbols),
            symbols_file=None,
            settings=settings,
            sources=setting_sources or {},
            ws_url=ws_url,
            rest_url=rest_url,
        )
    return StreamPlan(
        mode="live",
        spec=spec,
        indicators=indicators,
        symbols=symbols,
        options=options,
        exchange=venue.name,
        where=resolved.ws_url,
        source=live_source(adapter, symbols, manager_config, recording),
        recording=recording,
        out_dir=out_dir,
    )


def stream(plan: StreamPlan, feed: Feed, *, stop: threading.Event | None = None) -> StreamReport:
    """Run a plan until SIGINT / SIGTERM, `stop`, or the end of the recording; the session is written
    under the plan's `out_dir` when it has one."""
    session = _Session(plan.spec, plan.indicators, plan.symbols, plan.options, feed)
    started = time.time_ns()
    feed.info = SessionInfo(
        mode=plan.mode,
        strategy=plan.spec.name,
        exchange=plan.exchange,
        symbols=plan.symbols,
        indicators=session.names,
        source=plan.where,
        started_ns=started,
        balance=plan.options.balance,
    )
    for note in plan.notes:
        feed.publish(note)
    lock: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if plan.recording is not None:
        from fxcli.tasks.record import recorder_lock

        lock = recorder_lock(plan.recording)
    with live_process(), lock:
        ended = session.run(plan.source, stop)
    report = _report(session, plan.exchange, started, ended)
    report.recorded = session.recorded
    if plan.out_dir is not None:
        write_session(report, plan.out_dir)
    if session.record_error is not None:
        raise session.record_error
    return report


def _report(session: _Session, exchange: str, started: int, ended: str) -> StreamReport:
    feed = session.feed
    runs = []
    for symbol, run in session.symbols.items():
        result = run.result
        assert result is not None
        with warnings.catch_warnings():  # CAGR of a session of minutes overflows: it is meaningless
            warnings.simplefilter("ignore", RuntimeWarning)
            metrics = compute_metrics(result, "fx")
        runs.append(SymbolRun(symbol, exchange, result, metrics, [], ""))
    return StreamReport(
        mode=feed.info.mode if feed.info else "",
        strategy=session.spec,
        exchange=exchange,
        symbols=list(session.symbols),
        options=session.options,
        runs=runs,
        started_ns=started,
        stopped_ns=time.time_ns(),
        ended=ended,
        frames=feed.stats.frames,
        events=feed.stats.events,
        gaps=feed.stats.gaps,
        dropped_frames=feed.dropped_frames,
        # an unpaced replay measures its own queueing, not a tick-to-decision latency
        latency_hist=[]
        if feed.info and feed.info.mode == "replay" and not session.options.speed
        else feed.latency(),
    )


def write_session(report: StreamReport, out_dir: Path) -> None:
    """The session's trades, transitions, equity and summary, laid out as a backtest's."""
    stamp = ns_to_iso(report.started_ns).replace("-", "").replace(":", "").replace(".", "")
    report.run_id = f"stream-{stamp}-{report.strategy.name}"
    folder = out_dir / report.run_id
    backtest_view = BacktestReport(report.run_id, folder, report.strategy, report.options, report.runs)
    summary = summary_of(backtest_view)
    hist = report.latency_hist
    summary["stream"] = {
        "mode": report.mode,
        "exchange": report.exchange,
        "started": ns_to_iso(report.started_ns),
        "stopped": ns_to_iso(report.stopped_ns),
        "ended": report.ended,
        "frames": report.frames,
        "events": report.events,
        "gaps": report.gaps,
        "dropped_screen_frames": report.dropped_frames,
        "tick_to_decision_us": {
            "p50": _us(percentile_ns(hist, 0.5)),
            "p99": _us(percentile_ns(hist, 0.99)),
            "count": sum(hist),
        },
    }
    backtest_view.summary = summary
    write_outputs(backtest_view)
    report.out_dir = folder
    report.summary = summary


def _us(ns: float) -> float | None:
    return None if math.isnan(ns) else round(ns / 1000, 1)


# ---------------------------------------------------------------------------------------- parity


@dataclass(frozen=True)
class Comparison:
    """Whether a stream replay and a backtest did the same things."""

    agree: bool
    transitions: int
    trades: int
    message: str


def _same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN (values that decided a transition may be NaN)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "__dataclass_fields__") and type(a) is type(b):
        return all(_same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b


def _describe_transition(t: Transition | None) -> str:
    if t is None:
        return "nothing"
    return f"{t.from_state.value} -> {t.to_state.value} ({t.group}) {_values_text(t.values)}"


def _describe_trade(t: TradeRecord | None) -> str:
    if t is None:
        return "nothing"
    return (
        f"trade {ns_to_iso(t.entry_ts_ns)} -> {ns_to_iso(t.exit_ts_ns)} qty {t.qty:.10g} "
        f"entry {t.entry_price:.10g} exit {t.exit_price:.10g} ({t.exit_reason})"
    )


def _values_text(values: Mapping[str, float]) -> str:
    return "{" + ", ".join(f"{k}={v:.10g}" for k, v in sorted(values.items())) + "}"


def compare_runs(backtest_runs: list[SymbolRun], stream_runs: list[SymbolRun]) -> Comparison:
    """The first transition or trade where the two sides differ, else how many agreed."""
    streamed = {r.symbol: r.result for r in stream_runs}
    transitions = trades = 0
    for run in backtest_runs:
        theirs = streamed.get(run.symbol)
        if theirs is None:
            return Comparison(False, transitions, trades, f"the stream did not run {run.symbol}")
        ours = run.result
        differs = _first_difference(ours.transitions, theirs.transitions)
        if differs is not None:
            i, a, b = differs
            at = (a or b).ts_ns  # type: ignore[union-attr]
            return Comparison(
                False,
                transitions + i,
                trades,
                f"stream and backtest diverge at {ns_to_iso(at)} on {run.symbol}, transition {i + 1}: "
                f"backtest {_describe_transition(a)}; stream {_describe_transition(b)}",
            )
        transitions += len(ours.transitions)
        differs_trade = _first_difference(ours.trades, theirs.trades)
        if differs_trade is not None:
            i, x, y = differs_trade
            at = (x or y).entry_ts_ns  # type: ignore[union-attr]
            return Comparison(
                False,
                transitions,
                trades + i,
                f"stream and backtest diverge at {ns_to_iso(at)} on {run.symbol}, trade {i + 1}: "
                f"backtest {_describe_trade(x)}; stream {_describe_trade(y)}",
            )
        trades += len(ours.trades)
    counts = f"{_plural(transitions, 'transition')}, {_plural(trades, 'trade')}"
    return Comparison(True, transitions, trades, f"stream and backtest agree: {counts}")


def _first_difference(ours: Sequence[_T], theirs: Sequence[_T]) -> tuple[int, _T | None, _T | None] | None:
    """Where two sequences first differ: the index and both items (None past an end), or None."""
    for i in range(max(len(ours), len(theirs))):
        a = ours[i] if i < len(ours) else None
        b = theirs[i] if i < len(theirs) else None
        if a is None or b is None or not _same(a, b):
            return i, a, b
    return None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def compare_with_backtest(
    report: BacktestReport, *, data_dir: Path, variants_dir: Path, speed: float | None = None
) -> Comparison:
    """Replay the backtest's recording and window through `fx stream`'s path and compare the two."""
    lo, hi = parse_window(report.options.start, report.options.end)
    reader = StoreReader(data_dir)
    streams: dict[str, Iterable[MarketEvent]] = {
        r.symbol: recorded(reader, r.exchange, r.symbol, lo, hi) for r in report.runs
    }
    indicators = resolve_indicators(report.strategy, variants_dir)
    streamed = run_events(report.strategy, indicators, streams, report.options, Feed(), speed=speed)
    if streamed.ended != "end_of_data":
        raise FxError("the stream replay was stopped before the end of the recording")
    return compare_runs(report.runs, streamed.runs)


def run_events(
    spec: StrategySpec,
    indicators: list[tuple[str, str, IndicatorParams]],
    streams: Mapping[str, Iterable[MarketEvent]],
    options: Options,
    feed: Feed,
    *,
    speed: float | None = None,
    exchange: str = "",
    source_name: str = "events",
    stop: threading.Event | None = None,
) -> StreamReport:
    """A session over given per-symbol event streams, played back as `--replay` plays a folder."""
    session = _Session(spec, indicators, list(streams), options, feed)
    started = time.time_ns()
    feed.info = SessionInfo(
        "replay", spec.name, exchange, list(streams), session.names, source_name, started, options.balance
    )
    ended = session.run(playback_source(streams, speed), stop)
    return _report(session, exchange, started, ended)
