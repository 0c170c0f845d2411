"""`fx inspect`: what is stored; `coverage`, `quality`, `trades`, `book` for one symbol."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fxcli.cli.options import DataDir, Exchange, From, Json, To, VariantsDir, count, number_in, seconds
from fxcli.cli.output import EXIT_CHECK_FAILED, fail, print_json, render, reporting_errors, write_stdout
from fxcli.errors import FxError
from fxcli.outfile import output_file

if TYPE_CHECKING:
    import polars as pl

app = typer.Typer(
    help="What data is on disk: summary, per-hour coverage and gaps, quality, range queries, "
    "indicator values.",
    invoke_without_command=True,
)

MAX_OUTLIER_PCT = 1000.0  # a trade 10x its neighbours' median: beyond it no flag is an outlier rule

Symbol = Annotated[str, typer.Argument(help="Symbol as stored, e.g. BTCUSDT.", show_default=False)]


class Format(StrEnum):
    """Output formats of range queries."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"


Limit = Annotated[
    int | None,
    typer.Option(
        "--limit", "-n", callback=count(), help="At most this many rows, 1 or more (default 50 for tables)."
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table, json, csv or parquet.")]
Out = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write csv/parquet to this file (parquet needs it).")
]


def _data_dir(data_dir: Path | None) -> Path:
    from fxcli.settings import load_settings

    return load_settings(data_dir=data_dir).data_dir


@app.callback()
def summary(
    ctx: typer.Context,
    data_dir: DataDir = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Re-hash every file against its manifest.")
    ] = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="With --verify: move damaged, stray and unreadable files into a quarantine folder "
            "(then import their sources again).",
        ),
    ] = False,
    json_out: Json = False,
) -> None:
    """Without a subcommand: exchanges, symbols, tables, date range, rows and size.

    Example: fx inspect --data-dir data
    """
    if ctx.invoked_subcommand is not None:
        return
    from fxcli.tasks import inspect as task
    from fxcli.ui.inspect import overview_json, overview_table, repair_json, repair_lines

    with reporting_errors():
        if repair and not verify:
            raise FxError("--repair needs --verify")
        root = _data_dir(data_dir)
        report = task.verify(root, repair=repair) if verify else None
        try:
            seen = task.overview(root)
        except FxError:
            if report is None or report.ok:
                raise
            seen = task.Overview([], [])  # what keeps the overview from being read is among the findings
        rows = seen.tables
        problems = report.lines() if report is not None else seen.problems
    if json_out:
        payload = overview_json(rows)
        payload["problems"] = problems
        if report is not None:
            payload["verify"] = {"ok": report.ok, "files": report.files, "problems": problems}
            if report.repaired is not None:
                payload["verify"]["repair"] = repair_json(report.repaired)
        print_json(payload)
    else:
        render(overview_table(rows, root))
        label = "verify" if verify else "problem"
        for line in problems:
            sys.stderr.write(f"fx: {label}: {line}\n")
        if report is not None and report.repaired is not None:
            for line in repair_lines(report.repaired):
                sys.stderr.write(f"fx: repair: {line}\n")
        if report is not None and report.ok:
            sys.stderr.write(f"fx: verify: every file matches its manifest ({report.files} files)\n")
    if problems:
        raise typer.Exit(EXIT_CHECK_FAILED)
    if not rows:
        fail(f"no data in {root}", EXIT_CHECK_FAILED)


@app.command()
def coverage(
    symbol: Symbol, exchange: Exchange = None, data_dir: DataDir = None, json_out: Json = False
) -> None:
    """Per UTC hour: rows per table, and gaps with their reasons.

    Example: fx inspect coverage BTCUSDT
    """
    from fxcli.tasks import inspect as task
    from fxcli.ui.inspect import coverage_json, coverage_table

    with reporting_errors():
        report = task.coverage(_data_dir(data_dir), symbol, exchange)
    if json_out:
        print_json(coverage_json(report))
    else:
        render(coverage_table(report))
        for line in report.problems:
            sys.stderr.write(f"fx: problem: {line}\n")
    if report.problems:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
def quality(
    symbol: Symbol,
    exchange: Exchange = None,
    start: From = None,
    end: To = None,
    outlier_pct: Annotated[
        float,
        typer.Option(
            callback=number_in(0.0, MAX_OUTLIER_PCT, low_open=True),
            help="Flag trades this many % away from the rolling median of 101 trades.",
        ),
    ] = 2.0,
    silence_s: Annotated[
        float, typer.Option(callback=seconds(), help="Report stretches longer than this without a trade.")
    ] = 60.0,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Duplicates, out-of-order rows, price outliers, crossed books, clock skew, silent stretches.

    Example: fx inspect quality BTCUSDT --from 2024-08-08T23:55
    """
    from fxcli.tasks import inspect as task
    from fxcli.ui.inspect import quality_json, quality_table

    with reporting_errors():
        report = task.quality(
            _data_dir(data_dir), symbol, exchange, start, end, outlier_pct=outlier_pct, silence_s=silence_s
        )
    if json_out:
        print_json(quality_json(report))
    else:
        render(quality_table(report))


def _emit(frame: pl.DataFrame, fmt: Format, out: Path | None, json_out: bool, title: str) -> None:
    if json_out:
        fmt = Format.JSON
    if fmt is Format.PARQUET and out is None:
        fail("--format parquet needs --out FILE")
    if fmt is Format.JSON:
        print_json(frame.with_columns(frame["time"].dt.to_string("%Y-%m-%dT%H:%M:%S%.9fZ")).to_dicts())
    elif fmt is Format.CSV and out is None:
        write_stdout(frame.write_csv())
    elif fmt in (Format.CSV, Format.PARQUET):
        assert out is not None
        with reporting_errors(), output_file(out) as handle:
            if fmt is Format.CSV:
                frame.write_csv(handle)
            else:
                frame.write_parquet(handle, compression="zstd")
    else:
        from fxcli.ui.inspect import frame_table

        render(frame_table(frame, title))
    if out is not None:
        sys.stderr.write(f"fx: wrote {frame.height} rows to {out}\n")


@app.command()
def trades(
    symbol: Symbol,
    exchange: Exchange = None,
    start: From = None,
    end: To = None,
    limit: Limit = None,
    fmt: FormatOpt = Format.TABLE,
    out: Out = None,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Stored trades in a time range (exit 1 if none).

    Example: fx inspect trades BTCUSDT --from 2024-08-08T23:55:00Z --to 2024-08-08T23:56:00Z -f csv
    """
    from fxcli.tasks import inspect as task

    if limit is None and fmt is Format.TABLE and not json_out:
        limit = 50
    with reporting_errors():
        frame = task.trades(_data_dir(data_dir), symbol, exchange, start, end, limit)
    _emit(frame, fmt, out, json_out, f"{symbol} trades")


@app.command()
def book(
    symbol: Symbol,
    exchange: Exchange = None,
    start: From = None,
    end: To = None,
    depth: Annotated[int, typer.Option(callback=count(1, 50), help="Levels per side, 1 to 50.")] = 5,
    limit: Limit = None,
    fmt: FormatOpt = Format.TABLE,
    out: Out = None,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """The L2 book's top levels after each update in a time range, rebuilt from snapshot + deltas.

    Example: fx inspect book BTCUSDT --from 2024-08-08T23:55:00Z --depth 3 -n 10
    """
    from fxcli.tasks import inspect as task

    if limit is None and fmt is Format.TABLE and not json_out:
        limit = 50
    with reporting_errors():
        frame = task.book(_data_dir(data_dir), symbol, exchange, start, end, depth, limit)
    _emit(frame, fmt, out, json_out, f"{symbol} book")


@app.command()
def indicators(
    symbol: Symbol,
    variant: Annotated[
        list[str], typer.Option("--variant", "-v", help="Variant name (fx variants list); repeat for more.")
    ],
    exchange: Exchange = None,
    start: From = None,
    end: To = None,
    limit: Limit = None,
    fmt: FormatOpt = Format.TABLE,
    out: Out = None,
    data_dir: DataDir = None,
    variants_dir: VariantsDir = None,
    json_out: Json = False,
) -> None:
    """Variant values in a time range, one column per variant (empty while not warm; exit 1 if no rows).

    Same computation as `fx variants compute`: a row per trade, or per event when a variant reads
    the book; rows before --from are read for warm-up.

    Example: fx inspect indicators BTCUSDT -v momentum_10s -v spread --from 2024-08-08T23:55:30Z -n 20
    """
    from fxcli.cli.variants import progress_bar
    from fxcli.settings import load_settings
    from fxcli.tasks import inspect as task

    if limit is None and fmt is Format.TABLE and not json_out:
        limit = 50
    with reporting_errors():
        settings = load_settings(data_dir=data_dir, variants_dir=variants_dir)
        with progress_bar(json_out or fmt is not Format.TABLE) as progress:
            frame = task.indicators(
                settings.data_dir,
                settings.variants_dir,
                symbol,
                exchange,
                start,
                end,
                variant,
                limit,
                progress,
            )
    _emit(frame, fmt, out, json_out, f"{symbol} indicators")
