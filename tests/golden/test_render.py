"""Golden files for what people read: rewrite with `make golden`, review the diff, then commit."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console, RenderableType

from fxcli.exchange.captures.issues import Issues
from fxcli.model.units import NS_PER_HOUR
from fxcli.tasks.import_ import FileReport, ImportReport
from fxcli.tasks.inspect import Coverage, HourCoverage, Quality, TableSummary
from fxcli.ui.import_ import import_table
from fxcli.ui.inspect import coverage_table, overview_table, quality_table

GOLDEN = Path(__file__).parent
T0 = 1_723_158_000_000_000_000  # 2024-08-08T23:00:00Z


def text_of(renderable: RenderableType) -> str:
    console = Console(width=120, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def check(name: str, renderable: RenderableType) -> None:
    path = GOLDEN / f"{name}.txt"
    actual = text_of(renderable)
    if os.environ.get("FX_UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path.name} missing: run `make golden` and review it")
    assert actual == path.read_text(encoding="utf-8")


def test_golden_import_table() -> None:
    issues = Issues("cut.gz")
    issues.skip(4811, "compressed stream truncated after line 4810")
    report = ImportReport(
        inputs=[
            FileReport(
                ["/x/btcusdt_20240808.gz"],
                "hftbacktest",
                "binance",
                {"BTCUSDT"},
                {"Trade": 9757, "BookDelta": 3449, "BookSnapshot": 1, "BookTicker": 28040},
            ),
            FileReport(
                ["/x/BINANCE.http.0.0", "/x/BINANCE.ws.1.0"],
                "cryptofeed",
                "binance",
                {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"},
                {"Trade": 2, "Gap": 1},
                issues,
            ),
        ],
        rows_in=163_870,
        rows_added=163_870,
        files_written=7,
        seconds=1.234,
    )

    check("import_table", import_table(report))


def test_golden_overview_table() -> None:
    rows = [
        TableSummary("binance", "BTCUSDT", "book_deltas", 2, 124_073, 716_083, T0 + 1, T0 + NS_PER_HOUR + 5),
        TableSummary("binance", "BTCUSDT", "trades", 2, 9_757, 143_360, T0 + 2, T0 + NS_PER_HOUR + 9),
    ]

    check("overview_table", overview_table(rows, Path("data")))


def test_golden_coverage_table() -> None:
    gap = {
        "start_ns": T0 + 60_000_000_000,
        "end_ns": T0 + 90_000_000_000,
        "reason": "version_jump",
        "detail": "",
    }
    report = Coverage(
        "binance",
        "BTCUSDT",
        [
            HourCoverage(T0, {"trades": 9738, "book_deltas": 123_823}, [gap]),
            HourCoverage(T0 + NS_PER_HOUR),
            HourCoverage(T0 + 2 * NS_PER_HOUR, {"trades": 19, "book_ticker": 64}),
        ],
        [gap],
    )

    check("coverage_table", coverage_table(report))


def test_golden_quality_table() -> None:
    report = Quality(
        "binance",
        "BTCUSDT",
        (None, None),
        trades=9757,
        out_of_order={"trades": 0, "book_deltas": 3},
        crossed_book=1,
        book_updates=3450,
        skew_ms={"trades": {"median": -1270.6, "p01": -1273.4, "p99": -1064.8}},
        silences=[{"from_ns": T0, "to_ns": T0 + 75_000_000_000, "seconds": 75.0}],
        gaps=2,
    )

    check("quality_table", quality_table(report))
