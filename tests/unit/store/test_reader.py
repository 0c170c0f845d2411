"""StoreReader: time-range scans prune by path and filter by time; gaps are never pruned."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from fxcli.model.units import NS_PER_HOUR, NS_PER_S
from fxcli.store.reader import StoreReader
from fxcli.store.schema import SPECS, Table
from fxcli.store.writer import StoreWriter, WriteBatch

HOUR0 = 1_723_158_000 * NS_PER_S


def _fill(root: Path) -> None:
    times = [HOUR0 + i * NS_PER_HOUR // 2 for i in range(8)]  # two rows an hour for four hours
    frame = pl.DataFrame(
        {
            "exchange_ts_ns": times,
            "received_ts_ns": times,
            "price": [1.0] * 8,
            "qty": [1.0] * 8,
            "side": [1] * 8,
            "trade_id": list(range(8)),
            "backfilled": [False] * 8,
        },
        schema=SPECS[Table.TRADES].polars_schema(),
    )
    gap = pl.DataFrame(
        {"start_ns": [HOUR0], "end_ns": [HOUR0 + 3 * NS_PER_HOUR], "reason": ["disconnect"], "detail": [""]}
    )
    with StoreWriter(root) as writer:
        writer.submit(WriteBatch("ex", "SYM", Table.TRADES, frame), block=True)
        writer.submit(WriteBatch("ex", "SYM", Table.GAPS, gap), block=True)


def test_reader_range_is_inclusive_and_time_filtered(tmp_path: Path) -> None:
    _fill(tmp_path)
    reader = StoreReader(tmp_path)

    rows = reader.scan("ex", "SYM", Table.TRADES, HOUR0 + NS_PER_HOUR // 2, HOUR0 + 2 * NS_PER_HOUR).collect()

    assert rows["trade_id"].to_list() == [1, 2, 3, 4]


def test_reader_gap_starting_before_range_is_found(tmp_path: Path) -> None:
    _fill(tmp_path)

    gaps = StoreReader(tmp_path).scan("ex", "SYM", Table.GAPS, HOUR0 + 2 * NS_PER_HOUR, None).collect()

    assert gaps["reason"].to_list() == ["disconnect"]


def test_reader_missing_table_gives_empty_frame_with_schema(tmp_path: Path) -> None:
    frame = StoreReader(tmp_path).scan("ex", "NONE", Table.BOOK_TICKER).collect()

    assert frame.height == 0
    assert frame.columns == SPECS[Table.BOOK_TICKER].names


def test_reader_find_exchange_names_candidates(tmp_path: Path) -> None:
    _fill(tmp_path)
    (tmp_path / "other" / "SYM" / "trades").mkdir(parents=True)

    reader = StoreReader(tmp_path)

    assert reader.find_exchange("SYM", "ex") == "ex"
    with pytest.raises(LookupError, match="stored for ex, other"):
        reader.find_exchange("SYM", None)
