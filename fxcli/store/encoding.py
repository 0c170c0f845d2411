"""Rows to bytes: a table's frame as Parquet with fx's footer keys, written durably; and the two
operations on sorted frames the writer needs (is it sorted already; the multiset union)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli.store import parts
from fxcli.store.parts import MetaValue
from fxcli.store.schema import SCHEMA_VERSION, TableSpec

if TYPE_CHECKING:
    import polars as pl

ROW_GROUP_ROWS = 100_000


def encode_parquet(
    frame: pl.DataFrame,
    spec: TableSpec,
    *,
    meta: Mapping[str, MetaValue] | None = None,
    parts_through: int = 0,
    light: bool = False,
) -> bytes:
    """`frame` as zstd Parquet bytes with ~100k-row groups and fx metadata (the folder's `meta` and,
    for a compacted hour, the highest part it holds; both only when set, so imports' bytes are
    what they always were). `light`: cheaper to encode, larger, for short-lived parts.

    Int64 columns (times, versions, ids) are nearly unique, so a dictionary never pays off and only
    costs time; delta encoding shrinks them several-fold. Prices, sizes, sides and strings keep
    pyarrow's dictionary encoding, which suits their repeats.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    kv = {"fx.schema_version": str(SCHEMA_VERSION), "fx.time_column": spec.time_column}
    if meta:
        kv[parts.META_KEY] = json.dumps(dict(meta), sort_keys=True)
    if parts_through:
        kv[parts.THROUGH_KEY] = str(parts_through)
    table = frame.to_arrow().replace_schema_metadata(kv)
    deltas = [name for name, kind in spec.columns if kind == "i64"]
    sink = pa.BufferOutputStream()
    if light:  # a part that lives for seconds: a third of the CPU, a few more bytes for a while
        pq.write_table(table, sink, compression="snappy", use_dictionary=False, write_statistics=True)
        return bytes(sink.getvalue())
    pq.write_table(
        table,
        sink,
        compression="zstd",
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=True,
        use_dictionary=[name for name in spec.names if name not in deltas],
        column_encoding=dict.fromkeys(deltas, "DELTA_BINARY_PACKED"),
    )
    return bytes(sink.getvalue())


def write_durably(payload: bytes, path: Path) -> None:
    """Write bytes to `path` and fsync them (the caller renames the file into place)."""
    with path.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def is_sorted_by(frame: pl.DataFrame, keys: tuple[str, ...]) -> bool:
    """True if rows are already in (stable) order of `keys`, nulls last: a sort can then be skipped."""
    if frame.height < 2:
        return True
    # Lexicographic check from the last key to the first: row i <= row i+1 on keys[k:]. On numpy
    # arrays: a flush's small frame would spend ~1 ms in polars' query engine, this ~20 µs.
    ok: Any = None
    for key in reversed(keys):
        column = frame.get_column(key)
        nulls = column.null_count()
        if nulls == frame.height:
            continue  # all equal: decides nothing
        if nulls:
            return _is_sorted_by_expr(frame, keys)
        values = column.to_numpy()
        before, after = values[:-1], values[1:]
        here = after > before if ok is not None else after >= before
        ok = here if ok is None else here | ((after == before) & ok)
    return True if ok is None else bool(ok.all())


def _is_sorted_by_expr(frame: pl.DataFrame, keys: tuple[str, ...]) -> bool:
    import polars as pl

    ok: pl.Expr | None = None
    for key in reversed(keys):
        col = pl.col(key).fill_null(pl.col(key).max() + 1)  # sort keys are integers; nulls sort last
        step = col.diff()
        here = step > 0 if ok is not None else step >= 0
        ok = here if ok is None else here | ((step == 0) & ok)
    assert ok is not None
    return bool(frame.select(ok.slice(1).all()).item())


def merge_union(old: pl.DataFrame, new: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Multiset union of two frames of one table, sorted by the table's keys (stable)."""
    import polars as pl

    names = spec.names
    occurrence = pl.int_range(pl.len()).over(names).alias("_occ")
    both = pl.concat([old.with_columns(occurrence), new.with_columns(occurrence)])
    merged = both.unique(subset=[*names, "_occ"], keep="first", maintain_order=True).drop("_occ")
    return merged.sort(list(spec.sort_keys), maintain_order=True, nulls_last=True)
