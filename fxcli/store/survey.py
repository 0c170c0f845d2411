"""What one date folder holds, checked against its manifest, without changing anything.

Every file of a folder gets one status:

    ok          listed; its size and mtime are the entry's
    touched     listed; same size, another mtime, and its bytes still hash to the entry (a copy
                made without keeping times)
    pending     the file a writer was putting in place when it died: its bytes hash to the entry
                the writer saved as `pending` just before the rename (manifest.py)
    adopted     an unlisted part a live writer published but has not listed yet (parts are listed
                in batches): written by fx for this table, every row inside its hour
    superseded  held by a wider part or by the compacted hour; a writer died before deleting it
    damaged     listed, and its bytes are not the ones listed
    missing     listed, and not there
    stray       not listed and none of the above, rows outside its hour, or not a store file name
    unreadable  cannot be opened or has no readable footer (permissions, a directory, truncated)

The first four are read; `superseded` is skipped; the last four are problems that readers refuse
to paper over (a missing or damaged hour is a hole, not an empty hour) and `fx inspect --verify`
reports. Nothing here rebuilds an entry from a file's own bytes when the manifest already holds a
sha256 for that name: that is what made damage look clean.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import msgspec

from fxcli.errors import FxError, one_line
from fxcli.model.units import NS_PER_HOUR, NS_PER_S, ns_to_iso
from fxcli.store import manifest, parts
from fxcli.store.layout import MANIFEST_NAME
from fxcli.store.locks import shared_lock
from fxcli.store.manifest import FileEntry, Manifest
from fxcli.store.schema import SCHEMA_VERSION, TableSpec


class Status(StrEnum):
    OK = "ok"
    TOUCHED = "touched"
    PENDING = "pending"
    ADOPTED = "adopted"
    SUPERSEDED = "superseded"
    DAMAGED = "damaged"
    MISSING = "missing"
    STRAY = "stray"
    UNREADABLE = "unreadable"


READABLE = frozenset({Status.OK, Status.TOUCHED, Status.PENDING, Status.ADOPTED})
PROBLEMS = frozenset({Status.DAMAGED, Status.MISSING, Status.STRAY, Status.UNREADABLE})


@dataclass(frozen=True)
class Finding:
    """One file's status; `entry` is what readers use (for `pending` and `adopted` files: built from
    the file) and None where there is nothing to trust."""

    path: Path
    status: Status
    entry: FileEntry | None = None
    detail: str = ""
    hour: int | None = None  # 0-23, None for a name that is no hour of this folder

    def describe(self) -> str:
        """`PATH: status (detail)`, one line."""
        text = f"{self.path}: {self.status.value}"
        return f"{text} ({one_line(self.detail)})" if self.detail else text


@dataclass
class FolderSurvey:
    """A folder's manifest as read, and a finding per file (and per listed name that is missing)."""

    folder: Path
    manifest: Manifest
    sound: bool  # the manifest was read from a sound file (False: missing or not JSON)
    findings: list[Finding] = field(default_factory=list)

    @property
    def readable(self) -> list[Finding]:
        return [f for f in self.findings if f.status in READABLE]

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status in PROBLEMS]

    def hour_problems(self, hour: int) -> list[Finding]:
        """Problems that make hour `hour` unreadable (a stray file elsewhere is only ignored)."""
        return [f for f in self.problems if f.hour == hour and not _is_foreign(f)]


class FolderUnreadableError(FxError):
    """The folder or its manifest cannot be read at all (exit 2, naming it)."""


def folder_day_ns(folder: Path) -> int | None:
    """Start of the UTC day a date folder (`YYYY-MM-DD`) holds, None for any other name."""
    try:
        day = datetime.strptime(folder.name, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(day.timestamp()) * NS_PER_S


def survey(folder: Path, spec: TableSpec, *, rehash: bool = False) -> FolderSurvey:
    """The status of every file in date folder `folder`. Files whose size and mtime match their
    entry are taken as listed unless `rehash` (verify), which hashes every listed file. Raises
    FolderUnreadableError if the folder cannot be listed or its manifest cannot be read.

    A manifest that is missing while compacted hours exist, or is not a manifest at all, is outside
    damage (every write saves it before a compacted file appears): its files are read as they are
    (`adopted`, nothing to check them against) and the manifest itself is reported damaged."""
    day_ns = folder_day_ns(folder)
    if day_ns is None:
        raise ValueError(f"{folder} is not a date folder")
    book, sound = read_manifest(folder)
    result = FolderSurvey(folder, book, sound)
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError as exc:
        raise FolderUnreadableError(f"{folder}: cannot list: {exc.strerror or exc}") from None
    candidates: list[str] = []
    for name in names:
        if name == MANIFEST_NAME or name.startswith("."):
            continue  # the lock, writers' temp files (live or left by a crash), other tools' droppings
        if (parsed := parts.parse_name(name)) is None or parsed[0] > 23:
            result.findings.append(Finding(folder / name, Status.STRAY, detail="not a store file name"))
        else:
            candidates.append(name)
    hours = _resolve_hours(folder, candidates, result)
    for hour, files in sorted(hours.items()):
        bounds = (day_ns + hour * NS_PER_HOUR, day_ns + (hour + 1) * NS_PER_HOUR)
        for path in files.superseded:
            result.findings.append(Finding(path, Status.SUPERSEDED, hour=hour))
        for path in files.live:
            result.findings.append(_classify(path, hour, bounds, result, spec, rehash=rehash))
    if not sound and any(parts.parse_name(f.path.name) == (f.hour, 0, 0) for f in result.readable):
        why = "not a manifest" if (folder / MANIFEST_NAME).exists() else "missing"
        result.findings.append(
            Finding(
                folder / MANIFEST_NAME, Status.DAMAGED, detail=f"{why}: the files beside it cannot be checked"
            )
        )
    present = {f.path.name for f in result.findings}
    for name in sorted(set(book.files) - present):
        parsed = parts.parse_name(name)
        result.findings.append(
            Finding(
                folder / name,
                Status.MISSING,
                book.files[name],
                "listed in the manifest, not on disk",
                parsed[0] if parsed else None,
            )
        )
    return result


def settled_survey(folder: Path, spec: TableSpec, *, rehash: bool = False) -> FolderSurvey:
    """`survey`, looked at a second time under the folder's shared lock if it found problems: a
    writer may have been between a rename and its manifest update while we looked without it."""
    found = survey(folder, spec, rehash=rehash)
    if not found.problems:
        return found
    with shared_lock(folder):
        return survey(folder, spec, rehash=rehash)


def read_manifest(folder: Path) -> tuple[Manifest, bool]:
    """`manifest.load_checked`, with a manifest that cannot be read as FolderUnreadableError."""
    try:
        return manifest.load_checked(folder)
    except OSError as exc:
        raise FolderUnreadableError(f"{folder / MANIFEST_NAME}: cannot read: {exc.strerror or exc}") from None


def _resolve_hours(folder: Path, names: list[str], result: FolderSurvey) -> dict[int, parts.HourFiles]:
    """Live and superseded files per hour; a compacted file whose footer cannot be read (needed only
    when the hour has parts) is unreadable and its parts are taken as they are."""
    hours: dict[int, parts.HourFiles] = {}
    for hour, (has_base, part_names) in parts.group_names(names).items():
        base = folder / parts.base_name(hour) if has_base else None
        through = 0
        if base is not None and part_names:
            try:
                through = parts.read_through(base)
            except Exception as exc:  # any damage pyarrow reports
                result.findings.append(Finding(base, Status.UNREADABLE, detail=str(exc), hour=hour))
                base = None
        candidates = [(lo, hi, folder / name) for lo, hi, name in part_names]
        hours[hour] = parts.resolve(hour, base, through, candidates)
    return hours


def _classify(
    path: Path, hour: int, bounds: tuple[int, int], found: FolderSurvey, spec: TableSpec, *, rehash: bool
) -> Finding:
    book = found.manifest
    listed = book.files.get(path.name)
    pending = book.pending.get(path.name)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return Finding(path, Status.UNREADABLE, listed, "not a regular file", hour)
        if not os.access(path, os.R_OK):
            return Finding(path, Status.UNREADABLE, listed, "permission denied", hour)
        same_stat = listed is not None and (info.st_size, info.st_mtime_ns) == (listed.bytes, listed.mtime_ns)
        if listed is not None and same_stat and not rehash:
            return _in_hour(Finding(path, Status.OK, listed, hour=hour), bounds)
        sha = manifest.sha256_file(path) if listed is not None or pending is not None else None
        if listed is not None and sha == listed.sha256:
            status = Status.OK if same_stat else Status.TOUCHED
            return _in_hour(Finding(path, status, _restat(listed, info), hour=hour), bounds)
        if pending is not None and sha == pending.sha256:
            return _in_hour(Finding(path, Status.PENDING, _restat(pending, info), hour=hour), bounds)
        if listed is not None:
            differs = "size" if info.st_size != listed.bytes else "sha256"
            return Finding(path, Status.DAMAGED, listed, f"{differs} differs from the manifest", hour)
        if pending is not None or (parts.parse_name(path.name) == (hour, 0, 0) and found.sound):
            return Finding(path, Status.STRAY, None, "not in the manifest", hour)
        return _adopt(path, hour, bounds, spec)
    except OSError as exc:
        return Finding(path, Status.UNREADABLE, listed, exc.strerror or str(exc), hour)


def _restat(entry: FileEntry, info: os.stat_result) -> FileEntry:
    """`entry` with the file's current mtime (its bytes were checked against the entry)."""
    return msgspec.structs.replace(entry, mtime_ns=info.st_mtime_ns)


def _adopt(path: Path, hour: int, bounds: tuple[int, int], spec: TableSpec) -> Finding:
    """An unlisted file (a part, or any file beside a lost manifest) is read if fx wrote it for this
    table and its rows are in its hour."""
    try:
        written_for = parts.footer_value(path, "fx.time_column")
        entry = manifest.entry_for(path, spec.time_column, SCHEMA_VERSION)
    except Exception as exc:  # any damage pyarrow reports
        return Finding(path, Status.UNREADABLE, None, str(exc), hour)
    if written_for != spec.time_column:
        return Finding(
            path, Status.STRAY, None, "not in the manifest, and not written by fx for this table", hour
        )
    return _in_hour(Finding(path, Status.ADOPTED, entry, hour=hour), bounds)


def _in_hour(finding: Finding, bounds: tuple[int, int]) -> Finding:
    """A file whose rows lie outside its hour is stray (a copy saved under another hour's name)."""
    entry = finding.entry
    assert entry is not None
    lo, hi = bounds
    for ts in (entry.first_ts_ns, entry.last_ts_ns):
        if ts is not None and not lo <= ts < hi:
            detail = f"holds rows of {ns_to_iso(ts)}, outside its hour"
            return replace(finding, status=Status.STRAY, detail=detail)
    return finding


def _is_foreign(finding: Finding) -> bool:
    """A stray file fx never listed: readers skip it rather than refuse the hour."""
    return finding.status is Status.STRAY and finding.entry is None
