"""`fx import binance|tardis|binance-vision FILE...`: bring public captures into the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fxcli.cli.options import DataDir, Jobs, Json
from fxcli.cli.output import EXIT_CHECK_FAILED, byte_progress, print_json, render, reporting_errors, stderr

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from fxcli.tasks.import_ import ImportReport

app = typer.Typer(
    help="Import public tick captures into the store. Exit 1 if any line was skipped, 2 on bad input.",
    no_args_is_help=True,
)

Files = Annotated[list[Path], typer.Argument(help="Capture files (plain, .gz or .zst).", show_default=False)]


def _run(
    files: list[Path], json_out: bool, job: Callable[[Callable[[int], None] | None], ImportReport]
) -> None:
    console = stderr()
    total = sum(f.stat().st_size for f in files if f.is_file())
    with byte_progress(console, show=console.is_terminal and not json_out) as bar:
        task = bar.add_task("importing", total=total)
        report = job(lambda n: bar.advance(task, n))
    from fxcli.ui.import_ import import_table, import_to_json

    if json_out:
        print_json(import_to_json(report))
    else:
        render(import_table(report))
    print_skipped(console, report)
    if report.skipped:
        raise typer.Exit(EXIT_CHECK_FAILED)


def print_skipped(console: Console, report: ImportReport) -> None:
    """`skipped file:line: reason` on stderr for every line an import skipped."""
    for line in [ln for r in report.inputs for ln in r.issues.lines()]:
        # One line each, however long: `file:line: reason` is for grep, not for an 80-column wrap.
        console.print(f"skipped {line}", markup=False, emoji=False, soft_wrap=True)


@app.command("binance")
def binance(
    files: Files,
    exchange: Annotated[
        str | None,
        typer.Option(help="Force the market: binance, binance-usdm, binance-coinm, binance-us, binance-tr."),
    ] = None,
    data_dir: DataDir = None,
    json_out: Json = False,
    jobs: Jobs = None,
) -> None:
    """Binance raw WebSocket captures: hftbacktest `<local_ts_ns> <json>` files or cryptofeed files.

    Consecutive files of one symbol continue each other's book and trade ids, in any order given.

    Example: fx import binance btcusdt_20240808.gz btcusdt_20240809.gz
    """
    from fxcli.settings import load_settings
    from fxcli.tasks.import_ import default_jobs, import_binance

    with reporting_errors():
        root = load_settings(data_dir=data_dir).data_dir
        _run(
            files,
            json_out,
            lambda progress: import_binance(
                files, root, exchange=exchange, progress=progress, jobs=jobs or default_jobs()
            ),
        )


@app.command("tardis")
def tardis(files: Files, data_dir: DataDir = None, json_out: Json = False, jobs: Jobs = None) -> None:
    """tardis.dev CSV files: trades, incremental_book_L2, book_snapshot_N, quotes.

    Example: fx import tardis bitmex_trades_2020-03-01_XBTUSD.csv.gz
    """
    from fxcli.settings import load_settings
    from fxcli.tasks.import_ import default_jobs, import_tardis

    with reporting_errors():
        root = load_settings(data_dir=data_dir).data_dir
        workers = jobs or default_jobs()
        _run(files, json_out, lambda progress: import_tardis(files, root, progress=progress, jobs=workers))


@app.command("binance-vision")
def binance_vision(
    files: Annotated[
        list[Path], typer.Argument(help="Archive files (.zip, or the .csv inside one).", show_default=False)
    ],
    market: Annotated[
        str | None,
        typer.Option(help="spot or usdm; needed only when a file was renamed (else from its columns)."),
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="The symbol, needed only when a file was renamed.")
    ] = None,
    data_dir: DataDir = None,
    json_out: Json = False,
    jobs: Jobs = None,
) -> None:
    """Binance's public archive (data.binance.vision): trades, aggTrades, USD-M bookTicker zips.

    Example: fx import binance-vision BTCUSDT-trades-2024-08-08.zip
    """
    from fxcli.settings import load_settings
    from fxcli.tasks.import_ import default_jobs
    from fxcli.tasks.vision import import_vision

    with reporting_errors():
        root = load_settings(data_dir=data_dir).data_dir
        workers = jobs or default_jobs()
        _run(
            files,
            json_out,
            lambda progress: import_vision(
                files, root, market=market, symbol=symbol, progress=progress, jobs=workers
            ),
        )
