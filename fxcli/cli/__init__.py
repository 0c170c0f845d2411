"""The `fx` command line: one Typer sub-app per command; heavy imports happen inside commands."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Annotated, NoReturn

import typer
from typer._click.exceptions import BadParameter, ClickException, MissingParameter, NoArgsIsHelpError

from fxcli import __version__
from fxcli.cli import backtest, doctor, download, import_, inspect, optimize, orders, record, stream, variants
from fxcli.cli.options import option_name
from fxcli.cli.output import EXIT_BAD_INPUT, EXIT_INTERNAL, is_debug, write_stdout
from fxcli.errors import FxError, one_line

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
app.add_typer(download.app, name="download")
app.add_typer(inspect.app, name="inspect")
app.command(name="backtest")(backtest.backtest)
app.add_typer(variants.app, name="variants")
app.add_typer(optimize.app, name="optimize")
app.command(name="record")(record.record)
app.command(name="doctor")(doctor.doctor)
app.command(name="stream")(stream.stream)
app.add_typer(orders.app, name="orders")
app.command(name="flatten")(orders.flatten)


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


def _usage_error(exc: ClickException) -> str:
    """A command-line parsing error as fx says it: `--depth: ...`, no usage block, no 'Try ...'."""
    if isinstance(exc, BadParameter) and not isinstance(exc, MissingParameter) and exc.param is not None:
        return f"{option_name(exc.param)}: {exc.message.removeprefix('Value error, ')}"
    return exc.format_message()


def _quiet_numpy() -> None:
    """Floating-point warnings (inf - inf in a metric) say nothing a user can act on: never print them."""
    if not is_debug():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"(numpy|fxcli)(\.|$)")


def _return_freed_memory() -> None:
    """polars' allocator (jemalloc) keeps freed pages for 10 s by default: a backtest that frees the
    store's frames once they are columns would hold them through the whole replay (~100 MB per 3M
    trades). Freed pages go back after 0.1 s instead (set before polars loads; a user's own
    _RJEM_MALLOC_CONF wins). Measured: reading is not slower, unlike 0 ms (+50 %)."""
    os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:100,muzzy_decay_ms:0")


def _exit_with_error(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"fx: error: {one_line(message)}\n")
    sys.exit(code)


def main() -> None:
    """Console-script entry point: every error is one `fx: error:` line (bad input, exit 2) or one
    `fx: internal error:` line (exit 3); a traceback reaches the user only with FX_DEBUG=1."""
    _quiet_numpy()
    _return_freed_memory()
    try:
        code = app(standalone_mode=False)
    except SystemExit:
        raise
    except FxError as exc:  # an option's value refused while the command line is read
        _exit_with_error(str(exc), exc.exit_code)
    except NoArgsIsHelpError as exc:  # `fx` or `fx import` alone: the help, as Click shows it
        exc.show()
        sys.exit(exc.exit_code)
    except ClickException as exc:  # unknown option, bad choice, missing argument, unreadable file
        _exit_with_error(_usage_error(exc), EXIT_BAD_INPUT)
    except (KeyboardInterrupt, typer.Abort):
        sys.stderr.write("fx: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        if is_debug():
            raise
        from fxcli.tasks import damaged_file

        if damaged := damaged_file(exc):  # a stored file that fails only when its pages are decoded
            _exit_with_error(damaged, EXIT_BAD_INPUT)
        sys.stderr.write(
            f"fx: internal error: {type(exc).__name__}: {one_line(str(exc))} "
            "(run with FX_DEBUG=1 for the traceback)\n"
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)
