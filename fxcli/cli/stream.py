"""`fx stream STRATEGY --symbols A,B`: a strategy live on MEXC with paper orders, or over a recording."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fxcli.cli.options import (
    MAX_BALANCE,
    MAX_SPEED,
    MIN_SPEED,
    Balance,
    ClockMs,
    DataDir,
    FeeBps,
    From,
    JournalFile,
    KeyFile,
    LatencyMs,
    Notify,
    NotifyOn,
    Proxy,
    RotateAfterS,
    SlippageBps,
    StrategiesDir,
    To,
    VariantsDir,
    count,
    number_in,
)
from fxcli.cli.output import render, reporting_errors, stderr, stdout
from fxcli.model.limits import MAX_SECONDS


def stream(
    strategy: Annotated[
        str, typer.Argument(help="A strategy file, or a name in --strategies-dir.", show_default=False)
    ],
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", "-s", help="Symbol to run (repeatable).")
    ] = None,
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated symbols, e.g. BTCUSDT,ETHUSDT.")
    ] = None,
    exchange: Annotated[
        str | None,
        typer.Option(
            "--exchange",
            "-e",
            help="Live: mexc-spot (default) or mexc-futures. With --replay: the exchange name as stored.",
            show_default=False,
        ),
    ] = None,
    headless: Annotated[
        bool,
        typer.Option(
            help="JSON lines on stdout (transitions, fills, trades, snapshots) instead of the table."
        ),
    ] = False,
    record: Annotated[bool, typer.Option(help="Also record the live stream into --data-dir.")] = False,
    ws_url: Annotated[
        str | None,
        typer.Option(help="WebSocket URL (default: the venue's; also fx.toml / FX_MEXC_*_WS_URL)."),
    ] = None,
    rest_url: Annotated[
        str | None,
        typer.Option(help="REST base URL (default: the venue's; also fx.toml / FX_MEXC_*_REST_URL)."),
    ] = None,
    proxy: Proxy = None,
    rotate_after_s: RotateAfterS = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            help="Run over a store folder (a data dir) instead of the live venue.", show_default=False
        ),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            callback=number_in(MIN_SPEED, MAX_SPEED),
            help="With --replay: pace at X times the recorded pace (default: at once).",
        ),
    ] = None,
    start: From = None,
    end: To = None,
    balance: Balance = 10_000.0,
    fee_bps: FeeBps = 10.0,
    latency_ms: LatencyMs = 50.0,
    slippage_bps: SlippageBps = 5.0,
    clock_ms: ClockMs = None,
    every: Annotated[
        float,
        typer.Option(
            callback=number_in(0.05, MAX_SECONDS),
            help="Seconds between per-symbol snapshots in --headless output (at least 0.05).",
        ),
    ] = 1.0,
    out: Annotated[Path, typer.Option(help="The session is written to <out>/<run_id>/ when it ends.")] = Path(
        "results"
    ),
    serve: Annotated[
        str | None,
        typer.Option(
            help="Serve a WebSocket feed (and GET /status, /metrics) on HOST:PORT; a bare PORT is "
            "127.0.0.1 only. See the README.",
            show_default=False,
        ),
    ] = None,
    serve_rate: Annotated[
        float | None,
        typer.Option(
            help="With --serve: snapshots per second per symbol (default 1, at most 50).", show_default=False
        ),
    ] = None,
    serve_queue: Annotated[
        int | None,
        typer.Option(
            help="With --serve: messages a client may fall behind before it is dropped (default 1000).",
            show_default=False,
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            help="Prometheus metrics on HOST:PORT/metrics of their own (a bare PORT: 127.0.0.1 only).",
            show_default=False,
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Real orders on MEXC spot (needs API keys and the four risk limits). Default: paper.",
        ),
    ] = False,
    dry_run_orders: Annotated[
        bool,
        typer.Option(
            help="With --live: every order goes to /api/v3/order/test (validated, nothing placed) and is "
            "filled on paper."
        ),
    ] = False,
    key_file: KeyFile = None,
    journal: JournalFile = None,
    max_order: Annotated[
        float | None,
        typer.Option(
            callback=number_in(0.0, MAX_BALANCE, low_open=True),
            help="With --live: most quote (USDT) per order (max_order_notional in fx.toml [live]).",
            show_default=False,
        ),
    ] = None,
    max_total: Annotated[
        float | None,
        typer.Option(
            callback=number_in(0.0, MAX_BALANCE, low_open=True),
            help="With --live: most quote over open positions and orders in flight (max_total_notional).",
            show_default=False,
        ),
    ] = None,
    max_positions: Annotated[
        int | None,
        typer.Option(
            callback=count(1, 10_000),
            help="With --live: most symbols holding a position at once (max_open_positions).",
            show_default=False,
        ),
    ] = None,
    max_daily_loss: Annotated[
        float | None,
        typer.Option(
            callback=number_in(0.0, MAX_BALANCE, low_open=True),
            help="With --live: realised quote loss since 00:00 UTC that stops new entries (max_daily_loss).",
            show_default=False,
        ),
    ] = None,
    strategies_dir: StrategiesDir = None,
    variants_dir: VariantsDir = None,
    data_dir: DataDir = None,
    notify: Notify = None,
    notify_on: NotifyOn = None,
) -> None:
    """Run a strategy live (paper orders) or over a recording, through fx backtest's engine and fills.

    Ctrl-C (SIGINT) or SIGTERM stops it: queued events are processed, an open paper position is
    closed at the book, and the session is written to --out.

    With --live the strategy's orders go to MEXC spot (see README "Trading live"): a LIVE banner, the
    order journal, start-up reconciliation before the strategy may act, cancel-on-exit, SIGUSR1 or the
    file stop-entries next to the journal to stop new entries.

    Exit codes: 0 ok (also when stopped by a signal), 1 --record could not write, 2 bad input.

    Example: fx stream momentum_scalper --symbols BTCUSDT,ETHUSDT --headless
    """
    import sys
    import threading

    from fxcli.settings import load_settings_sourced
    from fxcli.tasks.backtest import Options
    from fxcli.tasks.notify import notify_config
    from fxcli.tasks.orders import LiveRequest
    from fxcli.tasks.stream import Feed, ops_of, plan
    from fxcli.tasks.stream import stream as run_stream
    from fxcli.ui.dashboard import dumps, screen, summary, summary_line

    wanted = list(symbol or []) + [s.strip() for s in (symbols or "").split(",") if s.strip()]
    options = Options(
        balance=balance,
        fee_bps=fee_bps,
        latency_ms=latency_ms,
        slippage_bps=slippage_bps,
        allow_gaps=True,  # a replay goes through recorded gaps and says so; live gaps are news
        start=start,
        end=end,
        speed=speed,
        clock_ms=clock_ms,
    )
    live_request = LiveRequest(
        live=live,
        dry_run=dry_run_orders,
        key_file=key_file,
        journal=journal,
        limits={
            "max_order_notional": max_order,
            "max_total_notional": max_total,
            "max_open_positions": max_positions,
            "max_daily_loss": max_daily_loss,
        },
    )
    feed = Feed()
    stop = threading.Event()
    with reporting_errors():
        settings, sources = load_settings_sourced(
            data_dir=data_dir,
            variants_dir=variants_dir,
            strategies_dir=strategies_dir,
            proxy=proxy,
            notify=notify or None,
            notify_on=notify_on,
        )
        notifications = notify_config(settings, sources, "stream")
        checked = plan(
            strategy,
            wanted,
            strategies_dir=settings.strategies_dir,
            variants_dir=settings.variants_dir,
            options=options,
            exchange=exchange,
            replay_dir=replay,
            settings=settings,
            setting_sources=sources,
            ws_url=ws_url,
            rest_url=rest_url,
            record=record,
            out_dir=out,
            rotate_after_s=rotate_after_s,
            ops=ops_of(serve, metrics, serve_rate, serve_queue),
            live=live_request,
        )
        if checked.live is not None:
            stderr().print(checked.live.banner(), markup=False, highlight=False)
        with screen(feed, headless=headless, every_s=every, console=stdout(), on_closed_output=stop.set):
            report = run_stream(checked, feed, stop=stop, notify=notifications)
    if headless:
        try:
            sys.stdout.write(dumps(summary_line(report)) + "\n")
            sys.stdout.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass
        return
    render(summary(report))
    if report.recorded is not None:
        from fxcli.ui.record import summary_text

        stderr().print(summary_text(report.recorded), markup=False, highlight=False)
    if report.out_dir is not None:
        stderr().print(f"session: {report.out_dir}", markup=False)
