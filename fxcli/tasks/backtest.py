"""`fx backtest`: recorded ticks through the same engine and strategy objects `fx stream` uses.

One symbol runs in-process; several run in parallel processes (`jobs`), each self-contained.
Outputs go to `<out>/<run_id>/`, where the run id hashes the strategy file, the stored files the
window reads (their manifest sha256s), the options and the fx version: the same inputs give the
same folder and a byte-identical `summary.json`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from fxcli import __version__
from fxcli.backtest import runner
from fxcli.backtest.events import EventOutcome
from fxcli.backtest.events import evaluate as evaluate_events
from fxcli.backtest.fast import RunResult, TradeRecord, run, run_tape
from fxcli.backtest.fills import Costs, Fill
from fxcli.backtest.metrics import (
    CONVENTIONS,
    ClosedTrade,
    Ledger,
    backtesting_py_metrics,
    freqtrade_metrics,
    fx_metrics,
)
from fxcli.backtest.tape import Tape, depth_levels
from fxcli.backtest.undefined import undefined_reasons
from fxcli.engine.clock import check_clock_ms, clock_ns_of
from fxcli.engine.clocked import clocked_columns
from fxcli.engine.params import IndicatorParams
from fxcli.engine.state import MarketState
from fxcli.engine.variants import load_folder
from fxcli.errors import FxError, not_utf8
from fxcli.model.events import Event, Gap
from fxcli.model.units import ns_to_iso, parse_time_ns, parse_window
from fxcli.outfile import make_folder, output_file, write_output
from fxcli.store.columns import MarketColumns, Window, open_window, read_columns
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay
from fxcli.store.schema import Table
from fxcli.strategy.indicators import resolve
from fxcli.strategy.machine import StrategyMachine
from fxcli.strategy.spec import StrategySpec, load_strategy

__all__ = ["check_clock_ms"]  # --clock-ms is checked with the engine's rule

COMPAT = ("fx", "freqtrade", "backtesting.py")
MARKET_TABLES = (Table.BOOK_SNAPSHOTS, Table.BOOK_DELTAS, Table.BOOK_TICKER, Table.TRADES)
TABLES = (*MARKET_TABLES, Table.GAPS)  # a replay meets the stored gaps where they start


@dataclass(frozen=True)
class Options:
    """Everything that changes a run's numbers (and so its run id)."""

    balance: float = 10_000.0
    fee_bps: float = 10.0
    latency_ms: float = 50.0
    slippage_bps: float = 5.0
    allow_gaps: bool = False
    start: str | None = None
    end: str | None = None
    metrics_compat: str = "fx"
    speed: float | None = None  # pace the replay at this multiple of real time (None: as fast as possible)
    clock_ms: int | None = None  # clock ticks every this many ms (0: off; None: the strategy file's)
    # Epoch ns text: the strategy looks for no signal before it (the rows from --from on warm the
    # indicators only); walk-forward's warm-up lead before a test window. None: from the start.
    trade_from: str | None = None

    def key_fields(self) -> dict[str, Any]:
        """The fields that can change results, for run ids and study names (pacing cannot; an unset
        trade_from is left out so ids made before it existed stay)."""
        fields = asdict(self)
        fields.pop("speed")
        if fields["trade_from"] is None:
            fields.pop("trade_from")
        return fields

    @property
    def trade_from_ns(self) -> int:
        """`trade_from` in ns (0: from the start)."""
        return 0 if self.trade_from is None else int(self.trade_from)

    @property
    def costs(self) -> Costs:
        """The fill model's assumptions."""
        return Costs(latency_ms=self.latency_ms, taker_fee_bps=self.fee_bps, slippage_bps=self.slippage_bps)


@dataclass
class SymbolRun:
    """One symbol's outcome, ready to write and render."""

    symbol: str
    exchange: str
    result: RunResult
    metrics: dict[str, Any]
    gaps: list[dict[str, Any]]
    data_sha: str


@dataclass
class BacktestReport:
    """What `fx backtest` returns to the command line."""

    run_id: str
    out_dir: Path
    strategy: StrategySpec
    options: Options
    runs: list[SymbolRun] = field(default_factory=list)
    correlation: dict[str, dict[str, float]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    events: list[EventOutcome] = field(default_factory=list)
    false_alarms: dict[str, int] = field(default_factory=dict)


def read_events(path: Path) -> dict[str, list[int]]:
    """A `symbol,time` CSV (time ISO-8601 UTC or epoch s/ms/ns) as onsets per symbol."""
    import csv

    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise FxError(f"{path}: {exc.strerror}") from None
    onsets: dict[str, list[int]] = {}
    with handle:
        reader = csv.DictReader(handle)
        try:
            if reader.fieldnames is None or not {"symbol", "time"} <= set(reader.fieldnames):
                raise FxError(f"{path}:1: expected a header with columns symbol,time")
            for line_no, row in enumerate(reader, start=2):
                try:
                    onsets.setdefault(row["symbol"].strip().upper(), []).append(parse_time_ns(row["time"]))
                except (ValueError, AttributeError) as exc:
                    raise FxError(f"{path}:{line_no}: time: {exc}") from None
        except UnicodeDecodeError as exc:  # decoded as it is read: the bad byte may be on any line
            raise FxError(not_utf8(path, exc)) from None
        except csv.Error as exc:
            raise FxError(f"{path}:{reader.line_num}: {exc}") from None
    return onsets


def resolve_strategy(name_or_path: str, strategies_dir: Path) -> Path:
    """A strategy file from a path, or a name in the strategies folder."""
    path = Path(name_or_path)
    for candidate in (path, strategies_dir / name_or_path, strategies_dir / f"{name_or_path}.toml"):
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in strategies_dir.glob("*.toml")) if strategies_dir.is_dir() else []
    hint = f" (known: {', '.join(known)})" if known else ""
    raise FxError(f"strategy {name_or_path!r}: no such file or name in {strategies_dir}{hint}")


def resolve_indicators(
    spec: StrategySpec, variants_dir: Path, source: Path | None = None
) -> list[tuple[str, str, IndicatorParams]]:
    """Each name the strategy reads, as (name, indicator, params): a variant with the strategy file's
    `[variants.NAME]` overrides applied, or an indicator's defaults.

    A risk, stop-loss or take-profit variant of the wrong type, or a bad override, is an error
    naming `source`'s line.
    """
    return resolve(spec, load_folder(variants_dir), source)


def _events(
    reader: StoreReader, exchange: str, symbol: str, lo: int | None, hi: int | None, *, gaps: bool
) -> Iterator[Event]:
    yield from replay(reader, exchange, symbol, TABLES if gaps else MARKET_TABLES, lo, hi)


def paced(events: Iterator[Event], speed: float) -> Iterator[Event]:
    """Yield events no faster than `speed` times the pace of their exchange times (a gap's: its start)."""
    import time

    start_wall = time.monotonic()
    start_ts: int | None = None
    for event in events:
        ts = event.start_ns if isinstance(event, Gap) else event.exchange_ts_ns
        if start_ts is None:
            start_ts = ts
        due = start_wall + (ts - start_ts) / 1e9 / speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield event


def run_symbol(
    spec_path: Path,
    symbol: str,
    exchange: str | None,
    data_dir: Path,
    variants_dir: Path,
    options: Options,
    observer: Callable[[MarketState, StrategyMachine, float], None] | None = None,
) -> SymbolRun:
    """Backtest one symbol; raises FxError on an unknown symbol, an empty window or a gapped one."""
    spec = load_strategy(spec_path)
    indicators = resolve_indicators(spec, variants_dir, spec_path)
    lo, hi = parse_window(options.start, options.end)
    reader = StoreReader(data_dir)
    window = open_window(reader, symbol, exchange, lo, hi, allow_gaps=options.allow_gaps)
    costs, balance = options.costs, options.balance
    clock_ms = clock_of(spec, options)
    result = _columnar(reader, window, spec, indicators, options, clock_ms) if observer is None else None
    if result is None:
        # Book gaps hide the book as `fx stream` did live: the streaming runner applies them; the
        # batch replay (the same results on gap-free data) does not model them.
        events = _events(reader, window.exchange, symbol, lo, hi, gaps=window.book_gaps)
        if options.speed:
            events = paced(events, options.speed)
        # Without gap rows (none were read) the events are market events only: the batch replay.
        play = runner.run if window.book_gaps else cast(Callable[..., RunResult], run)
        start = options.trade_from_ns
        result = play(
            spec,
            symbol,
            indicators,
            events,
            costs,
            balance,
            clock_ms=clock_ms,
            observer=observer,
            trade_from_ns=start,
        )
    metrics = compute_metrics(result, options.metrics_compat)
    return SymbolRun(symbol, window.exchange, result, metrics, window.gaps, window.data_sha)


def _columnar(
    reader: StoreReader,
    window: Window,
    spec: StrategySpec,
    indicators: list[tuple[str, str, IndicatorParams]],
    options: Options,
    clock_ms: int,
) -> RunResult | None:
    """The batch replay fed from the store's columns (no object per trade or ticker); None where
    the run needs the event stream (a paced replay, book gaps, rows out of order, names twice)."""
    names = [name for name, _, _ in indicators]
    if options.speed or window.book_gaps or len(set(names)) != len(names):
        return None
    columns = read_columns(reader, window)
    if columns is None:
        return None
    costs, balance, trade_from = options.costs, options.balance, options.trade_from_ns
    if columns.l2_events:  # an L2 book is rebuilt event by event: the batch replay takes the events
        events = columns.events()
        return run(
            spec,
            window.symbol,
            indicators,
            events,
            costs,
            balance,
            clock_ms=clock_ms,
            trade_from_ns=trade_from,
        )
    tape = market_tape(columns, depth_levels(indicators), clock_ns_of(clock_ms))
    del columns  # the store's frames: the tape holds what the replay reads
    if tape is None:
        return None
    return run_tape(spec, window.symbol, indicators, tape, costs, balance, trade_from_ns=trade_from)


def market_tape(columns: MarketColumns, levels: set[int], clock_ns: int) -> Tape | None:
    """The batch replay's tape of a window without L2 data, straight from its columns."""
    return Tape.clocked(
        clocked_columns(
            columns.ts_ns,
            columns.is_trade,
            columns.trade("price"),
            columns.trade("qty"),
            columns.trade("side"),
            columns.ticker("bid_price"),
            columns.ticker("bid_qty"),
            columns.ticker("ask_price"),
            columns.ticker("ask_qty"),
            depth_levels=levels,
            clock_ns=clock_ns,
        )
    )


def clock_of(spec: StrategySpec, options: Options) -> int:
    """The clock interval a run uses: --clock-ms, else the strategy file's `clock_ms`."""
    return spec.clock_ms if options.clock_ms is None else options.clock_ms


def ledger_of(result: RunResult) -> Ledger:
    """The metrics' view of a run."""
    trades = [
        ClosedTrade(
            t.entry_ts_ns,
            t.exit_ts_ns,
            t.side,
            t.qty,
            t.entry_price,
            t.exit_price,
            t.entry_fee + t.exit_fee,
            t.exit_reason,
            t.symbol,
            *_round_trip_bps(t),
            t.entry_fill.is_partial or any(f.is_partial for f in t.exit_fills),
        )
        for t in result.trades
    ]
    first_trading = next((i for i, p in enumerate(result.equity) if p.ts_ns >= result.first_ts_ns), 0)
    return Ledger(
        trades=trades,
        start_balance=result.start_balance,
        start_ts_ns=result.first_ts_ns,
        end_ts_ns=result.last_ts_ns,
        equity_ts_ns=np.array([p.ts_ns for p in result.equity], dtype=np.int64),
        equity=np.array([p.equity for p in result.equity], dtype=np.float64),
        close=np.array([p.price for p in result.equity], dtype=np.float64),
        rejected_entries=len(result.rejected),
        warmup_points=first_trading,
    )


def _round_trip_bps(trade: TradeRecord) -> tuple[float, float, float]:
    """Spread, latency and slippage cost of entry + exit (exit legs qty-weighted), in bps."""
    legs = _fill_columns("entry", [trade.entry_fill]) | _fill_columns("exit", trade.exit_fills)
    spread, latency, slippage = (
        float(legs[f"entry_{k}_bps"]) + float(legs[f"exit_{k}_bps"])
        for k in ("spread", "latency", "slippage")
    )
    return spread, latency, slippage


def compute_metrics(result: RunResult, compat: str) -> dict[str, Any]:
    """The summary metrics under fx's conventions, or reproducing freqtrade's / backtesting.py's."""
    return ledger_metrics(ledger_of(result), compat)


def ledger_metrics(ledger: Ledger, compat: str) -> dict[str, Any]:
    """`compute_metrics` of a ledger (a walk-forward's stitched one is not one run's)."""
    if len(ledger.equity) < 2:
        return {"# Trades": len(ledger.trades)}
    if compat == "freqtrade":
        return freqtrade_metrics(ledger)
    if compat == "backtesting.py":
        return backtesting_py_metrics(ledger)
    return fx_metrics(ledger)


def _result_options(options: Options) -> dict[str, Any]:
    """The options that can change results (pacing cannot)."""
    return options.key_fields()


def run_id(
    spec_path: Path, runs_input: list[tuple[str, str]], options: Options, events: Path | None = None
) -> str:
    """Hash of strategy file, data (per symbol), options, the events file and the fx version."""
    digest = hashlib.sha256()
    digest.update(spec_path.read_bytes())
    if events is not None:
        digest.update(b"events:" + events.read_bytes())
    for symbol, data_sha in sorted(runs_input):
        digest.update(f"{symbol}:{data_sha}\n".encode())
    digest.update(json.dumps(_result_options(options), sort_keys=True).encode())
    digest.update(__version__.encode())
    return digest.hexdigest()[:16]


def _job(args: tuple[Path, str, str | None, Path, Path, Options]) -> SymbolRun:
    return run_symbol(*args)


def backtest(
    strategy: str,
    symbols: list[str],
    *,
    exchange: str | None,
    data_dir: Path,
    variants_dir: Path,
    strategies_dir: Path,
    out_dir: Path,
    options: Options,
    jobs: int = 1,
    events_file: Path | None = None,
    event_horizon_s: float = 600.0,
    observer: Callable[[MarketState, StrategyMachine, float], None] | None = None,
) -> BacktestReport:
    """Run the strategy on every symbol and write `<out_dir>/<run_id>/`."""
    if options.metrics_compat not in COMPAT:
        raise FxError(f"--metrics-compat {options.metrics_compat!r} is not one of {', '.join(COMPAT)}")
    if not symbols:
        raise FxError("give --symbol or --symbols")
    if not data_dir.is_dir():
        raise FxError(f"data dir {data_dir} does not exist (import or record something first)")
    spec_path = resolve_strategy(strategy, strategies_dir)
    spec = load_strategy(spec_path)
    options = replace(options, clock_ms=clock_of(spec, options))  # the summary says which clock ran
    onsets = read_events(events_file) if events_file is not None else {}
    resolve_indicators(spec, variants_dir, spec_path)  # fail fast, before any process starts
    work = [(spec_path, s, exchange, data_dir, variants_dir, options) for s in dict.fromkeys(symbols)]
    if jobs > 1 and len(work) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(work))) as pool:
            runs = list(pool.map(_job, work))
    else:
        runs = [run_symbol(*w, observer=observer) for w in work]
    rid = run_id(spec_path, [(r.symbol, r.data_sha) for r in runs], options, events_file)
    report = BacktestReport(rid, out_dir / rid, spec, options, runs)
    if len(runs) > 1:
        report.correlation = return_correlation(runs)
    for r in runs:
        if r.symbol in onsets:
            outcomes, alarms = evaluate_events(
                r.result, onsets[r.symbol], spec.side.sign, horizon_s=event_horizon_s
            )
            report.events.extend(outcomes)
            report.false_alarms[r.symbol] = alarms
    report.summary = summary_of(report)
    write_outputs(report)
    return report


def return_correlation(runs: list[SymbolRun]) -> dict[str, dict[str, float]]:
    """Pearson correlation of per-symbol strategy returns on a common 1-minute grid."""
    step = 60 * 1_000_000_000
    minutes = sorted({p.ts_ns // step for r in runs for p in r.result.equity})
    returns: dict[str, np.ndarray] = {}
    for r in runs:
        by_minute = {p.ts_ns // step: p.equity for p in r.result.equity}
        level, values = r.result.start_balance, []
        for minute in minutes:
            level = by_minute.get(minute, level)  # carry equity over minutes without a sample
            values.append(level)
        levels = np.array(values, dtype=np.float64)
        returns[r.symbol] = np.diff(levels) / levels[:-1]
    out: dict[str, dict[str, float]] = {}
    for a, ra in returns.items():
        out[a] = {}
        for b, rb in returns.items():
            defined = len(ra) > 1 and np.std(ra) > 0 and np.std(rb) > 0
            out[a][b] = float(np.corrcoef(ra, rb)[0, 1]) if defined else (1.0 if a == b else math.nan)
    return out


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_of(report: BacktestReport) -> dict[str, Any]:
    """The summary document (no wall-clock times: the same inputs give the same bytes)."""
    summary: dict[str, Any] = _clean(
        {
            "run_id": report.run_id,
            "fx_version": __version__,
            "strategy": report.strategy.name,
            "side": report.strategy.side.value,
            "options": _result_options(report.options),
            "metric_conventions": CONVENTIONS
            if report.options.metrics_compat == "fx"
            else report.options.metrics_compat,
            "symbols": {
                r.symbol: {
                    "exchange": r.exchange,
                    "events": r.result.events,
                    "clock_ticks": r.result.clock_ticks,
                    "from": ns_to_iso(r.result.first_ts_ns),
                    "to": ns_to_iso(r.result.last_ts_ns),
                    "gaps_flagged": [
                        {
                            "start": ns_to_iso(g["start_ns"]),
                            "end": ns_to_iso(g["end_ns"]),
                            "reason": g["reason"],
                        }
                        for g in r.gaps
                    ],
                    "diagnostics": r.result.diagnostics,
                    "data_sha256": r.data_sha,
                    "metrics": r.metrics,
                    "undefined": undefined_reasons(r.metrics),
                }
                for r in report.runs
            },
            "combined": combined(report.runs),
            "correlation": report.correlation,
            **({"events": events_summary(report)} if report.events or report.false_alarms else {}),
        }
    )
    return summary


def events_summary(report: BacktestReport) -> dict[str, Any]:
    """Per-event outcomes and their aggregate: detection rate, median lag, capture, false alarms."""
    covered = [e for e in report.events if e.covered]
    detected = [e for e in covered if e.detected]
    shares = [e.share_captured for e in covered if not math.isnan(e.share_captured)]
    return {
        "events": len(report.events),
        "covered": len(covered),
        "detected": len(detected),
        "median_detection_lag_s": float(np.median([e.detection_lag_s for e in detected]))
        if detected
        else None,
        "mean_share_captured": float(np.mean(shares)) if shares else None,
        "false_alarms": report.false_alarms,
        "per_event": [
            {**asdict(e), "onset": ns_to_iso(e.onset_ns)}
            for e in sorted(report.events, key=lambda e: e.onset_ns)
        ],
    }


def combined(runs: list[SymbolRun]) -> dict[str, Any]:
    """Totals across symbols."""
    trades = [t for r in runs for t in r.result.trades]
    pnl = sum(t.pnl for t in trades)
    start = sum(r.result.start_balance for r in runs)
    wins = sum(1 for t in trades if t.pnl > 0)
    return {
        "symbols": len(runs),
        "trades": len(trades),
        "absolute_profit": pnl,
        "total_profit_pct": pnl / start * 100 if start else 0.0,
        "win_rate_pct": wins / len(trades) * 100 if trades else None,
    }


def _fill_columns(prefix: str, fills: list[Fill]) -> dict[str, Any]:
    qty = sum(f.qty for f in fills) or math.nan
    return {
        f"{prefix}_source": ",".join(sorted({f.source for f in fills})),
        f"{prefix}_levels": sum(f.levels for f in fills),
        f"{prefix}_mid_at_decision": fills[0].mid_at_decision,
        f"{prefix}_expected_price": fills[0].expected_price,
        f"{prefix}_spread_bps": sum(f.spread_bps * f.qty for f in fills) / qty,
        f"{prefix}_latency_bps": sum(f.latency_bps * f.qty for f in fills) / qty,
        f"{prefix}_slippage_bps": sum(f.slippage_bps * f.qty for f in fills) / qty,
        f"{prefix}_partial": any(f.is_partial for f in fills),
    }


def trade_rows(trades: list[TradeRecord]) -> list[dict[str, Any]]:
    """One row per trade with its fill-quality lines."""
    return [
        {
            "symbol": t.symbol,
            "side": t.side,
            "entry_ts_ns": t.entry_ts_ns,
            "exit_ts_ns": t.exit_ts_ns,
            "qty": t.qty,
            "entry_price": t.entry_price,
            "exit_price": t.exit_price,
            "stake": t.stake,
            "entry_fee": t.entry_fee,
            "exit_fee": t.exit_fee,
            "pnl": t.pnl,
            "return_pct": t.return_ratio * 100,
            "exit_reason": t.exit_reason,
            **_fill_columns("entry", [t.entry_fill]),
            **_fill_columns("exit", t.exit_fills),
        }
        for t in trades
    ]


def write_outputs(report: BacktestReport) -> None:
    """trades / transitions / equity Parquet per symbol, and summary.json, under the run folder."""
    import polars as pl

    out = report.out_dir
    make_folder(out)
    for r in report.runs:
        folder = out / r.symbol if len(report.runs) > 1 else out
        make_folder(folder)
        rows = trade_rows(r.result.trades)
        with output_file(folder / "trades.parquet") as handle:
            pl.DataFrame(rows, infer_schema_length=None).write_parquet(handle)
        transitions = [
            {
                "ts_ns": t.ts_ns,
                "symbol": t.symbol,
                "from": t.from_state.value,
                "to": t.to_state.value,
                "group": t.group,
                "values": json.dumps(_clean(t.values), sort_keys=True),
            }
            for t in r.result.transitions
        ]
        transitions_frame = pl.DataFrame(
            transitions,
            schema={
                "ts_ns": pl.Int64,
                "symbol": pl.String,
                "from": pl.String,
                "to": pl.String,
                "group": pl.String,
                "values": pl.String,
            },
        )
        with output_file(folder / "transitions.parquet") as handle:
            transitions_frame.write_parquet(handle)
        equity = np.array([p.equity for p in r.result.equity], dtype=np.float64)
        peak = np.maximum.accumulate(equity) if len(equity) else equity
        equity_frame = pl.DataFrame(
            {
                "ts_ns": [p.ts_ns for p in r.result.equity],
                "balance": [p.balance for p in r.result.equity],
                "equity": equity,
                "price": [p.price for p in r.result.equity],
                "drawdown_pct": (equity / peak - 1.0) * 100 if len(equity) else equity,
            },
            schema={
                "ts_ns": pl.Int64,
                "balance": pl.Float64,
                "equity": pl.Float64,
                "price": pl.Float64,
                "drawdown_pct": pl.Float64,
            },
        )
        with output_file(folder / "equity.parquet") as handle:
            equity_frame.write_parquet(handle)
    text = json.dumps(report.summary, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_output(out / "summary.json", text.encode())
