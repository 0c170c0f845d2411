"""What a data dir holds, for comparing two stores: rows and a hash of the sorted rows of every
table of every symbol, and each manifest's entries (file name and rows)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fxcli.store import manifest
from fxcli.store.layout import MANIFEST_NAME, Layout
from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table


def table_digests(data_dir: Path) -> dict[str, tuple[int, str]]:
    """`exchange/symbol/table` -> (rows, sha256 of its rows sorted by every column, as CSV)."""
    reader = StoreReader(data_dir)
    layout = Layout(data_dir)
    out: dict[str, tuple[int, str]] = {}
    for exchange in layout.exchanges():
        for symbol in layout.symbols(exchange):
            for table in Table:
                frame = reader.scan(exchange, symbol, table).collect()
                if frame.height == 0:
                    continue
                text = frame.sort(frame.columns, nulls_last=True).write_csv()
                out[f"{exchange}/{symbol}/{table.value}"] = (
                    frame.height,
                    hashlib.sha256(text.encode()).hexdigest(),
                )
    return out


def manifest_entries(data_dir: Path) -> dict[str, int]:
    """Every file every manifest lists (path under the data dir) -> its rows."""
    out: dict[str, int] = {}
    for path in sorted(data_dir.rglob(MANIFEST_NAME)):
        for name, entry in manifest.load(path.parent).files.items():
            out[str((path.parent / name).relative_to(data_dir))] = entry.rows
    return out
