"""How commands speak: one-line errors with exit codes on stderr, JSON or rich on stdout."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from fxcli.errors import FxError, one_line

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print `fx: error: message` on stderr (one line) and exit with `code`."""
    sys.stderr.write(f"fx: error: {one_line(message)}\n")
    raise typer.Exit(code)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn FxError (and its store/capture kinds) into a one-line message and its exit code."""
    try:
        yield
    except FxError as exc:
        fail(str(exc), exc.exit_code)


def stdout() -> Console:
    """Console for results."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = 200  # a pipe or a file: do not squeeze tables into 80 columns
    return console


def stderr() -> Console:
    """Console for progress and notes (keeps stdout clean for pipes and --json)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def byte_progress(console: Console, *, show: bool) -> Progress:
    """A transient progress bar counting bytes (shown only when `show`: a terminal, no --json)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not show,
    )


@contextmanager
def writing_stdout() -> Iterator[None]:
    """A stdout that fails to take the output (/dev/full, an I/O error) is exit 2, not an internal error."""
    try:
        yield
    except BrokenPipeError:
        raise  # the reader has gone (`| head`): Click exits 1 without a word, as before
    except OSError as exc:
        fail(f"stdout: cannot write: {exc.strerror or exc}")


def write_stdout(text: str) -> None:
    """Text on stdout, flushed; a closed stdout (`>&-`) is exit 2 when there is text to lose."""
    if not text:
        return
    if sys.stdout is None:
        fail("stdout is closed: nothing written")
    with writing_stdout():
        sys.stdout.write(text)
        sys.stdout.flush()


def print_json(payload: Any) -> None:
    """One JSON document on stdout."""
    write_stdout(json.dumps(payload, indent=2, default=str, allow_nan=False) + "\n")


def render(*items: RenderableType) -> None:
    """Rich renderables on stdout (rich drops them when stdout is closed)."""
    console = stdout()
    with writing_stdout():
        for item in items:
            console.print(item)


def is_debug() -> bool:
    """FX_DEBUG=1 shows tracebacks of internal errors."""
    return os.environ.get("FX_DEBUG", "") not in ("", "0")
