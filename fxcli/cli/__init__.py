"""The `fx` command line: one Typer sub-app per command; heavy imports happen inside commands."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fxcli import __version__
from fxcli.cli import backtest, doctor, import_, inspect, record, stream, variants
from fxcli.cli.output import EXIT_BAD_INPUT, EXIT_INTERNAL, is_debug, write_stdout

app = typer.Typer(
    name="fx",
    help="Tick-level crypto research: import and inspect market data, indicators, variants, backtests. "
    "Exit codes: 0 ok, 1 check failed or nothing found, 2 bad input, 3 internal error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: typer's rich help pulls in rich.markdown and markdown_it (~20 ms) on every call.
    rich_markup_mode=None,
)
app.add_typer(import_.app, name="import")
app.add_typer(inspect.app, name="inspect")
app.command(name="backtest")(backtest.backtest)
app.add_typer(variants.app, name="variants")
app.command(name="record")(record.record)
app.command(name="doctor")(doctor.doctor)
app.command(name="stream")(stream.stream)


def _version(value: bool) -> None:
    if value:
        write_stdout(f"fx {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """fx: import, inspect and research tick data."""


def main() -> None:
    """Console-script entry point: never lets a traceback reach the user unless FX_DEBUG=1."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("fx: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        if is_debug():
            raise
        from fxcli.tasks import damaged_file

        if damaged := damaged_file(exc):  # a stored file that fails only when its pages are decoded
            sys.stderr.write(f"fx: error: {damaged}\n")
            sys.exit(EXIT_BAD_INPUT)
        sys.stderr.write(
            f"fx: internal error: {type(exc).__name__}: {exc} (run with FX_DEBUG=1 for the traceback)\n"
        )
        sys.exit(EXIT_INTERNAL)
