"""`fx optimize robustness`: Monte Carlo on a trial's trades, and a random-entry baseline.

The trial (the study's pick, or `--trial N`, which must have completed) is re-run as a plain
`fx backtest` of the strategy file it realises, on the study's symbols, window and costs: its closed
trades (P&L net of fees, in exit order) feed `fxcli.optimize.stats.montecarlo`, and their sides,
stakes and holding times feed `fxcli.optimize.baseline`. Equity starts at the study's balance per
symbol (each symbol's backtest has its own account), so returns are fractions of that total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fxcli.backtest.runner import TradeRecord
from fxcli.errors import FxError
from fxcli.model.units import parse_window
from fxcli.optimize import baseline
from fxcli.optimize.results import best_trial, clean, config_of
from fxcli.optimize.stats.montecarlo import (
    PERCENTILES,
    Distribution,
    MetricDistribution,
    bootstrap,
    permutation,
)
from fxcli.outfile import make_folder, write_output
from fxcli.store.columns import open_window
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay
from fxcli.store.schema import Table
from fxcli.tasks.backtest import MARKET_TABLES, Options, backtest
from fxcli.tasks.holdout import check_study_window
from fxcli.tasks.optimize_report import open_study, trial_strategy_text

if TYPE_CHECKING:
    from optuna import Study
    from optuna.trial import FrozenTrial

METHODS = ("permute", "bootstrap", "block")


@dataclass(frozen=True)
class RobustnessRequest:
    """What `fx optimize robustness` was asked."""

    study: str
    out_dir: Path
    storage: str | None
    data_dir: Path
    method: str
    n: int
    seed: int
    trial: int | None = None
    block_size: int | None = None


@dataclass
class RobustnessOutcome:
    """The document, and what the charts draw (None: the trial had no trades)."""

    document: dict[str, Any]
    distribution: Distribution | None = None
    baseline_returns: np.ndarray | None = None
    no_trades: str | None = None


def robustness(request: RobustnessRequest) -> RobustnessOutcome:
    """Re-run the trial, resample its trades, fill the baselines; FxError (exit 2) for bad input.

    `request.n` is range-checked once, by the CLI's -n callback (1..MAX_DRAWS)."""
    if request.method not in METHODS:
        raise FxError(f"--mc {request.method!r}: not one of {', '.join(METHODS)}")
    if request.block_size is not None and request.method != "block":
        raise FxError(f"--block-size: only with --mc block (got --mc {request.method})")
    study = open_study(request.study, request.out_dir, request.storage)
    trial = _trial(study, request.study, request.trial)
    config = config_of(study)
    check_study_window(request.out_dir, config)  # a re-run reads data: never a locked holdout
    options = Options(**config["options"])
    folder = request.out_dir / "optimize" / request.study / "robustness"
    make_folder(folder)
    strategy_path = folder / f"trial-{trial.number}.toml"
    write_output(strategy_path, trial_strategy_text(study, trial).encode())
    symbols = list(config["symbols"])
    report = backtest(
        str(strategy_path),
        symbols,
        exchange=config.get("exchange"),
        data_dir=request.data_dir,
        variants_dir=Path(config["variants_dir"]),
        strategies_dir=folder,
        out_dir=folder / "rerun",
        options=options,
    )
    trades = sorted(
        (t for r in report.runs for t in r.result.trades), key=lambda t: (t.exit_ts_ns, t.entry_ts_ns)
    )
    start = options.balance * len(report.runs)
    document: dict[str, Any] = {
        "study": request.study,
        "trial": trial.number,
        "strategy_file": str(strategy_path),
        "backtest_dir": str(report.out_dir),
        "trades": len(trades),
        "start_equity": start,
        "method": request.method,
        "n": request.n,
        "seed": request.seed,
        "results_dir": str(folder),
    }
    if not trades:
        why = f"trial {trial.number} made no closed trades in its re-run: nothing to resample"
        return RobustnessOutcome(clean(document), no_trades=why)
    pnls = np.array([t.pnl for t in trades], dtype=np.float64)
    distribution = _monte_carlo(request, pnls, start, document)
    returns, base_doc = _baseline(request, report.runs, options, start, float(pnls.sum()) / start)
    document |= {
        "exact": distribution.exact,
        "scenarios": distribution.scenarios,
        "final_return": _metric_document(distribution.final_return),
        "max_drawdown": _metric_document(distribution.max_drawdown),
        "max_drawdown_quote": _metric_document(distribution.max_drawdown_quote),
        "baseline": base_doc,
        "plots": {"fan": str(folder / "fan.png"), "histogram": str(folder / "final_returns.png")},
    }
    document = clean(document)
    return RobustnessOutcome(document, distribution, returns)


def _trial(study: Study, name: str, number: int | None) -> FrozenTrial:
    """The pick, or trial `number`, which must have completed (its trades are what is tested)."""
    if number is None:
        pick = best_trial(study)
        if pick is None:
            raise FxError(f"study {name!r}: no complete trial within the constraints")
        return pick
    found = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not found:
        raise FxError(f"--trial {number}: study {name!r} has no such trial")
    if found[0].state.name != "COMPLETE":
        raise FxError(f"--trial {number}: did not complete ({found[0].state.name}); pick a complete trial")
    return found[0]


def _monte_carlo(
    request: RobustnessRequest, pnls: np.ndarray, start: float, document: dict[str, Any]
) -> Distribution:
    if request.method == "permute":
        return permutation(pnls, start, request.n, request.seed)
    block = 1
    if request.method == "block":
        # Default block length ~ n^(1/3) (Hall, Horowitz & Jing 1995), at least 2 so it is a block.
        block = request.block_size or min(len(pnls), max(2, round(len(pnls) ** (1 / 3))))
        document["block_size"] = block
    return bootstrap(pnls, start, request.n, request.seed, block=block)


def _metric_document(m: MetricDistribution) -> dict[str, Any]:
    """One metric for --json: p-value only where the method can change the metric."""
    doc: dict[str, Any] = {
        "original": m.original,
        "percentiles": {str(q): v for q, v in m.percentiles.items()},
        "interval_90": list(m.interval_90),
        "interval_95": list(m.interval_95),
        "mean": m.mean,
        "mean_se": m.mean_se,
    }
    if m.invariant:
        doc["p_value"] = None
        doc["note"] = "the same trades in any order have the same total: this method cannot change it"
    else:
        doc |= {"p_value": m.p_value, "p_value_se": m.p_value_se, "p_value_meaning": m.p_value_meaning}
    return doc


def templates_of(trades: list[TradeRecord]) -> list[baseline.Template]:
    """What a baseline keeps of each trade: side, stake, and entry decision -> last exit decision."""
    return [
        baseline.Template(
            t.side, t.entry_fill.notional, max(0, t.exit_fills[-1].decided_ts_ns - t.entry_fill.decided_ts_ns)
        )
        for t in trades
    ]


def _baseline(
    request: RobustnessRequest, runs: list[Any], options: Options, start: float, strategy_return: float
) -> tuple[np.ndarray, dict[str, Any]]:
    """Every symbol's trades at random times in its window (entries where its book is known);
    totals summed per baseline."""
    reader = StoreReader(request.data_dir)
    lo, hi = parse_window(options.start, options.end)
    totals = np.zeros(request.n)
    for index, run in enumerate(runs):
        trades = run.result.trades
        if not trades:
            continue
        window = open_window(reader, run.symbol, run.exchange, lo, hi, allow_gaps=options.allow_gaps)
        tables = (*MARKET_TABLES, Table.GAPS) if window.book_gaps else MARKET_TABLES
        unknown = (
            baseline.unknown_ranges(replay(reader, window.exchange, run.symbol, tables, lo, hi))
            if window.book_gaps
            else []
        )
        plans = baseline.place(
            templates_of(trades),
            run.result.first_ts_ns,
            run.result.last_ts_ns,
            options.costs.latency_ns,
            request.n,
            seed=[request.seed, index],
            unknown=unknown,
        )
        events = replay(reader, window.exchange, run.symbol, tables, lo, hi)
        filled = baseline.fill(plans, events, run.symbol, options.costs)
        totals += baseline.totals(filled, request.n, start)
    beaten = float(np.mean(totals < strategy_return))
    pct = np.percentile(totals, PERCENTILES)
    return totals, {
        "n": request.n,
        "seed": request.seed,
        "strategy_return": strategy_return,
        "beaten_share": beaten,
        "beaten_share_se": math.sqrt(beaten * (1 - beaten) / request.n),
        "percentiles": {str(q): float(v) for q, v in zip(PERCENTILES, pct, strict=True)},
        "mean": float(totals.mean()),
        "simulated": "same count, sides, stakes and holding times (decision to decision) at random "
        "non-overlapping times in the window, no entry in a book gap; filled by fx's fill model with "
        "the study's latency, fees and slippage (the book hidden in gaps, as in the backtest)",
    }
