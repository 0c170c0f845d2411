"""`fx optimize run|list|show|export|report`: resumable parameter search over a strategy's [search] space."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fxcli.cli.options import (
    Balance,
    ClockMs,
    DataDir,
    Exchange,
    FeeBps,
    From,
    Json,
    LatencyMs,
    SlippageBps,
    StrategiesDir,
    To,
    VariantsDir,
    count,
    seconds,
)
from fxcli.cli.output import (
    EXIT_CHECK_FAILED,
    fail,
    print_json,
    render,
    reporting_errors,
    stderr,
    write_stdout,
)
from fxcli.errors import FxError

if TYPE_CHECKING:
    from fxcli.tasks.optimize import RunRequest

app = typer.Typer(
    help="Search a strategy's parameters (its [search] table) with Optuna; resumable and distributed. "
    "Exit codes: 0 ok, 1 no trial completed or the best trial's re-run differs, 2 bad input, "
    "130/143 stopped by SIGINT/SIGTERM (resumable).",
    no_args_is_help=True,
)

Out = Annotated[Path, typer.Option(help="Results folder; a study's files go to <out>/optimize/<study>/.")]
Storage = Annotated[
    str | None,
    typer.Option(
        help="Study storage: postgresql://user:pass@host/db (several machines), sqlite:///FILE (one "
        "worker) or FILE.journal; default <out>/optimize/<study>/study.journal.",
        show_default=False,
    ),
]
Param = Annotated[
    list[str] | None, typer.Option("--param", help="KEY=LOW:HIGH[:STEP], replaces or adds a dimension.")
]
Sampler = Annotated[str, typer.Option(help="grid, random, tpe, nsga2, nsga3, qmc or cmaes.")]
Bucket = Annotated[
    str, typer.Option(help="Time bucket of the stored returns (fx optimize report): 1h, 5m, 5s.")
]
MAX_DRAWS = 100_000  # robustness -n: enough for a 0.3 % standard error on a p-value, seconds of work

StudyArg = Annotated[str, typer.Argument(help="Study name (fx optimize list).", show_default=False)]
Holdout = Annotated[
    str | None,
    typer.Option(
        help="FROM..TO (inclusive, like --from/--to): on a strategy's first study, lock this range in "
        "its ledger; no later fx optimize command reads it until fx optimize unlock STRATEGY.",
        show_default=False,
    ),
]


@app.command()
def run(
    strategy: Annotated[
        str, typer.Argument(help="A strategy file, or a name in --strategies-dir.", show_default=False)
    ],
    symbol: Annotated[list[str] | None, typer.Option("--symbol", "-s", help="Symbol (repeatable).")] = None,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated symbols, e.g. A,B,C.")] = None,
    exchange: Exchange = None,
    start: From = None,
    end: To = None,
    trials: Annotated[
        int | None, typer.Option(callback=count(), help="Trials in the study (a re-run tops it up).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(callback=seconds(), help="Stop asking after S seconds.")
    ] = None,
    early_stop: Annotated[
        int | None, typer.Option(callback=count(), help="Stop after N trials without improvement.")
    ] = None,
    sampler: Sampler = "tpe",
    objective: Annotated[
        str, typer.Option(help="summary.json metric(s), comma-separated: several give a Pareto front.")
    ] = "Total profit %",
    min_trades: Annotated[
        int, typer.Option(callback=count(0), help="Fewer closed trades: never the best (soft constraint).")
    ] = 1,
    seed: Annotated[
        int | None, typer.Option(callback=count(0, 2**31 - 1), help="Seed: one worker gives the same trials.")
    ] = None,
    jobs: Annotated[int, typer.Option(callback=count(1, 1024), help="Worker processes.")] = 1,
    study: Annotated[str | None, typer.Option(help="Study name (default: a hash of the inputs).")] = None,
    storage: Storage = None,
    pruner: Annotated[str, typer.Option(help="median (on window quarters) or none.")] = "none",
    param: Param = None,
    holdout: Holdout = None,
    balance: Balance = 10_000.0,
    fee_bps: FeeBps = 10.0,
    latency_ms: LatencyMs = 50.0,
    slippage_bps: SlippageBps = 5.0,
    clock_ms: ClockMs = None,
    allow_gaps: Annotated[bool, typer.Option(help="Run a window that overlaps recorded gaps.")] = False,
    plots: Annotated[bool, typer.Option(help="Write the PNG plots.")] = True,
    bucket: Bucket = "1h",
    events: Annotated[
        Path | None,
        typer.Option(
            help="symbol,time CSV: each trial also stores its return per event (report --by events)."
        ),
    ] = None,
    event_before: Annotated[
        str, typer.Option(callback=_duration, help="An event's window starts this long before it.")
    ] = "5m",
    event_after: Annotated[
        str, typer.Option(callback=_duration, help="An event's window ends this long after it.")
    ] = "30m",
    out: Out = Path("results"),
    strategies_dir: StrategiesDir = None,
    variants_dir: VariantsDir = None,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Run (or resume) a study: the same command resumes it; its best trial is re-checked by fx backtest.

    Example: fx optimize run momentum_scalper --symbol BTCUSDT --trials 50 --seed 7
    """
    from fxcli.tasks.optimize import objective_directions, run_study
    from fxcli.tasks.optimize_report import finish
    from fxcli.ui.optimize import StudyProgress, run_summary

    command = _as_typed("run")
    with reporting_errors():
        request = _search_request(
            locals(),
            timeout_s=timeout,
            early_stop=early_stop,
            study=study,
            pruner=pruner,
            bucket_ns=_bucket_ns(bucket),
            events_file=events,
            event_before_ns=event_before,
            event_after_ns=event_after,
        )
        console = stderr()
        directions = objective_directions(objective)
        progress = StudyProgress(console, trials, directions, show=console.is_terminal and not json_out)
        with progress.shown():
            outcome = run_study(request, progress)
        document = finish(request, outcome, command, plots=plots)
    if json_out:
        print_json(document)
    else:
        render(*run_summary(document))
    if outcome.stopped_by is not None:
        stderr().print(f"fx: stopped; resume with: {command}", markup=False, highlight=False)
        raise typer.Exit(128 + outcome.stopped_by)
    if document["best"] is None:
        fail("no trial completed within the constraints (see trials.parquet for why)", EXIT_CHECK_FAILED)
    if document["rerun_matches"] is False:
        rerun = document["rerun"]
        fail(
            f"the best trial's re-run by fx backtest differs: {rerun['values']} != {rerun['trial_values']}",
            EXIT_CHECK_FAILED,
        )


@app.command("list")
def list_(out: Out = Path("results"), storage: Storage = None, json_out: Json = False) -> None:
    """List the studies under <out>/optimize/ (or in --storage)."""
    from fxcli.tasks.optimize_report import list_studies
    from fxcli.ui.optimize import studies_table

    with reporting_errors():
        rows = list_studies(out, storage)
    if json_out:
        print_json(rows)
    else:
        render(studies_table(rows))


@app.command()
def show(
    name: StudyArg,
    top: Annotated[int, typer.Option(callback=count(1), help="How many trials.")] = 10,
    min_trades: Annotated[
        int | None, typer.Option(callback=count(0), help="Only trials with this many trades.")
    ] = None,
    profitable: Annotated[bool, typer.Option(help="Only trials with a positive absolute profit.")] = False,
    out: Out = Path("results"),
    storage: Storage = None,
    json_out: Json = False,
) -> None:
    """A study's trial counts and its best trials, best first."""
    from fxcli.tasks.optimize_report import show_study
    from fxcli.ui.optimize import ledger_lines, trials_table

    with reporting_errors():
        document = show_study(name, out, storage, top=top, min_trades=min_trades, profitable=profitable)
    if json_out:
        print_json(document)
        return
    counts = ", ".join(f"{k} {v}" for k, v in document["trials"].items())
    render(trials_table(f"{name}: {counts}", document["objectives"], document["top"]))
    if document.get("ledger"):
        render(ledger_lines(document["ledger"]))


@app.command()
def unlock(
    strategy: Annotated[
        str, typer.Argument(help="The strategy (its name or file) whose holdout to open.", show_default=False)
    ],
    out: Out = Path("results"),
    json_out: Json = False,
) -> None:
    """Open a strategy's locked holdout for the final test; the unlock (time, user, host, range) is
    written in its ledger and shown by every later run, show and report. A discipline aid on this
    results folder, not security."""
    from fxcli.tasks.holdout import unlock as unlock_holdout
    from fxcli.ui.optimize import ledger_lines

    with reporting_errors():
        document = unlock_holdout(out, strategy)
    if json_out:
        print_json(document)
    else:
        render(ledger_lines(document["ledger"]))


@app.command()
def export(
    name: StudyArg,
    trial: Annotated[
        int | None, typer.Option(callback=count(0), help="Trial number (default: the best).")
    ] = None,
    to: Annotated[Path | None, typer.Option(help="Write the strategy file here (default: stdout).")] = None,
    out: Out = Path("results"),
    storage: Storage = None,
) -> None:
    """A trial's parameters as a complete strategy file, ready for fx backtest and fx stream."""
    from fxcli.tasks.optimize_report import export_trial

    with reporting_errors():
        text = export_trial(name, out, storage, trial)
        if to is None:
            write_stdout(text)
            return
        from fxcli.tasks.optimize_report import write_strategy

        write_strategy(to, text)
    stderr().print(f"wrote {to}", markup=False)


@app.command("report")
def report_(
    name: StudyArg,
    blocks: Annotated[int, typer.Option(callback=count(2, 64), help="CSCV blocks (even).")] = 16,
    by: Annotated[
        str,
        typer.Option(help="Rows of the return matrix: buckets (time) or events (a study run with --events)."),
    ] = "buckets",
    plots: Annotated[bool, typer.Option(help="Write the PNG plots.")] = True,
    out: Out = Path("results"),
    storage: Storage = None,
    json_out: Json = False,
) -> None:
    """Is the winner real? PSR, the Deflated Sharpe Ratio, MinTRL, MinBTL and PBO of a study.

    Example: fx optimize report momentum_scalper-0123456789ab --json
    """
    from fxcli.tasks.optimize_stats import report
    from fxcli.ui.optimize_stats import report_plots, report_summary

    with reporting_errors():
        document, result = report(name, out, storage, blocks=blocks, by=by)
        if plots and result is not None:
            document["plots"] = report_plots(result, out / "optimize" / name, name)
    if json_out:
        print_json(document)
    else:
        render(*report_summary(document))


def _as_typed(word: str) -> str:
    """The command as typed from `word` on: what a stopped run prints to resume it."""
    return "fx optimize " + shlex.join(sys.argv[sys.argv.index(word) :] if word in sys.argv else sys.argv[1:])


def _search_request(given: dict[str, Any], **extra: Any) -> RunRequest:
    """The study request of the options `run` and `walk-forward` share (`given`: the command's
    arguments by name), with `extra` fields only one of them has."""
    from fxcli.settings import load_settings
    from fxcli.tasks.backtest import Options
    from fxcli.tasks.optimize import RunRequest

    g = given
    settings = load_settings(
        data_dir=g["data_dir"], variants_dir=g["variants_dir"], strategies_dir=g["strategies_dir"]
    )
    costs = (g["balance"], g["fee_bps"], g["latency_ms"], g["slippage_bps"], g["allow_gaps"])
    return RunRequest(
        strategy=g["strategy"],
        symbols=list(g["symbol"] or []) + [s.strip() for s in (g["symbols"] or "").split(",") if s.strip()],
        exchange=g["exchange"],
        data_dir=settings.data_dir,
        variants_dir=settings.variants_dir,
        strategies_dir=settings.strategies_dir,
        out_dir=g["out"],
        options=Options(*costs, g["start"], g["end"], "fx", None, g["clock_ms"]),
        trials=g["trials"],
        sampler=g["sampler"],
        objective=g["objective"],
        min_trades=g["min_trades"],
        seed=g["seed"],
        jobs=g["jobs"],
        storage=g["storage"],
        params=tuple(g["param"] or ()),
        holdout=g["holdout"],
        **extra,
    )


def _bucket_ns(value: str) -> int:
    """--bucket to ns (a positive duration)."""
    from fxcli.model.units import parse_duration_ns

    try:
        ns = parse_duration_ns(value)
    except ValueError as exc:
        raise FxError(f"--bucket {exc}") from None
    if ns <= 0:
        raise FxError(f"--bucket {value!r}: must be longer than 0")
    return _at_most("--bucket", value, ns)


def _at_most(option: str, value: str, ns: int) -> int:
    """`ns`, refused past the longest duration fx handles (MAX_SECONDS: times stay int64 ns)."""
    from fxcli.model.limits import MAX_SECONDS

    if ns > MAX_SECONDS * 1e9:
        raise FxError(f"{option} {value[:40]!r}: longer than {MAX_SECONDS:g} s")
    return ns


def _warmup_ns(value: str) -> int:
    """--warmup to ns (a duration, 0s for none)."""
    from fxcli.model.units import parse_duration_ns

    try:
        return _at_most("--warmup", value, parse_duration_ns(value))
    except ValueError as exc:
        raise FxError(f"--warmup {exc} (or auto)") from None


def _duration(param: typer.CallbackParam, value: str | None) -> int | None:
    """A duration option ('6h', '90m', '2d', '1h30m', '45s') to ns; refused with its option named."""
    from fxcli.model.units import parse_duration_ns

    if value is None:
        return None
    option = f"--{(param.name or '').replace('_', '-')}"
    try:
        return _at_most(option, value, parse_duration_ns(value))
    except ValueError as exc:
        raise FxError(f"{option} {exc}") from None


@app.command("walk-forward")
def walk_forward(
    strategy: Annotated[
        str, typer.Argument(help="A strategy file, or a name in --strategies-dir.", show_default=False)
    ],
    train: Annotated[str, typer.Option(callback=_duration, help="Train window: 45s, 5m, 6h, 2d, 1h30m.")],
    test: Annotated[str, typer.Option(callback=_duration, help="Test window (same units).")],
    step: Annotated[
        str | None, typer.Option(callback=_duration, help="Shift between folds (default: --test).")
    ] = None,
    gap: Annotated[
        str, typer.Option(callback=_duration, help="Gap between train end and test start.")
    ] = "0s",
    anchored: Annotated[
        bool, typer.Option(help="Train from the data's start (growing), not rolling.")
    ] = False,
    warmup: Annotated[
        str,
        typer.Option(
            help="Lead replayed before each test window to warm the indicators (no trades in it): "
            "a duration, or auto (the pick's longest indicator warm-up)."
        ),
    ] = "auto",
    events: Annotated[
        Path | None, typer.Option(help="symbol,time CSV: one fold per event, its test window centred on it.")
    ] = None,
    event_folds: Annotated[
        str,
        typer.Option(
            help="With --events: leave-one-out (train on all data but the test window and gaps) or "
            "anchored (train on the data before it)."
        ),
    ] = "leave-one-out",
    symbol: Annotated[list[str] | None, typer.Option("--symbol", "-s", help="Symbol (repeatable).")] = None,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated symbols, e.g. A,B,C.")] = None,
    exchange: Exchange = None,
    start: From = None,
    end: To = None,
    trials: Annotated[int, typer.Option(callback=count(), help="Trials in each fold's study.")] = 50,
    sampler: Sampler = "tpe",
    objective: Annotated[
        str, typer.Option(help="summary.json metric(s); the first one ranks the folds' picks.")
    ] = "Total profit %",
    min_trades: Annotated[
        int, typer.Option(callback=count(0), help="Fewer closed trades: never a fold's pick.")
    ] = 1,
    seed: Annotated[
        int | None, typer.Option(callback=count(0, 2**31 - 1), help="Seed of every fold's sampler.")
    ] = None,
    jobs: Annotated[int, typer.Option(callback=count(1, 1024), help="Worker processes per fold.")] = 1,
    study: Annotated[
        str | None, typer.Option(help="Walk-forward name (default: a hash of the inputs).")
    ] = None,
    storage: Storage = None,
    param: Param = None,
    holdout: Holdout = None,
    balance: Balance = 10_000.0,
    fee_bps: FeeBps = 10.0,
    latency_ms: LatencyMs = 50.0,
    slippage_bps: SlippageBps = 5.0,
    clock_ms: ClockMs = None,
    allow_gaps: Annotated[bool, typer.Option(help="Run windows that overlap recorded gaps.")] = False,
    plots: Annotated[bool, typer.Option(help="Write stitched.png.")] = True,
    bucket: Bucket = "1h",
    out: Out = Path("results"),
    strategies_dir: StrategiesDir = None,
    variants_dir: VariantsDir = None,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Walk-forward: per fold, a study on the train window and its pick backtested on the test window.

    Example: fx optimize walk-forward momentum_scalper --symbol BTCUSDT --train 6h --test 2h --gap 5m
    """
    from fxcli.tasks.walkforward import Lengths, WalkForwardRequest
    from fxcli.tasks.walkforward import walk_forward as run_walk_forward
    from fxcli.ui.walkforward import stitched_chart, walk_forward_summary

    command = _as_typed("walk-forward")
    console = stderr()
    with reporting_errors():
        run_request = _search_request(locals(), bucket_ns=_bucket_ns(bucket))
        lengths = Lengths(train, test, step, gap)  # type: ignore[arg-type]  # ns after the callbacks
        warmup_ns = None if warmup == "auto" else _warmup_ns(warmup)
        request = WalkForwardRequest(run_request, lengths, anchored, events, study, warmup_ns, event_folds)
        if anchored and events is not None:
            raise FxError("--anchored and --events: for anchored event folds give --event-folds anchored")

        def on_fold(row: dict[str, object]) -> None:
            if not json_out and console.is_terminal:  # progress for a person, as run's progress bar
                console.print(f"fold {row['fold']}: test {row['test']} done", markup=False, highlight=False)

        outcome = run_walk_forward(request, command, lambda _event: None, on_fold, plots=plots)
        if outcome.curves and plots:
            title = f"{outcome.document['study']}: stitched out-of-sample equity"
            stitched_chart(outcome.curves, outcome.boundaries_ns, Path(outcome.document["plot"]), title)
    if outcome.stopped_by is not None:
        console.print(f"fx: stopped; resume with: {command}", markup=False, highlight=False)
        raise typer.Exit(128 + outcome.stopped_by)
    if outcome.failed is not None:
        fail(outcome.failed, EXIT_CHECK_FAILED)
    if json_out:
        print_json(outcome.document)
    else:
        render(*walk_forward_summary(outcome.document, objective.split(",")[0].strip()))


@app.command()
def robustness(
    name: StudyArg,
    mc: Annotated[str, typer.Option(help="permute (reorder), bootstrap (resample) or block (blocks).")],
    trial: Annotated[
        int | None,
        typer.Option(callback=count(0), help="Trial number (default: the best); must be complete."),
    ] = None,
    block_size: Annotated[
        int | None, typer.Option(callback=count(1), help="--mc block: trades per block (default ~ n^(1/3)).")
    ] = None,
    n: Annotated[
        int,
        typer.Option(
            "-n", callback=count(1, MAX_DRAWS), help="Monte Carlo draws and random-entry baselines."
        ),
    ] = 1000,
    seed: Annotated[int, typer.Option(callback=count(0, 2**31 - 1), help="Seed of draws and baselines.")] = 0,
    plots: Annotated[bool, typer.Option(help="Write fan.png and final_returns.png.")] = True,
    out: Out = Path("results"),
    storage: Storage = None,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Monte Carlo on a trial's trades and a random-entry baseline: is the winner better than chance?

    Example: fx optimize robustness STUDY --mc permute -n 1000 --seed 7
    """
    from fxcli.settings import load_settings
    from fxcli.tasks.robustness import RobustnessRequest
    from fxcli.tasks.robustness import robustness as run_robustness
    from fxcli.ui.robustness import fan_chart, histogram, robustness_summary

    with reporting_errors():
        settings = load_settings(data_dir=data_dir)
        request = RobustnessRequest(name, out, storage, settings.data_dir, mc, n, seed, trial, block_size)
        outcome = run_robustness(request)
        document, dist = outcome.document, outcome.distribution
        if dist is not None and plots:
            title = f"{name} trial {document['trial']}: {dist.method}"
            fan_chart(dist, document["start_equity"], Path(document["plots"]["fan"]), title)
            histogram(dist, outcome.baseline_returns, Path(document["plots"]["histogram"]), title)
    if outcome.no_trades is not None:
        fail(outcome.no_trades, EXIT_CHECK_FAILED)
    if not plots:
        document.pop("plots", None)
    if json_out:
        print_json(document)
    else:
        render(*robustness_summary(document))
