"""What `fx download` did, for people (a table) and for programs (JSON); pure functions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

from fxcli.ui.import_ import import_to_json

if TYPE_CHECKING:
    from fxcli.tasks.download import DownloadReport


def download_to_json(report: DownloadReport) -> dict[str, Any]:
    """The download report as plain data; `import` is null when nothing was imported."""
    return {
        "files": [
            {
                "url": f.url,
                "path": str(f.local),
                "status": f.status.value,
                "bytes_fetched": f.bytes_fetched,
                "resumed_from": f.resumed_from,
            }
            for f in report.files
        ],
        "missing": [f.url for f in report.missing],
        "import": import_to_json(report.imported) if report.imported is not None else None,
    }


def download_table(report: DownloadReport) -> Table:
    """One row per archive file: downloaded, already in the cache, or missing from the archive."""
    table = Table(box=box.SIMPLE_HEAD, title="download", title_justify="left")
    table.add_column("file")
    table.add_column("status")
    table.add_column("bytes", justify="right")
    for f in report.files:
        resumed = f" (resumed at {f.resumed_from:,})" if f.resumed_from else ""
        table.add_row(f.local.name, f.status.value + resumed, f"{f.bytes_fetched:,}")
    counts = {
        s: sum(1 for f in report.files if f.status.value == s) for s in ("downloaded", "cached", "missing")
    }
    table.caption = ", ".join(f"{n} {s}" for s, n in counts.items())
    table.caption_justify = "left"
    return table
