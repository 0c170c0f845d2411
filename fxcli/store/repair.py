"""Acting on a survey (survey.py), only where a writer holds the folder's lock: `reconcile` finishes
what a writer that died left behind; `quarantine` moves damage aside for `fx inspect --verify
--repair`. Read commands never call either: they need no write access to a store."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from fxcli.store import manifest, parts
from fxcli.store.layout import MANIFEST_NAME
from fxcli.store.schema import TableSpec
from fxcli.store.survey import Finding, FolderSurvey, Status, survey

QUARANTINE = ".quarantine"


def reconcile(folder: Path, spec: TableSpec) -> FolderSurvey:
    """Under the folder lock: delete temp files and superseded files writers that died left, list
    what they published (`pending` and `adopted` files) and refresh the mtime of `touched` entries.
    Problems are left as they are, for the caller to refuse (writer) or report (verify); returns
    the folder's survey after the changes."""
    found = survey(folder, spec)
    book = found.manifest
    changed = bool(book.pending) or not found.sound
    manifest.remove_stale_temps(folder)
    kept: list[Finding] = []
    for finding in found.findings:
        if finding.status is Status.SUPERSEDED:
            finding.path.unlink(missing_ok=True)
            changed |= book.files.pop(finding.path.name, None) is not None
            continue
        if finding.status in (Status.TOUCHED, Status.PENDING, Status.ADOPTED) and finding.entry is not None:
            book.files[finding.path.name] = finding.entry
            finding = replace(finding, status=Status.OK)
            changed = True
        kept.append(finding)
    if not found.sound:
        for finding in kept:
            if finding.status is Status.OK:
                book.meta.update(parts.read_meta(finding.path))  # later files win, as later writes did
        kept = [f for f in kept if f.path.name != MANIFEST_NAME]
    book.pending.clear()  # under the lock, every pending entry is a dead writer's
    if changed:
        manifest.save(folder, book)
    found.findings = kept
    found.sound = True
    return found


@dataclass
class Quarantine:
    """Where `--repair` moves what it cannot trust, and what it did."""

    root: Path
    stamp: str = field(default_factory=lambda: datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ"))
    moved: list[tuple[Path, Path]] = field(default_factory=list)
    dropped: list[Path] = field(default_factory=list)  # listed files that were gone: entry removed

    @property
    def folder(self) -> Path:
        return self.root / QUARANTINE / self.stamp

    def move(self, path: Path) -> None:
        """Move `path` (a file or a folder) under the quarantine folder, keeping its place in the store."""
        target = self.folder / path.relative_to(self.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target = target.with_name(f"{target.name}.{time.time_ns()}")
        path.rename(target)
        self.moved.append((path, target))


def quarantine(found: FolderSurvey, spec: TableSpec, into: Quarantine) -> FolderSurvey:
    """Under the folder lock: move every damaged, stray and unreadable file of a (re-hashed) survey
    aside and drop its entry, drop the entries of missing files, then reconcile. Re-importing the
    sources afterwards writes those hours as a clean import would."""
    book = found.manifest
    for finding in found.problems:
        if finding.path.name == MANIFEST_NAME:
            continue  # rebuilt from the files by reconcile
        book.files.pop(finding.path.name, None)
        if finding.status is Status.MISSING:
            into.dropped.append(finding.path)
        elif finding.path.exists() or finding.path.is_symlink():
            into.move(finding.path)
    if found.sound:
        manifest.save(found.folder, book)
    return reconcile(found.folder, spec)
