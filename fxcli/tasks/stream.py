"""`fx stream`: check a run, then drive a live or recorded stream session (`fxcli.live.session`).

The session runs a strategy per symbol through `fx backtest`'s loop (paper orders) on MEXC, or over a
recording; this module resolves the strategy, indicators, venue and source, writes the session like
a backtest's (`<out>/<run_id>/`), and compares a backtest with a replay of its recording.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli.backtest.runner import TradeRecord
from fxcli.engine.params import IndicatorParams
from fxcli.errors import FxError
from fxcli.exchange.adapter import Kind
from fxcli.exchange.connection import ManagerConfig
from fxcli.exchange.venues import venue_named
from fxcli.live.compare import Comparison, compare_runs
from fxcli.live.feed import Feed, SessionInfo, StatusNote
from fxcli.live.latency import percentile_ns
from fxcli.live.session import Session, Source, live_source, playback_source
from fxcli.live.symbol import FRAME_EVERY_NS
from fxcli.live.tuning import live_process
from fxcli.model.events import Event
from fxcli.model.units import ns_to_iso, parse_window
from fxcli.ops.address import parse_listen
from fxcli.ops.serve import DEFAULT_QUEUE, MAX_RATE, MIN_RATE, StreamOps, operating
from fxcli.outfile import make_folder
from fxcli.settings import Settings
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay
from fxcli.store.schema import Table
from fxcli.strategy.spec import StrategySpec, load_strategy
from fxcli.tasks.backtest import (
    TABLES,
    BacktestReport,
    Options,
    SymbolRun,
    clock_of,
    compute_metrics,
    resolve_indicators,
    resolve_strategy,
    summary_of,
    write_outputs,
)
from fxcli.tasks.orders import LiveConfig, LiveRequest, refuse_live_options_without_live, resolve_live
from fxcli.tasks.venues import checked_proxy, resolve_endpoints

if TYPE_CHECKING:  # fx record is imported only when --record asks for it
    from fxcli.live.record import RecordConfig, RecordSummary
    from fxcli.live.trading import LiveTrading, TradingSummary
    from fxcli.ops.notify import Notifier, NotifyConfig

__all__ = [
    "Comparison",
    "Feed",
    "StreamPlan",
    "StreamReport",
    "compare_with_backtest",
    "ops_of",
    "plan",
    "run_events",
    "stream",
]


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
    notified: dict[str, Any] | None = None  # what --notify delivered (destination names redacted)
    trading: TradingSummary | None = None  # --live: the run's orders, fills and reconciliation

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
) -> tuple[str, list[str], dict[str, Iterable[Event]], list[StatusNote]]:
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
    streams: dict[str, Iterable[Event]] = {}
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
) -> Iterator[Event]:
    """A symbol's stored events and gaps in `[lo, hi]`, exactly as `fx backtest` replays them."""
    yield from replay(reader, exchange, symbol, TABLES, lo, hi)


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
    ops: StreamOps | None = None  # --serve / --metrics
    live: LiveConfig | None = None  # --live: real orders (market data from `source` either way)


def ops_of(
    serve: str | None, metrics: str | None, rate_per_s: float | None, max_queue: int | None
) -> StreamOps | None:
    """`--serve`, `--serve-rate`, `--serve-queue`, `--metrics`, checked (FxError naming the option)."""
    if serve is None:
        for flag, value in (("--serve-rate", rate_per_s), ("--serve-queue", max_queue)):
            if value is not None:
                raise FxError(f"{flag} sets up the --serve feed: give --serve HOST:PORT too")
    if rate_per_s is not None and not MIN_RATE <= rate_per_s <= MAX_RATE:
        raise FxError(f"--serve-rate must be in [{MIN_RATE:g}, {MAX_RATE:g}] snapshots/s, got {rate_per_s:g}")
    if max_queue is not None and not 1 <= max_queue <= 1_000_000:
        raise FxError(f"--serve-queue must be in [1, 1000000] messages, got {max_queue}")
    if serve is None and metrics is None:
        return None
    return StreamOps(
        serve=parse_listen(serve, "--serve") if serve is not None else None,
        metrics=parse_listen(metrics, "--metrics") if metrics is not None else None,
        rate_per_s=1.0 if rate_per_s is None else rate_per_s,
        max_queue=DEFAULT_QUEUE if max_queue is None else max_queue,
    )


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
    rotate_after_s: float | None = None,
    ops: StreamOps | None = None,
    live: LiveRequest | None = None,
) -> StreamPlan:
    """Check every input (FxError, exit 2, naming the option) for a live run on MEXC or a replay of
    `replay_dir`; `ops` (`ops_of`) serves the session to other programs; with `live.live`, real orders
    on MEXC spot whatever the market data's source."""
    symbols = _symbols_of(symbols)
    live = live or LiveRequest()
    refuse_live_options_without_live(live)
    if replay_dir is not None:
        for flag, value in (("--ws-url", ws_url), ("--rest-url", rest_url)):
            if value is not None and not (live.live and flag == "--rest-url"):  # --live: the orders' REST
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
    spec_path = resolve_strategy(strategy, strategies_dir)
    spec = load_strategy(spec_path)
    indicators = resolve_indicators(spec, variants_dir, spec_path)
    trading = None
    if live.live:
        if spec.side.sign < 0:
            raise FxError(f"{spec_path}: side = 'short': --live trades MEXC spot, which cannot sell short")
        settings = settings or Settings()
        trading = resolve_live(settings, setting_sources or {}, live, rest_url=rest_url, need_limits=True)
    if out_dir is not None:
        make_folder(out_dir)  # now, rather than after a session that could not be run again
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
            ops=ops,
            live=trading,
        )
    venue = venue_named(exchange or "mexc-spot")
    settings = settings or Settings()
    resolved = resolve_endpoints(venue, settings, setting_sources or {}, ws_url=ws_url, rest_url=rest_url)
    adapter = venue.make(resolved.endpoints)
    proxy = checked_proxy(settings, setting_sources or {})
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
            rotate_after_s=rotate_after_s,
        )
    return StreamPlan(
        mode="live",
        spec=spec,
        indicators=indicators,
        symbols=symbols,
        options=options,
        exchange=venue.name,
        where=resolved.ws_url,
        source=live_source(adapter, symbols, manager_config, recording, proxy, rotate_after_s),
        recording=recording,
        out_dir=out_dir,
        ops=ops,
        live=trading,
    )


def stream(
    plan: StreamPlan, feed: Feed, *, stop: threading.Event | None = None, notify: NotifyConfig | None = None
) -> StreamReport:
    """Run a plan until SIGINT / SIGTERM, `stop`, or the end of the recording; the session is written
    under the plan's `out_dir` when it has one. With `notify`, its events go out as they happen."""
    trading = _trading(plan, feed)
    frame_every_ns = plan.ops.frame_every_ns if plan.ops is not None else None
    session = _session(plan.spec, plan.indicators, plan.symbols, plan.options, feed, frame_every_ns, trading)
    started = time.time_ns()
    # Bound first: a taken --serve / --metrics port is an error before anything runs.
    with operating(plan.ops, feed):
        feed.info = SessionInfo(
            mode=plan.mode if plan.live is None else f"{plan.mode} + LIVE orders",
            strategy=plan.spec.name,
            exchange=plan.exchange,
            symbols=plan.symbols,
            indicators=session.names,
            source=plan.where,
            started_ns=started,
            balance=plan.options.balance,
        )
        notifier = _notifier(notify, feed, is_live=plan.mode == "live")  # before the replay's recorded gaps
        for note in plan.notes:
            feed.publish(note)
        lock: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if plan.recording is not None:
            from fxcli.live.record import recorder_lock

            lock = recorder_lock(plan.recording)
        try:
            with live_process(), lock:
                ended = session.run(plan.source, stop)
        finally:
            notified = None
            if notifier is not None:
                if session.failure:
                    notifier.offer(StatusNote(time.time_ns(), "failed", session.failure))
                notified = notifier.close().as_dict()
    report = _report(session, plan.options, plan.exchange, started, ended)
    report.recorded = session.recorded
    report.notified = notified
    report.trading = trading.summary if trading is not None else None
    if plan.out_dir is not None:
        write_session(report, plan.out_dir)
    if session.record_error is not None:
        raise session.record_error
    return report


def _notifier(config: NotifyConfig | None, feed: Feed, *, is_live: bool) -> Notifier | None:
    """Notifications fed by the session's notes; a failing destination is said once, as a status note."""
    if config is None:
        return None
    from fxcli.ops.notify import notifying

    def report(text: str) -> None:
        feed.publish(StatusNote(time.time_ns(), "notify_failed", text))

    notifier = notifying(config, report, wall_clock=is_live)
    if notifier is not None:
        feed.taps.append(notifier.offer)
    return notifier


def _report(session: Session, options: Options, exchange: str, started: int, ended: str) -> StreamReport:
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
        options=options,
        runs=runs,
        started_ns=started,
        stopped_ns=time.time_ns(),
        ended=ended,
        frames=feed.stats.frames,
        events=feed.stats.events,
        gaps=feed.stats.gaps,
        dropped_frames=feed.dropped_frames,
        # an unpaced replay measures its own queueing, not a tick-to-decision latency
        latency_hist=[] if feed.info and feed.info.mode == "replay" and not options.speed else feed.latency(),
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
    if report.notified is not None:
        summary["stream"]["notify"] = report.notified
    if report.trading is not None:
        from dataclasses import asdict

        summary["live"] = asdict(report.trading)  # the journal's orders and fills of this run
    backtest_view.summary = summary
    write_outputs(backtest_view)
    report.out_dir = folder
    report.summary = summary


def _us(ns: float) -> float | None:
    return None if math.isnan(ns) else round(ns / 1000, 1)


def compare_with_backtest(
    report: BacktestReport, *, data_dir: Path, variants_dir: Path, speed: float | None = None
) -> Comparison:
    """Replay the backtest's recording and window through `fx stream`'s path and compare the two."""
    lo, hi = parse_window(report.options.start, report.options.end)
    reader = StoreReader(data_dir)
    streams: dict[str, Iterable[Event]] = {
        r.symbol: recorded(reader, r.exchange, r.symbol, lo, hi) for r in report.runs
    }
    indicators = resolve_indicators(report.strategy, variants_dir)
    streamed = run_events(report.strategy, indicators, streams, report.options, Feed(), speed=speed)
    if streamed.ended != "end_of_data":
        raise FxError("the stream replay was stopped before the end of the recording")
    return compare_runs([r.result for r in report.runs], [r.result for r in streamed.runs])


def run_events(
    spec: StrategySpec,
    indicators: list[tuple[str, str, IndicatorParams]],
    streams: Mapping[str, Iterable[Event]],
    options: Options,
    feed: Feed,
    *,
    speed: float | None = None,
    exchange: str = "",
    source_name: str = "events",
    stop: threading.Event | None = None,
) -> StreamReport:
    """A session over given per-symbol event streams, played back as `--replay` plays a folder."""
    session = _session(spec, indicators, list(streams), options, feed)
    started = time.time_ns()
    feed.info = SessionInfo(
        "replay", spec.name, exchange, list(streams), session.names, source_name, started, options.balance
    )
    ended = session.run(playback_source(streams, speed), stop)
    return _report(session, options, exchange, started, ended)


def _session(
    spec: StrategySpec,
    indicators: list[tuple[str, str, IndicatorParams]],
    symbols: list[str],
    options: Options,
    feed: Feed,
    frame_every_ns: int | None = None,
    trading: LiveTrading | None = None,
) -> Session:
    clock_ms = clock_of(spec, options)
    every_ns = FRAME_EVERY_NS if frame_every_ns is None else frame_every_ns
    return Session(
        spec, indicators, symbols, options.costs, options.balance, feed, clock_ms, every_ns, trading
    )


def _trading(plan: StreamPlan, feed: Feed) -> LiveTrading | None:
    """--live: the session's real orders, from the checked config."""
    live = plan.live
    if live is None:
        return None
    from fxcli.live.trading import LiveTrading, TradingConfig

    assert live.limits is not None
    config = TradingConfig(
        rest_url=live.rest_url,
        user_ws_url=live.user_ws_url,
        keys=live.keys,
        journal=live.journal,
        limits=live.limits,
        dry_run=live.dry_run,
        dead_man_s=live.dead_man_s,
        unfilled_timeout_s=live.unfilled_timeout_s,
        cancel_on_exit=live.cancel_on_exit,
        stop_entries_file=live.stop_entries_file,
    )
    return LiveTrading(config, feed, plan.options.costs)
