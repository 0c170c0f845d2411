"""`fx optimize walk-forward`: per fold, an `fx optimize run` study on the train window, then its pick
run as a plain backtest on the test window; the test runs stitched into one out-of-sample curve.

Fold k's search is the study `<wf-study>-fold<k>` (its own results folder, resumable like any
study: re-running the same walk-forward resumes every fold). Its test backtest starts a warm-up
lead before the test window (`--warmup`; by default the pick's longest indicator warm-up, from
the indicator registry): the lead's rows warm the indicators, the strategy looks for no signal
before the window (Options.trade_from), and the lead is cut from the test metrics and the stitched
curve (stitch.from_test_start), so a fold is judged on its window alone. Results go to
`<out>/optimize/<wf-study>/`: folds.parquet, oos_equity.parquet, summary.json (what `--json`
prints), stitched.png (drawn by the command line), and test/<run_id>/ (the folds' test backtests).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from fxcli import __version__
from fxcli.errors import FxError
from fxcli.model.units import duration_str, ns_to_iso, parse_window
from fxcli.optimize.folds import EVENT_SCHEMES, Fold, Lengths, Plan, event_folds, walk

__all__ = ["Lengths", "WalkForwardRequest", "walk_forward"]
from fxcli.optimize.objective import flat_metrics
from fxcli.optimize.results import clean
from fxcli.optimize.returns import DEFAULT_BUCKET_NS
from fxcli.optimize.stats.wfe import wfe
from fxcli.optimize.stitch import from_test_start, profit_shares, stability, stitch
from fxcli.optimize.study import TrialEvent
from fxcli.outfile import make_folder, output_file, write_output
from fxcli.store.access import exchange_of
from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table
from fxcli.strategy.spec import load_strategy
from fxcli.tasks.backtest import (
    Options,
    backtest,
    ledger_metrics,
    ledger_of,
    read_events,
    resolve_indicators,
    resolve_strategy,
)
from fxcli.tasks.holdout import LEDGER_DIR, guard, ledger_document
from fxcli.tasks.optimize import RunRequest, events_bytes, run_study
from fxcli.tasks.optimize_report import finish

CONVENTIONS = {
    "windows": "half-open [from, to): a test window starts --gap after its train window ends",
    "stitched": "each fold's test run starts from --balance; the stitched curve chains their returns "
    "(fold k scaled by the stitched equity at fold k-1's end over --balance)",
    "warmup": "each test run replays a lead of --warmup before its window (auto: the pick's longest "
    "indicator warm-up in time; warm-ups counted in trades are not covered), never before the data; "
    "no position opens in the lead and it is not part of the test metrics or the stitched curve",
    "fold_profit": "the change of the stitched equity over the fold's test window",
    "stability": "per numeric parameter across folds: mean, sample std (n-1), cv = std/|mean|",
    "wfe": "secondary to the stitched metrics; returns are each window's Total profit % of --balance, "
    "annualised simply (per unit of time). stitched: the test windows' summed return rate over the "
    "mean train return rate; mean: the mean over folds of test rate / train rate (folds whose train "
    "return is <= 0 left out); None where undefined",
}


@dataclass(frozen=True)
class WalkForwardRequest:
    """Everything `fx optimize walk-forward` was asked (`run` holds the study settings and costs;
    its window, study name and storage are per fold)."""

    run: RunRequest
    lengths: Lengths
    anchored: bool = False
    events_file: Path | None = None
    study: str | None = None
    warmup_ns: int | None = None  # the lead before each test window; None: the pick's indicators'
    event_folds: str = "leave-one-out"  # with events_file: or anchored (fxcli.optimize.folds)


@dataclass
class WalkForwardOutcome:
    """The document, the stitched curve for the chart, and why it stopped early (if it did)."""

    document: dict[str, Any]
    curves: dict[str, tuple[Any, Any]]  # symbol: (ts_ns, equity) of the stitched curve
    boundaries_ns: list[int]  # each fold's test start
    stopped_by: int | None = None
    failed: str | None = None  # a fold without a winner (exit 1)


def walk_forward_name(request: WalkForwardRequest, strategy_path: Path) -> str:
    """`<strategy>-wf-<hash>` of everything that changes the results, so the same command resumes."""
    run = request.run
    inputs: dict[str, Any] = {
        "strategy": hashlib.sha256(strategy_path.read_bytes()).hexdigest(),
        "events": hashlib.sha256(events_bytes(request.events_file)).hexdigest()
        if request.events_file
        else None,
        "symbols": list(dict.fromkeys(run.symbols)),
        "exchange": run.exchange,
        "options": {k: v for k, v in run.options.key_fields().items() if k != "metrics_compat"},
        "lengths": asdict(request.lengths),
        "anchored": request.anchored,
        **({"event_folds": request.event_folds} if request.events_file is not None else {}),
        **({"warmup_ns": request.warmup_ns} if request.warmup_ns is not None else {}),
        "run": [
            run.trials,
            run.sampler,
            run.objective,
            run.min_trades,
            run.seed,
            run.pruner,
            list(run.params),
        ],
        "fx_version": __version__,
    }
    if run.bucket_ns != DEFAULT_BUCKET_NS:  # kept out at the default: earlier names stay
        inputs["bucket_ns"] = run.bucket_ns
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return f"{strategy_path.stem}-wf-{digest[:12]}"


def data_span(run: RunRequest) -> tuple[int, int]:
    """[first trade, last trade + 1 ns) over the symbols, within --from/--to."""
    if not run.symbols:
        raise FxError("give --symbol or --symbols")
    if not run.data_dir.is_dir():
        raise FxError(f"data dir {run.data_dir} does not exist (import or record something first)")
    lo, hi = parse_window(run.options.start, run.options.end)
    reader = StoreReader(run.data_dir)
    firsts, lasts = [], []
    for symbol in dict.fromkeys(run.symbols):
        exchange = exchange_of(reader, symbol, run.exchange, error=FxError)
        frame = reader.scan(exchange, symbol, Table.TRADES, lo, hi).select("exchange_ts_ns").collect()
        if frame.height == 0:
            raise FxError(f"no trades for {symbol} on {exchange} in the window: nothing to walk forward")
        firsts.append(int(frame["exchange_ts_ns"].min()))  # type: ignore[arg-type]
        lasts.append(int(frame["exchange_ts_ns"].max()))  # type: ignore[arg-type]
    return min(firsts), max(lasts) + 1


def plan_folds(request: WalkForwardRequest, span: tuple[int, int]) -> Plan:
    """The folds the request asks for over the data span."""
    if request.event_folds not in EVENT_SCHEMES:  # refused even without --events: never ignored
        raise FxError(f"--event-folds {request.event_folds!r}: not one of {', '.join(EVENT_SCHEMES)}")
    if request.events_file is None:
        return walk(*span, request.lengths, anchored=request.anchored)
    wanted = {s.upper() for s in request.run.symbols}
    onsets = [
        t for symbol, times in read_events(request.events_file).items() if symbol in wanted for t in times
    ]
    return event_folds(*span, onsets, request.lengths, request.event_folds)


def _window(options: Options, start: int, end: int) -> Options:
    """The options on [start, end): --to is inclusive, so it is end - 1 ns (epoch ns text)."""
    return replace(options, start=str(start), end=str(end - 1))


def indicator_warmup_ns(strategy_file: Path, variants_dir: Path) -> int:
    """The longest time any indicator of the strategy needs before it has a value (registry warm-ups)."""
    from fxcli.engine.registry import get

    indicators = resolve_indicators(load_strategy(strategy_file), variants_dir, strategy_file)
    seconds = [get(kind).warmup(params).seconds for _, kind, params in indicators]
    return round(max(seconds, default=0.0) * 1e9)


def _test_options(options: Options, lead_start: int, fold: Fold) -> Options:
    """The test run: from the lead's start to the window's end, trading from the window's start."""
    return replace(_window(options, lead_start, fold.test_end), trade_from=str(fold.test_start))


def _fold_row(fold: Fold) -> dict[str, Any]:
    return {
        "fold": fold.index,
        "train": [ns_to_iso(fold.train_start), ns_to_iso(fold.train_end)],
        "test": [ns_to_iso(fold.test_start), ns_to_iso(fold.test_end)],
        **({"event": ns_to_iso(fold.event)} if fold.event is not None else {}),
        **({"train_excluded": [ns_to_iso(t) for t in fold.hole]} if fold.hole is not None else {}),
    }


def walk_forward(
    request: WalkForwardRequest,
    command: str,
    on_trial: Callable[[TrialEvent], None],
    on_fold: Callable[[dict[str, Any]], None],
    *,
    plots: bool = True,
) -> WalkForwardOutcome:
    """Plan the folds, search and test each, stitch the test runs, and write the results folder."""
    run = request.run
    strategy_path = resolve_strategy(run.strategy, run.strategies_dir)
    name = request.study or walk_forward_name(request, strategy_path)
    if name == LEDGER_DIR:
        raise FxError(f"--study {name!r}: the name of the ledger folder under <out>/optimize/")
    folder = run.out_dir / "optimize" / name
    make_folder(folder)
    guard(run.out_dir, strategy_path.stem, run.holdout, run.options.start, run.options.end)
    span = data_span(run)
    plan = plan_folds(request, span)
    symbols = list(dict.fromkeys(run.symbols))
    rows: list[dict[str, Any]] = []
    ledgers: dict[str, list[Any]] = {s: [] for s in symbols}
    for fold in plan.folds:
        row = _fold_row(fold) | {"study": f"{name}-fold{fold.index}"}
        fold_run = replace(
            run,
            study=row["study"],
            options=_window(run.options, fold.train_start, fold.train_end),
            hole=fold.hole,
        )
        try:
            outcome = run_study(fold_run, on_trial)
            if outcome.stopped_by is not None:
                return WalkForwardOutcome(
                    {"study": name, "folds": rows}, {}, [], stopped_by=outcome.stopped_by
                )
            study_doc = finish(fold_run, outcome, command, plots=False)
            if study_doc["best"] is None:
                where = study_doc["results_dir"]
                failed = f"fold {fold.index}: no trial completed within the constraints ({where})"
                return WalkForwardOutcome({"study": name, "folds": rows}, {}, [], failed=failed)
            best_file = Path(study_doc["best_file"])
            warmup = request.warmup_ns
            if warmup is None:
                warmup = indicator_warmup_ns(best_file, run.variants_dir)
            lead_start = max(span[0], fold.test_start - warmup)
            report = backtest(
                str(best_file),
                symbols,
                exchange=run.exchange,
                data_dir=run.data_dir,
                variants_dir=run.variants_dir,
                strategies_dir=run.strategies_dir,
                out_dir=folder / "test",
                options=_test_options(run.options, lead_start, fold),
            )
        except FxError as exc:
            raise FxError(f"fold {fold.index} ({row['train'][0]}..{row['test'][1]}): {exc}") from None
        test_ledgers = {r.symbol: from_test_start(ledger_of(r.result), fold.test_start) for r in report.runs}
        for symbol, ledger in test_ledgers.items():
            ledgers[symbol].append(ledger)
        compat = run.options.metrics_compat
        row |= {
            "lead": [ns_to_iso(lead_start), ns_to_iso(fold.test_start)],
            "params": study_doc["best"]["params"],
            "train_metrics": study_doc["best"]["metrics"],
            "test_metrics": clean(
                flat_metrics({s: ledger_metrics(lg, compat) for s, lg in test_ledgers.items()})
            ),
            "test_dir": str(report.out_dir),
        }
        rows.append(row)
        on_fold(row)
    return _summarise(request, name, folder, plan, rows, ledgers, plots=plots)


def _summarise(
    request: WalkForwardRequest,
    name: str,
    folder: Path,
    plan: Plan,
    rows: list[dict[str, Any]],
    ledgers: dict[str, list[Any]],
    *,
    plots: bool,
) -> WalkForwardOutcome:
    """Stitch every symbol's test ledgers, compute the summary, write the results folder."""
    compat = request.run.options.metrics_compat
    stitched = {s: stitch(fold_ledgers) for s, fold_ledgers in ledgers.items()}
    oos = clean(flat_metrics({s: ledger_metrics(st.ledger, compat) for s, st in stitched.items()}))
    fold_profit = [sum(st.fold_profit[k] for st in stitched.values()) for k in range(len(rows))]
    for row, profit in zip(rows, fold_profit, strict=True):
        row["test_profit"] = profit
    lengths = request.lengths
    document: dict[str, Any] = {
        "study": name,
        "scheme": plan.scheme,
        "symbols": list(stitched),
        "train": duration_str(lengths.train),
        "test": duration_str(lengths.test),
        "step": duration_str(lengths.step if lengths.step is not None else lengths.test),
        "gap": duration_str(lengths.gap),
        "warmup": "auto" if request.warmup_ns is None else duration_str(request.warmup_ns),
        "bucket": duration_str(request.run.bucket_ns),
        "trials_per_fold": request.run.trials,
        "objective": request.run.objective,
        "oos": oos,
        "folds": rows,
        "dropped": plan.dropped,
        **profit_shares(fold_profit),
        "stability": stability([row["params"] for row in rows]),
        "wfe": _efficiency(plan, rows),
        "conventions": CONVENTIONS,
        "results_dir": str(folder),
        "plot": str(folder / "stitched.png") if plots else None,
        "ledger": ledger_document(request.run.out_dir, Path(request.run.strategy).stem),
    }
    document = clean(document)
    _write_frames(folder, rows, stitched)
    text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_output(folder / "summary.json", text.encode())
    curves = {s: (st.ledger.equity_ts_ns, st.ledger.equity) for s, st in stitched.items()}
    return WalkForwardOutcome(document, curves, [f.test_start for f in plan.folds])


def _efficiency(plan: Plan, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Walk-forward efficiency both ways (stats.wfe), on each window's Total profit %; None when a
    window's profit is undefined."""
    key = "Total profit %"
    if any(row["train_metrics"].get(key) is None or row["test_metrics"].get(key) is None for row in rows):
        return None
    train = [(row["train_metrics"][key] / 100, f.train_ns) for row, f in zip(rows, plan.folds, strict=False)]
    test = [
        (row["test_metrics"][key] / 100, f.test_end - f.test_start)
        for row, f in zip(rows, plan.folds, strict=False)
    ]
    result = wfe(train, test)
    return {"stitched": result.stitched, "mean": result.mean, "per_fold": list(result.per_fold)}


def _write_frames(folder: Path, rows: list[dict[str, Any]], stitched: dict[str, Any]) -> None:
    """folds.parquet (one row per fold, flat columns) and oos_equity.parquet (the stitched curve)."""
    import numpy as np
    import polars as pl

    flat = [
        {
            "fold": row["fold"],
            "study": row["study"],
            "train_from": row["train"][0],
            "train_to": row["train"][1],
            "test_from": row["test"][0],
            "test_to": row["test"][1],
            "event": row.get("event"),
            "train_excluded_from": row.get("train_excluded", [None])[0],
            "train_excluded_to": row.get("train_excluded", [None, None])[1],
            "lead_from": row["lead"][0],
            "test_profit": row["test_profit"],
            **{f"params.{k}": v for k, v in row["params"].items()},
            **{f"train.{k}": v for k, v in row["train_metrics"].items()},
            **{f"test.{k}": v for k, v in row["test_metrics"].items()},
        }
        for row in rows
    ]
    with output_file(folder / "folds.parquet") as handle:
        pl.DataFrame(flat, infer_schema_length=None).write_parquet(handle)
    frame = pl.DataFrame(
        {
            "symbol": np.concatenate(
                [np.full(len(st.ledger.equity), s, dtype=object) for s, st in stitched.items()]
            ),
            "fold": np.concatenate([st.fold_of_point for st in stitched.values()]),
            "ts_ns": np.concatenate([st.ledger.equity_ts_ns for st in stitched.values()]),
            "equity": np.concatenate([st.ledger.equity for st in stitched.values()]),
        },
        schema={"symbol": pl.String, "fold": pl.Int64, "ts_ns": pl.Int64, "equity": pl.Float64},
    )
    with output_file(folder / "oos_equity.parquet") as handle:
        frame.write_parquet(handle)
