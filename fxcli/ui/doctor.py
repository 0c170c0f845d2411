"""`fx doctor`'s report: a table people read, or plain data for `--json`; pure functions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

if TYPE_CHECKING:
    from fxcli.tasks.doctor import DoctorReport

STYLES = {"ok": "green", "warn": "yellow", "skip": "cyan", "fail": "bold red"}


def doctor_json(report: DoctorReport) -> dict[str, Any]:
    """The report as plain data: `ok` is false when any check failed."""
    return {
        "ok": not report.failed,
        "checks": [
            {"section": c.section, "name": c.name, "status": c.status.value, "detail": c.detail, **c.data}
            for c in report.checks
        ],
    }


def doctor_table(report: DoctorReport) -> Table:
    """One row per check, grouped by section; the caption says whether anything failed."""
    table = Table(box=box.SIMPLE_HEAD, title="fx doctor", title_justify="left")
    table.add_column("section")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    last = ""
    for check in report.checks:
        section = check.section if check.section != last else ""
        last = check.section
        table.add_row(
            section, check.name, f"[{STYLES[check.status.value]}]{check.status.value}[/]", check.detail
        )
    failed = report.failed
    table.caption = (
        f"{len(failed)} check(s) failed: {', '.join(c.name for c in failed)}" if failed else "no check failed"
    )
    table.caption_justify = "left"
    return table
