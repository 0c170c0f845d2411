"""Benchmark: `fx import binance` against hftbacktest's own converter, on the same real capture.

What it measures, in one run, on the USD-M BTCUSDT hftbacktest capture of 2024-08-08 (93,954 lines
of `<local_ts_ns> <json>`: depth diffs, trades, book tickers, one REST snapshot), as capture lines
per second:

- end to end: from process start to result, data loading and writing included. fx:
  `fx import binance FILE --data-dir TMP --jobs 1` as a subprocess (decode, book sync, Parquet hour
  files with fsync and manifests). hftbacktest: a subprocess of the peers' python that imports
  `hftbacktest.data.utils.binancefutures` and runs `convert(FILE, output_filename=TMP.npz,
  opt="t")` (book tickers too, as fx stores them; latency and event-order correction; one npz).
- inner: the call alone, in an already started process. fx: `fxcli.tasks.import_.import_binance`
  into a fresh data dir (still writing the store); hftbacktest: `convert(FILE, opt="t")` without
  an output file (its numba functions compiled by an earlier call).

- parallel: the spot and USD-M captures together, `fx import binance SPOT USDM --jobs CORES`
  against `--jobs 1`, end to end (two chains: one worker process each, against one process). The
  USD-M chain takes three times the spot one, so this bounds the gain well below CORES.
- parallel, archive: ARCHIVE_SYMBOLS symbols' daily trade files of data.binance.vision's spot
  layout (synthetic, ARCHIVE_ROWS trades each, written here), `fx import binance-vision --jobs
  CORES` against `--jobs 1`, end to end: equal chains, what `fx download` of several symbols imports.

Each figure is the best of REPEATS. hftbacktest 2.4.0 runs in bench/.venv-peers (pinned in
bench/requirements-peers.txt). The sides do different work: hftbacktest fills one numpy event
array (no book sync, no checks of the version chain or trade ids, no store); fx checks each line
and writes a queryable store. Nothing is asserted: it is not part of the test suite.

Run: `make bench`, or `.venv/bin/python bench/import.py [--capture FILE] [--repeats N]` from the
repo root (~1 min on 2 cores).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from backtest import peers_python
from report import Layout, Line, Run, argument_parser, cores_and_python, rate

from fxcli.tasks.import_ import import_binance

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
CAPTURE = REPO.parent / "shared" / "data" / "hftbacktest" / "usdm" / "btcusdt_20240808.gz"
SPOT = REPO.parent / "shared" / "data" / "hftbacktest" / "spot" / "btcusdt_20240808.gz"
FX = REPO / ".venv" / "bin" / "fx"
REPEATS = 3
ARCHIVE_SYMBOLS = 4
ARCHIVE_ROWS = 1_000_000
PEER_TIMEOUT_S = 600
RESULT_PREFIX = "RESULT "

# Runs under bench/.venv-peers/bin/python: `python peer.py FILE OUT.npz|- REPEATS`. With an output
# file it converts once (the end-to-end run: this whole process is timed from outside); with `-` it
# converts once to compile, then REPEATS times and prints the best call time.
PEER_SCRIPT = """
import json, sys, time
from hftbacktest.data.utils import binancefutures

path, out, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
if out != "-":
    rows = len(binancefutures.convert(path, output_filename=out, opt="t"))
    print("RESULT " + json.dumps({"rows": rows}))
    sys.exit(0)
rows = len(binancefutures.convert(path, opt="t"))
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    rows = len(binancefutures.convert(path, opt="t"))
    best = min(best, time.perf_counter() - start)
print("RESULT " + json.dumps({"rows": rows, "seconds": best}))
"""

LAYOUT = Layout(
    legend="Ratios are fx / its peer in lines per second (above 1: fx is faster)",
    fx_width=18,
    peer_name_width=0,
    peer_width=32,
    ratio_width=6,
    script="bench/import.py",
)


def count_lines(path: Path) -> int:
    with gzip.open(path, "rb") as handle:
        return sum(1 for _ in handle)


def run_peer(
    python: Path, script: Path, capture: Path, out: str, repeats: int
) -> tuple[dict[str, Any], float]:
    """The peer's JSON answer and the wall time of its whole process."""
    start = time.perf_counter()
    done = subprocess.run(
        [str(python), str(script), str(capture), out, str(repeats)],
        capture_output=True,
        text=True,
        check=False,
        timeout=PEER_TIMEOUT_S,
    )
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"hftbacktest convert failed ({done.returncode}):\n{tail}")
    answer: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    return answer, wall


def archive_files(work: Path) -> list[Path]:
    """Daily spot trade zips of ARCHIVE_SYMBOLS symbols at the archive's layout (one trade every
    ~86 ms of 2024-08-08, ids running on by one, a random walk of prices)."""
    import zipfile

    import numpy as np
    import polars as pl

    rng = np.random.default_rng(7)
    files = []
    for k in range(ARCHIVE_SYMBOLS):
        symbol = f"BENCH{k}USDT"
        times = 1_723_075_200_000 + np.sort(rng.integers(0, 86_400_000, ARCHIVE_ROWS))
        price = 100.0 * np.exp(np.cumsum(rng.normal(0, 1e-4, ARCHIVE_ROWS)))
        qty = rng.exponential(0.5, ARCHIVE_ROWS).round(5) + 0.00001
        frame = pl.DataFrame(
            {
                "id": np.arange(1, ARCHIVE_ROWS + 1),
                "price": price.round(6),
                "qty": qty,
                "quote": (price * qty).round(6),
                "time": times,
                "maker": rng.random(ARCHIVE_ROWS) < 0.5,
                "best": np.ones(ARCHIVE_ROWS, dtype=bool),
            }
        )
        name = f"{symbol}-trades-2024-08-08"
        path = work / "archive" / "data/spot/daily/trades" / symbol / f"{name}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = frame.write_csv(include_header=False).replace("true", "True").replace("false", "False")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{name}.csv", text)
        files.append(path)
    return files


def fx_end_to_end(captures: list[Path], work: Path, n: int, jobs: int = 1, source: str = "binance") -> float:
    """Wall time of `fx import SOURCE` as a subprocess into a fresh data dir."""
    data_dir = work / f"fx-e2e-{n}-{jobs}"
    files = [str(c) for c in captures]
    start = time.perf_counter()
    done = subprocess.run(
        [str(FX), "import", source, *files, "--data-dir", str(data_dir), "--jobs", str(jobs), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"fx import failed ({done.returncode}): {done.stderr.strip()}")
    shutil.rmtree(data_dir)
    return wall


def fx_inner(capture: Path, work: Path, n: int) -> tuple[float, int]:
    """Time of `import_binance` in this process into a fresh data dir, and the rows it stored."""
    data_dir = work / f"fx-inner-{n}"
    start = time.perf_counter()
    report = import_binance([capture], data_dir)
    seconds = time.perf_counter() - start
    shutil.rmtree(data_dir)
    return seconds, report.rows_added


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--capture", type=Path, default=CAPTURE, help="a Binance futures hftbacktest capture")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    capture: Path = args.capture
    python = peers_python()
    run = Run(LAYOUT, "hftbacktest 2.4.0")
    lines = count_lines(capture)
    spot_lines = count_lines(SPOT)
    print(f"capture: {capture} ({lines:,} lines, {capture.stat().st_size / 1e6:.1f} MB gzip)")
    WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=WORK, prefix="import-"))
    try:
        script = work / "peer.py"
        script.write_text(PEER_SCRIPT)
        fx_e2e = peer_e2e = fx_call = float("inf")
        rows = peer_rows = 0
        for n in range(args.repeats):  # the sides alternate, so a busy moment hits both
            fx_e2e = min(fx_e2e, fx_end_to_end([capture], work, n))
            answer, wall = run_peer(python, script, capture, str(work / f"peer-{n}.npz"), 1)
            peer_e2e, peer_rows = min(peer_e2e, wall), answer["rows"]
            seconds, rows = fx_inner(capture, work, n)
            fx_call = min(fx_call, seconds)
        answer, _ = run_peer(python, script, capture, "-", args.repeats)
        peer_call = answer["seconds"]
        cores = os.cpu_count() or 1
        both = [SPOT, capture]
        one_job = many_jobs = float("inf")
        for n in range(args.repeats):
            one_job = min(one_job, fx_end_to_end(both, work, n, 1))
            many_jobs = min(many_jobs, fx_end_to_end(both, work, n, cores))
        zips = archive_files(work)
        zips_one = zips_many = float("inf")
        for n in range(args.repeats):
            zips_one = min(zips_one, fx_end_to_end(zips, work, n, 1, "binance-vision"))
            zips_many = min(zips_many, fx_end_to_end(zips, work, n, cores, "binance-vision"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures = [
        ("end to end: process start to result, loading and writing included", fx_e2e, peer_e2e),
        ("inner: the import call alone (fx still writes its store)", fx_call, peer_call),
    ]
    report = [
        Line(
            "",
            what,
            rate(lines / fx_s, "lines"),
            "",
            f"hftbacktest convert: {rate(lines / peer_s, 'lines')}",
            f"{peer_s / fx_s:.2f}x",
            "",
            None,
        )
        for what, fx_s, peer_s in figures
    ]
    both_lines = lines + spot_lines
    report.append(
        Line(
            "",
            f"parallel: spot + USD-M captures, --jobs {cores} against --jobs 1, end to end",
            rate(both_lines / many_jobs, "lines"),
            "",
            f"fx --jobs 1: {rate(both_lines / one_job, 'lines')}",
            f"{one_job / many_jobs:.2f}x",
            "",
            None,
        )
    )
    zip_rows = ARCHIVE_SYMBOLS * ARCHIVE_ROWS
    report.append(
        Line(
            "",
            f"parallel: {ARCHIVE_SYMBOLS} symbols' archive zips, --jobs {cores} against --jobs 1, end to end",
            rate(zip_rows / zips_many, "lines"),
            "",
            f"fx --jobs 1: {rate(zip_rows / zips_one, 'lines')}",
            f"{zips_one / zips_many:.2f}x",
            "",
            None,
        )
    )
    details = [
        f"fx: {fx_e2e:.2f} s end to end, {fx_call:.2f} s inner; {rows:,} rows stored",
        f"hftbacktest: {peer_e2e:.2f} s end to end, {peer_call:.2f} s inner; {peer_rows:,} events",
        f"spot + USD-M: {one_job:.2f} s with --jobs 1, {many_jobs:.2f} s with --jobs {cores}",
        f"archive zips ({zip_rows:,} trades): {zips_one:.2f} s with --jobs 1, "
        f"{zips_many:.2f} s with --jobs {cores}",
    ]
    run.finish(report, details=details, measured_on=cores_and_python())


if __name__ == "__main__":
    main()
