"""`fx inspect --verify`: every stored file hashed against its manifest entry, without changing
anything first; and `--repair`, which moves what cannot be trusted into a quarantine folder.

A folder with findings is looked at a second time under its shared lock before anything is
reported, so a live recorder replacing a file between our listing and our hashing is no alarm.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fxcli.errors import FxError
from fxcli.store.layout import Layout
from fxcli.store.locks import folder_lock
from fxcli.store.repair import Quarantine, quarantine
from fxcli.store.schema import SPECS, Table
from fxcli.store.survey import (
    Finding,
    FolderUnreadableError,
    Status,
    folder_day_ns,
    settled_survey,
    survey,
)


@dataclass
class Report:
    """What verify found, and what repair did."""

    files: int = 0  # files checked
    findings: list[Finding] = field(default_factory=list)
    repaired: Quarantine | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    def lines(self) -> list[str]:
        return [f.describe() for f in self.findings]


def verify(root: Path, *, repair: bool = False) -> Report:
    """Check every date folder of every table under `root`; with `repair`, quarantine what is found."""
    report = Report(repaired=Quarantine(root) if repair else None)
    for table, folder, unlistable in _folders(Layout(root)):
        if unlistable:
            report.findings.append(Finding(folder, Status.UNREADABLE, detail=unlistable))
            continue
        if folder_day_ns(folder) is None or not folder.is_dir():
            report.findings.append(Finding(folder, Status.STRAY, detail="not a date folder"))
            if report.repaired is not None:
                report.repaired.move(folder)
            continue
        try:
            found = settled_survey(folder, SPECS[table], rehash=True)
        except FolderUnreadableError as exc:
            report.findings.append(Finding(folder, Status.UNREADABLE, detail=str(exc)))
            continue
        report.files += sum(1 for f in found.findings if f.status is not Status.MISSING)
        report.findings.extend(found.problems)
        if report.repaired is not None and found.problems:
            _repair(folder, table, report.repaired)
    return report


def _repair(folder: Path, table: Table, into: Quarantine) -> None:
    try:
        with folder_lock(folder):
            quarantine(survey(folder, SPECS[table], rehash=True), SPECS[table], into)
    except OSError as exc:
        raise FxError(f"cannot repair {folder}: {exc.strerror or exc}") from None


def _folders(layout: Layout) -> Iterator[tuple[Table, Path, str | None]]:
    """Every entry of every table folder (date folders, and anything else found there), or a
    table folder that cannot be listed with the reason."""
    for exchange in layout.exchanges():
        for symbol in layout.symbols(exchange):
            for table in Table:
                base = layout.table_dir(exchange, symbol, table)
                try:
                    entries = sorted(base.iterdir()) if base.is_dir() else []
                except OSError as exc:
                    yield table, base, f"cannot list: {exc.strerror or exc}"
                    continue
                for entry in entries:
                    if not entry.name.startswith("."):
                        yield table, entry, None
