"""Per-folder manifests: for every closed Parquet file, its rows, time range, sha256 and schema version.

A manifest is `_manifest.json` in each date folder, rewritten atomically after the files it
describes; it lists the live files of every hour (compacted files and parts, see parts.py) and the
folder's metadata. The entries are the truth about the files: a file whose bytes do not hash to
its entry is damaged, whatever its mtime says. The one crash window is a writer replacing a
compacted hour: it saves the new file's entry under `pending` first, then renames, then lists it;
a file that hashes to its pending entry is that writer's (survey.py, repair.reconcile).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import msgspec

from fxcli.outfile import fsync_folder
from fxcli.store.layout import MANIFEST_NAME

TMP_MARK = ".tmp-"


class FileEntry(msgspec.Struct, frozen=True):
    """What the manifest knows about one Parquet file."""

    rows: int
    first_ts_ns: int | None
    last_ts_ns: int | None
    sha256: str
    bytes: int
    mtime_ns: int
    schema_version: int


class Manifest(msgspec.Struct):
    """All entries of one date folder, keyed by file name, and the folder's metadata (what its rows
    mean, e.g. the contract size futures quantities were converted with)."""

    files: dict[str, FileEntry] = msgspec.field(default_factory=dict)
    version: int = 1
    meta: dict[str, str | float | int] = msgspec.field(default_factory=dict)
    # Entries of files a writer is about to rename into place (cleared when it lists them).
    pending: dict[str, FileEntry] = msgspec.field(default_factory=dict)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: Path, payload: bytes) -> None:
    """Write bytes to `path` via a fsynced temp file and a rename: readers see old or new, never half."""
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    with tmp.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    fsync_folder(path.parent)


def load(folder: Path) -> Manifest:
    """The manifest of a date folder (empty if there is none yet, or if it is damaged)."""
    return load_checked(folder)[0]


def load_checked(folder: Path) -> tuple[Manifest, bool]:
    """The manifest, and whether it was read from a sound file (False: none, or not a manifest);
    an OSError other than a missing file (permissions, a directory) is raised."""
    path = folder / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Manifest(), False
    try:
        return msgspec.json.decode(raw, type=Manifest), True
    except msgspec.DecodeError:
        # Written atomically, so this is outside damage: verify reports it, --repair rebuilds it.
        return Manifest(), False


def save(folder: Path, manifest: Manifest) -> None:
    """Atomically replace the manifest of a date folder."""
    write_atomic(folder / MANIFEST_NAME, msgspec.json.format(msgspec.json.encode(manifest)))


def entry_for(path: Path, time_column: str, schema_version: int) -> FileEntry:
    """Build a manifest entry by reading the file's footer statistics and hashing its bytes."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    index = meta.schema.to_arrow_schema().get_field_index(time_column)
    first: int | None = None
    last: int | None = None
    for rg in range(meta.num_row_groups):
        stats = meta.row_group(rg).column(index).statistics
        if stats is None or not stats.has_min_max:
            continue
        first = stats.min if first is None else min(first, stats.min)
        last = stats.max if last is None else max(last, stats.max)
    stat = path.stat()
    return FileEntry(
        rows=meta.num_rows,
        first_ts_ns=first,
        last_ts_ns=last,
        sha256=sha256_file(path),
        bytes=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        schema_version=schema_version,
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(folder: Path) -> int:
    """Delete temp files left by writers that died (their pid is gone); returns how many."""
    removed = 0
    for tmp in folder.glob(f".*{TMP_MARK}*"):
        pid_text = tmp.name.rsplit(TMP_MARK, 1)[-1]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def to_json(entry: FileEntry) -> dict[str, Any]:
    """A plain dict of an entry, for `--json` output."""
    return json.loads(msgspec.json.encode(entry))  # type: ignore[no-any-return]
