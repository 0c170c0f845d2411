"""`fx variants`: list / show / create / edit / delete / validate variant files, and compute them."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fxcli.cli.options import DataDir, Exchange, From, Json, To, VariantsDir, utf8_text
from fxcli.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_CHECK_FAILED,
    fail,
    print_json,
    render,
    reporting_errors,
    stderr,
    write_stdout,
)

if TYPE_CHECKING:
    from fxcli.tasks.variants import Progress

app = typer.Typer(
    help="Named parameter sets of indicators (variants/*.toml). "
    "Exit codes: 0 ok, 1 check failed or nothing found, 2 bad input (unknown variant, invalid file).",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="Variant name, e.g. pump_10s.", show_default=False)]
Indicator = Annotated[
    str | None, typer.Option("--indicator", "-i", help="Indicator name, e.g. PUMP_MAGNITUDE_PCT.")
]
Kind = Annotated[
    str | None,
    typer.Option("--type", "-t", help="GENERAL, RISK (0-100), PRICE, STOP_LOSS, TAKE_PROFIT or CLOSE_ORDER."),
]
Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="key=value, the value in TOML (window=[60,0], span=20); repeat for more. "
        "Checked against the indicator's parameters.",
    ),
]
Description = Annotated[
    str | None, typer.Option("--description", "-d", callback=utf8_text, help="What the variant is for.")
]
File = Annotated[
    Path | None,
    typer.Option("--file", help="File in the variants dir to write into (create: default custom.toml)."),
]


class OutFormat(StrEnum):
    """Files `compute` writes."""

    PARQUET = "parquet"
    CSV = "csv"


def _dir(variants_dir: Path | None) -> Path:
    from fxcli.settings import load_settings

    return load_settings(variants_dir=variants_dir).variants_dir


@contextmanager
def progress_bar(json_out: bool) -> Iterator[Progress]:
    """A transient progress bar on stderr (only on a terminal, never with --json)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = stderr()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal or json_out,
    ) as bar:
        task = bar.add_task("reading", total=None)

        def update(stage: str, done: int, total: int | None) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        yield update


@app.command("list")
def list_(
    indicator: Indicator = None,
    kind: Kind = None,
    variants_dir: VariantsDir = None,
    json_out: Json = False,
) -> None:
    """Every variant of the folder (an invalid file is an error: see validate; none at all: exit 1).

    Example: fx variants list --type RISK
    """
    from fxcli.tasks import variants as task
    from fxcli.ui.variants import list_json, list_table

    with reporting_errors():
        folder = _dir(variants_dir)
        rows = task.list_variants(folder, indicator, kind)
    if json_out:
        print_json(list_json(rows))
    else:
        render(list_table(rows, folder))
    if not rows:  # an empty answer is "nothing found", as everywhere in fx
        wanted = " ".join(
            f"{flag} {value}" for flag, value in (("--indicator", indicator), ("--type", kind)) if value
        )
        fail(f"no variants{' match ' + wanted if wanted else ''} in {folder}", EXIT_CHECK_FAILED)


@app.command()
def show(name: Name, variants_dir: VariantsDir = None, json_out: Json = False) -> None:
    """One variant: indicator, type, file and line, every parameter with its default and meaning.

    Example: fx variants show pump_10s
    """
    from fxcli.tasks import variants as task
    from fxcli.ui.variants import show_json, show_tables

    with reporting_errors():
        shown = task.show(_dir(variants_dir), name)
    if json_out:
        print_json(show_json(shown))
    else:
        render(*show_tables(shown))


def _written(json_out: bool, job: Callable[[], object]) -> None:
    from fxcli.tasks.variants import Written
    from fxcli.ui.variants import written_json, written_line

    with reporting_errors():
        done = job()
    assert isinstance(done, Written)
    if json_out:
        print_json(written_json(done))
    else:
        write_stdout(written_line(done) + "\n")


@app.command()
def create(
    name: Name,
    indicator: Indicator = None,
    kind: Kind = None,
    param: Params = None,
    description: Description = None,
    file: File = None,
    variants_dir: VariantsDir = None,
    json_out: Json = False,
) -> None:
    """Add a variant (appended to --file; other tables and comments stay as they are).

    Example: fx variants create pump_30s -i PUMP_MAGNITUDE_PCT -t GENERAL -p recent=[30,0]
    """
    from fxcli.tasks import variants as task

    _written(
        json_out,
        lambda: task.create(_dir(variants_dir), name, indicator, kind, param or [], description, file),
    )


@app.command()
def edit(
    name: Name,
    indicator: Indicator = None,
    kind: Kind = None,
    param: Params = None,
    unset: Annotated[
        list[str] | None, typer.Option("--unset", help="Parameter to drop (back to its default); repeatable.")
    ] = None,
    description: Description = None,
    file: Annotated[Path | None, typer.Option("--file", help="Move the variant into this file.")] = None,
    variants_dir: VariantsDir = None,
    json_out: Json = False,
) -> None:
    """Change a variant in place: only its table's text is rewritten (its comments are kept).

    A new --indicator keeps only the parameters the new indicator also has.

    Example: fx variants edit pump_10s -p baseline=[600,10] -d "10 s against 10 min"
    """
    from fxcli.tasks import variants as task

    _written(
        json_out,
        lambda: task.edit(
            _dir(variants_dir), name, indicator, kind, param or [], unset or [], description, file
        ),
    )


@app.command()
def delete(name: Name, variants_dir: VariantsDir = None, json_out: Json = False) -> None:
    """Remove a variant's table from its file (everything else in the file stays).

    Example: fx variants delete pump_30s
    """
    from fxcli.tasks import variants as task

    _written(json_out, lambda: task.delete(_dir(variants_dir), name))


@app.command()
def validate(variants_dir: VariantsDir = None, json_out: Json = False) -> None:
    """Check every file: one line per problem (file:line: key: message); exit 2 if any.

    Example: fx variants validate
    """
    from fxcli.tasks import variants as task
    from fxcli.ui.variants import validation_json, validation_summary

    with reporting_errors():
        result = task.validate(_dir(variants_dir))
    if json_out:
        print_json(validation_json(result))
    else:
        write_stdout("".join(f"{problem}\n" for problem in result.problems))
        sys.stderr.write(f"fx: {validation_summary(result)}\n")
    if result.problems:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def compute(
    names: Annotated[
        list[str], typer.Argument(metavar="NAME", help="Variant names (one or more).", show_default=False)
    ],
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Symbol as stored, e.g. BTCUSDT.")],
    exchange: Exchange = None,
    start: From = None,
    end: To = None,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output folder: <out>/<SYMBOL>/<variant>.parquet (or csv layout)."),
    ] = Path("results/indicators"),
    fmt: Annotated[
        OutFormat,
        typer.Option(
            "--format",
            "-f",
            help="parquet (exchange_ts_ns, time, value) or csv (<date>/<variant>_values.csv).",
        ),
    ] = OutFormat.PARQUET,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Also run the streaming pipeline and compare every row (exit 1 if not)."
        ),
    ] = False,
    data_dir: DataDir = None,
    variants_dir: VariantsDir = None,
    json_out: Json = False,
) -> None:
    """Compute variants over stored data: summary table, one file per variant, optional twin check.

    Rows are trades when every variant reads trades only, else every stored event (trades, book
    ticker, snapshots, diffs). Rows before --from are read so values are warm at --from.

    Example: fx variants compute pump_10s risk_rsi spread -s BTCUSDT --check
    """
    from fxcli.settings import load_settings
    from fxcli.tasks import variants as task
    from fxcli.ui.variants import check_line, compute_json, compute_table

    with reporting_errors():
        settings = load_settings(data_dir=data_dir, variants_dir=variants_dir)
        with progress_bar(json_out) as progress:
            report = task.compute(
                settings.variants_dir,
                settings.data_dir,
                names,
                symbol,
                exchange,
                start,
                end,
                out_dir=out,
                fmt=fmt.value,
                check=check,
                progress=progress,
            )
    if json_out:
        print_json(compute_json(report))
    else:
        render(compute_table(report))
        if report.check is not None:
            write_stdout(check_line(report.check) + "\n")
    if report.files:
        n = len(report.files)
        sys.stderr.write(f"fx: wrote {n} file{'s' if n != 1 else ''} under {out / report.symbol}\n")
    if report.check is not None and not report.check.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)
