"""Where things live: `<data_dir>/<exchange>/<SYMBOL>/<table>/<YYYY-MM-DD>/<HH>.parquet` (and the
hour's parts `<HH>.p<lo>-<hi>.parquet` while it is being appended to, see parts.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fxcli.errors import FxError
from fxcli.model.units import NS_PER_HOUR, NS_PER_S
from fxcli.store.schema import Table

MANIFEST_NAME = "_manifest.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_STORE_FILE = re.compile(r"^(\d\d)\.(?:p\d+-\d+\.)?parquet$")  # an hour, or a part of one (parts.py)


def check_name(kind: str, value: str) -> str:
    """Return `value` if it is safe as one path component (exchange or symbol name), else raise.

    A symbol may not be `raw`: `<exchange>/raw` holds the raw frames (raw.py), not a symbol.
    """
    if not _NAME.match(value):
        raise ValueError(f"{kind} {value!r} is not a valid name (letters, digits, '.', '_', '-')")
    if kind == "symbol" and value == "raw":
        raise ValueError(f"symbol {value!r} is a reserved name (the folder of raw frames)")
    return value


def _listing(folder: Path) -> list[Path]:
    """The entries of a store folder; one that cannot be listed is bad input naming it (exit 2)."""
    try:
        return list(folder.iterdir())
    except OSError as exc:
        raise FxError(f"{folder}: cannot list: {exc.strerror or exc}") from None


def hour_start_ns(ts_ns: int) -> int:
    """Start of the UTC hour that contains `ts_ns`."""
    return ts_ns - ts_ns % NS_PER_HOUR


@dataclass(frozen=True)
class StoredHour:
    """One UTC hour of one table in a date folder: the names of its files (compacted and parts)."""

    folder: Path
    hour_ns: int
    hour: int  # 0-23 within the folder's date
    names: tuple[str, ...]

    @property
    def has_parts(self) -> bool:
        """True while rows appended since the last compaction sit in part files."""
        return any(name != f"{self.hour:02d}.parquet" for name in self.names)

    @property
    def base_path(self) -> Path:
        """The compacted file of this hour (it may not exist yet while the hour has only parts)."""
        return self.folder / f"{self.hour:02d}.parquet"


@dataclass(frozen=True)
class Layout:
    """Path arithmetic for one data directory; does no I/O except listing."""

    root: Path

    def table_dir(self, exchange: str, symbol: str, table: Table) -> Path:
        """Folder holding every date of one table."""
        return self.root / exchange / symbol / table.value

    def hour_path(self, exchange: str, symbol: str, table: Table, hour_ns: int) -> Path:
        """File for the UTC hour starting at `hour_ns`."""
        moment = datetime.fromtimestamp(hour_ns // NS_PER_S, tz=UTC)
        return self.table_dir(exchange, symbol, table) / f"{moment:%Y-%m-%d}" / f"{moment:%H}.parquet"

    def exchanges(self) -> list[str]:
        """Exchanges with stored data, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in _listing(self.root) if p.is_dir() and _NAME.match(p.name))

    def symbols(self, exchange: str) -> list[str]:
        """Symbols stored under one exchange, sorted (the `raw` frame folder is not a symbol)."""
        folder = self.root / exchange
        if not folder.is_dir():
            return []
        return sorted(p.name for p in _listing(folder) if p.is_dir() and p.name != "raw")

    def date_dirs(self, exchange: str, symbol: str, table: Table) -> list[Path]:
        """Date folders of one table, oldest first."""
        folder = self.table_dir(exchange, symbol, table)
        if not folder.is_dir():
            return []
        return sorted(p for p in _listing(folder) if p.is_dir())

    def hours(
        self,
        exchange: str,
        symbol: str,
        table: Table,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> Iterator[StoredHour]:
        """Stored hours of one table, oldest first, pruned by path to `[start_ns, end_ns]`."""
        for date_dir in self.date_dirs(exchange, symbol, table):
            try:
                day = datetime.strptime(date_dir.name, "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                continue
            by_hour: dict[int, list[str]] = {}
            for path in _listing(date_dir):
                match = _STORE_FILE.match(path.name)
                if match:
                    by_hour.setdefault(int(match.group(1)), []).append(path.name)
            for hour in sorted(by_hour):
                moment = day + timedelta(hours=hour)
                hour_ns = int(moment.timestamp()) * NS_PER_S
                if start_ns is not None and hour_ns + NS_PER_HOUR <= start_ns:
                    continue
                if end_ns is not None and hour_ns > end_ns:
                    continue
                yield StoredHour(date_dir, hour_ns, hour, tuple(sorted(by_hour[hour])))
