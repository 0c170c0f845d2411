"""Where things live: `<data_dir>/<exchange>/<SYMBOL>/<table>/<YYYY-MM-DD>/<HH>.parquet` (and the
hour's parts `<HH>.p<lo>-<hi>.parquet` while it is being appended to, see parts.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fxcli.errors import FxError
from fxcli.model.units import NS_PER_S
from fxcli.store.schema import Table

MANIFEST_NAME = "_manifest.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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
