"""Tables people read; each function is pure (data in, renderable out) and golden-tested."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

if TYPE_CHECKING:
    from fxcli.tasks.import_ import ImportReport

EVENT_COLUMNS = (
    ("Trade", "trades"),
    ("BookDelta", "deltas"),
    ("BookSnapshot", "snapshots"),
    ("BookTicker", "tickers"),
    ("Gap", "gaps"),
)


def _int(n: int) -> str:
    return f"{n:,}"


def import_to_json(report: ImportReport) -> dict[str, Any]:
    """The import report as plain data."""
    return {
        "inputs": [
            {
                "files": r.files,
                "format": r.format,
                "exchange": r.exchange,
                "symbols": sorted(r.symbols),
                "events": dict(sorted(r.events.items())),
                "skipped_lines": r.issues.skipped,
                "skipped_examples": [{"line": n, "reason": why} for n, why in r.issues.examples],
                "ignored": r.issues.ignored,
                "deltas_dropped": r.deltas_dropped,
            }
            for r in report.inputs
        ],
        "rows_in": report.rows_in,
        "rows_added": report.rows_added,
        "files_written": report.files_written,
        "skipped_lines": report.skipped,
        "seconds": round(report.seconds, 3),
    }


def import_table(report: ImportReport) -> Table:
    """One row per input: what it held and what was skipped."""
    table = Table(box=box.SIMPLE_HEAD, title="import", title_justify="left")
    table.add_column("input")
    table.add_column("exchange")
    table.add_column("symbols")
    for _, label in EVENT_COLUMNS:
        table.add_column(label, justify="right")
    table.add_column("skipped", justify="right")
    for r in report.inputs:
        names = sorted(r.symbols)
        shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        files = ", ".join(f.rsplit("/", 1)[-1] for f in r.files)
        counts = [_int(r.events.get(kind, 0)) for kind, _ in EVENT_COLUMNS]
        table.add_row(files, r.exchange, shown, *counts, _int(r.issues.skipped))
    dropped = sum(r.deltas_dropped for r in report.inputs)
    table.caption = (
        f"{_int(report.rows_added)} new rows of {_int(report.rows_in)} in {report.files_written} files, "
        f"{report.seconds:.2f} s"
        + (
            f"; {_int(dropped)} book diffs not stored (stale before their snapshot, or see gaps)"
            if dropped
            else ""
        )
    )
    table.caption_justify = "left"
    return table
