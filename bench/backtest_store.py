"""Benchmark: `fx backtest` end to end from the store (process start to result), this tree against main.

A synthetic day of stored trades (3M by default, with pump episodes) is written once to a store
under bench/.work/, and a small one (SMALL trades, the same generator). Then `fx backtest pump_rider`
runs as a process on each, for this tree and for the code of a peer ref (`main` by default; its
files exported with `git archive` into bench/.work/ and run with the same virtualenv). The figure a
user sees is events per second of wall time from process start to exit (chart.png included) on the
big store; the same with --no-chart shows the chart's share. The small store's run is the fixed
cost (interpreter, imports, numba's start, a day of clock ticks and equity points, the chart): the
wall time per event beyond it is the marginal rate, and peak RSS per event is the growth from the
small run to the big one, the small run's RSS being the constant the issue's target allows. The
peak RSS is the child's own VmHWM, read as it exits (Linux keeps ru_maxrss across exec, so a child's
rusage starts at its parent's peak: the bench's own, after it wrote the store). Both trees must
write the same results (trades, transitions and equity Parquet bytes) on both stores: the columnar
path changes speed, not results; summary.json is compared too, and differs only when the peer's
metrics code does. Best of REPEATS for the times.

Run: `make bench`, or `.venv/bin/python bench/backtest_store.py [--trades N] [--peer REF]`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from report import Layout, Line, Run, argument_parser, rate

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
TRADES = 3_000_000
SMALL = 30_000  # the fixed-cost run: one day too, 1 % of the events
REPEATS = 2
DAY0_NS = 1_723_161_600_000_000_000  # 2024-08-09 00:00 UTC
TARGET_RATE = 1.5e6
TARGET_BYTES = 100.0


def write_store(root: Path, count: int, seed: int = 5) -> None:
    """`count` trades over one day: same-ms bursts, a random walk with four pumps."""
    import polars as pl

    from fxcli.store.schema import SPECS, Table
    from fxcli.store.writer import StoreWriter, WriteBatch

    rng = np.random.default_rng(seed)
    gaps_ms = rng.exponential(86_400_000 / count * 1.6, count).astype(np.int64) * (rng.random(count) < 0.6)
    ts = DAY0_NS + np.cumsum(gaps_ms) * 1_000_000
    ts = np.minimum(ts, DAY0_NS + 86_399_999_000_000)
    log_price = np.cumsum(rng.normal(0, 2e-5, count))
    for where in (0.2, 0.45, 0.65, 0.85):  # pumps: +15 % over 3 min, back over 10 min
        at = int(where * count)
        rise = np.clip((ts - ts[at]) / 180e9, 0, 1) * 0.15
        fall = np.clip((ts - ts[at] - 180e9) / 600e9, 0, 1) * 0.15
        log_price += rise - fall
    frame = pl.DataFrame(
        {
            "exchange_ts_ns": ts,
            "received_ts_ns": ts + 2_000_000,
            "price": 0.05 * np.exp(log_price),
            "qty": rng.lognormal(3, 1, count),
            "side": np.where(rng.random(count) < 0.5, 1, -1).astype(np.int8),
            "trade_id": np.arange(count, dtype=np.int64),
            "backfilled": pl.Series([None] * count, dtype=pl.Boolean),
        },
        schema=SPECS[Table.TRADES].polars_schema(),
    )
    with StoreWriter(root) as writer:
        writer.submit(WriteBatch("mexc", "PUMPUSDT", Table.TRADES, frame), block=True)


def export_peer(ref: str, into: Path) -> Path:
    """The fxcli package of git `ref`, exported under `into`."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref, "fxcli"], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


RESULTS = ("trades.parquet", "transitions.parquet", "equity.parquet", "summary.json")


def run_fx(source: Path, data: Path, out: Path, *extra: str) -> tuple[float, int, list[bytes]]:
    """Wall seconds, peak RSS bytes and the RESULTS files of one `fx backtest` process importing
    fxcli from `source`."""
    hwm = out.with_suffix(".hwm")
    code = (  # the fxcli imported must be the one under `source` (not the installed tree)
        "import atexit, sys, fxcli; assert fxcli.__file__.startswith(sys.argv.pop(1)); "
        "hwm = sys.argv.pop(1); "
        "atexit.register(lambda: open(hwm, 'w').write("
        "[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])); "
        "from fxcli.cli import main; sys.exit(main())"
    )
    args = [
        sys.executable, "-c", code, str(source), str(hwm), "backtest", "pump_rider", "--symbol", "PUMPUSDT",
        "--data-dir", str(data), "--out", str(out),
        "--strategies-dir", str(REPO / "strategies"), "--variants-dir", str(REPO / "variants"), *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(source)}
    start = time.perf_counter()
    child = subprocess.run(args, env=env, cwd=source, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"fx backtest from {source} failed:\n{child.stderr.decode()}")
    peak = int(hwm.read_text().split()[1]) * 1024  # "VmHWM:  123456 kB"
    hwm.unlink()
    folder = next(out.rglob("summary.json")).parent
    results = [(folder / name).read_bytes() for name in RESULTS]
    shutil.rmtree(out)
    return wall, peak, results


def measure(source: Path, data: Path, scratch: Path, *extra: str) -> tuple[float, int, list[bytes]]:
    """Best wall time of REPEATS runs and the highest peak RSS."""
    walls, peak, results = [], 0, list[bytes]()
    for k in range(REPEATS):
        wall, rss, results = run_fx(source, data, scratch / f"out{k}", *extra)
        walls.append(wall)
        peak = max(peak, rss)
    return min(walls), peak, results


@dataclass(frozen=True)
class Figures:
    """One tree's runs on the small and the big store."""

    wall: float
    rss: int
    small_wall: float
    small_rss: int
    no_chart_wall: float  # the big store with --no-chart: the chart's share of the fixed cost

    def marginal(self, events: int) -> float:
        """Events per second of wall time beyond the fixed cost."""
        return (events - SMALL) / max(self.wall - self.small_wall, 1e-9)

    def bytes_per_event(self, events: int) -> float:
        """Peak RSS growth per event from the small run to the big one."""
        return (self.rss - self.small_rss) / (events - SMALL)


def measure_tree(source: Path, big: Path, small: Path, scratch: Path) -> tuple[Figures, list[bytes]]:
    small_wall, small_rss, small_results = measure(source, small, scratch)
    wall, rss, results = measure(source, big, scratch)
    no_chart_wall, _, _ = measure(source, big, scratch, "--no-chart")
    return Figures(wall, rss, small_wall, small_rss, no_chart_wall), results + small_results


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--trades", type=int, default=TRADES, help=f"stored trades (default {TRADES:,})")
    parser.add_argument("--peer", default="main", help="git ref of the code to compare with (default main)")
    args = parser.parse_args()
    layout = Layout(
        legend=f"ratio: this tree's figure over {args.peer}'s (higher is better for events/s, lower for "
        "seconds and bytes)",
        fx_width=18,
        peer_name_width=4,
        peer_width=18,
        ratio_width=7,
        script="bench/backtest_store.py",
    )
    run = Run(layout)
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        scratch = Path(tmp)
        big, small = scratch / "data", scratch / "small"
        print(f"writing {args.trades:,} and {SMALL:,} stored trades ...", flush=True)
        for folder, count in ((big, args.trades), (small, SMALL)):  # in a child: this process stays small
            subprocess.run([sys.executable, __file__, "--write-store", str(folder), str(count)], check=True)
        peer = export_peer(args.peer, scratch / "peer")
        theirs, peer_results = measure_tree(peer, big, small, scratch)
        ours, results = measure_tree(REPO, big, small, scratch)
    events = args.trades
    names = RESULTS * 2  # the big store's files, then the small one's
    same = all(
        a == b for name, a, b in zip(names, results, peer_results, strict=True) if name != "summary.json"
    )
    same_summary = all(
        a == b for name, a, b in zip(names, results, peer_results, strict=True) if name == "summary.json"
    )
    per_s, peer_per_s = events / ours.wall, events / theirs.wall
    area, size = "fx backtest from the store", f"{events / 1e6:g}M trades"
    marginal, peer_marginal = ours.marginal(events), theirs.marginal(events)
    per_event, peer_per_event = ours.bytes_per_event(events), theirs.bytes_per_event(events)
    lines = [
        Line(
            area,
            f"{size}: events/s end to end",
            rate(per_s, "events"),
            args.peer,
            rate(peer_per_s, "events"),
            f"{per_s / peer_per_s:.2f}x",
            f">= {rate(TARGET_RATE, 'events')}",
            per_s >= TARGET_RATE,
        ),
        Line(
            area,
            f"{size}: events/s end to end, --no-chart",
            rate(events / ours.no_chart_wall, "events"),
            args.peer,
            rate(events / theirs.no_chart_wall, "events"),
            f"{theirs.no_chart_wall / ours.no_chart_wall:.2f}x",
            "",
            None,
        ),
        Line(
            area,
            f"{size}: events/s beyond the fixed cost",
            rate(marginal, "events"),
            args.peer,
            rate(peer_marginal, "events"),
            f"{marginal / peer_marginal:.2f}x",
            "",
            None,
        ),
        Line(
            area,
            f"fixed cost ({SMALL // 1000}k trades)",
            f"{ours.small_wall:.2f} s",
            args.peer,
            f"{theirs.small_wall:.2f} s",
            f"{ours.small_wall / theirs.small_wall:.2f}x",
            "",
            None,
        ),
        Line(
            area,
            f"{size}: peak RSS per event",
            f"{per_event:.0f} B",
            args.peer,
            f"{peer_per_event:.0f} B",
            f"{per_event / peer_per_event:.2f}x",
            f"<= {TARGET_BYTES:.0f} B + constant",
            per_event <= TARGET_BYTES,
        ),
    ]
    notes = [
        f"  wall {ours.wall:.2f} s against {theirs.wall:.2f} s ({SMALL:,} trades: {ours.small_wall:.2f} s "
        f"against {theirs.small_wall:.2f} s)",
        f"  peak RSS {ours.rss / 2**20:.0f} MiB against {theirs.rss / 2**20:.0f} MiB; the constant (the "
        f"{SMALL:,}-trade run's): {ours.small_rss / 2**20:.0f} MiB against "
        f"{theirs.small_rss / 2**20:.0f} MiB",
        f"  trades, transitions and equity identical to {args.peer}'s on both stores: "
        f"{'yes' if same else 'NO'}",
        f"  summary.json identical: {'yes' if same_summary else 'no (the metrics code differs)'}",
    ]
    run.finish(lines, notes=notes)
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write-store"]:
        write_store(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
