"""`fx download binance-vision`: Binance's public archive into the cache, verified, then into the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fxcli.cli.options import DataDir, Jobs, Json, count, folder_option, seconds
from fxcli.cli.output import EXIT_CHECK_FAILED, byte_progress, print_json, render, reporting_errors, stderr

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

app = typer.Typer(
    help="Fetch public archives into a cache, verified against their checksums, then import them. "
    "Exit 1 if a day is missing from the archive or a line was skipped, 2 on bad input or a bad file.",
    no_args_is_help=True,
)


class _Bar:
    """A rich progress bar that shows one file at a time (the task's Progress protocol)."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.task: TaskID | None = None

    def start(self, name: str, total: int | None) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(name, total=total)

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, n)


@app.command("binance-vision")
def binance_vision(
    symbol: Annotated[
        list[str] | None,
        typer.Option(
            "--symbol", help="A symbol, e.g. BTCUSDT (repeat it, or use --symbols).", show_default=False
        ),
    ] = None,
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Symbols separated by commas: BTCUSDT,ETHUSDT.")
    ] = None,
    start: Annotated[
        str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).", show_default=False)
    ] = "",
    end: Annotated[
        str, typer.Option("--to", help="Last day, YYYY-MM-DD (inclusive).", show_default=False)
    ] = "",
    market: Annotated[str, typer.Option(help="spot or usdm (USD-M futures).")] = "spot",
    kind: Annotated[str, typer.Option(help="trades, aggTrades, or bookTicker (usdm only).")] = "trades",
    base_url: Annotated[
        str | None,
        typer.Option(
            help="The archive or a mirror (default https://data.binance.vision; also FX_BINANCE_VISION_URL "
            "or binance_vision_url in fx.toml).",
            show_default=False,
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the archive's paths are mirrored (default ~/.cache/fx/binance-vision; also "
            "FX_CACHE_DIR or cache_dir in fx.toml).",
            show_default=False,
            parser=folder_option("--cache-dir"),
        ),
    ] = None,
    no_import: Annotated[bool, typer.Option("--no-import", help="Download and verify only.")] = False,
    timeout_s: Annotated[
        float, typer.Option(callback=seconds(), help="Give up on a request silent this long.")
    ] = 30.0,
    retries: Annotated[
        int,
        typer.Option(
            callback=count(0, 20),
            help="Attempts after the first on a dropped connection, "
            "a timeout or a 5xx answer (pauses double from 0.5 s).",
        ),
    ] = 3,
    data_dir: DataDir = None,
    json_out: Json = False,
    jobs: Jobs = None,
) -> None:
    """Daily and monthly trade files of data.binance.vision for a date range.

    Example: fx download binance-vision --symbol AGIXBTC --from 2022-08-11 --to 2022-08-17
    """
    from fxcli.settings import load_settings
    from fxcli.tasks.download import download_vision
    from fxcli.tasks.import_ import default_jobs

    with reporting_errors():
        if not start or not end:
            from fxcli.errors import FxError

            raise FxError("give the days to fetch: --from YYYY-MM-DD --to YYYY-MM-DD")
        settings = load_settings(data_dir=data_dir, binance_vision_url=base_url, cache_dir=cache_dir)
        console = stderr()
        with byte_progress(console, show=console.is_terminal and not json_out) as bar:
            report = download_vision(
                [*(symbol or []), *([symbols] if symbols else [])],
                start,
                end,
                market=market,
                kind=kind,
                data_dir=settings.data_dir,
                base_url=settings.binance_vision_url,
                cache_dir=settings.cache_dir,
                do_import=not no_import,
                timeout_s=timeout_s,
                retries=retries,
                proxy=settings.proxy,
                progress=_Bar(bar),
                jobs=jobs or default_jobs(),
            )
    from fxcli.cli.import_ import print_skipped
    from fxcli.ui.download import download_table, download_to_json
    from fxcli.ui.import_ import import_table

    if json_out:
        print_json(download_to_json(report))
    else:
        render(download_table(report))
        if report.imported is not None:
            render(import_table(report.imported))
    for missing in report.missing:
        console.print(f"missing {missing.url} (the archive does not have it)", markup=False, soft_wrap=True)
    skipped = 0
    if report.imported is not None:
        print_skipped(console, report.imported)
        skipped = report.imported.skipped
    if report.missing or skipped:
        raise typer.Exit(EXIT_CHECK_FAILED)
