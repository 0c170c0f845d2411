"""One hour of one table on disk: its compacted file `HH.parquet` and the parts appended since.

A live recorder adds rows to the current hour every table flush. Rewriting the hour file each time
costs O(rows in the hour) per flush, so appends go to small immutable part files instead:

    <YYYY-MM-DD>/13.parquet                  compacted hour; footer key fx.parts_through = 1800
    <YYYY-MM-DD>/13.p001801-001808.parquet   parts 1801..1808 merged into one file
    <YYYY-MM-DD>/13.p001809-001809.parquet   the rows of one flush

Every flush gets the next sequence number of its hour. A file named `p<lo>-<hi>` holds exactly the
rows of flushes lo..hi; the compacted file holds every flush up to its `fx.parts_through` (plus the
rows imports merged in). Files are never changed after they are published, only superseded:

- a part is superseded when another part's range contains its range, or when the compacted file's
  `parts_through` reaches its `hi`;
- merging the last `FANOUT` parts of equal span into one (levels of 1, 8, 64, 512 flushes) keeps
  an hour at most 7 parts per level, so a reader opens a few dozen files, not thousands, and each
  row is re-encoded once per level rather than once per flush;
- compaction writes a new `HH.parquet` holding the old one and every live part, with
  `parts_through` = the highest part, then deletes the parts.

Readers use the live files (compacted file first, then parts in sequence order) and ignore
superseded ones, so a kill -9 between publishing a merged or compacted file and deleting its
inputs neither loses nor doubles a row; the next writer (repair.reconcile) deletes what is superseded.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from fxcli.store.schema import TableSpec

if TYPE_CHECKING:
    import polars as pl

FANOUT = 8  # this many parts of one span merge into one part of FANOUT times that span
THROUGH_KEY = "fx.parts_through"
META_KEY = "fx.meta"
_BASE = re.compile(r"^(\d\d)\.parquet$")
_PART = re.compile(r"^(\d\d)\.p(\d{1,9})-(\d{1,9})\.parquet$")

MetaValue = str | float | int


def part_name(hour: int, lo: int, hi: int) -> str:
    """File name of the part holding flushes lo..hi of hour `hour` (0-23)."""
    return f"{hour:02d}.p{lo:06d}-{hi:06d}.parquet"


def base_name(hour: int) -> str:
    """File name of the compacted hour `hour` (0-23)."""
    return f"{hour:02d}.parquet"


def is_single_part(name: str) -> bool:
    """True for the part of one flush (`HH.pN-N.parquet`)."""
    parsed = parse_name(name)
    return parsed is not None and parsed[1] != 0 and parsed[1] == parsed[2]


def parse_name(name: str) -> tuple[int, int, int] | None:
    """(hour, lo, hi) of a store file name, (hour, 0, 0) for a compacted hour, None for other names."""
    if match := _BASE.match(name):
        return int(match.group(1)), 0, 0
    if match := _PART.match(name):
        lo, hi = int(match.group(2)), int(match.group(3))
        return (int(match.group(1)), lo, hi) if 0 < lo <= hi else None
    return None


@dataclass(frozen=True)
class Part:
    """A part file and the flush range it holds."""

    lo: int
    hi: int
    path: Path

    @property
    def span(self) -> int:
        """How many flushes it holds."""
        return self.hi - self.lo + 1


@dataclass
class HourFiles:
    """What one folder holds of one hour: the compacted file, live parts, and superseded files."""

    hour: int
    base: Path | None = None
    through: int = 0  # the highest flush the compacted file holds
    parts: list[Part] = field(default_factory=list)  # live, in flush order
    superseded: list[Path] = field(default_factory=list)
    highest: int = 0  # the highest flush number seen in any file name or footer

    @property
    def live(self) -> list[Path]:
        """Files to read for this hour: the compacted one first, then the parts in flush order."""
        return ([self.base] if self.base is not None else []) + [p.path for p in self.parts]

    @property
    def next_seq(self) -> int:
        """The flush number a new part of this hour gets."""
        return max(self.highest, self.through) + 1


def _footer_key(meta: Any, key: str) -> str | None:
    kv = meta.metadata or {}
    value = kv.get(key.encode())
    return value.decode() if value is not None else None


def read_through(source: Path | IO[bytes]) -> int:
    """The highest flush a compacted file holds (0 for a file written without parts)."""
    import pyarrow.parquet as pq

    value = _footer_key(pq.read_metadata(source), THROUGH_KEY)
    return int(value) if value is not None else 0


def footer_value(path: Path, key: str) -> str | None:
    """One key of a file's fx footer metadata (None if absent)."""
    import pyarrow.parquet as pq

    return _footer_key(pq.read_metadata(path), key)


def read_meta(path: Path) -> dict[str, MetaValue]:
    """The folder metadata a file was written with (empty if none)."""
    import pyarrow.parquet as pq

    value = _footer_key(pq.read_metadata(path), META_KEY)
    return dict(json.loads(value)) if value else {}


def resolve(
    hour: int, base: Path | None, through: int, candidates: Iterable[tuple[int, int, Path]]
) -> HourFiles:
    """Split an hour's part files into live and superseded, given its compacted file's `through`."""
    found = HourFiles(hour, base, through)
    spans = sorted(candidates, key=lambda c: (c[0], -c[1]))  # by lo, the widest first
    for lo, hi, path in spans:
        found.highest = max(found.highest, hi)
        last = found.parts[-1] if found.parts else None
        if hi <= through or (last is not None and hi <= last.hi):
            found.superseded.append(path)  # held by the compacted file, or by a wider part
        else:
            found.parts.append(Part(lo, hi, path))
    return found


def group_names(names: Iterable[str]) -> dict[int, tuple[bool, list[tuple[int, int, str]]]]:
    """Store file names of one folder by hour: (has a compacted file, [(lo, hi, part name)])."""
    hours: dict[int, tuple[bool, list[tuple[int, int, str]]]] = {}
    for name in names:
        parsed = parse_name(name)
        if parsed is None:
            continue
        hour, lo, hi = parsed
        has_base, parts = hours.get(hour, (False, []))
        if lo == 0:
            has_base = True
        else:
            parts.append((lo, hi, name))
        hours[hour] = (has_base, parts)
    return hours


def folder_hours(
    folder: Path,
    through_cache: dict[Path, tuple[tuple[int, int, int], int]] | None = None,
    only: set[int] | None = None,
) -> dict[int, HourFiles]:
    """Every hour of a folder (or the hours in `only`), its files resolved; compacted files'
    footers are read (or cached by inode, size and mtime) only where they matter: hours with
    parts, or `through_cache` given."""
    hours: dict[int, HourFiles] = {}
    for hour, (has_base, parts) in group_names(p.name for p in folder.iterdir()).items():
        if only is not None and hour not in only:
            continue
        base = folder / base_name(hour) if has_base else None
        through = 0
        if base is not None and (parts or through_cache is not None):
            through = _through_cached(base, through_cache)
        hours[hour] = resolve(hour, base, through, [(lo, hi, folder / name) for lo, hi, name in parts])
    return hours


def _through_cached(base: Path, cache: dict[Path, tuple[tuple[int, int, int], int]] | None) -> int:
    if cache is None:
        return read_through(base)
    stat = base.stat()
    key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    hit = cache.get(base)
    if hit is not None and hit[0] == key:
        return hit[1]
    with base.open("rb") as handle:  # the footer of the inode stat-ed above, even if replaced since
        if os_stat_key(handle) != key:
            return _through_cached(base, cache)
        through = read_through(handle)
    cache[base] = (key, through)
    return through


def os_stat_key(handle: IO[bytes]) -> tuple[int, int, int]:
    """(inode, size, mtime) of an open file: which version of a path it is."""
    stat = os.fstat(handle.fileno())
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def trailing_run(parts: list[Part], fanout: int = FANOUT) -> list[Part] | None:
    """The last `fanout` parts if they have one span (they merge into one part), else None."""
    if len(parts) < fanout:
        return None
    run = parts[-fanout:]
    return run if len({p.span for p in run}) == 1 else None


def concat_sorted(frames: list[pl.DataFrame], spec: TableSpec) -> pl.DataFrame:
    """Frames that are each sorted by the table's keys, as one sorted frame (stable: earlier
    frames first on ties). Only the seams are compared; a late print that overlaps a seam sorts."""
    import polars as pl

    frames = [spec.conform(f) for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=spec.polars_schema())
    merged = pl.concat(frames) if len(frames) > 1 else frames[0]
    for before, after in itertools.pairwise(frames):
        if sort_key(before, -1, spec) > sort_key(after, 0, spec):
            return merged.sort(list(spec.sort_keys), maintain_order=True, nulls_last=True)
    return merged


def sort_key(frame: pl.DataFrame, index: int, spec: TableSpec) -> tuple[tuple[int, int], ...]:
    """Row `index`'s sort keys (integers), comparable as the sort orders them: nulls last."""
    values = [frame.get_column(key)[index] for key in spec.sort_keys]  # no query engine: ~µs, not ~ms
    return tuple((1, 0) if value is None else (0, value) for value in values)


def read_hour_unlocked(
    folder: Path,
    hour: int,
    spec: TableSpec,
    start_ns: int | None = None,
    end_ns: int | None = None,
    attempts: int = 20,
) -> pl.DataFrame | None:
    """The rows of an hour that has parts with `start_ns <= time <= end_ns` (row groups outside are
    skipped), read without the folder lock while a writer may merge or compact it: the compacted
    file's rows and its `parts_through` come from one open handle, parts are immutable, and a part
    deleted under us (merged or compacted meanwhile) means read again. None if the hour has no
    files any more."""
    import polars as pl
    import pyarrow.parquet as pq

    column = pl.col(spec.time_column)
    wanted = pl.lit(True)
    if start_ns is not None:
        wanted &= column >= start_ns
    if end_ns is not None:
        wanted &= column <= end_ns
    for _ in range(attempts):
        has_base, parts = group_names(p.name for p in folder.iterdir()).get(hour, (False, []))
        base = folder / base_name(hour) if has_base else None
        frames: list[pl.DataFrame] = []
        try:
            through = 0
            if base is not None:
                with base.open("rb") as handle:
                    file = pq.ParquetFile(handle)
                    value = _footer_key(file.metadata, THROUGH_KEY)
                    through = int(value) if value is not None else 0
                    groups = _row_groups(file.metadata, spec.time_column, start_ns, end_ns)
                    table = file.read_row_groups(groups) if groups else file.schema_arrow.empty_table()
                    rows = pl.from_arrow(table)
                    assert isinstance(rows, pl.DataFrame)
                    frames.append(rows.filter(wanted))
            found = resolve(hour, base, through, [(lo, hi, folder / name) for lo, hi, name in parts])
            frames.extend(pl.scan_parquet(part.path).filter(wanted).collect() for part in found.parts)
        except FileNotFoundError:
            continue  # merged or compacted while we listed: list again
        if not has_base and not parts:
            return None
        return concat_sorted(frames, spec)
    raise OSError(f"{folder}: hour {hour:02d} kept changing while it was read ({attempts} attempts)")


def _row_groups(meta: Any, time_column: str, start_ns: int | None, end_ns: int | None) -> list[int]:
    """Row groups whose time statistics overlap `[start_ns, end_ns]` (all where stats are missing)."""
    index = meta.schema.to_arrow_schema().get_field_index(time_column)
    groups = []
    for rg in range(meta.num_row_groups):
        stats = meta.row_group(rg).column(index).statistics
        known = stats is not None and stats.has_min_max
        before = known and start_ns is not None and stats.max < start_ns
        after = known and end_ns is not None and stats.min > end_ns
        if not (before or after):
            groups.append(rg)
    return groups
