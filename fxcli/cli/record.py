"""`fx record --exchange mexc-spot --symbols A,B`: capture trades and order books to disk, 24/7."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fxcli.cli.options import (
    DataDir,
    Notify,
    NotifyOn,
    Proxy,
    RotateAfterS,
    count,
    number_in,
    on_off,
    seconds,
)
from fxcli.cli.output import fail, reporting_errors, stderr

MAX_CONNECTIONS = 1000  # more sockets than a venue lets one client open


def _flush_seconds(param: typer.CallbackParam, value: float | None) -> float | None:
    """A flush period in (0, MAX_FLUSH_S] (checked on use: the recorder's module is heavy to import)."""
    from fxcli.tasks.record import MAX_FLUSH_S

    checked: float | None = number_in(0.0, MAX_FLUSH_S, low_open=True)(param, value)
    return checked


WsUrl = Annotated[
    str | None,
    typer.Option("--ws-url", help="WebSocket URL (default: the venue's; also fx.toml / FX_MEXC_*_WS_URL)."),
]
RestUrl = Annotated[
    str | None,
    typer.Option(
        "--rest-url", help="REST base URL (default: the venue's; also fx.toml / FX_MEXC_*_REST_URL)."
    ),
]


def record(
    exchange: Annotated[
        str | None, typer.Option("--exchange", "-e", help="mexc-spot or mexc-futures.", show_default=False)
    ] = None,
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated symbols, e.g. BTCUSDT,ETHUSDT (futures: BTC_USDT).")
    ] = None,
    symbols_file: Annotated[
        Path | None, typer.Option(help="A file with one symbol per line (# starts a comment).")
    ] = None,
    data_dir: DataDir = None,
    ws_url: WsUrl = None,
    rest_url: RestUrl = None,
    proxy: Proxy = None,
    connections: Annotated[
        int | None,
        typer.Option(
            callback=count(1, MAX_CONNECTIONS),
            help="Spread subscriptions over at most N connections (default: as few as fit).",
        ),
    ] = None,
    channels: Annotated[
        str, typer.Option(help="What to subscribe per symbol: trades, depth, top, ticker (comma-separated).")
    ] = "trades,depth",
    flush_s: Annotated[
        float,
        typer.Option(
            callback=_flush_seconds,
            help="Seconds between flushes of raw frames (a kill -9 loses at most about this).",
        ),
    ] = 1.0,
    table_flush_s: Annotated[
        float | None,
        typer.Option(
            callback=_flush_seconds,
            help="Seconds between writes of the Parquet tables (default: --flush-s); longer costs less CPU.",
            show_default=False,
        ),
    ] = None,
    stats_s: Annotated[
        float, typer.Option(callback=seconds(), help="Seconds between stats lines with --headless.")
    ] = 10.0,
    headless: Annotated[
        bool,
        typer.Option(
            "--headless",
            help="JSON lines on stdout instead of a status line (implied when not on a terminal).",
        ),
    ] = False,
    rotate_after_s: RotateAfterS = None,
    backfill: Annotated[
        str,
        typer.Option(
            callback=on_off,
            metavar="on|off",
            help="After a gap (downtime, a lost connection), fetch the missed trades over REST and "
            "store them marked backfilled.",
        ),
    ] = "on",
    metrics: Annotated[
        str | None,
        typer.Option(
            help="Serve Prometheus metrics on HOST:PORT/metrics (a bare PORT: 127.0.0.1 only). "
            "See the README.",
            show_default=False,
        ),
    ] = None,
    notify: Notify = None,
    notify_on: NotifyOn = None,
) -> None:
    """Record a MEXC venue: raw frames, then trades, book diffs, snapshots and gaps, until SIGINT/SIGTERM.

    Raw frames go to <data-dir>/<exchange>/raw/<date>/<hour>/conn-<n>.jsonl.zst before decoding;
    tables to the Parquet store. Exit codes: 0 stopped by a signal, 1 the disk could not be
    written, 2 bad input.

    Example: fx record --exchange mexc-spot --symbols BTCUSDT,ETHUSDT --headless
    """
    from fxcli.settings import load_settings_sourced
    from fxcli.tasks.notify import notify_config
    from fxcli.tasks.record import metrics_listen, plan
    from fxcli.tasks.record import record as run_record
    from fxcli.ui.record import RecordOutput, summary_text

    if exchange is None:
        fail("--exchange is required: mexc-spot or mexc-futures")
    console = stderr()
    with reporting_errors():
        settings, sources = load_settings_sourced(
            data_dir=data_dir, proxy=proxy, notify=notify or None, notify_on=notify_on
        )
        notifications = notify_config(settings, sources, "record")
        config = plan(
            exchange=exchange,
            symbols=symbols,
            symbols_file=symbols_file,
            settings=settings,
            sources=sources,
            ws_url=ws_url,
            rest_url=rest_url,
            connections=connections,
            channels=channels,
            flush_s=flush_s,
            table_flush_s=table_flush_s,
            stats_every_s=stats_s,
            rotate_after_s=rotate_after_s,
            backfill=bool(backfill),
        )
        listen = metrics_listen(metrics)
        is_headless = headless or not console.is_terminal
        output = RecordOutput(headless=is_headless, stats_every_s=stats_s, console=console)
        with output.running():
            summary = run_record(
                config,
                notify=output.notify,
                observe=output.observe,
                observe_every_s=None if is_headless else 0.5,  # the status line: twice a second
                metrics=listen,
                notifications=notifications,
            )
    if not is_headless:
        console.print(summary_text(summary), markup=False, highlight=False)
