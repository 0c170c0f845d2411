"""What `fx record` prints: the status line, the JSON event and stats lines (exact text)."""

from __future__ import annotations

import json

from fxcli.live.record import RecordSummary
from fxcli.live.recorder import RecordEvent, RecordStats
from fxcli.ui.record import event_record, event_text, json_line, stats_record, status_text, summary_text

START = 1_795_550_400 * 10**9  # 2026-11-24T20:00:00Z


def stats(**changes: object) -> RecordStats:
    values: dict[str, object] = {
        "venue": "mexc-spot",
        "started_ns": START,
        "now_ns": START + 3_725 * 10**9,
        "frames": 123_456,
        "frames_per_s": 812.4,
        "bytes_in": 9_000_000,
        "problems": 0,
        "skipped": 2,
        "symbols": 40,
        "symbols_live": 40,
        "connections": 2,
        "connections_live": 2,
        "trades": 9_614,
        "duplicates": 3,
        "gaps": {"disconnect": 1},
        "rows_submitted": 50_000,
        "rows_written": 49_000,
        "overflow_rows": 0,
        "raw_records": 123_500,
        "raw_bytes": 1_234_567,
        "raw_overflow": 0,
        "books_synced": 40,
        "last_write_ns": START + 3_724_700_000_000,
        "clock_offset_ms": -1.23456,
    }
    values.update(changes)
    return RecordStats(**values)  # type: ignore[arg-type]


def test_status_text_says_what_a_person_watching_needs() -> None:
    assert status_text(stats()) == (
        "mexc-spot  up 1:02:05  conn 2/2  symbols 40/40  books 40  812 frames/s  trades 9,614  gaps 1  "
        "dup 3  last write 0.3 s ago  raw 1.2 MB"
    )


def test_status_text_shouts_about_overflow() -> None:
    line = status_text(stats(overflow_rows=1_200, raw_overflow=7, last_write_ns=None))

    assert line.endswith("last write never  raw 1.2 MB  OVERFLOW rows 1,200 raw 7")


def test_stats_line_is_one_json_object_with_the_counters() -> None:
    line = json_line(stats_record(stats()))

    assert "\n" not in line
    assert json.loads(line) == {
        "ts": "2026-11-24T21:02:05.000Z",
        "event": "stats",
        "exchange": "mexc-spot",
        "uptime_s": 3725.0,
        "frames": 123_456,
        "frames_per_s": 812.4,
        "bytes_in": 9_000_000,
        "undecodable": 0,
        "skipped_items": 2,
        "connections": 2,
        "connections_live": 2,
        "symbols": 40,
        "symbols_live": 40,
        "books_synced": 40,
        "trades": 9_614,
        "duplicates_dropped": 3,
        "gaps": {"disconnect": 1},
        "rows_submitted": 50_000,
        "rows_written": 49_000,
        "overflow_rows": 0,
        "raw_records": 123_500,
        "raw_bytes": 1_234_567,
        "raw_overflow": 0,
        "last_write": "2026-11-24T21:02:04.700Z",
        "clock_offset_ms": -1.235,
    }


def test_event_lines_carry_time_kind_and_fields() -> None:
    gap = RecordEvent(
        "gap", START + 1_250_000_000, {"symbol": "BUSDT", "reason": "disconnect", "seconds": 0.2}
    )

    assert json_line(event_record(gap)) == (
        '{"ts":"2026-11-24T20:00:01.250Z","event":"gap","symbol":"BUSDT","reason":"disconnect","seconds":0.2}'
    )
    assert event_text(gap) == "20:00:01.250 gap symbol=BUSDT reason=disconnect seconds=0.2"


def test_summary_line_counts_what_was_kept() -> None:
    summary = RecordSummary(stats(), seconds=65.2, raw_files=2)

    assert summary_text(summary) == (
        "recorded mexc-spot for 0:01:05: 123,456 frames, 9,614 trades, 49,000 rows written, 1 gaps, "
        "2 raw files (1.2 MB)"
    )
