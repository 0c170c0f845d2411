"""Benchmark: the fx Parquet store against one CSV file, and `fx --help` against eager imports.

What it measures, in one run, on the same data for both sides:

- write: 10M synthetic trades of one UTC day through the real `StoreWriter` (24 hour files, atomic
  renames, fsync, manifests) against `polars.DataFrame.write_csv` to one file (also fsynced);
- bytes on disk of the two;
- full read: `StoreReader.scan(...).collect()` against `polars.read_csv` given the schema;
- a 1-hour range query: `StoreReader.scan(..., start_ns, end_ns)` against `polars.scan_csv(...).filter`;
- a recorder's table flush: 20 new trades into each of 100 symbols' 60k-row hours, appended as a
  part file (what `fx record` does) against the multiset union an import does (which rewrites the
  hour);
- `fx --help` wall time against the same Typer app run after eagerly importing typer, rich,
  pydantic, numpy and polars (real subprocesses, best of 5 after a warm-up).

It prints each figure, the ratio to its peer and whether the issue's target is met, then a block
to paste into the README. Nothing is asserted about timings: it is not part of the test suite.

Run: `make bench`, or `.venv/bin/python bench/store.py [--rows N]` from the repo root. Files go to
a temp dir under `bench/.work/` (git-ignored) that is removed afterwards. Reads hit a warm page
cache on both sides, since both files were just written.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
from report import Layout, Line, Run, argument_parser, cores_and_python

from fxcli.model.units import NS_PER_HOUR, NS_PER_MS
from fxcli.store.reader import StoreReader
from fxcli.store.schema import SPECS, Table
from fxcli.store.writer import StoreWriter, WriteBatch

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
PYTHON = sys.executable

ROWS = 10_000_000
SEED = 20_240_808
DAY_START_NS = int(datetime(2024, 8, 8, tzinfo=UTC).timestamp()) * 1_000_000_000
MS_PER_DAY = 86_400_000
EXCHANGE = "bench"
SYMBOL = "BTCUSDT"
QUERY_HOUR = 13
REPEATS = 3
HELP_REPEATS = 5
LIVE_SYMBOLS = 100  # the live-append figure: a recorder's table flush late in an hour
LIVE_HOUR_ROWS = 60_000
LIVE_ROWS = 20

TARGET_WRITE_ROWS_PER_S = 10_000_000
TARGET_BYTES_RATIO = 0.2
TARGET_RANGE_SPEEDUP = 30.0
TARGET_HELP_RATIO = 0.4

# The peer for `fx --help`: the same app, but with the heavy imports hoisted to the top, as a
# CLI written without lazy imports would have them.
EAGER_HELP_SCRIPT = """\
import typer, rich, rich.console, pydantic, numpy, polars  # noqa: F401

from fxcli.cli import app

app(["--help"], prog_name="fx")
"""


RATIO_LEGEND = (
    "ratio: write and read = fx speed / csv speed (>1: fx faster); bytes = fx size / csv size; "
    "1h query = csv time / fx time; --help = fx time / eager time"
)
LAYOUT = Layout(RATIO_LEGEND, fx_width=14, peer_name_width=0, peer_width=14, ratio_width=13)


def synthetic_trades(rows: int, seed: int) -> pl.DataFrame:
    """Trades of one UTC day in the store's schema, shaped like a Binance BTCUSDT capture.

    Exchange times are whole milliseconds (as Binance, MEXC, OKX and Bybit publish them) and come in
    bursts: one taker order fills several makers in the same millisecond, at one side, which is
    why about half of consecutive trades share a timestamp in real captures. Receive time is
    exchange time plus a per-burst network latency of 0.5-3 ms at ns resolution, then ~500 ns
    between the trades of one burst (they arrive in one message), never decreasing. Rows come in
    trade order, which is also the store's sort order, so fx's read-back must equal this frame.
    """
    rng = np.random.default_rng(seed)
    # Geometric(0.5) bursts average two trades; drawing `rows` of them always covers `rows` trades.
    sizes = rng.geometric(0.5, rows)
    ends = np.cumsum(sizes)
    bursts = int(np.searchsorted(ends, rows)) + 1
    sizes, ends = sizes[:bursts], ends[:bursts]
    sizes[-1] -= ends[-1] - rows
    starts = ends - sizes

    arrivals = np.cumsum(rng.exponential(1.0, bursts))
    burst_ms = (arrivals / arrivals[-1] * (MS_PER_DAY - 1)).astype(np.int64)
    exchange_ts_ns = DAY_START_NS + np.repeat(burst_ms, sizes) * NS_PER_MS
    latency_ns = rng.integers(500_000, 3_000_000, bursts)
    index_in_burst = np.arange(rows, dtype=np.int64) - np.repeat(starts, sizes)
    received_ts_ns = exchange_ts_ns + np.repeat(latency_ns, sizes) + index_in_burst * 500
    # One connection delivers messages in order: receive time never goes back, even when a slow
    # burst is followed by a fast one.
    received_ts_ns = np.maximum.accumulate(received_ts_ns)

    # Price moves in whole cents; a Laplace step keeps most trades at the last price, a few jump.
    ticks = np.rint(rng.laplace(0.0, 0.8, rows)).astype(np.int64)
    price = np.round(60_000.0 + np.cumsum(ticks) * 0.01, 2)
    qty = np.round(np.clip(rng.lognormal(np.log(6e-4), 2.0, rows), 1e-5, 5.0), 5)
    side = np.repeat(np.where(rng.random(bursts) < 0.5, -1, 1).astype(np.int8), sizes)
    trade_id = np.arange(rows, dtype=np.int64) + 3_735_683_259
    frame = pl.DataFrame(
        {
            "exchange_ts_ns": exchange_ts_ns,
            "received_ts_ns": received_ts_ns,
            "price": price,
            "qty": qty,
            "side": side,
            "trade_id": trade_id,
            "backfilled": np.zeros(rows, dtype=bool),
        }
    )
    return frame.cast(pl.Schema(SPECS[Table.TRADES].polars_schema()))


def seconds(action: Callable[[], object]) -> float:
    """Wall time of one call."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def best_seconds(action: Callable[[], object], repeats: int) -> float:
    """Best wall time of `repeats` calls: the least disturbed by other work on a shared machine."""
    return min(seconds(action) for _ in range(repeats))


def fsync_path(path: Path) -> None:
    """Flush a file to disk, so the CSV side pays for durability as the fx writer does."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tree_bytes(root: Path) -> int:
    """Bytes of every file under `root` (Parquet files and their manifests)."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def fx_write(frame: pl.DataFrame, root: Path) -> None:
    """Write `frame` through the real store writer, as `fx import` does (blocking submit)."""
    writer = StoreWriter(root)
    writer.submit(WriteBatch(EXCHANGE, SYMBOL, Table.TRADES, frame), block=True)
    stats = writer.close()
    if stats.rows_added != frame.height:
        raise RuntimeError(f"fx writer added {stats.rows_added} rows of {frame.height}")


def csv_write(frame: pl.DataFrame, path: Path) -> None:
    """Write `frame` to one CSV file and fsync it."""
    frame.write_csv(path)
    fsync_path(path)


def fx_scan(
    root: Path, start_ns: int | None = None, end_ns: int | None = None, symbol: str = SYMBOL
) -> pl.DataFrame:
    """Rows from the fx store, optionally limited to `[start_ns, end_ns]`."""
    return StoreReader(root).scan(EXCHANGE, symbol, Table.TRADES, start_ns, end_ns).collect()


def csv_read(path: Path) -> pl.DataFrame:
    """The whole CSV file; the schema is given so polars does no type inference."""
    return pl.read_csv(path, schema=SPECS[Table.TRADES].polars_schema())


def csv_range(path: Path, start_ns: int, end_ns: int) -> pl.DataFrame:
    """Rows of the CSV file with `start_ns <= exchange_ts_ns <= end_ns`, lazily as polars allows."""
    time_ns = pl.col("exchange_ts_ns")
    return (
        pl.scan_csv(path, schema=SPECS[Table.TRADES].polars_schema())
        .filter((time_ns >= start_ns) & (time_ns <= end_ns))
        .collect()
    )


def check_same(name: str, fx: pl.DataFrame, peer: pl.DataFrame) -> None:
    """Refuse to report a speed for answers that differ."""
    if not fx.equals(peer):
        raise RuntimeError(f"{name}: the two sides returned different rows ({fx.height} vs {peer.height})")


def millions(rows_per_s: float) -> str:
    """`12.3M rows/s`."""
    return f"{rows_per_s / 1e6:.1f}M rows/s"


def megabytes(size: int) -> str:
    """`168.0 MB` (10^6 bytes)."""
    return f"{size / 1e6:.1f} MB"


def milliseconds(wall_s: float) -> str:
    """`12 ms`."""
    return f"{wall_s * 1e3:.0f} ms"


def measure_write(frame: pl.DataFrame, root: Path, csv_path: Path) -> Line:
    """One write of the whole frame each way (a second write into the store would be a merge)."""
    fx_s = seconds(lambda: fx_write(frame, root))
    csv_s = seconds(lambda: csv_write(frame, csv_path))
    fx_rate = frame.height / fx_s
    return Line(
        "store",
        "write",
        millions(fx_rate),
        "csv",
        millions(frame.height / csv_s),
        f"{csv_s / fx_s:.2f}x",
        f">= {TARGET_WRITE_ROWS_PER_S / 1e6:.0f}M rows/s",
        fx_rate >= TARGET_WRITE_ROWS_PER_S,
    )


def measure_bytes(root: Path, csv_path: Path) -> Line:
    """Bytes on disk; the store side includes its manifests and lock files."""
    fx_bytes = tree_bytes(root)
    csv_bytes = csv_path.stat().st_size
    ratio = fx_bytes / csv_bytes
    return Line(
        "store",
        "bytes",
        megabytes(fx_bytes),
        "csv",
        megabytes(csv_bytes),
        f"{ratio:.3f}x",
        f"<= {TARGET_BYTES_RATIO:.1f}x csv",
        ratio <= TARGET_BYTES_RATIO,
    )


def measure_read(frame: pl.DataFrame, root: Path, csv_path: Path) -> Line:
    """Every row back into memory, after checking both sides return exactly what was written."""
    check_same("full read (fx vs written)", fx_scan(root), frame)
    check_same("full read (fx vs csv)", fx_scan(root), csv_read(csv_path))
    fx_s = best_seconds(lambda: fx_scan(root), REPEATS)
    csv_s = best_seconds(lambda: csv_read(csv_path), REPEATS)
    return Line(
        "store",
        "read",
        millions(frame.height / fx_s),
        "csv",
        millions(frame.height / csv_s),
        f"{csv_s / fx_s:.2f}x",
        "none set",
        None,
    )


def measure_range(root: Path, csv_path: Path) -> Line:
    """One hour of the day, QUERY_HOUR:00 to the hour after, after checking both sides agree."""
    start_ns = DAY_START_NS + QUERY_HOUR * NS_PER_HOUR
    end_ns = start_ns + NS_PER_HOUR - 1  # both sides are inclusive at both ends
    answer = fx_scan(root, start_ns, end_ns)
    check_same("1h query", answer, csv_range(csv_path, start_ns, end_ns))
    fx_s = best_seconds(lambda: fx_scan(root, start_ns, end_ns), REPEATS)
    csv_s = best_seconds(lambda: csv_range(csv_path, start_ns, end_ns), REPEATS)
    speedup = csv_s / fx_s
    return Line(
        "store",
        f"1h query ({answer.height:,} rows)",
        milliseconds(fx_s),
        "csv",
        milliseconds(csv_s),
        f"{speedup:.1f}x faster",
        f">= {TARGET_RANGE_SPEEDUP:.0f}x faster",
        speedup >= TARGET_RANGE_SPEEDUP,
    )


def measure_store(frame: pl.DataFrame, work: Path) -> list[Line]:
    """Write, bytes, full read and 1-hour range query: the fx store against one CSV file."""
    root = work / "store"
    csv_path = work / "trades.csv"
    write = measure_write(frame, root, csv_path)
    return [
        write,
        measure_bytes(root, csv_path),
        measure_read(frame, root, csv_path),
        measure_range(root, csv_path),
    ]


def flush_round(root: Path, parts: list[pl.DataFrame], *, append: bool) -> float:
    """Seconds for one writer round that adds `parts[i]` to symbol i's hour (a part file each when
    appending, a rewrite of the hour for the union). The compaction at close is not timed."""
    with StoreWriter(root, max_queue=len(parts) + 1) as writer:
        start = time.perf_counter()
        for i, part in enumerate(parts):
            writer.submit(WriteBatch(EXCHANGE, f"S{i:03d}", Table.TRADES, part, append=append), block=True)
        writer.drain()
        return time.perf_counter() - start


def measure_live_append(frame: pl.DataFrame, work: Path) -> Line:
    """A recorder's table flush late in an hour: LIVE_ROWS new trades into each of LIVE_SYMBOLS
    symbols' hour files of LIVE_HOUR_ROWS rows, as an append (fx record) and as the idempotent
    multiset union an import does. Both write the same rows (checked)."""
    hour = frame.filter(pl.col("exchange_ts_ns") < DAY_START_NS + NS_PER_HOUR)
    base, new = hour.head(LIVE_HOUR_ROWS), hour.slice(LIVE_HOUR_ROWS, LIVE_ROWS)
    seconds_by_way = {}
    for append in (True, False):
        root = work / f"live-{'append' if append else 'union'}"
        flush_round(root, [base] * LIVE_SYMBOLS, append=append)
        seconds_by_way[append] = flush_round(root, [new] * LIVE_SYMBOLS, append=append)
        check_same(
            f"live {'append' if append else 'union'}", fx_scan(root, symbol="S000"), pl.concat([base, new])
        )
    fx_s, union_s = seconds_by_way[True], seconds_by_way[False]
    return Line(
        "store",
        f"flush {LIVE_ROWS} rows into {LIVE_SYMBOLS} symbols' {LIVE_HOUR_ROWS // 1000}k-row hours",
        f"{fx_s:.2f} s",
        "union",
        f"{union_s:.2f} s",
        f"{union_s / fx_s:.2f}x faster",
        "none set",
        None,
    )


def run_help(argv: list[str]) -> float:
    """Wall time of one `--help` subprocess; raises if it did not print the usage."""
    # FX_* settings could change what the app does at start-up; neither side gets them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")}
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, check=False)
    wall_s = time.perf_counter() - start
    if done.returncode != 0 or "Usage" not in done.stdout:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return wall_s


def best_help_seconds(argv: list[str]) -> float:
    """Best of HELP_REPEATS runs after one warm-up (which fills the page cache and .pyc files)."""
    run_help(argv)
    return min(run_help(argv) for _ in range(HELP_REPEATS))


def measure_help(work: Path) -> Line:
    """`fx --help` against the same app with typer, rich, pydantic, numpy and polars imported eagerly."""
    eager_script = work / "eager_help.py"
    eager_script.write_text(EAGER_HELP_SCRIPT)
    fx_s = best_help_seconds([PYTHON, "-m", "fxcli", "--help"])
    eager_s = best_help_seconds([PYTHON, str(eager_script)])
    ratio = fx_s / eager_s
    return Line(
        "cli",
        "--help",
        milliseconds(fx_s),
        "eager",
        milliseconds(eager_s),
        f"{ratio:.2f}x",
        f"<= {TARGET_HELP_RATIO:.1f}x",
        ratio <= TARGET_HELP_RATIO,
    )


def parse_args() -> argparse.Namespace:
    """`--rows` for a quick run; the issue's targets are for the default 10M."""
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--rows", type=int, default=ROWS, help=f"synthetic trades to write (default {ROWS:,})"
    )
    return parser.parse_args()


def main() -> None:
    """Generate the trades, measure both areas in a temp dir under bench/.work, print, clean up."""
    args = parse_args()
    run = Run(LAYOUT, f"polars {pl.__version__}", f"numpy {np.__version__}")
    WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="store-", dir=WORK))
    try:
        generate_start = time.perf_counter()
        frame = synthetic_trades(args.rows, SEED)
        generate_s = time.perf_counter() - generate_start
        print(
            f"data: {frame.height:,} synthetic trades of one UTC day, seed {SEED}, made in {generate_s:.1f} s"
        )
        lines = [*measure_store(frame, work), measure_live_append(frame, work), measure_help(work)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    notes = []
    if args.rows != ROWS:
        notes.append(f"note: the issue's targets are for {ROWS:,} rows; per-file costs weigh more on fewer")
    measured_on = (
        f"{args.rows:,} synthetic trades of one UTC day; {cores_and_python()}, polars {pl.__version__}"
    )
    run.finish(lines, notes=notes, measured_on=measured_on)


if __name__ == "__main__":
    main()
