"""`fx backtest STRATEGY --symbol S`: replay stored ticks through the engine and strategy."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fxcli.cli.options import (
    MAX_SPEED,
    MIN_SPEED,
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
    number_in,
)
from fxcli.cli.output import EXIT_CHECK_FAILED, print_json, render, reporting_errors, stderr, write_stdout
from fxcli.model.limits import MAX_SECONDS

if TYPE_CHECKING:
    from fxcli.tasks.stream import Comparison


def backtest(
    strategy: Annotated[
        str, typer.Argument(help="A strategy file, or a name in --strategies-dir.", show_default=False)
    ],
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", "-s", help="Symbol to test (repeatable).")
    ] = None,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated symbols, e.g. A,B,C.")] = None,
    jobs: Annotated[int, typer.Option(callback=count(), help="Parallel processes for several symbols.")] = 1,
    exchange: Exchange = None,
    start: From = None,
    end: To = None,
    balance: Balance = 10_000.0,
    fee_bps: FeeBps = 10.0,
    latency_ms: LatencyMs = 50.0,
    slippage_bps: SlippageBps = 5.0,
    clock_ms: ClockMs = None,
    speed: Annotated[
        float | None,
        typer.Option(
            callback=number_in(MIN_SPEED, MAX_SPEED),
            help="Pace the replay at X times real time, with a live status line.",
        ),
    ] = None,
    allow_gaps: Annotated[
        bool, typer.Option(help="Run a window that overlaps recorded gaps (flagged).")
    ] = False,
    metrics_compat: Annotated[
        str, typer.Option(help="fx, freqtrade or backtesting.py: whose formulas the summary uses.")
    ] = "fx",
    out: Annotated[Path, typer.Option(help="Results folder; each run goes to <out>/<run_id>/.")] = Path(
        "results"
    ),
    chart: Annotated[
        bool, typer.Option(help="Write chart.png (price with trades, equity, drawdown).")
    ] = True,
    events: Annotated[
        Path | None,
        typer.Option(help="CSV symbol,time of pump onsets: lag, capture, adverse excursion, false alarms."),
    ] = None,
    event_horizon_s: Annotated[
        float,
        typer.Option(callback=number_in(1.0, MAX_SECONDS), help="How long after an onset is the event."),
    ] = 600.0,
    strategies_dir: StrategiesDir = None,
    variants_dir: VariantsDir = None,
    data_dir: DataDir = None,
    json_out: Json = False,
    compare_stream: Annotated[
        bool, typer.Option(help="Also run the recording through fx stream; exit 1 unless both agree.")
    ] = False,
) -> None:
    """Backtest a strategy on stored ticks with honest fills, costs and metrics.

    Exit codes: 0 ok, 1 --compare-stream found a divergence, 2 bad input (strategy file, unknown
    symbol, empty or gapped window).

    Example: fx backtest pump_rider --symbol BTCUSDT --from 2024-08-08T23:55 --fee-bps 10 --latency-ms 50
    """
    from fxcli.settings import load_settings
    from fxcli.tasks.backtest import Options
    from fxcli.tasks.backtest import backtest as run_backtest

    wanted = list(symbol or []) + [s.strip() for s in (symbols or "").split(",") if s.strip()]
    options = Options(
        balance, fee_bps, latency_ms, slippage_bps, allow_gaps, start, end, metrics_compat, speed, clock_ms
    )
    from fxcli.ui.backtest import replay_status

    with reporting_errors(), replay_status(stderr(), enabled=speed is not None and not json_out) as observer:
        settings = load_settings(data_dir=data_dir, variants_dir=variants_dir, strategies_dir=strategies_dir)
        report = run_backtest(
            strategy,
            wanted,
            exchange=exchange,
            data_dir=settings.data_dir,
            variants_dir=settings.variants_dir,
            strategies_dir=settings.strategies_dir,
            out_dir=out,
            options=options,
            jobs=jobs,
            events_file=events,
            event_horizon_s=event_horizon_s,
            observer=observer,
        )
    parity = None
    if compare_stream:
        from fxcli.tasks.stream import compare_with_backtest

        with reporting_errors():
            parity = compare_with_backtest(
                report, data_dir=settings.data_dir, variants_dir=settings.variants_dir
            )
    charts = []
    if chart:
        from fxcli.ui.charts import backtest_chart

        with reporting_errors():
            for run in report.runs:
                folder = report.out_dir / run.symbol if len(report.runs) > 1 else report.out_dir
                title = f"{report.strategy.name} on {run.exchange} {run.symbol}"
                charts.append(str(backtest_chart(run.result, folder / "chart.png", title)))
    if json_out:
        verdict = {"compare_stream": asdict(parity)} if parity is not None else {}
        print_json({**report.summary, "out_dir": str(report.out_dir), "charts": charts, **verdict})
        _parity_verdict(parity, quiet=True)
        return
    from fxcli.ui.backtest import correlation_table, events_table, summary_table

    render(summary_table(report))
    if report.correlation:
        render(correlation_table(report.correlation))
    if "events" in report.summary:
        render(events_table(report.summary["events"]))
    for path in charts:
        stderr().print(f"chart: {path}", markup=False)
    _parity_verdict(parity, quiet=False)


def _parity_verdict(parity: Comparison | None, *, quiet: bool) -> None:
    """Say whether fx stream agreed with the backtest (unless it is in the JSON); exit 1 if not."""
    if parity is None:
        return
    if not quiet:
        write_stdout(parity.message + "\n")
    if not parity.agree:
        raise typer.Exit(EXIT_CHECK_FAILED)
